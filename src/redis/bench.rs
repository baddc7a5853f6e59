//! What `memlink-bench` samples from Redis during a soak: the stream's length, its group's
//! consumers and the server's memory.
//!
//! Redis commands only, read-only (`XLEN`, `XINFO CONSUMERS`, `INFO memory`), on the bench's
//! own blocking connection; this module must never write to the stream or the group.

use redis::RedisResult;

use super::connect::{client, RedisCallError};

/// One sample of the stream and the server.
#[derive(Debug, Clone)]
pub struct StreamSample {
    pub length: i64,
    /// Consumers of the group; 0 when the group cannot be read.
    pub consumers: usize,
    /// `used_memory` from `INFO memory`, bytes; 0 when Redis does not say.
    pub used_memory_bytes: f64,
}

/// A blocking connection of the bench's own.
pub struct BenchRedis(redis::Connection);

impl BenchRedis {
    /// Connects to `url` (`redis://`, or `rediss://` verified against the system's roots).
    pub fn open(url: &str) -> Result<BenchRedis, RedisCallError> {
        Ok(BenchRedis(client(url, None)?.get_connection()?))
    }

    pub fn sample(&mut self, stream: &str, group: &str) -> RedisResult<StreamSample> {
        let conn = &mut self.0;
        let length: i64 = redis::cmd("XLEN").arg(stream).query(conn)?;
        let info: String = redis::cmd("INFO").arg("memory").query(conn)?;
        let used_memory_bytes = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        let consumers: Vec<redis::Value> = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(stream)
            .arg(group)
            .query(conn)
            .unwrap_or_default();
        Ok(StreamSample {
            length,
            consumers: consumers.len(),
            used_memory_bytes,
        })
    }
}
