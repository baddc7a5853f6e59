-- memlink schema, version 2: the dead-letter lifecycle. An operator deals with poison
-- messages one by one (replay, replay with a patch, discard); every action is audited here,
-- in the same transaction as the dead letter's status change and, for a replay, the outbox
-- write that re-publishes the event.

CREATE TABLE dead_letter_actions (
    id               uuid PRIMARY KEY,
    dead_letter_id   uuid NOT NULL REFERENCES dead_letters (id),
    action           text NOT NULL CHECK (action IN ('replay', 'replay_patched', 'discard')),
    -- Who: the X-Memlink-Actor header (else 'admin-http'), or the CLI's --actor (else $USER,
    -- else 'cli').
    actor            text NOT NULL,
    -- 'http' or 'cli': where the action came from.
    channel          text NOT NULL CHECK (channel IN ('http', 'cli')),
    at               timestamptz NOT NULL DEFAULT now(),
    -- The JSON merge patch (RFC 7386) a patched replay applied.
    patch            jsonb,
    -- The dead letter's payload exactly as received (bytes: it may not be JSON or UTF-8).
    original_payload bytea,
    -- What the replay wrote to the outbox.
    replayed_payload jsonb,
    -- The event id the replay published under (the outbox row id).
    new_event_id     uuid,
    outbox_id        uuid,
    -- 'reset': the dead outbox row was patched and set back to pending; 'inserted': a new row.
    outbox_action    text CHECK (outbox_action IN ('reset', 'inserted')),
    -- Whether the action was part of a bulk request (a filter, not one id).
    bulk             boolean NOT NULL DEFAULT false,
    note             text
);
CREATE INDEX dead_letter_actions_letter_idx ON dead_letter_actions (dead_letter_id, at);

-- Listing by status (the operator's "what is still dead?") and bulk actions scan by it.
CREATE INDEX dead_letters_status_idx ON dead_letters (status, received_at);
