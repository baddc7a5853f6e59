//! The LLM enricher (`MEMLINK_EXTRACTOR=llm|both`): after the worker has committed a message
//! with its rules facts, it asks a language model for more facts (and, for a chat's first user
//! message, for a title) and has the store keep what validates.
//!
//! It decides what to claim, what to ask, whether an answer is used and how each job ends; it
//! reaches the database and the model only through [`EnrichmentStore`] and [`LanguageModel`]
//! (`src/` implements them with SQL and an HTTP client). It must never block the pipeline (the
//! worker does not wait for it; it only reads messages already processed) and never lose
//! anything: a refused answer, a timeout or a crash leaves the rules' facts and the fallback
//! title as they were, and every message it takes up ends `done`, `rejected` or `failed` (with
//! the reason) after a bounded number of tries.
//!
//! # Layout
//! - [`facts`], [`title`]: prompts, validation, merging and shaping; pure.
//! - [`actor`]: the enricher as a round actor's work (rounds beside the mailbox).

pub mod actor;
pub mod facts;
pub mod job;
pub mod title;

use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{join_all, LocalBoxFuture};
use futures_util::FutureExt;
use uuid::Uuid;

use crate::pace::Pace;
use crate::ports::{Ambient, EnrichmentStore, LanguageModel, PortError};
use crate::status::StatusBoard;

pub use actor::{EnricherRounds, LlmEnricher};
pub use job::{LlmMode, MessageJob, ModelError, Outcome, Purpose, TitleJob};

pub const NAME: &str = "llm";

/// A message or title whose claim expired this many times is given up on.
pub const MAX_CLAIMS: i32 = 3;
/// How often to look for new work when there is none.
pub const IDLE_POLL: Duration = Duration::from_secs(1);

/// The status board's counters (`/admin/status`'s `llm` section).
pub mod counters {
    pub const REQUESTS: &str = "llm_requests_total";
    pub const REQUEST_ERRORS: &str = "llm_request_errors_total";
    pub const PROMPT_TOKENS: &str = "llm_prompt_tokens_total";
    pub const COMPLETION_TOKENS: &str = "llm_completion_tokens_total";
    pub const FACTS_ADDED: &str = "llm_facts_added_total";
    pub const MESSAGES_DONE: &str = "llm_messages_done_total";
    pub const MESSAGES_REJECTED: &str = "llm_messages_rejected_total";
    pub const MESSAGES_FAILED: &str = "llm_messages_failed_total";
    pub const TITLES_DONE: &str = "llm_titles_done_total";
    pub const TITLES_FAILED: &str = "llm_titles_failed_total";
}

/// How long a claim is held: the longest a job can take (every try timing out, every backoff
/// at its maximum), twice for waiting behind another job of the round, doubled again for
/// margin, plus a minute. A claim outliving this means its enricher died.
pub fn lease(timeout: Duration, max_retries: u32, request_backoff_max: Duration) -> Duration {
    let tries = max_retries + 1;
    let one_job = timeout * tries + request_backoff_max * max_retries;
    one_job * 4 + Duration::from_secs(60)
}

#[derive(Debug, Clone)]
pub struct EnricherConfig {
    pub mode: LlmMode,
    /// Messages (and titles) claimed per round.
    pub concurrency: usize,
    /// See [`lease`].
    pub lease: Duration,
}

#[derive(Clone)]
pub struct EnricherDeps {
    pub store: Arc<dyn EnrichmentStore>,
    pub model: Rc<dyn LanguageModel>,
    /// This process's enricher, in the claims it holds.
    pub owner: Uuid,
    pub config: EnricherConfig,
    pub ambient: Ambient,
    pub status: StatusBoard,
}

#[derive(Debug)]
pub struct RoundReport {
    pub pace: Pace,
    pub panicked: bool,
}

/// One round: give up on stale claims, claim messages and titles, ask the model about each
/// concurrently (the adapter bounds how many requests are in flight), store the outcomes.
pub async fn run_round(deps: EnricherDeps, record_epoch: bool) -> RoundReport {
    match claim(&deps, record_epoch).await {
        Ok((messages, titles)) => {
            let claimed = messages.len() + titles.len();
            let mut jobs: Vec<LocalBoxFuture<'_, ()>> = Vec::with_capacity(claimed);
            for job in &messages {
                jobs.push(enrich_message(&deps, job).boxed_local());
            }
            for job in &titles {
                jobs.push(enrich_title(&deps, job).boxed_local());
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
    let store = &deps.store;
    if record_epoch {
        store.ensure_epoch().await?;
    }
    let (messages, titles) = store.abandon_stale(MAX_CLAIMS).await?;
    for id in messages {
        deps.status.bump(counters::MESSAGES_FAILED, 1);
        log::warn!(target: "memlink::llm", "event=llm_failed message_id={id} error=abandoned");
    }
    for id in titles {
        deps.status.bump(counters::TITLES_FAILED, 1);
        log::warn!(target: "memlink::llm", "event=llm_title_failed chat_id={id} reason=abandoned");
    }
    let (lease, limit) = (deps.config.lease, deps.config.concurrency);
    let messages = store.claim_messages(deps.owner, limit, lease).await?;
    let titles = store
        .claim_titles(deps.owner, &messages, limit, lease)
        .await?;
    Ok((messages, titles))
}

/// Asks for one message's facts and stores the outcome. Storage errors leave the claim to
/// expire and be taken up again.
async fn enrich_message(deps: &EnricherDeps, job: &MessageJob) {
    let id = job.message_id;
    let model = deps.model.model().to_owned();
    let model = model.as_str();
    let answer = deps
        .model
        .complete(
            Purpose::Facts,
            &format!("message_id={id}"),
            &facts::system_prompt(),
            &facts::user_prompt(&job.content),
        )
        .await;
    let stored = match answer {
        Ok(content) => match facts::parse_facts(&content) {
            Ok(found) => {
                let proposed = found.len();
                let mode = deps.config.mode;
                match deps.store.store_facts(job, found, mode, model).await {
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
                log::warn!(target: "memlink::llm", "event=llm_rejected message_id={id} reason={} detail={:?} kept=rules",
                    rejection.code, rejection.detail);
                deps.store
                    .finish_message(id, Outcome::Rejected, &rejection.to_string(), model)
                    .await
            }
        },
        Err(e) => {
            deps.status.bump(counters::MESSAGES_FAILED, 1);
            log::warn!(target: "memlink::llm", "event=llm_failed message_id={id} error={} detail={:?} kept=rules", e.code, e.message);
            deps.store
                .finish_message(id, Outcome::Failed, &e.message, model)
                .await
        }
    };
    if let Err(e) = stored {
        log::warn!(target: "memlink::llm", "event=llm_store_failed message_id={id} error={:?}", e.message);
    }
}

/// Asks for one chat's title and stores it, or records why the fallback stays.
async fn enrich_title(deps: &EnricherDeps, job: &TitleJob) {
    let chat = job.chat_id;
    let model = deps.model.model().to_owned();
    let model = model.as_str();
    let answer = deps
        .model
        .complete(
            Purpose::Title,
            &format!("chat_id={chat}"),
            &title::system_prompt(),
            &title::user_prompt(&job.content),
        )
        .await;
    let (outcome, reason) = match answer {
        Ok(content) => match title::parse_title(&content) {
            Ok(t) => {
                match deps.store.store_title(chat, &t, model).await {
                    Ok(true) => {
                        deps.status.bump(counters::TITLES_DONE, 1);
                        log::info!(target: "memlink::llm", "event=llm_title chat_id={chat} chars={}", t.chars().count());
                    }
                    Ok(false) => {}
                    Err(e) => {
                        log::warn!(target: "memlink::llm", "event=llm_store_failed chat_id={chat} error={:?}", e.message)
                    }
                }
                return;
            }
            Err(r) => (Outcome::Rejected, (r.code, r.to_string())),
        },
        Err(e) => (Outcome::Failed, (e.code, e.message)),
    };
    deps.status.bump(counters::TITLES_FAILED, 1);
    log::warn!(target: "memlink::llm", "event=llm_title_failed chat_id={chat} reason={} detail={:?} kept=fallback", reason.0, reason.1);
    if let Err(e) = deps
        .store
        .finish_title(chat, outcome, &reason.1, model)
        .await
    {
        log::warn!(target: "memlink::llm", "event=llm_store_failed chat_id={chat} error={:?}", e.message);
    }
}
