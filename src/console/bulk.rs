//! Bulk replay / discard of every dead letter a filter matches: a confirmation that shows the
//! count, then a background job ([`super::jobs`]) running
//! [`crate::postgres::dlq::bulk_replay`] or `bulk_discard` under the operator's name, and a job
//! page that polls until it is done. If the count changed between showing and confirming, the
//! operator is asked again: a bulk action never takes more than was shown without a look.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::auth::Viewer;
use super::filter::{describe, FilterForm};
use super::html::{fmt_time, page, respond, see_other, url_with, ConsoleError, Nav};
use super::jobs::{Job, Outcome};
use super::{Console, BASE};
use crate::http::AppState;
use crate::logging::Quoted;
use crate::postgres::dlq::{self, BulkAction, BulkFilter, LetterStatus};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BulkQuery {
    #[serde(flatten)]
    filter: FilterForm,
    action: String,
}

fn action_of(raw: &str) -> Result<BulkAction, ConsoleError> {
    match raw {
        "replay" => Ok(BulkAction::Replay),
        "discard" => Ok(BulkAction::Discard),
        _ => Err(ConsoleError::BadRequest(
            "action must be replay or discard".to_owned(),
        )),
    }
}

fn verb(a: BulkAction) -> &'static str {
    match a {
        BulkAction::Replay => "Replay",
        BulkAction::Discard => "Discard",
    }
}

/// The filter a bulk action takes: no field means every dead letter, said explicitly.
fn bulk_filter(form: &FilterForm) -> Result<BulkFilter, ConsoleError> {
    let (mut filter, _) = form
        .parse()
        .map_err(|errors| ConsoleError::BadRequest(errors.join("; ")))?;
    filter.all = !filter.narrows();
    Ok(filter)
}

fn confirm_markup(
    viewer: &Viewer,
    form: &FilterForm,
    filter: &BulkFilter,
    action: BulkAction,
    count: i64,
    notice: Markup,
) -> Markup {
    let back = url_with(&format!("{BASE}/dead-letters"), &form.pairs());
    let action_name = match action {
        BulkAction::Replay => "replay",
        BulkAction::Discard => "discard",
    };
    html! {
        (notice)
        p #bulk-count role="status" {
            strong { (count) } @if count == 1 { " dead letter matches " } @else { " dead letters match " }
            em { (describe(filter)) } "."
        }
        @if filter.all {
            p.flash.warn { "No filter: this takes every dead letter." }
        }
        @match action {
            BulkAction::Replay => p { "Each is replayed unchanged, in its own transaction; one that cannot be replayed is skipped with its reason and the rest go on." },
            BulkAction::Discard => p { "They are discarded in one transaction: they stay recorded, with your name in their history, and can no longer be replayed." },
        }
        @if count > 0 {
            form.stack method="post" action={(BASE) "/dead-letters/bulk"} {
                input type="hidden" name="csrf" value=(viewer.csrf());
                input type="hidden" name="action" value=(action_name);
                input type="hidden" name="expected" value=(count);
                (form.hidden())
                label for="bulk-note" { "Note (optional)" }
                input #bulk-note type="text" name="note" maxlength="2000";
                label.check for="bulk-confirm" {
                    input #bulk-confirm type="checkbox" name="confirm" value="yes" required;
                    (verb(action)) " these " (count) " dead letters"
                }
                @if action == BulkAction::Discard {
                    button.danger #bulk-go type="submit" { (verb(action)) " " (count) " dead letters" }
                } @else {
                    button #bulk-go type="submit" { (verb(action)) " " (count) " dead letters" }
                }
            }
        } @else {
            p { "Nothing to do." }
        }
        p { a href=(back) { "« Back to the list" } }
    }
}

/// `GET /admin/ui/dead-letters/bulk?action=replay|discard&<filter>`: the count, to confirm.
pub async fn confirm(
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<BulkQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let action = action_of(&query.action)?;
    let filter = bulk_filter(&query.filter)?;
    let count = dlq::count_matching(&state.pg, &filter, Some(LetterStatus::Dead)).await?;
    let title = format!("{} matching dead letters", verb(action));
    let body = confirm_markup(&viewer, &query.filter, &filter, action, count, html! {});
    Ok(respond(
        StatusCode::OK,
        page(&viewer.frame(), Nav::DeadLetters, &title, body),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BulkForm {
    #[serde(flatten)]
    filter: FilterForm,
    action: String,
    csrf: String,
    expected: i64,
    note: String,
    confirm: Option<String>,
}

/// `POST /admin/ui/dead-letters/bulk`: starts the confirmed job.
pub async fn start(
    viewer: Viewer,
    state: web::Data<AppState>,
    console: web::Data<Console>,
    form: web::Form<BulkForm>,
) -> Result<HttpResponse, ConsoleError> {
    let actor = viewer.authorize(&form.csrf)?;
    let action = action_of(&form.action)?;
    if !matches!(form.confirm.as_deref(), Some("yes") | Some("on")) {
        return Err(ConsoleError::BadRequest(
            "tick the confirmation box to go ahead".to_owned(),
        ));
    }
    let note = match form.note.trim() {
        "" => None,
        n => {
            dlq::check_note(n).map_err(ConsoleError::BadRequest)?;
            Some(n.to_owned())
        }
    };
    let filter = bulk_filter(&form.filter)?;
    let count = dlq::count_matching(&state.pg, &filter, Some(LetterStatus::Dead)).await?;
    if count != form.expected {
        let notice = html! {
            p.flash.warn role="alert" {
                "The number of matching dead letters changed from " (form.expected) " to " (count) " since you looked: check and confirm again."
            }
        };
        let title = format!("{} matching dead letters", verb(action));
        let body = confirm_markup(&viewer, &form.filter, &filter, action, count, notice);
        return Ok(respond(
            StatusCode::CONFLICT,
            page(&viewer.frame(), Nav::DeadLetters, &title, body),
        ));
    }
    let id = Uuid::new_v4();
    let job = Job {
        id,
        action,
        filter: describe(&filter),
        operator: actor.name().to_owned(),
        confirmed: count,
        started_at: Utc::now(),
        finished_at: None,
        outcome: Outcome::Running,
    };
    if let Err(running) = console.inner.jobs.start(job) {
        return Err(ConsoleError::Conflict(format!(
            "another bulk action is still running: {BASE}/jobs/{running}"
        )));
    }
    log::info!(target: "memlink::console", "event=console_bulk_started job={id} action={} operator={} matched={count}",
        verb(action).to_lowercase(), Quoted(actor.name()));
    let pg = state.pg.clone();
    let console = console.into_inner();
    actix_web::rt::spawn(async move {
        let outcome = match action {
            BulkAction::Replay => {
                dlq::bulk_replay(&pg, &filter, &actor, false, note.as_deref()).await
            }
            BulkAction::Discard => {
                dlq::bulk_discard(&pg, &filter, &actor, false, note.as_deref()).await
            }
        };
        console.inner.jobs.finish(
            id,
            match outcome {
                Ok(report) => Outcome::Done(report),
                Err(e) => Outcome::Failed(e.to_string()),
            },
        );
    });
    Ok(see_other(&format!("{BASE}/jobs/{id}")))
}

fn job_markup(job: &Job) -> Markup {
    let running = matches!(job.outcome, Outcome::Running);
    let status_url = format!("{BASE}/jobs/{}/status", job.id);
    let body = html! {
        dl.kv {
            dt { "Action" } dd { (verb(job.action)) }
            dt { "Filter" } dd { (job.filter) }
            dt { "Confirmed" } dd { (job.confirmed) " dead letters" }
            dt { "By" } dd { (job.operator) }
            dt { "Started" } dd { (fmt_time(&job.started_at)) }
            @if let Some(f) = &job.finished_at { dt { "Finished" } dd { (fmt_time(f)) } }
        }
        @match &job.outcome {
            Outcome::Running => p #job-state role="status" data-state="running" { "Running…" },
            Outcome::Failed(e) => p #job-state.flash.error role="alert" data-state="failed" {
                "Stopped: " (e) ". What was done stays done; running it again takes the rest."
            },
            Outcome::Done(r) => {
                p #job-state.flash.ok role="status" data-state="done" {
                    @match job.action {
                        BulkAction::Replay => "Replayed ",
                        BulkAction::Discard => "Discarded ",
                    }
                    strong #job-affected { (r.affected) } " of " (r.matched) " matching dead letters; " (r.skipped) " skipped."
                }
                @if !r.skipped_by_code.is_empty() {
                    div.scroll { table {
                        thead { tr { th scope="col" { "Skipped because" } th.num scope="col" { "Letters" } } }
                        tbody { @for (code, n) in &r.skipped_by_code { tr { td { code { (code) } } td.num { (n) } } } }
                    } }
                    ul {
                        @for s in &r.skipped_letters {
                            li { a href={(BASE) "/dead-letters/" (s.id)} { (s.id) } " " (s.message) }
                        }
                    }
                }
            }
        }
        p { a href={(BASE) "/dead-letters"} { "« Dead letters" } }
    };
    html! {
        @if running {
            div #job hx-get=(status_url) hx-trigger="every 1s" hx-swap="outerHTML" { (body) }
        } @else {
            div #job { (body) }
        }
    }
}

fn job_of(console: &Console, raw: &str) -> Result<Job, ConsoleError> {
    Uuid::try_parse(raw)
        .ok()
        .and_then(|id| console.inner.jobs.get(id))
        .ok_or_else(|| {
            ConsoleError::NotFound(
                "no such job in this process (jobs are kept in memory, the last 50)".to_owned(),
            )
        })
}

/// `GET /admin/ui/jobs/{id}`
pub async fn job_page(
    viewer: Viewer,
    console: web::Data<Console>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let job = job_of(&console, &path)?;
    let title = format!("Bulk {}", verb(job.action).to_lowercase());
    Ok(respond(
        StatusCode::OK,
        page(&viewer.frame(), Nav::DeadLetters, &title, job_markup(&job)),
    ))
}

/// `GET /admin/ui/jobs/{id}/status`: the job's part alone, for polling.
pub async fn job_status(
    _viewer: Viewer,
    console: web::Data<Console>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let job = job_of(&console, &path)?;
    Ok(respond(StatusCode::OK, job_markup(&job)))
}
