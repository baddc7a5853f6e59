-- memlink schema, version 1: the chat store, the transactional outbox, the memory graph,
-- watermarks and dead letters. Later versions add; they never rewrite this file.

CREATE TABLE chats (
    id               uuid PRIMARY KEY,
    created_at       timestamptz NOT NULL DEFAULT now(),
    title            text,
    title_source     text CHECK (title_source IN ('fallback', 'llm')),
    -- The (created_at, id) of the message the title came from: the earliest wins.
    title_message_at timestamptz,
    title_message_id uuid
);

CREATE TABLE messages (
    id           uuid PRIMARY KEY,
    chat_id      uuid NOT NULL REFERENCES chats (id),
    user_id      text NOT NULL,
    role         text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content      text NOT NULL,
    created_at   timestamptz NOT NULL,
    -- Set once by the worker when the message's effects are committed.
    processed_at timestamptz,
    -- Set by the watermark folder in the transaction that counts the message.
    folded_at    timestamptz
);
CREATE INDEX messages_chat_idx ON messages (chat_id, created_at);
CREATE INDEX messages_unfolded_idx ON messages (processed_at) WHERE processed_at IS NOT NULL AND folded_at IS NULL;

-- The transactional outbox. External producers insert rows inside their own transactions;
-- every bookkeeping column has a default so such inserts keep working.
CREATE TABLE outbox_events (
    id            uuid PRIMARY KEY,
    aggregate_id  text NOT NULL,
    event_type    text NOT NULL,
    payload       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'relayed', 'dead')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz,
    relayed_at    timestamptz,
    stream_id     text,
    attempts      integer NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending_idx ON outbox_events (created_at, id) WHERE status = 'pending';

CREATE FUNCTION memlink_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('memlink_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
    FOR EACH STATEMENT EXECUTE FUNCTION memlink_outbox_notify();

-- One row per event whose effects were committed: the consumer-side idempotency record.
CREATE TABLE processed_events (
    event_id        uuid PRIMARY KEY,
    message_id      uuid NOT NULL,
    chat_id         uuid NOT NULL,
    digest          bytea NOT NULL,
    stream_entry_id text,
    processed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE facts (
    id                uuid PRIMARY KEY,
    user_id           text NOT NULL,
    predicate         text NOT NULL,
    object            text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('assert', 'correction', 'change', 'retraction')),
    attributes        jsonb NOT NULL DEFAULT '{}'::jsonb,
    chat_id           uuid NOT NULL,
    source_message_id uuid NOT NULL,
    -- The source message's created_at: facts are ordered by when they were said.
    created_at        timestamptz NOT NULL,
    valid_from        timestamptz NOT NULL,
    valid_to          timestamptz,
    superseded_by     uuid,
    supersede_kind    text CHECK (supersede_kind IN ('correction', 'change', 'retraction')),
    span_start        integer NOT NULL,
    span_end          integer NOT NULL,
    rule_id           text NOT NULL,
    extractor         text NOT NULL,
    extractor_version integer NOT NULL,
    confidence        real NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_message_id, predicate, object, kind, extractor_version)
);
CREATE INDEX facts_user_idx ON facts (user_id, predicate, created_at);

CREATE TABLE watermarks (
    chat_id       uuid PRIMARY KEY,
    message_count bigint NOT NULL,
    checksum      bytea NOT NULL CHECK (length(checksum) = 32),
    -- Integer epoch seconds, by contract.
    updated_at    bigint NOT NULL
);

CREATE TABLE dead_letters (
    id             uuid PRIMARY KEY,
    received_at    timestamptz NOT NULL,
    source         text NOT NULL CHECK (source IN ('stream', 'outbox')),
    source_ref     text NOT NULL,
    event_id       text,
    event_type     text,
    reason         text NOT NULL,
    detail         text NOT NULL,
    raw            bytea NOT NULL,
    raw_len        bigint NOT NULL,
    -- The payload exactly as received, when small enough: what a replay re-publishes.
    payload        bytea,
    chat_id        uuid,
    delivery_count bigint NOT NULL DEFAULT 1,
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,
    actor          text NOT NULL,
    status         text NOT NULL DEFAULT 'dead' CHECK (status IN ('dead', 'replayed', 'discarded')),
    UNIQUE (source, source_ref)
);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason, received_at);
