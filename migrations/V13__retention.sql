-- memlink schema, version 13: retention (see docs/architecture.md, "Retention").
--
-- Retention walks relayed outbox rows oldest first, whatever their confirmed_at (rows
-- confirmed before V8 carry it; later ones never do), and the reconciler walks the unconfirmed
-- ones in relay order. One index on relayed_at over every relayed row serves both, so it
-- replaces outbox_unconfirmed_idx at the same cost to the relay.
CREATE INDEX IF NOT EXISTS outbox_relayed_idx ON outbox_events (relayed_at, id)
    WHERE status = 'relayed';
DROP INDEX IF EXISTS outbox_unconfirmed_idx;

-- Idempotency records are removed once older than the retention. BRIN, not btree: nearly
-- free for the worker's inserts (rows arrive in processed_at order), and enough to find the
-- old ones.
CREATE INDEX IF NOT EXISTS processed_events_processed_brin_idx
    ON processed_events USING brin (processed_at) WITH (autosummarize = on);
