-- The optional LLM extractor and titles (MEMLINK_EXTRACTOR=llm|both). Nothing here is read or
-- written unless the LLM is enabled; the rules pipeline never waits on these tables.

-- When the LLM enricher first ran: messages processed before it are not sent to the LLM
-- (enabling it on a database with years of history must not start a backfill by surprise).
CREATE TABLE llm_epoch (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    started_at timestamptz NOT NULL DEFAULT now()
);

-- One row per user message the enricher took up. 'pending' while an enricher holds it (until
-- claimed_until); 'done' when the LLM's facts were validated and stored; 'rejected' when the LLM
-- answered but the answer was refused (the rules' facts stand); 'failed' when no answer came
-- after the retries, or after too many claims (the rules' facts stand). Never retried forever.
CREATE TABLE llm_enrichment (
    -- Forgetting a message (or a user) forgets its enrichment state with it.
    message_id    uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    -- The message's processed_at: where the next scan for new messages starts.
    processed_at  timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'rejected', 'failed')),
    attempts      integer NOT NULL DEFAULT 1,
    claimed_until timestamptz,
    -- The enricher (one per process) holding the claim: a draining process gives its back.
    claimed_by    uuid,
    facts_added   integer NOT NULL DEFAULT 0,
    model         text,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz
);
CREATE INDEX llm_enrichment_processed_idx ON llm_enrichment (processed_at);
CREATE INDEX llm_enrichment_open_idx ON llm_enrichment (status, claimed_until) WHERE status <> 'done';

-- One row per chat whose title was asked of the LLM (once per chat, from the message that gave
-- the fallback title). Same statuses; a failure leaves the fallback title in place.
CREATE TABLE llm_titles (
    chat_id       uuid PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
    message_id    uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'rejected', 'failed')),
    attempts      integer NOT NULL DEFAULT 1,
    claimed_until timestamptz,
    claimed_by    uuid,
    title         text,
    model         text,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz
);
CREATE INDEX llm_titles_open_idx ON llm_titles (status, claimed_until) WHERE status <> 'done';

-- The enricher's scan: recently processed user messages.
CREATE INDEX messages_user_processed_idx ON messages (processed_at)
    WHERE role = 'user' AND processed_at IS NOT NULL;
