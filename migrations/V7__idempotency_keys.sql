-- Idempotency-Key on POST /v1/chats/{chat_id}/messages (IETF draft "The Idempotency-Key HTTP
-- Header Field"): the first accepted request of each (chat, key), written in the same
-- transaction as its message and outbox event, so a retry returns the same ids and stores
-- nothing. Keys are scoped to the chat of the request path.
--
-- A key is honoured for 24 hours after its first use; an older row counts as expired (it is
-- replaced when the key comes again) and is deleted, a bounded number at a time, by later
-- keyed requests. No message content is kept here: only a SHA-256 of the request.
CREATE TABLE idempotency_keys (
    chat_id      uuid        NOT NULL,
    key          text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash bytea       NOT NULL CHECK (length(request_hash) = 32),
    message_id   uuid        NOT NULL,
    event_id     uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, key)
);

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
