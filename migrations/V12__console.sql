-- memlink schema, version 12: the admin console (/admin/ui).
--
-- * Dead-letter actions taken in the browser are audited with channel 'console' (beside
--   'http' and 'cli'), under the name the operator signed in with.
-- * Forgetting records who asked, when a person did (the console); API calls leave it NULL.
-- * The console lists dead letters newest first with keyset paging ("older than this one"),
--   filtered on the server; these indexes keep every page as fast as the first at 100,000
--   letters and more.
-- * Its chart of throughput and p99 latency reads the last minutes of processed messages.

ALTER TABLE dead_letter_actions DROP CONSTRAINT IF EXISTS dead_letter_actions_channel_check;
ALTER TABLE dead_letter_actions ADD CONSTRAINT dead_letter_actions_channel_check
    CHECK (channel IN ('http', 'cli', 'console'));

ALTER TABLE forget_log ADD COLUMN actor text;
ALTER TABLE forget_log ADD COLUMN channel text CHECK (channel IN ('http', 'cli', 'console'));

-- The user a dead letter's payload names (its "user_id" member), NULL when the payload is
-- missing, not UTF-8, not JSON or names none. Never raises: an index on it must accept any
-- letter, since dead letters are exactly the inputs that did not decode.
CREATE FUNCTION memlink_payload_user_id(payload bytea) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF payload IS NULL OR length(payload) > 1048576 THEN
        RETURN NULL;
    END IF;
    RETURN convert_from(payload, 'UTF8')::jsonb ->> 'user_id';
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$;

CREATE INDEX dead_letters_page_idx ON dead_letters (received_at, id);
CREATE INDEX dead_letters_status_page_idx ON dead_letters (status, received_at, id);
CREATE INDEX dead_letters_user_idx ON dead_letters (memlink_payload_user_id(payload), received_at, id);

-- BRIN, not btree: nearly free for the worker's updates (rows are processed roughly in the
-- order they are stored), and enough to find the last minutes' rows.
CREATE INDEX messages_processed_brin_idx ON messages USING brin (processed_at) WITH (autosummarize = on);
