//! The LLM enricher: a supervised actor that, after the worker has committed a message with
//! its rules facts, asks the LLM for more facts (and, for a chat's first user message, for a
//! title) and stores what validates.
//!
//! It never blocks the pipeline: the worker does not wait for it, and it only reads messages
//! that are already processed. It never loses anything: a refused answer, a timeout or a
//! crash leaves the rules' facts and the fallback title as they were, and every message it
//! takes up ends `done`, `rejected` or `failed` (with the reason) after a bounded number of
//! tries. It is the engine's round actor (`memlink_actors::round`) over [`EnricherRounds`],
//! whose rounds run beside the mailbox (not atomically), so health pings are answered while a
//! slow model is thinking.

use crate::logging::{quoted, Quoted};
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::{join_all, LocalBoxFuture};
use futures_util::FutureExt;
use memlink_actors::backoff::ExponentialBackoff;
use memlink_actors::pace::{Pace, Pacer};
use memlink_actors::ports::{Ambient, PortError};
use memlink_actors::round::{Drained, LocalFuture, PanicRestart, RoundActor, RoundEnd, RoundWork};
use memlink_actors::status::StatusBoard;
use memlink_actors::supervisor::{ChildLink, ChildSpec};
use uuid::Uuid;

use super::client::{counters, LlmClient, Purpose};
use super::{facts, title};
use crate::config::{redact_url, LlmConfig};
use crate::postgres::llm::{self as store, MessageJob, Outcome, TitleJob};
use crate::postgres::PgPool;

pub const NAME: &str = "llm";

/// A message or title whose claim expired this many times is given up on.
const MAX_CLAIMS: i32 = 3;
/// How often to look for new work when there is none.
const IDLE_POLL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct EnricherDeps {
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

/// How long a claim is held: the longest a job can take (every try timing out, every backoff
/// at its maximum), twice for waiting behind another job of the round, doubled again for
/// margin, plus a minute. A claim outliving this means its enricher died.
pub fn lease(config: &LlmConfig) -> Duration {
    let tries = config.max_retries + 1;
    let one_job = config.timeout * tries + request_backoff().max() * config.max_retries;
    one_job * 4 + Duration::from_secs(60)
}

/// The supervised child, for the daemon's tree.
pub fn child_spec(deps: EnricherDeps) -> ChildSpec {
    let c = &deps.config;
    log::info!(target: "memlink::llm", "event=llm_enabled mode={} model={} base_url={} timeout_ms={} concurrency={} max_retries={} api_key={}",
        c.mode.as_str(), Quoted(&c.model), Quoted(&redact_url(&c.base_url)), c.timeout.as_millis(), c.concurrency, c.max_retries,
        if c.api_key.is_some() { "set" } else { "unset" });
    ChildSpec {
        name: NAME,
        factory: Box::new(move |restarts| {
            let deps = deps.clone();
            let addr = Supervisor::start(move |_| {
                LlmEnricher::new(deps, Pacer::new(round_backoff(), IDLE_POLL), restarts)
            });
            ChildLink {
                name: NAME,
                ping: addr.clone().recipient(),
                drain: addr.recipient(),
                wake: None,
            }
        }),
    }
}

/// The enricher is the engine's round actor over [`EnricherRounds`].
pub type LlmEnricher = RoundActor<EnricherRounds>;

/// The enricher's rounds: its dependencies, its client, and whether its epoch is recorded.
pub struct EnricherRounds {
    deps: EnricherDeps,
    client: LlmClient,
    epoch_recorded: bool,
}

impl From<EnricherDeps> for EnricherRounds {
    fn from(deps: EnricherDeps) -> EnricherRounds {
        let client = LlmClient::new(
            &deps.config,
            request_backoff(),
            deps.status.clone(),
            deps.ambient.entropy.clone(),
        );
        EnricherRounds {
            deps,
            client,
            epoch_recorded: false,
        }
    }
}

impl RoundWork for EnricherRounds {
    type Report = RoundReport;
    const TARGET: &'static str = "memlink::llm";
    /// Health pings are answered while a slow model is thinking.
    const BESIDE_MAILBOX: bool = true;

    fn name(&self) -> &'static str {
        NAME
    }

    fn status(&self) -> &StatusBoard {
        &self.deps.status
    }

    fn ambient(&self) -> &Ambient {
        &self.deps.ambient
    }

    fn round(&mut self) -> LocalFuture<RoundReport> {
        Box::pin(run_round(
            self.deps.clone(),
            self.client.clone(),
            !self.epoch_recorded,
        ))
    }

    fn record(&mut self, report: RoundReport) -> RoundEnd {
        if !matches!(report.pace, Pace::Failing(_)) {
            self.epoch_recorded = true;
        }
        RoundEnd {
            pace: report.pace,
            items: None,
            panicked: report.panicked.then_some(PanicRestart {
                note: "an LLM job panicked; its claim expires and is retried a bounded number of times",
                quarantined: false,
            }),
        }
    }

    fn failed(&self, error: &PortError, attempt: u32) {
        log::warn!(target: "memlink::llm", "event=llm_enricher_retry error={} attempt={attempt}", Quoted(&error.message));
    }

    /// Jobs in flight may not finish before the process exits: their claims are handed back
    /// so that the next enricher takes them up at once (a job that does finish still records
    /// its outcome, and a second answer for it is ignored).
    fn drain(&mut self) -> Option<LocalFuture<Drained>> {
        let (pg, owner) = (self.deps.pg.clone(), self.deps.owner);
        Some(Box::pin(async move {
            match store::release_claims(&pg, owner).await {
                Ok(released) => Drained::info(format!(" released={released}")),
                Err(e) => Drained::warn(format!(" released=0 error={}", Quoted(&e.message))),
            }
        }))
    }
}

#[derive(Debug)]
pub struct RoundReport {
    pub pace: Pace,
    pub panicked: bool,
}

/// One round: give up on stale claims, claim messages and titles, ask the LLM about each
/// concurrently (the client bounds how many requests are in flight), store the outcomes.
async fn run_round(deps: EnricherDeps, client: LlmClient, record_epoch: bool) -> RoundReport {
    match claim(&deps, record_epoch).await {
        Ok((messages, titles)) => {
            let claimed = messages.len() + titles.len();
            let mut jobs: Vec<LocalBoxFuture<'_, ()>> = Vec::with_capacity(claimed);
            for job in &messages {
                jobs.push(enrich_message(&deps, &client, job).boxed_local());
            }
            for job in &titles {
                jobs.push(enrich_title(&deps, &client, job).boxed_local());
            }
            let outcomes =
                join_all(jobs.into_iter().map(|j| AssertUnwindSafe(j).catch_unwind())).await;
            RoundReport {
                pace: if claimed > 0 { Pace::Busy } else { Pace::Idle },
                panicked: outcomes.iter().any(Result::is_err),
            }
        }
        Err(e) => RoundReport {
            pace: Pace::Failing(e),
            panicked: false,
        },
    }
}

async fn claim(
    deps: &EnricherDeps,
    record_epoch: bool,
) -> Result<(Vec<MessageJob>, Vec<TitleJob>), PortError> {
    if record_epoch {
        store::ensure_epoch(&deps.pg).await?;
    }
    let (messages, titles) = store::abandon_stale(&deps.pg, MAX_CLAIMS).await?;
    for id in messages {
        deps.status.bump(counters::MESSAGES_FAILED, 1);
        log::warn!(target: "memlink::llm", "event=llm_failed message_id={id} error=abandoned");
    }
    for id in titles {
        deps.status.bump(counters::TITLES_FAILED, 1);
        log::warn!(target: "memlink::llm", "event=llm_title_failed chat_id={id} reason=abandoned");
    }
    let lease = lease(&deps.config);
    let limit = deps.config.concurrency;
    let messages = store::claim_messages(&deps.pg, deps.owner, limit, lease).await?;
    let titles = store::claim_titles(&deps.pg, deps.owner, &messages, limit, lease).await?;
    Ok((messages, titles))
}

/// Asks for one message's facts and stores the outcome. Storage errors leave the claim to
/// expire and be taken up again.
async fn enrich_message(deps: &EnricherDeps, client: &LlmClient, job: &MessageJob) {
    let id = job.message_id;
    let model = client.model();
    let answer = client
        .complete(
            Purpose::Facts,
            &format!("message_id={id}"),
            &facts::system_prompt(),
            &facts::user_prompt(&job.content),
        )
        .await;
    let stored = match answer {
        Ok(c) => match facts::parse_facts(&c.content) {
            Ok(found) => {
                let proposed = found.len();
                let mode = deps.config.mode;
                match store::store_facts(&deps.pg, job, found, mode, model).await {
                    Ok(Some(added)) => {
                        deps.status.bump(counters::MESSAGES_DONE, 1);
                        deps.status.bump(counters::FACTS_ADDED, added as u64);
                        log::info!(target: "memlink::llm", "event=llm_facts message_id={id} mode={} proposed={proposed} added={added}", mode.as_str());
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(rejection) => {
                deps.status.bump(counters::MESSAGES_REJECTED, 1);
                log::warn!(target: "memlink::llm", "event=llm_rejected message_id={id} reason={} detail={} kept=rules",
                    rejection.code, Quoted(&rejection.detail));
                store::finish_message(
                    &deps.pg,
                    id,
                    Outcome::Rejected,
                    &rejection.to_string(),
                    model,
                )
                .await
            }
        },
        Err(e) => {
            deps.status.bump(counters::MESSAGES_FAILED, 1);
            log::warn!(target: "memlink::llm", "event=llm_failed message_id={id} error={} detail={} kept=rules", e.code(), quoted(&e));
            store::finish_message(&deps.pg, id, Outcome::Failed, &e.to_string(), model).await
        }
    };
    if let Err(e) = stored {
        log::warn!(target: "memlink::llm", "event=llm_store_failed message_id={id} error={}", Quoted(&e.message));
    }
}

/// Asks for one chat's title and stores it, or records why the fallback stays.
async fn enrich_title(deps: &EnricherDeps, client: &LlmClient, job: &TitleJob) {
    let chat = job.chat_id;
    let model = client.model();
    let answer = client
        .complete(
            Purpose::Title,
            &format!("chat_id={chat}"),
            &title::system_prompt(),
            &title::user_prompt(&job.content),
        )
        .await;
    let (outcome, reason) = match answer {
        Ok(c) => match title::parse_title(&c.content) {
            Ok(t) => {
                match store::store_title(&deps.pg, chat, &t, model).await {
                    Ok(true) => {
                        deps.status.bump(counters::TITLES_DONE, 1);
                        log::info!(target: "memlink::llm", "event=llm_title chat_id={chat} chars={}", t.chars().count());
                    }
                    Ok(false) => {}
                    Err(e) => {
                        log::warn!(target: "memlink::llm", "event=llm_store_failed chat_id={chat} error={}", Quoted(&e.message))
                    }
                }
                return;
            }
            Err(r) => (Outcome::Rejected, (r.code, r.to_string())),
        },
        Err(e) => (Outcome::Failed, (e.code(), e.to_string())),
    };
    deps.status.bump(counters::TITLES_FAILED, 1);
    log::warn!(target: "memlink::llm", "event=llm_title_failed chat_id={chat} reason={} detail={} kept=fallback", reason.0, Quoted(&reason.1));
    if let Err(e) = store::finish_title(&deps.pg, chat, outcome, &reason.1, model).await {
        log::warn!(target: "memlink::llm", "event=llm_store_failed chat_id={chat} error={}", Quoted(&e.message));
    }
}
