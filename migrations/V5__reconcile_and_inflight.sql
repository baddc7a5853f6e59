-- Broker-loss reconciliation and crash-loop immunity.

-- Set by the worker in the transaction that processed or dead-lettered the event: a relayed
-- row without it, long after relaying, may have been lost by the broker.
ALTER TABLE outbox_events ADD COLUMN confirmed_at timestamptz;
ALTER TABLE outbox_events ADD COLUMN republished integer NOT NULL DEFAULT 0;
CREATE INDEX outbox_unconfirmed_idx ON outbox_events (relayed_at)
    WHERE status = 'relayed' AND confirmed_at IS NULL;

-- Stream entries being handled, by which process. A marker left by a process that died is
-- found by the next one: `crashes` counts such deaths, and enough of them quarantine the entry.
CREATE TABLE inflight_entries (
    stream     text NOT NULL,
    grp        text NOT NULL,
    entry_id   text NOT NULL,
    owner      uuid NOT NULL,
    crashes    integer NOT NULL DEFAULT 0,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, grp, entry_id)
);
