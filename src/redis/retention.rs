//! Retention on Redis: the stream's consumer groups as the engine's retention actor sees them,
//! the trim it decides, and the removal of consumers whose processes are gone
//! (`memlink_actors::ports::StreamJanitor`).
//!
//! The trim and the consumer removal are Lua scripts, so the check that makes them safe (no
//! group needs an entry below the floor; the consumer owns no pending entry) and the change
//! are one atomic step: a group created or a consumer reading in between cannot lose an entry.
//! This module must never trim or remove anything without that check.

use std::time::Duration;

use async_trait::async_trait;
use memlink_actors::ports::{ConsumerState, GroupMark, PortError, StreamId, StreamJanitor};
use redis::Value;

use super::{as_array, as_int, as_pairs, as_text, fail, pool_fail, RedisBus};

/// KEYS[1] the stream, ARGV[1] the floor, ARGV[2] the limit. -1 when some group's
/// last-delivered id or oldest pending entry is below the floor, else how many entries went:
/// whole nodes first (`~ LIMIT`: bounded work), then, when that was not cut short by the limit
/// (it evicts whole nodes until the limit is near), the rest below the floor exactly (at most
/// one node's worth). Ids are compared as (ms, seq).
const TRIM_BELOW: &str = r"
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function below(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  if am ~= bm then return am < bm end
  return as < bs
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local floor = ARGV[1]
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  if below(last, floor) then return -1 end
  local p = redis.call('XPENDING', KEYS[1], name)
  if p[1] > 0 and below(p[2], floor) then return -1 end
end
local limit = tonumber(ARGV[2])
local n = redis.call('XTRIM', KEYS[1], 'MINID', '~', floor, 'LIMIT', limit)
if n < limit / 2 then
  n = n + redis.call('XTRIM', KEYS[1], 'MINID', '=', floor)
end
return n
";

/// KEYS[1] the stream, ARGV[1] the group, ARGV[2] the consumer. -1 when it owns pending
/// entries (it stays), else what XGROUP DELCONSUMER answers (0: no pending entry dropped).
const REMOVE_CONSUMER: &str = r"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
";

fn stream_id(v: &Value) -> Option<StreamId> {
    as_text(v).and_then(|s| s.parse().ok())
}

/// A missing stream (`ERR no such key`) or group (`NOGROUP`): nothing to look at.
fn is_absent(e: &redis::RedisError) -> bool {
    matches!(e.code(), Some("NOGROUP")) || e.to_string().contains("no such key")
}

#[async_trait]
impl StreamJanitor for RedisBus {
    async fn groups(&self) -> Result<Vec<GroupMark>, PortError> {
        let groups = match self
            .query(redis::cmd("XINFO").arg("GROUPS").arg(&self.stream))
            .await
        {
            Ok(v) => v,
            Err(e) if is_absent(&e) => return Ok(Vec::new()),
            Err(e) => return Err(fail(e)),
        };
        let mut out = Vec::new();
        for group in as_array(&groups) {
            let fields = as_pairs(group);
            let (Some(name), Some(last)) = (
                fields.get("name").and_then(|v| as_text(v)),
                fields.get("last-delivered-id").and_then(|v| stream_id(v)),
            ) else {
                return Err(PortError::transient(
                    "redis",
                    "XINFO GROUPS answered without a name or last-delivered-id",
                ));
            };
            let summary = self
                .query(redis::cmd("XPENDING").arg(&self.stream).arg(&name))
                .await
                .map_err(fail)?;
            let summary = as_array(&summary);
            let count = summary.first().and_then(as_int).unwrap_or(0);
            let oldest_pending = if count > 0 {
                summary.get(1).and_then(stream_id)
            } else {
                None
            };
            out.push(GroupMark {
                name,
                last_delivered: last,
                oldest_pending,
            });
        }
        Ok(out)
    }

    async fn trim_below(&self, min_id: StreamId, limit: usize) -> Result<Option<u64>, PortError> {
        let mut conn = self.pool.get().await.map_err(pool_fail)?;
        // EVAL, not EVALSHA: two short scripts, run every few seconds at most.
        let n: i64 = redis::cmd("EVAL")
            .arg(TRIM_BELOW)
            .arg(1)
            .arg(&self.stream)
            .arg(min_id.to_string())
            .arg(limit.max(1))
            .query_async(&mut *conn)
            .await
            .map_err(fail)?;
        Ok(u64::try_from(n).ok())
    }

    async fn consumers(&self) -> Result<Vec<ConsumerState>, PortError> {
        let v = match self
            .query(
                redis::cmd("XINFO")
                    .arg("CONSUMERS")
                    .arg(&self.stream)
                    .arg(&self.group),
            )
            .await
        {
            Ok(v) => v,
            Err(e) if is_absent(&e) => return Ok(Vec::new()),
            Err(e) => return Err(fail(e)),
        };
        Ok(as_array(&v)
            .iter()
            .filter_map(|c| {
                let f = as_pairs(c);
                // Redis 7.2 tells the time since the last successful read apart ("inactive").
                let idle_ms = f
                    .get("inactive")
                    .and_then(|v| as_int(v))
                    .filter(|n| *n >= 0)
                    .or_else(|| f.get("idle").and_then(|v| as_int(v)))
                    .unwrap_or(0);
                Some(ConsumerState {
                    name: f.get("name").and_then(|v| as_text(v))?,
                    pending: u64::try_from(f.get("pending").and_then(|v| as_int(v))?).ok()?,
                    idle: Duration::from_millis(u64::try_from(idle_ms).unwrap_or(0)),
                })
            })
            .collect())
    }

    async fn remove_consumer(&self, name: &str) -> Result<bool, PortError> {
        let mut conn = self.pool.get().await.map_err(pool_fail)?;
        let answer: redis::RedisResult<i64> = redis::cmd("EVAL")
            .arg(REMOVE_CONSUMER)
            .arg(1)
            .arg(&self.stream)
            .arg(&self.group)
            .arg(name)
            .query_async(&mut *conn)
            .await;
        match answer {
            Ok(n) => Ok(n >= 0),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(fail(e)),
        }
    }
}
