//! The Redis adapter: the stream and its consumer group behind the engine's `StreamBus` port,
//! plus the stream statistics the admin surface reports. Clients and pools are built in
//! [`connect`]; the commands the operator tools and the bench send are in [`diagnose`],
//! [`verify`] and [`bench`], so that no Redis command is written outside this adapter.
//!
//! Entries are read as raw bytes (a field may not be UTF-8; the engine decides what that
//! means). A vanished stream or group (`NOGROUP`, e.g. after `FLUSHALL`) is recreated here
//! without operator action. Every Redis failure is transient to the engine: nothing in Redis
//! is deleted on an error, so retrying is always safe.

use std::time::Duration;

use async_trait::async_trait;
use memlink_actors::decode::RawEntry;
use memlink_actors::ports::{OutgoingEntry, PortError, Redelivered, StreamBus};
use redis::Value;
use serde::Serialize;

pub mod bench;
pub mod connect;
pub mod diagnose;
pub mod identity;
pub mod retention;
pub mod verify;

pub use connect::{build_pool, client, RedisCallError, RedisManager, RedisPool, RedisSetupError};

/// One stream and one consumer group, as one consumer.
#[derive(Clone)]
pub struct RedisBus {
    pool: RedisPool,
    stream: String,
    group: String,
    consumer: String,
}

fn fail(e: redis::RedisError) -> PortError {
    PortError::transient("redis", e.to_string())
}

fn pool_fail(e: bb8::RunError<redis::RedisError>) -> PortError {
    match e {
        bb8::RunError::User(e) => fail(e),
        bb8::RunError::TimedOut => {
            PortError::transient("redis", "no connection available (timed out)")
        }
    }
}

fn is_nogroup(e: &redis::RedisError) -> bool {
    e.code() == Some("NOGROUP")
}

impl RedisBus {
    pub fn new(pool: RedisPool, stream: String, group: String, consumer: String) -> RedisBus {
        RedisBus {
            pool,
            stream,
            group,
            consumer,
        }
    }

    async fn query(&self, cmd: &redis::Cmd) -> Result<Value, redis::RedisError> {
        self.query_as(cmd).await
    }

    /// Runs `cmd` on a pooled connection, its answer read as `T`.
    async fn query_as<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, redis::RedisError> {
        let mut conn = self.pool.get().await.map_err(|e| match e {
            bb8::RunError::User(e) => e,
            bb8::RunError::TimedOut => redis::RedisError::from((
                redis::ErrorKind::Io,
                "no connection available (timed out)",
            )),
        })?;
        cmd.query_async(&mut *conn).await
    }

    /// Runs `cmd`; on `NOGROUP` recreates the group (from the start of whatever the stream
    /// still holds) and runs it once more.
    async fn query_regrouping(&self, cmd: &redis::Cmd) -> Result<Value, PortError> {
        match self.query(cmd).await {
            Err(e) if is_nogroup(&e) => {
                log::warn!(target: "memlink::worker", "event=group_recreated stream={} group={}", self.stream, self.group);
                self.ensure_group().await?;
                self.query(cmd).await.map_err(fail)
            }
            other => other.map_err(fail),
        }
    }

    /// PING over a connection of its own, so a failure names its real cause (refused,
    /// a refused certificate, ...) where the pool would only time out.
    pub async fn ping(&self) -> Result<(), PortError> {
        let ping = async {
            let mut conn = self.pool.dedicated_connection().await?;
            redis::cmd("PING").query_async::<()>(&mut conn).await
        };
        match actix_web::rt::time::timeout(Duration::from_secs(5), ping).await {
            Ok(result) => result.map_err(fail),
            Err(_) => Err(PortError::transient("redis", "no answer within 5 s")),
        }
    }

    /// Length, pending count and lag of the group, for the admin surface.
    pub async fn stats(&self) -> Result<StreamStats, PortError> {
        let len = match self
            .query(redis::cmd("XLEN").arg(&self.stream))
            .await
            .map_err(fail)?
        {
            Value::Int(n) => n,
            _ => 0,
        };
        let mut stats = StreamStats {
            length: len,
            ..StreamStats::default()
        };
        let groups = match self
            .query(redis::cmd("XINFO").arg("GROUPS").arg(&self.stream))
            .await
        {
            Ok(v) => v,
            // No stream yet: nothing pending, nothing lagging.
            Err(e) if e.code() == Some("ERR") => return Ok(stats),
            Err(e) => return Err(fail(e)),
        };
        for group in as_array(&groups) {
            let fields = as_pairs(group);
            if fields.get("name").and_then(|v| as_text(v)).as_deref() != Some(self.group.as_str()) {
                continue;
            }
            stats.group_exists = true;
            stats.pending = fields.get("pending").and_then(|v| as_int(v)).unwrap_or(0);
            stats.lag = fields.get("lag").and_then(|v| as_int(v));
            stats.consumers = fields.get("consumers").and_then(|v| as_int(v)).unwrap_or(0);
        }
        Ok(stats)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamStats {
    pub length: i64,
    pub pending: i64,
    /// Entries not yet delivered to the group; `None` when Redis cannot tell.
    pub lag: Option<i64>,
    pub consumers: i64,
    pub group_exists: bool,
}

/// Ids go in chunks of this many per command, so a user with years of messages is not one
/// giant XDEL.
const ERASE_CHUNK: usize = 500;

#[async_trait]
impl StreamBus for RedisBus {
    async fn publish(&self, entries: &[OutgoingEntry]) -> Result<Vec<String>, PortError> {
        let mut pipe = redis::pipe();
        for e in entries {
            pipe.cmd("XADD")
                .arg(&self.stream)
                .arg("*")
                .arg("event_id")
                .arg(&e.event_id)
                .arg("event_type")
                .arg(&e.event_type)
                .arg("payload")
                .arg(&e.payload);
        }
        let mut conn = self.pool.get().await.map_err(pool_fail)?;
        let ids: Vec<String> = pipe.query_async(&mut *conn).await.map_err(fail)?;
        Ok(ids)
    }

    async fn ensure_group(&self) -> Result<(), PortError> {
        let created = self
            .query(
                redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(&self.stream)
                    .arg(&self.group)
                    .arg("0")
                    .arg("MKSTREAM"),
            )
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(fail(e)),
        }
    }

    async fn read_new(&self, count: usize, block: Duration) -> Result<Vec<RawEntry>, PortError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">");
        let v = self.query_regrouping(&cmd).await?;
        // [[stream, [[id, [f, v, ...]], ...]]] or nil on timeout.
        let mut out = Vec::new();
        for stream in as_array(&v) {
            if let Some(entries) = as_array(stream).get(1) {
                out.extend(parse_entries(entries).into_iter().flatten());
            }
        }
        Ok(out)
    }

    async fn claim_idle(
        &self,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Redelivered>, PortError> {
        let idle_ms = min_idle.as_millis() as u64;
        let mut pending = redis::cmd("XPENDING");
        pending
            .arg(&self.stream)
            .arg(&self.group)
            .arg("IDLE")
            .arg(idle_ms)
            .arg("-")
            .arg("+")
            .arg(count);
        let v = self.query_regrouping(&pending).await?;
        let mut deliveries = std::collections::HashMap::new();
        for item in as_array(&v) {
            let fields = as_array(item);
            if let (Some(id), Some(n)) = (
                fields.first().and_then(as_text),
                fields.get(3).and_then(as_int),
            ) {
                deliveries.insert(id, n);
            }
        }
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let mut claim = redis::cmd("XCLAIM");
        claim
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&self.consumer)
            .arg(idle_ms);
        for id in deliveries.keys() {
            claim.arg(id);
        }
        let claimed = self.query(&claim).await.map_err(fail)?;
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for (entry, id) in parse_entries(&claimed)
            .into_iter()
            .zip(as_array(&claimed).iter().map(entry_id))
        {
            match entry {
                Some(e) => {
                    let n = deliveries.get(&e.id).copied().unwrap_or(0);
                    out.push(Redelivered {
                        entry: e,
                        // XCLAIM itself counted one more delivery.
                        deliveries: u64::try_from(n + 1).unwrap_or(1),
                    });
                }
                None => gone.extend(id),
            }
        }
        if !gone.is_empty() {
            // Trimmed or lost entries: nothing to process; the outbox still has the events.
            log::warn!(target: "memlink::worker", "event=pending_entries_missing count={}", gone.len());
            self.ack(&gone).await?;
        }
        if !out.is_empty() {
            log::info!(target: "memlink::worker", "event=entries_reclaimed count={}", out.len());
            crate::telemetry::reclaimed(out.len());
        }
        Ok(out)
    }

    async fn ack(&self, ids: &[String]) -> Result<(), PortError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("XACK");
        cmd.arg(&self.stream).arg(&self.group);
        for id in ids {
            cmd.arg(id);
        }
        self.query_regrouping(&cmd).await?;
        Ok(())
    }

    async fn missing(&self, ids: &[String]) -> Result<Vec<bool>, PortError> {
        self.entries_missing(ids).await
    }

    async fn fetch(&self, ids: &[String]) -> Result<Vec<Option<RawEntry>>, PortError> {
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.pool.get().await.map_err(pool_fail)?;
        for chunk in ids.chunks(ERASE_CHUNK) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.cmd("XRANGE").arg(&self.stream).arg(id).arg(id);
            }
            let found: Vec<Value> = pipe.query_async(&mut *conn).await.map_err(fail)?;
            out.extend(
                found
                    .iter()
                    .map(|v| parse_entries(v).into_iter().flatten().next()),
            );
        }
        Ok(out)
    }

    async fn delete(&self, ids: &[String]) -> Result<u64, PortError> {
        let mut deleted = 0u64;
        for chunk in ids.chunks(ERASE_CHUNK) {
            let mut cmd = redis::cmd("XDEL");
            cmd.arg(&self.stream);
            for id in chunk {
                cmd.arg(id);
            }
            let n = self.query(&cmd).await.map_err(fail)?;
            deleted += as_int(&n).and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        }
        Ok(deleted)
    }
}

impl RedisBus {
    /// For each id, whether the stream no longer holds that entry (one pipelined round trip).
    async fn entries_missing(&self, ids: &[String]) -> Result<Vec<bool>, PortError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("XRANGE").arg(&self.stream).arg(id).arg(id);
        }
        let mut conn = self.pool.get().await.map_err(pool_fail)?;
        let found: Vec<Value> = pipe.query_async(&mut *conn).await.map_err(fail)?;
        Ok(found.iter().map(|v| as_array(v).is_empty()).collect())
    }
}

fn as_array(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) | Value::Set(items) => items,
        _ => &[],
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        other => as_text(other).and_then(|s| s.parse().ok()),
    }
}

fn as_pairs(v: &Value) -> std::collections::HashMap<String, &Value> {
    match v {
        Value::Map(pairs) => pairs
            .iter()
            .filter_map(|(k, v)| as_text(k).map(|k| (k, v)))
            .collect(),
        other => as_array(other)
            .chunks(2)
            .filter_map(|c| match c {
                [k, v] => as_text(k).map(|k| (k, v)),
                _ => None,
            })
            .collect(),
    }
}

fn entry_id(v: &Value) -> Option<String> {
    as_array(v).first().and_then(as_text)
}

/// `[[id, [f, v, ...]], ...]`; an entry whose fields are nil (deleted) becomes `None`.
fn parse_entries(v: &Value) -> Vec<Option<RawEntry>> {
    as_array(v)
        .iter()
        .map(|item| {
            let parts = as_array(item);
            let id = parts.first().and_then(as_text)?;
            let fields = match parts.get(1) {
                Some(Value::Array(kv)) => kv,
                _ => return None,
            };
            let fields = fields
                .chunks(2)
                .filter_map(|c| match c {
                    [Value::BulkString(k), Value::BulkString(v)] => Some((k.clone(), v.clone())),
                    _ => None,
                })
                .collect();
            Some(RawEntry { id, fields })
        })
        .collect()
}
