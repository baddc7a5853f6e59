-- memlink schema, version 3: a memory graph users can trust.
--
-- * `fact_sources`: every statement the extractor found, one row per (message, predicate,
--   value, kind). A fact (a value's lifetime) is derived from the ordered statements of its
--   (user, predicate); a repeated statement of a current value adds a source, not a fact.
--   Every fact has at least one source; the first (earliest said) one is copied onto the
--   fact row (`source_message_id`, `span_*`, `rule_id`, ...).
-- * `user_tombstones`, `message_tombstones`: what was forgotten; events still in flight for
--   them are recorded as processed but store nothing.
-- * `forget_log`: the audit of every forget request (counts only, never content).

-- Statement identity is (message, predicate, lower(value), kind); the extractor version is
-- metadata that `memlink reextract` restamps. The V1 per-row key (case-sensitive value,
-- version) no longer describes a fact, which may now move from one opening statement to an
-- earlier one when an older message arrives late.
DO $$
DECLARE c text;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
              WHERE conrelid = 'facts'::regclass AND contype = 'u'
    LOOP
        EXECUTE format('ALTER TABLE facts DROP CONSTRAINT %I', c);
    END LOOP;
END;
$$;

CREATE TABLE fact_sources (
    id                uuid PRIMARY KEY,
    -- No cascade: provenance is moved or deleted explicitly, never as a side effect.
    fact_id           uuid NOT NULL REFERENCES facts (id),
    user_id           text NOT NULL,
    predicate         text NOT NULL,
    -- The value as said in this message (casing may differ from the fact's).
    object            text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('assert', 'correction', 'change', 'retraction')),
    attributes        jsonb NOT NULL DEFAULT '{}'::jsonb,
    message_id        uuid NOT NULL,
    chat_id           uuid NOT NULL,
    -- The message's created_at: statements are ordered by when they were said.
    said_at           timestamptz NOT NULL,
    -- Position among the message's statements (a message may end one value, then say another).
    ordinal           integer NOT NULL DEFAULT 0,
    span_start        integer NOT NULL,
    span_end          integer NOT NULL,
    rule_id           text NOT NULL,
    extractor         text NOT NULL,
    extractor_version integer NOT NULL,
    confidence        real NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX fact_sources_statement_key ON fact_sources (message_id, predicate, lower(object), kind);
CREATE INDEX fact_sources_fact_idx ON fact_sources (fact_id);
CREATE INDEX fact_sources_user_idx ON fact_sources (user_id, predicate);
CREATE INDEX fact_sources_said_idx ON fact_sources (said_at);

-- Backfill: every V1 fact row was one statement, so it becomes its own first source.
-- A V1 row repeating another row's statement (same message, value up to case, kind) is
-- skipped, then that sourceless duplicate row is removed: every fact must have a source.
INSERT INTO fact_sources (id, fact_id, user_id, predicate, object, kind, attributes, message_id, chat_id,
                          said_at, span_start, span_end, rule_id, extractor, extractor_version, confidence,
                          recorded_at)
SELECT id, id, user_id, predicate, object, kind, attributes, source_message_id, chat_id,
       created_at, span_start, span_end, rule_id, extractor, extractor_version, confidence, recorded_at
  FROM facts
 ORDER BY created_at, id
ON CONFLICT DO NOTHING;
UPDATE facts f SET superseded_by = NULL
 WHERE f.superseded_by IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM fact_sources s WHERE s.fact_id = f.superseded_by);
DELETE FROM facts f WHERE NOT EXISTS (SELECT 1 FROM fact_sources s WHERE s.fact_id = f.id);

-- A retraction row is an instant, never a value: it has no validity interval of its own.
UPDATE facts SET valid_to = valid_from WHERE kind = 'retraction' AND valid_to IS NULL;

CREATE INDEX facts_superseded_by_idx ON facts (superseded_by) WHERE superseded_by IS NOT NULL;

CREATE TABLE user_tombstones (
    user_id    text PRIMARY KEY,
    deleted_at timestamptz NOT NULL
);

CREATE TABLE message_tombstones (
    message_id uuid PRIMARY KEY,
    chat_id    uuid NOT NULL,
    deleted_at timestamptz NOT NULL
);

CREATE TABLE forget_log (
    id           uuid PRIMARY KEY,
    scope        text NOT NULL CHECK (scope IN ('user', 'message')),
    user_id      text,
    chat_id      uuid,
    message_id   uuid,
    requested_at timestamptz NOT NULL DEFAULT now(),
    -- What was removed, as counts: the audit must not keep what it forgot.
    counts       jsonb NOT NULL
);
CREATE INDEX forget_log_requested_idx ON forget_log (requested_at);

CREATE INDEX messages_user_idx ON messages (user_id);
