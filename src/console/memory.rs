//! The memory graph in the console: a user's facts (current, or the whole history), one
//! fact's sources (each message with the extracted span highlighted), and forgetting a user
//! or a message after a confirmation that shows what will go.
//!
//! Reads and forgets go through [`crate::postgres::memory`], as the memory API does; a forget
//! is audited in `forget_log` with the operator's name. Forgetting is irreversible, so the
//! user's id must be typed again to confirm it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use memlink_actors::domain::UserId;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::auth::Viewer;
use super::html::{fmt_time, page, respond, url_with, ConsoleError, Nav};
use super::BASE;
use crate::http::AppState;
use crate::postgres::console::{message_footprint, user_footprint};
use crate::postgres::memory::{self, FactQuery, SourceView};

fn memory_url() -> String {
    format!("{BASE}/memory")
}

fn parse_user(raw: &str) -> Result<UserId, ConsoleError> {
    UserId::try_new(raw.trim()).map_err(|e| ConsoleError::BadRequest(format!("user id: {e:?}")))
}

fn parse_uuid(raw: &str, what: &str) -> Result<Uuid, ConsoleError> {
    Uuid::try_parse(raw.trim())
        .map_err(|_| ConsoleError::BadRequest(format!("{what} is not a UUID")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LookupQuery {
    user_id: String,
    view: String,
}

fn lookup_form(user: &str, history: bool) -> Markup {
    html! {
        form.filters method="get" action=(memory_url()) role="search" aria-label="Look up a user" {
            div.field {
                label for="m-user" { "User id" }
                input #m-user type="text" name="user_id" value=(user) required autocomplete="off";
            }
            div.field {
                label for="m-view" { "Show" }
                select #m-view name="view" {
                    option value="current" selected[!history] { "current facts" }
                    option value="history" selected[history] { "the whole history" }
                }
            }
            div.field { button type="submit" { "Look up" } }
        }
    }
}

fn fact_status(status: &str) -> Markup {
    let class = match status {
        "current" => "ok",
        "corrected" | "retracted" => "warn",
        _ => "info",
    };
    html! { span class={"badge " (class)} { (status) } }
}

/// `GET /admin/ui/memory?user_id=&view=current|history`
pub async fn lookup(
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<LookupQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let history = query.view == "history";
    let raw = query.user_id.trim();
    let results = if raw.is_empty() {
        html! { p.muted { "Type a user id to see what memlink remembers about them." } }
    } else {
        let user = parse_user(raw)?;
        let which = if history {
            FactQuery::History
        } else {
            FactQuery::Current
        };
        let facts = memory::list_facts(&state.pg, user.as_str(), which).await?;
        let forgotten = memory::is_user_forgotten(&state.pg, user.as_str()).await?;
        html! {
            @if forgotten {
                p.flash.warn { "This user was forgotten: nothing new is remembered about them." }
            }
            p #fact-count role="status" { strong { (facts.len()) } @if history { " facts in the history of " } @else { " current facts about " } code { (user.as_str()) } "." }
            @if !facts.is_empty() {
                div.scroll { table #facts {
                    thead { tr {
                        th scope="col" { "Predicate" } th scope="col" { "Value" } th scope="col" { "Status" }
                        th scope="col" { "Valid from" } th scope="col" { "Valid to" } th.num scope="col" { "Sources" } th scope="col" { "Why it ended" }
                    } }
                    tbody {
                        @for f in &facts {
                            tr {
                                td { (f.predicate) }
                                td { a href={(BASE) "/memory/facts/" (f.id)} { (f.object) } }
                                td { (fact_status(f.status)) }
                                td { (fmt_time(&f.valid_from)) }
                                td { (f.valid_to.as_ref().map(fmt_time).unwrap_or_default()) }
                                td.num { (f.sources) }
                                td { (f.reason.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                } }
            }
            @if viewer.can_act() && !forgotten {
                p { a.button.secondary #forget-user href=(url_with(&format!("{BASE}/memory/forget-user"), &[("user_id", user.as_str())])) { "Forget this user…" } }
            }
        }
    };
    let body = html! { (lookup_form(raw, history)) (results) };
    Ok(respond(
        StatusCode::OK,
        page(&viewer.frame(), Nav::Memory, "Memory", body),
    ))
}

/// The message with the statement's span marked (byte offsets into the text).
fn highlighted(s: &SourceView) -> Markup {
    let Some(text) = s.message_text.as_deref() else {
        return html! { span.muted { "(the message text is gone)" } };
    };
    let cut = usize::try_from(s.span.start)
        .ok()
        .zip(usize::try_from(s.span.end).ok())
        .and_then(|(a, b)| Some((text.get(..a)?, text.get(a..b)?, text.get(b..)?)));
    html! {
        @match cut {
            Some((before, span, after)) => { (before) mark { (span) } (after) },
            None => (text),
        }
    }
}

/// `GET /admin/ui/memory/facts/{id}`
pub async fn fact(
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = parse_uuid(&path, "the fact id")?;
    let f = memory::fact_detail(&state.pg, id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("no fact {id}")))?;
    let back = url_with(
        &memory_url(),
        &[("user_id", &f.user_id), ("view", "history")],
    );
    let body = html! {
        section.panel aria-labelledby="fact-h" {
            h2 #fact-h { (f.predicate) ": " (f.object) }
            dl.kv {
                dt { "User" } dd { a href=(back) { (f.user_id) } }
                dt { "Status" } dd { (fact_status(f.status)) }
                dt { "Valid" } dd { "from " (fmt_time(&f.valid_from)) @if let Some(t) = &f.valid_to { " to " (fmt_time(t)) } }
                @if let Some(r) = &f.reason { dt { "Why it ended" } dd { (r) } }
                dt { "Extractor" } dd { (f.extractor.name) " v" (f.extractor.version) ", rule " code { (f.rule_id) } }
                dt { "Confidence" } dd { (format!("{:.2}", f.confidence)) }
            }
        }
        section.panel aria-labelledby="sources-h" {
            h2 #sources-h { "Sources (" (f.sources.len()) ")" }
            @for s in &f.sources {
                div.finding.source {
                    p.quote { (highlighted(s)) }
                    p.muted {
                        "Said " (fmt_time(&s.said_at)) " as " em { (s.object) } " (" (s.kind) "), rule " code { (s.rule_id) }
                        ", message " code { (s.message_id) } " in chat " code { (s.chat_id) }
                    }
                    @if viewer.can_act() && s.message_text.is_some() {
                        p { a href=(url_with(&format!("{BASE}/memory/forget-message"), &[("chat_id", &s.chat_id.to_string()), ("message_id", &s.message_id.to_string())])) { "Forget this message…" } }
                    }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page(&viewer.frame(), Nav::Memory, "Fact", body),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserQuery {
    user_id: String,
}

/// `GET /admin/ui/memory/forget-user?user_id=`: what would go, and the confirmation.
pub async fn forget_user_confirm(
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let user = parse_user(&query.user_id)?;
    let fp = user_footprint(&state.pg, user.as_str()).await?;
    let body = html! {
        p #forget-summary {
            "Forgetting " code { (user.as_str()) } " deletes "
            strong { (fp.facts) } " facts (with their history and sources) and "
            strong { (fp.messages) } " messages in " (fp.chats) " chats, resets titles taken from them and recomputes their chats' watermarks. "
            "Events still in flight for this user are dropped. " strong { "This cannot be undone." }
        }
        @if viewer.can_act() {
            form.stack method="post" action={(BASE) "/memory/forget-user"} {
                input type="hidden" name="csrf" value=(viewer.csrf());
                input type="hidden" name="user_id" value=(user.as_str());
                label for="confirm-user" { "Type the user id to confirm" }
                input #confirm-user type="text" name="confirm_user_id" required autocomplete="off";
                button.danger #forget-go type="submit" { "Forget this user" }
            }
        } @else {
            p.muted { "Actions need the console on and an operator signed in with the admin token." }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page(&viewer.frame(), Nav::Memory, "Forget a user", body),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ForgetUserForm {
    csrf: String,
    user_id: String,
    confirm_user_id: String,
}

fn counts_markup(counts: &Value) -> Markup {
    html! {
        dl.kv #forget-counts {
            @if let Some(map) = counts.as_object() {
                @for (k, v) in map {
                    dt { (k.replace('_', " ")) } dd data-count=(k) { (v) }
                }
            }
        }
    }
}

/// `POST /admin/ui/memory/forget-user`
pub async fn forget_user(
    viewer: Viewer,
    state: web::Data<AppState>,
    form: web::Form<ForgetUserForm>,
) -> Result<HttpResponse, ConsoleError> {
    let actor = viewer.authorize(&form.csrf)?;
    let user = parse_user(&form.user_id)?;
    if form.confirm_user_id.trim() != user.as_str() {
        return Err(ConsoleError::BadRequest(
            "the typed user id does not match: nothing was forgotten".to_owned(),
        ));
    }
    let (at, removed, _) =
        memory::forget_user_by(&state.pg, &state.bus, user.as_str(), Some(&actor)).await?;
    let body = html! {
        p.flash.ok role="status" #forget-done { "Forgot " code { (user.as_str()) } " at " (fmt_time(&at)) "." }
        (counts_markup(&serde_json::to_value(&removed).unwrap_or(Value::Null)))
        p { a href=(memory_url()) { "« Memory" } }
    };
    Ok(respond(
        StatusCode::OK,
        page(&viewer.frame(), Nav::Memory, "User forgotten", body),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MessageQuery {
    chat_id: String,
    message_id: String,
}

/// `GET /admin/ui/memory/forget-message?chat_id=&message_id=`
pub async fn forget_message_confirm(
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<MessageQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let chat = parse_uuid(&query.chat_id, "the chat id")?;
    let message = parse_uuid(&query.message_id, "the message id")?;
    let fp = message_footprint(&state.pg, chat, message)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("chat {chat} has no message {message}")))?;
    let body = html! {
        dl.kv {
            dt { "User" } dd { (fp.user_id) }
            dt { "Role" } dd { (fp.role) }
            dt { "Said" } dd { (fmt_time(&fp.created_at)) }
            dt { "Statements" } dd { (fp.statements) }
        }
        blockquote { (fp.content) }
        p { "Forgetting it deletes the message and what it said: a fact only it supported goes, one said elsewhere too keeps its other sources. " strong { "This cannot be undone." } }
        @if viewer.can_act() {
            form.stack method="post" action={(BASE) "/memory/forget-message"} {
                input type="hidden" name="csrf" value=(viewer.csrf());
                input type="hidden" name="chat_id" value=(chat);
                input type="hidden" name="message_id" value=(message);
                label.check for="forget-message-confirm" {
                    input #forget-message-confirm type="checkbox" name="confirm" value="yes" required;
                    "Forget this message"
                }
                button.danger #forget-message-go type="submit" { "Forget this message" }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page(&viewer.frame(), Nav::Memory, "Forget a message", body),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ForgetMessageForm {
    csrf: String,
    chat_id: String,
    message_id: String,
    confirm: Option<String>,
}

/// `POST /admin/ui/memory/forget-message`
pub async fn forget_message(
    viewer: Viewer,
    state: web::Data<AppState>,
    form: web::Form<ForgetMessageForm>,
) -> Result<HttpResponse, ConsoleError> {
    let actor = viewer.authorize(&form.csrf)?;
    if !matches!(form.confirm.as_deref(), Some("yes") | Some("on")) {
        return Err(ConsoleError::BadRequest(
            "tick the confirmation box to go ahead".to_owned(),
        ));
    }
    let chat = parse_uuid(&form.chat_id, "the chat id")?;
    let message = parse_uuid(&form.message_id, "the message id")?;
    let (at, removed, _) =
        memory::forget_message_by(&state.pg, &state.bus, chat, message, Some(&actor))
            .await?
            .ok_or_else(|| {
                ConsoleError::NotFound(format!("chat {chat} has no message {message}"))
            })?;
    let body = html! {
        p.flash.ok role="status" #forget-done { "Forgot message " code { (message) } " at " (fmt_time(&at)) "." }
        (counts_markup(&serde_json::to_value(&removed).unwrap_or(Value::Null)))
        p { a href=(memory_url()) { "« Memory" } }
    };
    Ok(respond(
        StatusCode::OK,
        page(&viewer.frame(), Nav::Memory, "Message forgotten", body),
    ))
}
