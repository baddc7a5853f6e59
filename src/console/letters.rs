//! Dead letters in the console: the list (filtered on the server, keyset-paged), one letter
//! (raw payload with the offending field marked, reason, audit history), and its actions:
//! replay, replay with a JSON merge patch (previewed: the patched payload and whether it now
//! decodes, before the operator confirms), discard.
//!
//! Each action is [`crate::postgres::dlq`]'s, as the HTTP API and the CLI call it, with the
//! signed-in operator as the audited actor. Bulk actions are in [`super::bulk`].

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use memlink_actors::decode::{offending_field, Reason};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::auth::Viewer;
use super::filter::{self, cursor_param, FilterForm, StatusChoice};
use super::html::{self, fmt_time, iso, page, respond, see_other, url_with, ConsoleError, Nav};
use super::BASE;
use crate::http::AppState;
use crate::postgres::dlq::{
    self, DeadLetterDetail, DeadLetterView, DlqError, LetterStatus, ReplayCheck, ReplayPreview,
};

/// Letters per page.
pub const PAGE_SIZE: usize = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    #[serde(flatten)]
    filter: FilterForm,
    before: Option<String>,
    after: Option<String>,
}

pub fn parse_id(raw: &str) -> Result<Uuid, ConsoleError> {
    Uuid::try_parse(raw.trim())
        .map_err(|_| ConsoleError::BadRequest("that is not a dead letter id (a UUID)".to_owned()))
}

fn letters_url() -> String {
    format!("{BASE}/dead-letters")
}

fn letter_url(id: &Uuid) -> String {
    format!("{BASE}/dead-letters/{id}")
}

/// The filter form, filled in with what was asked.
fn filter_form(f: &FilterForm) -> Markup {
    let status = if f.status.trim().is_empty() {
        "dead"
    } else {
        f.status.trim()
    };
    html! {
        form.filters method="get" action=(letters_url()) role="search" aria-label="Filter dead letters" {
            div.field {
                label for="f-reason" { "Reason" }
                select #f-reason name="reason" {
                    option value="" selected[f.reason.trim().is_empty()] { "any" }
                    @for r in Reason::ALL {
                        option value=(r.as_str()) selected[f.reason.trim() == r.as_str()] { (r.as_str()) }
                    }
                }
            }
            div.field {
                label for="f-event-type" { "Event type" }
                input #f-event-type type="text" name="event_type" value=(f.event_type) placeholder="message.created";
            }
            div.field {
                label for="f-chat" { "Chat id" }
                input #f-chat type="text" name="chat_id" value=(f.chat_id) inputmode="text" autocomplete="off";
            }
            div.field {
                label for="f-user" { "User (payload user_id)" }
                input #f-user type="text" name="user_id" value=(f.user_id) autocomplete="off";
            }
            div.field {
                label for="f-text" { "Payload contains (exact text)" }
                input #f-text type="search" name="text" value=(f.text) autocomplete="off";
            }
            div.field {
                label for="f-since" { "Received from (UTC)" }
                input #f-since type="text" name="since" value=(f.since) placeholder="2026-01-02T10:00:00Z";
            }
            div.field {
                label for="f-until" { "Received before (UTC)" }
                input #f-until type="text" name="until" value=(f.until) placeholder="2026-01-03T10:00:00Z";
            }
            div.field {
                label for="f-status" { "Status" }
                select #f-status name="status" {
                    @for s in ["dead", "replayed", "discarded", "any"] {
                        option value=(s) selected[status == s] { (s) }
                    }
                }
            }
            div.field {
                button type="submit" { "Filter" }
            }
        }
    }
}

/// `GET /admin/ui/dead-letters?reason=&event_type=&chat_id=&user_id=&text=&since=&until=&status=&before=&after=`
pub async fn list(
    viewer: Viewer,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let q = query.into_inner();
    let (filter, status) = match q.filter.parse() {
        Ok(p) => p,
        Err(errors) => {
            let body = html! {
                (filter_form(&q.filter))
                div.flash.error role="alert" { ul { @for e in &errors { li { (e) } } } }
            };
            return Ok(respond(
                StatusCode::BAD_REQUEST,
                page(&viewer.frame(), Nav::DeadLetters, "Dead letters", body),
            ));
        }
    };
    let cursor = filter::cursor(q.before.as_deref(), q.after.as_deref());
    let total = dlq::count_matching(&state.pg, &filter, status.status()).await?;
    let page_of = dlq::page(&state.pg, &filter, status.status(), cursor, PAGE_SIZE).await?;
    let pairs = q.filter.pairs();
    let bulk_url = |action: &str| {
        let mut p = pairs.clone();
        p.retain(|(k, _)| *k != "status");
        p.push(("action", action));
        url_with(&format!("{BASE}/dead-letters/bulk"), &p)
    };
    let nav_url = |key: &'static str, l: &DeadLetterView| {
        let c = cursor_param(&l.received_at, &l.id);
        let mut p = pairs.clone();
        p.push((key, c.as_str()));
        url_with(&letters_url(), &p)
    };
    let dead_matching = status == StatusChoice::Only(LetterStatus::Dead);
    let body = html! {
        (filter_form(&q.filter))
        p #match-count role="status" {
            strong { (total) } @if total == 1 { " letter matches." } @else { " letters match." }
            @if !dead_matching { " Bulk actions take only the dead ones." }
        }
        @if viewer.can_act() && total > 0 {
            div.actions {
                a.button href=(bulk_url("replay")) { "Replay all matching dead letters…" }
                a.button.secondary href=(bulk_url("discard")) { "Discard all matching dead letters…" }
            }
        }
        @if page_of.letters.is_empty() {
            p.muted { "No dead letter on this page." }
        } @else {
            div.scroll { table #letters {
                caption.visually-hidden { "Dead letters, newest first" }
                thead { tr {
                    th scope="col" { "Received (UTC)" } th scope="col" { "Reason" } th scope="col" { "Event type" }
                    th scope="col" { "Detail" } th scope="col" { "Status" } th.num scope="col" { "Deliveries" }
                } }
                tbody {
                    @for l in &page_of.letters {
                        tr {
                            td { a href=(letter_url(&l.id)) { time datetime=(iso(&l.received_at)) { (fmt_time(&l.received_at)) } } }
                            td { code { (l.reason) } }
                            td { (l.event_type.as_deref().unwrap_or("—")) }
                            td.mono { (html::clip(&l.detail, 140)) }
                            td { (status_badge(&l.status)) }
                            td.num { (l.delivery_count) }
                        }
                    }
                }
            } }
        }
        nav.pager aria-label="Pages" {
            @if page_of.has_newer {
                a href=(url_with(&letters_url(), &pairs)) { "« Newest" }
                @if let Some(first) = page_of.letters.first() {
                    a href=(nav_url("after", first)) rel="prev" { "‹ Newer" }
                }
            }
            @if page_of.has_older {
                @if let Some(last) = page_of.letters.last() {
                    a href=(nav_url("before", last)) rel="next" { "Older ›" }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page(&viewer.frame(), Nav::DeadLetters, "Dead letters", body),
    ))
}

pub fn status_badge(status: &str) -> Markup {
    let class = match status {
        "dead" => "bad",
        "replayed" => "ok",
        _ => "info",
    };
    html! { span class={"badge " (class)} { (status) } }
}

/// The payload, pretty-printed when it is JSON, with the lines of the offending field marked.
fn payload_markup(text: &str, field: Option<&str>) -> Markup {
    let pretty = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok());
    let shown = pretty.as_deref().unwrap_or(text);
    let needle = field
        .filter(|f| *f != "payload")
        .map(|f| format!("\"{f}\":"));
    html! {
        pre #payload tabindex="0" aria-label="Payload" {
            @for line in shown.lines() {
                @if needle.as_deref().is_some_and(|n| line.trim_start().starts_with(n)) {
                    span.hit title="the offending field" { (line) } "\n"
                } @else {
                    (line) "\n"
                }
            }
        }
    }
}

fn check_markup(check: &ReplayCheck) -> Markup {
    html! {
        @if check.replayable {
            p.flash.ok role="status" {
                "Decodes: yes. Replaying publishes event "
                code { (check.event_id.map(|e| e.to_string()).unwrap_or_default()) }
                " (outbox row " (check.outbox_action.unwrap_or("")) ")."
            }
        } @else {
            p.flash.error role="status" {
                "Would be refused: " code { (check.code.unwrap_or("")) } " " (check.message.as_deref().unwrap_or(""))
            }
        }
    }
}

fn confirm_box(id: &str, text: &str) -> Markup {
    html! {
        label.check for=(id) {
            input #(id) type="checkbox" name="confirm" value="yes" required;
            (text)
        }
    }
}

/// The preview of a patched replay, with the confirming form when it would be accepted. The
/// form carries the operator's patch as typed, not the merged payload: the replay applies the
/// patch to the stored payload again, in its own transaction.
fn preview_markup(
    viewer: &Viewer,
    id: &Uuid,
    patch: &str,
    outcome: &Result<ReplayPreview, String>,
) -> Markup {
    html! {
        @match outcome {
            Err(e) => p.flash.error role="status" { (e) },
            Ok(p) => {
                h3 { "Patched payload" }
                @match &p.payload {
                    Some(v) => pre #patched tabindex="0" aria-label="Patched payload" { (serde_json::to_string_pretty(v).unwrap_or_default()) },
                    None => p.muted { "No payload to show." },
                }
                (check_markup(&p.check))
                @if p.check.replayable {
                    form.stack method="post" action={(letter_url(id)) "/replay"} {
                        input type="hidden" name="csrf" value=(viewer.csrf());
                        input type="hidden" name="patch" value=(patch);
                        label for="patched-note" { "Note (optional)" }
                        input #patched-note type="text" name="note" maxlength="2000";
                        (confirm_box("patched-confirm", "Replay this patched payload"))
                        button #replay-patched type="submit" { "Replay with this patch" }
                    }
                }
            }
        }
    }
}

fn detail_markup(
    viewer: &Viewer,
    d: &DeadLetterDetail,
    preview: Option<(&str, &Result<ReplayPreview, String>)>,
    notice: Markup,
) -> Markup {
    let l = &d.letter;
    let field = offending_field(&l.detail);
    let dead = l.status == LetterStatus::Dead.as_str();
    html! {
        (notice)
        section.panel aria-labelledby="what-h" {
            h2 #what-h { "What happened" }
            dl.kv {
                dt { "Status" } dd #letter-status { (status_badge(&l.status)) }
                dt { "Reason" } dd { code #letter-reason { (l.reason) } }
                dt { "Detail" } dd.mono { (l.detail) }
                dt { "Offending field" } dd #offending-field { @if let Some(f) = field { code { (f) } } @else { "—" } }
                dt { "Event type" } dd { (l.event_type.as_deref().unwrap_or("—")) }
                dt { "Event id" } dd.mono { (l.event_id.as_deref().unwrap_or("—")) }
                dt { "Chat" } dd.mono { (l.chat_id.map(|c| c.to_string()).unwrap_or_else(|| "—".to_owned())) }
                dt { "Source" } dd.mono { (l.source) " " (l.source_ref) }
                dt { "Received" } dd { (fmt_time(&l.received_at)) }
                dt { "Deliveries" } dd { (l.delivery_count) " (first " (fmt_time(&l.first_seen)) ", last " (fmt_time(&l.last_seen)) ")" }
                dt { "Dead-lettered by" } dd { (l.actor) }
            }
        }
        section.panel aria-labelledby="payload-h" {
            h2 #payload-h { "Payload" }
            @match (&d.payload, d.payload_kept) {
                (Some(text), _) => (payload_markup(text, field)),
                (None, true) => p.muted { "The payload is not UTF-8 (" (d.payload_len.unwrap_or(0)) " bytes); the raw entry below shows it lossily." },
                (None, false) => p.muted { "No payload was kept (the input had none, or it was too large)." },
            }
            details {
                summary { "Raw entry as received (" (l.raw_len) " bytes)" }
                pre.mono tabindex="0" { (l.raw) }
            }
        }
        @if dead {
            section.panel #actions aria-labelledby="actions-h" {
                h2 #actions-h { "Replay or discard" }
                @if let Some(check) = &d.replay_check {
                    p.muted { "Replayed as it is:" }
                    (check_markup(check))
                }
                @if viewer.can_act() {
                    @if d.replay_check.as_ref().is_some_and(|c| c.replayable) {
                        h3 { "Replay as is" }
                        form.stack method="post" action={(letter_url(&l.id)) "/replay"} {
                            input type="hidden" name="csrf" value=(viewer.csrf());
                            label for="replay-note" { "Note (optional)" }
                            input #replay-note type="text" name="note" maxlength="2000";
                            (confirm_box("replay-confirm", "Replay this letter unchanged"))
                            button #replay type="submit" { "Replay" }
                        }
                    }
                    h3 { "Replay with a JSON merge patch" }
                    form.stack #patch-form method="post" action={(letter_url(&l.id)) "/preview"}
                        hx-post={(letter_url(&l.id)) "/preview"}
                        hx-trigger="submit, input changed delay:500ms from:#patch"
                        hx-target="#preview" hx-swap="innerHTML" {
                        input type="hidden" name="csrf" value=(viewer.csrf());
                        label for="patch" { "Patch (RFC 7386: members to set, null to remove)" }
                        textarea #patch name="patch" spellcheck="false" placeholder=r#"{"role": "user"}"# {
                            (preview.map(|(p, _)| p).unwrap_or(""))
                        }
                        button.secondary #preview-button type="submit" { "Preview" }
                    }
                    div #preview aria-live="polite" {
                        @if let Some((patch, outcome)) = preview {
                            (preview_markup(viewer, &l.id, patch, outcome))
                        }
                    }
                    h3 { "Discard" }
                    form.stack method="post" action={(letter_url(&l.id)) "/discard"} {
                        input type="hidden" name="csrf" value=(viewer.csrf());
                        label for="discard-note" { "Note (optional)" }
                        input #discard-note type="text" name="note" maxlength="2000";
                        (confirm_box("discard-confirm", "Discard this letter (it stays recorded)"))
                        button.danger #discard type="submit" { "Discard" }
                    }
                } @else {
                    p.muted { "Actions need the console on and an operator signed in with the admin token." }
                }
            }
        }
        section.panel aria-labelledby="history-h" {
            h2 #history-h { "Audit history" }
            @if d.actions.is_empty() {
                p.muted { "No action taken yet." }
            } @else {
                div.scroll { table #history {
                    thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Action" } th scope="col" { "By" } th scope="col" { "Channel" } th scope="col" { "Bulk" } th scope="col" { "Note" } th scope="col" { "Patch / new event" } } }
                    tbody {
                        @for a in &d.actions {
                            tr {
                                td { (fmt_time(&a.at)) }
                                td { (a.action) }
                                td { (a.actor) }
                                td { (a.channel) }
                                td { @if a.bulk { "yes" } @else { "no" } }
                                td { (a.note.as_deref().unwrap_or("")) }
                                td.mono {
                                    @if let Some(p) = &a.patch { (p.to_string()) br; }
                                    @if let Some(e) = &a.new_event_id { "event " (e) }
                                }
                            }
                        }
                    }
                } }
            }
        }
        p { a href=(letters_url()) { "« All dead letters" } }
    }
}

async fn load(state: &AppState, id: Uuid) -> Result<DeadLetterDetail, ConsoleError> {
    dlq::show(&state.pg, id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("dead letter {id} not found")))
}

fn detail_page(
    viewer: &Viewer,
    d: &DeadLetterDetail,
    body: Markup,
    status: StatusCode,
) -> HttpResponse {
    let title = format!("Dead letter {}", d.letter.id);
    respond(
        status,
        page(&viewer.frame(), Nav::DeadLetters, &title, body),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// `GET /admin/ui/dead-letters/{id}`
pub async fn detail(
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let id = parse_id(&path)?;
    let d = load(&state, id).await?;
    let body = detail_markup(&viewer, &d, None, html::flash(query.done.as_deref()));
    Ok(detail_page(&viewer, &d, body, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
pub struct PreviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    patch: String,
}

fn parse_patch(raw: &str) -> Result<Option<Value>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(raw)
        .map(Some)
        .map_err(|e| format!("The patch is not valid JSON: {e}"))
}

/// `POST /admin/ui/dead-letters/{id}/preview`: the patched payload and whether it decodes.
/// Answers the preview alone to htmx, the whole letter page otherwise.
pub async fn preview(
    req: HttpRequest,
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<PreviewForm>,
) -> Result<HttpResponse, ConsoleError> {
    let id = parse_id(&path)?;
    viewer.authorize(&form.csrf)?;
    let outcome = match parse_patch(&form.patch) {
        Err(e) => Err(e),
        Ok(None) => Err("Type a patch first, e.g. {\"role\": \"user\"}.".to_owned()),
        Ok(Some(patch)) => Ok(dlq::preview_replay(&state.pg, id, Some(&patch)).await?),
    };
    if req.headers().contains_key("HX-Request") {
        return Ok(respond(
            StatusCode::OK,
            preview_markup(&viewer, &id, &form.patch, &outcome),
        ));
    }
    let d = load(&state, id).await?;
    let body = detail_markup(&viewer, &d, Some((&form.patch, &outcome)), html! {});
    Ok(detail_page(&viewer, &d, body, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    patch: String,
    #[serde(default)]
    note: String,
    confirm: Option<String>,
}

impl ActionForm {
    fn note(&self) -> Result<Option<&str>, ConsoleError> {
        let n = self.note.trim();
        if n.is_empty() {
            return Ok(None);
        }
        dlq::check_note(n).map_err(ConsoleError::BadRequest)?;
        Ok(Some(n))
    }

    fn confirmed(&self) -> Result<(), ConsoleError> {
        match self.confirm.as_deref() {
            Some("yes") | Some("on") => Ok(()),
            _ => Err(ConsoleError::BadRequest(
                "tick the confirmation box to go ahead".to_owned(),
            )),
        }
    }
}

/// A refused action: the letter's page again, with why.
async fn refused(
    viewer: &Viewer,
    state: &AppState,
    id: Uuid,
    e: DlqError,
) -> Result<HttpResponse, ConsoleError> {
    if let DlqError::Port(p) = e {
        return Err(p.into());
    }
    let status = match &e {
        DlqError::NotFound(_) => StatusCode::NOT_FOUND,
        DlqError::ReplayInvalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        DlqError::FilterRequired => StatusCode::BAD_REQUEST,
        _ => StatusCode::CONFLICT,
    };
    let d = load(state, id).await?;
    let notice = html! { p.flash.error role="alert" { code { (e.code()) } " " (e.to_string()) } };
    Ok(detail_page(
        viewer,
        &d,
        detail_markup(viewer, &d, None, notice),
        status,
    ))
}

/// `POST /admin/ui/dead-letters/{id}/replay` (with `patch` when patched).
pub async fn replay(
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, ConsoleError> {
    let id = parse_id(&path)?;
    let actor = viewer.authorize(&form.csrf)?;
    form.confirmed()?;
    let note = form.note()?;
    let patch = parse_patch(&form.patch).map_err(ConsoleError::BadRequest)?;
    match dlq::replay(&state.pg, id, patch.as_ref(), &actor, note).await {
        Ok(_) => Ok(see_other(&format!("{}?done=replayed", letter_url(&id)))),
        Err(e) => refused(&viewer, &state, id, e).await,
    }
}

/// `POST /admin/ui/dead-letters/{id}/discard`
pub async fn discard(
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, ConsoleError> {
    let id = parse_id(&path)?;
    let actor = viewer.authorize(&form.csrf)?;
    form.confirmed()?;
    let note = form.note()?;
    match dlq::discard(&state.pg, id, &actor, note).await {
        Ok(_) => Ok(see_other(&format!("{}?done=discarded", letter_url(&id)))),
        Err(e) => refused(&viewer, &state, id, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offending_field_is_marked_in_the_payload() {
        let html = payload_markup(r#"{"role":"robot","user_id":"u"}"#, Some("role")).into_string();
        assert!(
            html.contains(
                r#"<span class="hit" title="the offending field">  &quot;role&quot;: &quot;robot&quot;,</span>"#
            ),
            "{html}"
        );
        assert_eq!(html.matches("class=\"hit\"").count(), 1);
        // Not JSON: shown as it is, escaped.
        let html = payload_markup("<b>not json", Some("payload")).into_string();
        assert!(
            html.contains("&lt;b&gt;not json") && !html.contains("hit"),
            "{html}"
        );
    }
}
