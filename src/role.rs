//! Which parts of the pipeline one daemon process runs: `all` (relay, worker and watermark),
//! `relay` (the outbox relay only) or `worker` (the stream worker and the watermark folder).
//!
//! Plain data shared by the CLI, the daemon, the heartbeat and the diagnosis; it must never
//! decide anything by itself beyond which actors a role includes.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ProcessRole {
    /// Relay, worker and watermark in one process (the default).
    #[default]
    All,
    /// Only the outbox relay: Postgres outbox → stream.
    Relay,
    /// Only the stream worker and the watermark folder: stream → memory graph.
    Worker,
}

impl ProcessRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessRole::All => "all",
            ProcessRole::Relay => "relay",
            ProcessRole::Worker => "worker",
        }
    }

    pub fn parse(s: &str) -> Option<ProcessRole> {
        match s {
            "all" => Some(ProcessRole::All),
            "relay" => Some(ProcessRole::Relay),
            "worker" => Some(ProcessRole::Worker),
            _ => None,
        }
    }

    /// Whether this role publishes the outbox to the stream.
    pub fn runs_relay(self) -> bool {
        matches!(self, ProcessRole::All | ProcessRole::Relay)
    }

    /// Whether this role reads the stream (and folds watermarks).
    pub fn runs_worker(self) -> bool {
        matches!(self, ProcessRole::All | ProcessRole::Worker)
    }
}

impl std::fmt::Display for ProcessRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_name_their_actors() {
        assert!(ProcessRole::All.runs_relay() && ProcessRole::All.runs_worker());
        assert!(ProcessRole::Relay.runs_relay() && !ProcessRole::Relay.runs_worker());
        assert!(!ProcessRole::Worker.runs_relay() && ProcessRole::Worker.runs_worker());
        for r in [ProcessRole::All, ProcessRole::Relay, ProcessRole::Worker] {
            assert_eq!(ProcessRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(ProcessRole::parse("both"), None);
    }
}
