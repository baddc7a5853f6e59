//! Which parts of the pipeline one daemon process runs: `all` (relay, worker and watermark),
//! `relay` (the outbox relay only) or `worker` (the stream worker and the watermark folder).
//!
//! Plain data shared by the CLI, the daemon, the heartbeat and the diagnosis; it must never
//! decide anything by itself beyond which actors a role includes.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Relay, worker and watermark in one process (the default).
    #[default]
    All,
    /// Only the outbox relay: Postgres outbox → stream.
    Relay,
    /// Only the stream worker and the watermark folder: stream → memory graph.
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Relay => "relay",
            Role::Worker => "worker",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "all" => Some(Role::All),
            "relay" => Some(Role::Relay),
            "worker" => Some(Role::Worker),
            _ => None,
        }
    }

    /// Whether this role publishes the outbox to the stream.
    pub fn runs_relay(self) -> bool {
        matches!(self, Role::All | Role::Relay)
    }

    /// Whether this role reads the stream (and folds watermarks).
    pub fn runs_worker(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_name_their_actors() {
        assert!(Role::All.runs_relay() && Role::All.runs_worker());
        assert!(Role::Relay.runs_relay() && !Role::Relay.runs_worker());
        assert!(!Role::Worker.runs_relay() && Role::Worker.runs_worker());
        for r in [Role::All, Role::Relay, Role::Worker] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("both"), None);
    }
}
