-- memlink schema, version 4: one row per daemon process, upserted every few seconds, so that
-- any memlink (and `memlink doctor`) can see which relays and workers are alive, where they
-- publish or read, and whether they are crash-looping. Later versions add; never edit this.

CREATE TABLE heartbeats (
    instance_id   uuid PRIMARY KEY,
    host          text NOT NULL,
    pid           integer NOT NULL,
    role          text NOT NULL CHECK (role IN ('all', 'relay', 'worker')),
    version       text NOT NULL,
    -- The queue backend and where it is: the redacted URL (never a password) and the
    -- server's own identity (Redis run_id and database), which tells two names for one
    -- server apart from two servers.
    backend       text NOT NULL DEFAULT 'redis',
    bus           text NOT NULL,
    bus_id        text,
    stream        text NOT NULL,
    group_name    text NOT NULL,
    consumer      text NOT NULL,
    -- The row is live while last_seen is younger than three intervals. Both times are the
    -- database's own clock, so hosts with skewed clocks agree.
    interval_secs integer NOT NULL CHECK (interval_secs > 0),
    started_at    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    -- Set by a graceful stop; a row whose process died keeps it NULL and goes stale.
    stopped_at    timestamptz,
    stop_reason   text,
    -- The status board: [{name, state, restarts, recent_restarts, last_error}].
    actors        jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- Settings other instances and the doctor reason with (reclaim idle, reconciler).
    settings      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX heartbeats_last_seen_idx ON heartbeats (last_seen);
CREATE INDEX heartbeats_host_role_idx ON heartbeats (host, role, started_at);
