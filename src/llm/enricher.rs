//! Wires the engine's LLM enricher (`memlink_actors::enrich`) to its adapters: the HTTP client
//! ([`super::client`]) as its language model, `crate::postgres::llm` as its store. The
//! enricher's decisions (what to claim, what to ask, what an answer is worth, how a job ends)
//! are the engine's; this module must never make one.

use crate::logging::Quoted;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use memlink_actors::backoff::ExponentialBackoff;
use memlink_actors::enrich::{EnricherConfig, EnricherDeps, EnricherRounds, IDLE_POLL, NAME};
use memlink_actors::pace::Pacer;
use memlink_actors::ports::Ambient;
use memlink_actors::round::{self, Wakes};
use memlink_actors::status::StatusBoard;
use memlink_actors::supervisor::ChildSpec;
use uuid::Uuid;

use super::client::LlmClient;
use crate::config::{redact_url, LlmConfig};
use crate::postgres::llm::PgEnrichment;
use crate::postgres::PgPool;

/// What the enricher is built from.
#[derive(Clone)]
pub struct EnricherSetup {
    pub pg: PgPool,
    /// This process's enricher, in the claims it holds.
    pub owner: Uuid,
    pub config: LlmConfig,
    pub ambient: Ambient,
    pub status: StatusBoard,
}

/// Retries of one LLM request.
pub(crate) fn request_backoff() -> ExponentialBackoff {
    ExponentialBackoff::try_new(Duration::from_millis(500), Duration::from_secs(10), 0.3)
        .unwrap_or_else(|_| fixed_backoff())
}

/// Rounds while Postgres is unreachable.
fn round_backoff() -> ExponentialBackoff {
    ExponentialBackoff::try_new(Duration::from_millis(200), Duration::from_secs(10), 0.3)
        .unwrap_or_else(|_| fixed_backoff())
}

/// The constants above are valid; this keeps the enricher free of `expect`.
fn fixed_backoff() -> ExponentialBackoff {
    match ExponentialBackoff::try_new(Duration::from_secs(1), Duration::from_secs(1), 0.0) {
        Ok(b) => b,
        Err(_) => std::process::abort(),
    }
}

/// How long a claim is held, for these settings (`memlink_actors::enrich::lease`).
pub fn lease(config: &LlmConfig) -> Duration {
    memlink_actors::enrich::lease(config.timeout, config.max_retries, request_backoff().max())
}

/// The supervised child, for the daemon's tree.
pub fn child_spec(setup: EnricherSetup) -> ChildSpec {
    let c = &setup.config;
    log::info!(target: "memlink::llm", "event=llm_enabled mode={} model={} base_url={} timeout_ms={} concurrency={} max_retries={} api_key={}",
        c.mode.as_str(), Quoted(&c.model), Quoted(&redact_url(&c.base_url)), c.timeout.as_millis(), c.concurrency, c.max_retries,
        if c.api_key.is_some() { "set" } else { "unset" });
    let parts = EnricherParts {
        store: Arc::new(PgEnrichment::new(setup.pg.clone())),
        setup,
    };
    round::child_spec::<EnricherRounds, _>(
        NAME,
        parts,
        Pacer::new(round_backoff(), IDLE_POLL),
        Wakes::Never,
    )
}

/// What each start of the enricher is built from.
#[derive(Clone)]
struct EnricherParts {
    setup: EnricherSetup,
    store: Arc<PgEnrichment>,
}

impl From<EnricherParts> for EnricherRounds {
    fn from(EnricherParts { setup, store }: EnricherParts) -> EnricherRounds {
        // A new client per start: its own connection pool and request permits.
        let model = LlmClient::new(
            &setup.config,
            request_backoff(),
            setup.status.clone(),
            setup.ambient.entropy.clone(),
        );
        EnricherRounds::from(EnricherDeps {
            store,
            model: Rc::new(model),
            owner: setup.owner,
            config: EnricherConfig {
                mode: setup.config.mode,
                concurrency: setup.config.concurrency,
                lease: lease(&setup.config),
            },
            ambient: setup.ambient,
            status: setup.status,
        })
    }
}
