//! Gathering a [`Snapshot`]'s facts: what Postgres (outbox, heartbeats, dead letters, schema)
//! and Redis (stream, group, stuck entries, persistence) say, each read under a deadline. It
//! only reads (the Redis bus-identity marker aside, see [`crate::ops::heartbeat::bus_id`]);
//! it must never decide what the facts mean: that is [`super::rules`].

use super::*;

const OUTBOX_FACTS: &str = "
    SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at))::float8, 0)
      FROM outbox_events WHERE status = 'pending'";

/// Heartbeats of the last hour: the live ones, and the dead ones a crash loop leaves.
const RECENT_HEARTBEATS: &str = "
    SELECT instance_id, host, pid, role, version, backend, bus, bus_id, stream, group_name, consumer,
           interval_secs, started_at, last_seen, stopped_at, stop_reason, actors, settings,
           (stopped_at IS NULL AND last_seen > now() - make_interval(secs => interval_secs * 3)),
           extract(epoch FROM now() - last_seen)::float8,
           extract(epoch FROM now() - started_at)::float8
      FROM heartbeats
     WHERE last_seen > now() - interval '1 hour'
     ORDER BY started_at, instance_id";

/// Per reason: how many letters await triage, and the newest one as the example.
const DEAD_LETTER_GROUPS: &str = "
    SELECT DISTINCT ON (reason) reason, count(*) OVER (PARTITION BY reason),
           max(received_at) OVER (PARTITION BY reason), id, source, source_ref, detail
      FROM dead_letters
     WHERE status = 'dead'
     ORDER BY reason, received_at DESC, id";

/// `Ok(None)` when the table does not exist yet.
fn missing_table<T>(r: Result<T, tokio_postgres::Error>) -> Result<Option<T>, String> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(postgres::classify(e).message),
    }
}

/// Reads everything the rules need from Postgres; an `Err` means Postgres did not answer.
pub async fn gather_postgres(pool: &PgPool) -> Result<PgFacts, String> {
    let schema_version = postgres::current_schema_version(pool)
        .await
        .map_err(|e| e.message)?;
    let conn = pool
        .get()
        .await
        .map_err(|e| postgres::pool_error(e).message)?;
    let outbox = missing_table(conn.query_one(OUTBOX_FACTS, &[]).await)?.map(|r| OutboxFacts {
        pending: r.get(0),
        oldest_pending_age_s: r.get(1),
    });
    let heartbeats = missing_table(conn.query(RECENT_HEARTBEATS, &[]).await)?.map(|rows| {
        rows.into_iter()
            .map(|r| Heartbeat {
                instance_id: r.get(0),
                host: r.get(1),
                pid: r.get(2),
                role: r.get(3),
                version: r.get(4),
                backend: r.get(5),
                bus: r.get(6),
                bus_id: r.get(7),
                stream: r.get(8),
                group: r.get(9),
                consumer: r.get(10),
                interval_secs: r.get(11),
                started_at: r.get(12),
                last_seen: r.get(13),
                stopped_at: r.get(14),
                stop_reason: r.get(15),
                actors: r.get(16),
                settings: r.get(17),
                live: r.get(18),
                seen_ago_s: r.get(19),
                started_ago_s: r.get(20),
            })
            .collect()
    });
    let dead_letters = missing_table(conn.query(DEAD_LETTER_GROUPS, &[]).await)?.map(|rows| {
        rows.into_iter()
            .map(|r| DeadLetterGroup {
                reason: r.get(0),
                count: r.get(1),
                newest: r.get(2),
                example_id: r.get(3),
                example_source: r.get(4),
                example_ref: r.get(5),
                example_detail: r.get(6),
            })
            .collect()
    });
    Ok(PgFacts {
        schema_version,
        outbox,
        heartbeats,
        dead_letters,
    })
}

/// The reclaim-idle timeout the rules assume: the largest among the live workers reading
/// the target's stream and group, else the target's own.
pub fn effective_reclaim_idle_secs(target: &Target, pg: Option<&PgFacts>) -> u64 {
    pg.and_then(|p| p.heartbeats.as_ref())
        .into_iter()
        .flatten()
        .filter(|h| {
            h.live && h.runs_worker() && h.stream == target.stream && h.group == target.group
        })
        .filter_map(|h| h.setting_u64("reclaim_idle_secs"))
        .max()
        .unwrap_or(target.reclaim_idle_secs)
}

async fn redis_query<T: redis::FromRedisValue>(
    pool: &RedisPool,
    cmd: &redis::Cmd,
) -> Result<T, redis::RedisError> {
    let mut conn = pool.get().await.map_err(|e| match e {
        bb8::RunError::User(e) => e,
        bb8::RunError::TimedOut => {
            redis::RedisError::from((redis::ErrorKind::Io, "no connection available (timed out)"))
        }
    })?;
    cmd.query_async(&mut *conn).await
}

/// Reads the stream, its stuck entries and the server's persistence settings; an `Err`
/// means Redis did not answer.
pub async fn gather_redis(
    pool: &RedisPool,
    target: &Target,
    stuck_after: Duration,
) -> Result<RedisFacts, String> {
    let bus = RedisBus::new(
        pool.clone(),
        target.stream.clone(),
        target.group.clone(),
        "memlink-diagnose".to_owned(),
    );
    let stream = bus.stats().await.map_err(|e| e.message)?;
    let threshold_ms = i64::try_from(stuck_after.as_millis()).unwrap_or(i64::MAX);
    let mut stuck = StuckEntries {
        threshold_ms,
        ..StuckEntries::default()
    };
    if stream.group_exists {
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(&target.stream)
            .arg(&target.group)
            .arg("IDLE")
            .arg(threshold_ms)
            .arg("-")
            .arg("+")
            .arg(STUCK_SAMPLE);
        match redis_query::<Vec<(String, String, i64, i64)>>(pool, &cmd).await {
            Ok(entries) => {
                let consumers: BTreeSet<String> =
                    entries.iter().map(|(_, c, _, _)| c.clone()).collect();
                stuck.count = entries.len();
                stuck.max_idle_ms = entries.iter().map(|e| e.2).max().unwrap_or(0);
                stuck.consumers = consumers.into_iter().collect();
            }
            // The group vanished between the two calls: nothing is pending in it.
            Err(e) if e.code() == Some("NOGROUP") => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let appendonly: Result<HashMap<String, String>, _> =
        redis_query(pool, redis::cmd("CONFIG").arg("GET").arg("appendonly")).await;
    let save: Result<HashMap<String, String>, _> =
        redis_query(pool, redis::cmd("CONFIG").arg("GET").arg("save")).await;
    let persistence = match (appendonly, save) {
        (Ok(a), Ok(s)) => Some(Persistence {
            appendonly: a.get("appendonly").is_some_and(|v| v == "yes"),
            save: s.get("save").cloned().unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(RedisFacts {
        stream,
        stuck,
        persistence,
    })
}

/// What a running daemon needs to diagnose itself (kept in the HTTP state).
pub struct OpsContext {
    pub target: Target,
    pub thresholds: Thresholds,
    pub redis: RedisPool,
    pub role: ProcessRole,
    pub instance_id: Uuid,
}

/// How long a daemon's self-diagnosis may wait for each of Postgres and Redis.
const GATHER_DEADLINE: Duration = Duration::from_secs(3);

impl OpsContext {
    /// Gathers a snapshot with the daemon's pools, each part under a deadline.
    pub async fn snapshot(&self, pg: &PgPool) -> Snapshot {
        let timeout = |what: &str| format!("no answer within {GATHER_DEADLINE:?} ({what})");
        let postgres =
            match actix_web::rt::time::timeout(GATHER_DEADLINE, gather_postgres(pg)).await {
                Ok(r) => r,
                Err(_) => Err(timeout("postgres")),
            }
            .map_err(|error| Unreachable {
                url: self.target.database.clone(),
                error,
            });
        let reclaim = effective_reclaim_idle_secs(&self.target, postgres.as_ref().ok());
        let stuck_after = self
            .target
            .stuck_after(reclaim, self.thresholds.stuck_factor);
        let redis = match actix_web::rt::time::timeout(
            GATHER_DEADLINE,
            gather_redis(&self.redis, &self.target, stuck_after),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(timeout("redis")),
        }
        .map_err(|error| Unreachable {
            url: self.target.redis.clone(),
            error,
        });
        Snapshot {
            expected_schema: postgres::expected_schema_version(),
            target: self.target.clone(),
            postgres,
            redis,
            daemon: None,
        }
    }

    pub async fn findings(&self, pg: &PgPool) -> Vec<Finding> {
        evaluate(&self.snapshot(pg).await, &self.thresholds)
    }
}
