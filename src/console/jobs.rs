//! Bulk actions started from the console run in the background, so replaying 100,000 letters
//! never holds a browser request open: the operator gets a job page that polls for the
//! outcome. The work is [`crate::postgres::dlq::bulk_replay`] / `bulk_discard`, exactly as the
//! HTTP API and the CLI run it.
//!
//! Jobs are kept in memory, the last [`KEPT`] of them; a restart forgets the page, not the
//! work (what was replayed stays replayed, and the audit trail has every letter). One bulk
//! job runs at a time per process.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::postgres::dlq::{BulkAction, BulkReport};

const KEPT: usize = 50;

#[derive(Debug, Clone)]
pub enum Outcome {
    Running,
    Done(BulkReport),
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub action: BulkAction,
    /// The filter in words, as confirmed.
    pub filter: String,
    pub operator: String,
    /// How many dead letters matched when the operator confirmed.
    pub confirmed: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
}

#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<Vec<Job>>,
}

impl Jobs {
    /// Registers a running job, unless one is running already (its id is the refusal).
    pub fn start(&self, job: Job) -> Result<Uuid, Uuid> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(running) = jobs.iter().find(|j| matches!(j.outcome, Outcome::Running)) {
            return Err(running.id);
        }
        let id = job.id;
        jobs.push(job);
        let excess = jobs.len().saturating_sub(KEPT);
        jobs.drain(..excess);
        Ok(id)
    }

    pub fn finish(&self, id: Uuid, outcome: Outcome) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(j) = jobs.iter_mut().find(|j| j.id == id) {
            j.outcome = outcome;
            j.finished_at = Some(Utc::now());
        }
    }

    pub fn get(&self, id: Uuid) -> Option<Job> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.iter().find(|j| j.id == id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            id: Uuid::new_v4(),
            action: BulkAction::Discard,
            filter: "reason invalid_json".into(),
            operator: "ana".into(),
            confirmed: 3,
            started_at: Utc::now(),
            finished_at: None,
            outcome: Outcome::Running,
        }
    }

    #[test]
    fn one_job_runs_at_a_time_and_old_ones_are_dropped() {
        let jobs = Jobs::default();
        let first = jobs.start(job()).unwrap();
        assert_eq!(jobs.start(job()), Err(first));
        jobs.finish(first, Outcome::Failed("postgres is unavailable".into()));
        assert!(jobs.get(first).unwrap().finished_at.is_some());
        for _ in 0..KEPT {
            let id = jobs.start(job()).unwrap();
            jobs.finish(id, Outcome::Failed("x".into()));
        }
        assert!(jobs.get(first).is_none());
    }
}
