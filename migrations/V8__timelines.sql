-- V8: the memory graph is derived incrementally (see docs/memory.md): a change reads only the
-- statements next to it in said order. These indexes serve those reads, one for single-valued
-- timelines (user, predicate) and one for each value of a multi-valued one. Both lead with
-- user_id, like every memory read and write, so the tables can be distributed by user.
CREATE INDEX IF NOT EXISTS fact_sources_timeline_idx
    ON fact_sources (user_id, predicate, said_at, message_id, ordinal, id);
CREATE INDEX IF NOT EXISTS fact_sources_value_idx
    ON fact_sources (user_id, predicate, lower(object), said_at, message_id, ordinal, id);
-- Both were prefixes of, or covered by, the timeline index and cost a write per statement.
DROP INDEX IF EXISTS fact_sources_user_idx;
DROP INDEX IF EXISTS fact_sources_said_idx;

-- Incremental derivation trusts what is stored next to a change. Timelines stored before this
-- version may hold facts written before V3 (one row per statement, repeats not merged) that
-- no change has re-derived since: each is folded whole, once, the first time it changes.
CREATE TABLE memory_legacy_pairs (
    user_id   text NOT NULL,
    predicate text NOT NULL,
    PRIMARY KEY (user_id, predicate)
);
INSERT INTO memory_legacy_pairs (user_id, predicate)
SELECT DISTINCT user_id, predicate FROM fact_sources;

-- The reconciler reads relayed rows in relay order from a durable cursor and asks whether a
-- worker processed (processed_events) or dead-lettered (dead_letters.event_id) each event,
-- instead of the worker writing confirmed_at on every outbox row.
CREATE TABLE reconcile_cursors (
    stream     text NOT NULL,
    grp        text NOT NULL,
    relayed_at timestamptz NOT NULL,
    id         uuid NOT NULL,
    PRIMARY KEY (stream, grp)
);
CREATE INDEX IF NOT EXISTS dead_letters_event_idx ON dead_letters (event_id);

-- Crash-loop immunity without a write per entry: a fresh batch is marked in flight by one row,
-- removed in the batch's effects transaction. Entries taken over from a consumer whose process
-- died are found here and get a marker each (inflight_entries), as before.
CREATE TABLE inflight_batches (
    id        uuid PRIMARY KEY,
    stream    text NOT NULL,
    grp       text NOT NULL,
    owner     uuid NOT NULL,
    entry_ids text[] NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT now()
);

-- The event that stored a message (for naming both sides of a reused message id), written in
-- the same row write that marks it processed. Messages are folded into their chat's watermark
-- in that same transaction, so folded_at is set with processed_at.
ALTER TABLE messages ADD COLUMN processed_event_id uuid;
