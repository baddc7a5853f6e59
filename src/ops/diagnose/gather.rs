//! Gathering a [`Snapshot`]'s facts: what Postgres (outbox, heartbeats, dead letters, schema)
//! and Redis (stream, group, stuck entries, persistence) say, each read under a deadline. The
//! reads themselves are the adapters' ([`crate::postgres::diagnose`],
//! [`crate::redis::diagnose`]); this module holds no SQL and no Redis command. It only reads
//! (the Redis bus-identity marker aside, see [`crate::ops::heartbeat::bus_id`]); it must never
//! decide what the facts mean: that is [`super::rules`].

use super::*;

/// Reads everything the rules need from Postgres; an `Err` means Postgres did not answer.
pub async fn gather_postgres(pool: &PgPool) -> Result<PgFacts, String> {
    postgres::diagnose::facts(pool).await.map_err(|e| e.message)
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

/// Reads the stream, its stuck entries and the server's persistence settings; an `Err`
/// means Redis did not answer.
pub async fn gather_redis(
    pool: &RedisPool,
    target: &Target,
    stuck_after: Duration,
) -> Result<RedisFacts, String> {
    crate::redis::diagnose::facts(
        pool,
        &target.stream,
        &target.group,
        stuck_after,
        STUCK_SAMPLE,
    )
    .await
    .map_err(|e| e.message)
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
