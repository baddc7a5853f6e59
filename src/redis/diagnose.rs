//! The reads the self-diagnosis needs from Redis: the stream and its group
//! ([`StreamStats`]), a sample of the entries pending too long, and the server's persistence
//! settings, as plain data.
//!
//! Redis commands only, and it only reads (`XLEN`, `XINFO`, `XPENDING`, `CONFIG GET`): what the
//! facts mean is the diagnosis rules' (`ops::diagnose`), and this module must never claim,
//! acknowledge or create anything.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use memlink_actors::ports::PortError;
use serde::Serialize;

use super::{fail, RedisBus, RedisPool, StreamStats};

#[derive(Debug, Clone, Default, Serialize)]
pub struct StuckEntries {
    /// At most the sample asked for (see [`facts`]).
    pub count: usize,
    pub max_idle_ms: i64,
    pub consumers: Vec<String>,
    pub threshold_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Persistence {
    pub appendonly: bool,
    pub save: String,
}

impl Persistence {
    /// AOF on, or RDB snapshots configured.
    pub fn persistent(&self) -> bool {
        self.appendonly || !self.save.trim().is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RedisFacts {
    pub stream: StreamStats,
    pub stuck: StuckEntries,
    /// `None` when `CONFIG GET` is refused (managed Redis).
    pub persistence: Option<Persistence>,
}

/// Reads `stream` and `group`, the entries pending longer than `stuck_after` (at most
/// `sample` of them) and the server's persistence settings; an `Err` means Redis did not
/// answer.
pub async fn facts(
    pool: &RedisPool,
    stream: &str,
    group: &str,
    stuck_after: Duration,
    sample: usize,
) -> Result<RedisFacts, PortError> {
    let bus = RedisBus::new(
        pool.clone(),
        stream.to_owned(),
        group.to_owned(),
        "memlink-diagnose".to_owned(),
    );
    let stats = bus.stats().await?;
    let threshold_ms = i64::try_from(stuck_after.as_millis()).unwrap_or(i64::MAX);
    let mut stuck = StuckEntries {
        threshold_ms,
        ..StuckEntries::default()
    };
    if stats.group_exists {
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(stream)
            .arg(group)
            .arg("IDLE")
            .arg(threshold_ms)
            .arg("-")
            .arg("+")
            .arg(sample);
        match bus.query_as::<Vec<(String, String, i64, i64)>>(&cmd).await {
            Ok(entries) => {
                let consumers: BTreeSet<String> =
                    entries.iter().map(|(_, c, _, _)| c.clone()).collect();
                stuck.count = entries.len();
                stuck.max_idle_ms = entries.iter().map(|e| e.2).max().unwrap_or(0);
                stuck.consumers = consumers.into_iter().collect();
            }
            // The group vanished between the two calls: nothing is pending in it.
            Err(e) if e.code() == Some("NOGROUP") => {}
            Err(e) => return Err(fail(e)),
        }
    }
    let config_get = |key: &'static str| {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg(key);
        cmd
    };
    let appendonly: Result<HashMap<String, String>, _> =
        bus.query_as(&config_get("appendonly")).await;
    let save: Result<HashMap<String, String>, _> = bus.query_as(&config_get("save")).await;
    let persistence = match (appendonly, save) {
        (Ok(a), Ok(s)) => Some(Persistence {
            appendonly: a.get("appendonly").is_some_and(|v| v == "yes"),
            save: s.get("save").cloned().unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(RedisFacts {
        stream: stats,
        stuck,
        persistence,
    })
}
