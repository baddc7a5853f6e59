//! The console's HTML frame: the page layout (header, navigation, the operator and sign-out),
//! the sign-in form, error pages (every answer with [`super::headers`]), and small formatting
//! helpers.
//!
//! Everything is escaped by maud; the only markup inserted raw is the runbook's, rendered at
//! run time from the Markdown compiled into the binary. A page must never reference another
//! host: the Content-Security-Policy below forbids it, and the browser tests check it.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use chrono::{DateTime, SecondsFormat, Utc};
use maud::{html, Markup, DOCTYPE};
use memlink_actors::ports::PortError;

use super::assets;
pub use super::headers::secure;
use super::BASE;
use crate::config::ConsoleMode;
use crate::logging::Quoted;
use crate::postgres::dlq::DlqError;

/// An HTML answer with the headers every console response carries.
pub fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    let mut r = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string());
    secure(&mut r, true);
    r
}

/// A redirect after a form post (303: the browser follows with GET).
pub fn see_other(location: &str) -> HttpResponse {
    let mut r = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish();
    secure(&mut r, true);
    r
}

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    DeadLetters,
    Memory,
}

/// What the frame shows about the viewer.
pub struct Frame<'a> {
    /// Who signed in; `None` without an admin token (read-only on loopback).
    pub operator: Option<&'a str>,
    pub csrf: &'a str,
    pub mode: ConsoleMode,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            meta name="referrer" content="same-origin";
            // No favicon request at all.
            link rel="icon" href="data:,";
            // No eval, no inline style or script tags: the CSP forbids them anyway.
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0}"#;
            title { (title) " · memlink console" }
            link rel="stylesheet" href=(assets::url(assets::CSS));
            script src=(assets::url(assets::HTMX_FILE)) defer {}
            script src=(assets::url(assets::JS)) defer {}
        }
    }
}

/// A whole page: header with navigation, the operator, and `body` in `<main>`.
pub fn page(frame: &Frame<'_>, nav: Nav, title: &str, body: Markup) -> Markup {
    let link = |to: Nav, href: String, label: &str| {
        html! {
            @if to == nav {
                a href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href=(BASE) { "memlink" }
                    nav aria-label="Sections" {
                        (link(Nav::Overview, BASE.to_owned(), "Overview"))
                        (link(Nav::DeadLetters, format!("{BASE}/dead-letters"), "Dead letters"))
                        (link(Nav::Memory, format!("{BASE}/memory"), "Memory"))
                    }
                    div.who {
                        @match frame.mode {
                            ConsoleMode::ReadOnly => span.badge.warn title="MEMLINK_CONSOLE=read-only: no action can be taken here" { "read-only" },
                            _ => {},
                        }
                        @if let Some(name) = frame.operator {
                            span.operator { "Signed in as " strong { (name) } }
                            form.inline method="post" action={(BASE) "/sign-out"} {
                                input type="hidden" name="csrf" value=(frame.csrf);
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The sign-in page: a name for the audit trail and the admin token.
pub fn sign_in_page(next: &str, error: Option<&str>, has_token: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body {
                main #main.narrow {
                    h1 { "memlink console" }
                    @if has_token {
                        p { "Sign in with the admin token (" code { "MEMLINK_ADMIN_TOKEN" } "). Your name is recorded with every action you take." }
                        @if let Some(e) = error {
                            p.flash.error role="alert" { (e) }
                        }
                        form.stack method="post" action={(BASE) "/sign-in"} {
                            input type="hidden" name="next" value=(next);
                            label for="operator" { "Your name" }
                            input #operator type="text" name="operator" required autocomplete="username" maxlength="128" autofocus;
                            label for="token" { "Admin token" }
                            input #token type="password" name="token" required autocomplete="current-password";
                            button type="submit" { "Sign in" }
                        }
                    } @else {
                        p { "No admin token is configured, so there is nothing to sign in with: the console is read-only and served only on this loopback address." }
                        p { a href=(BASE) { "Open the overview" } }
                    }
                }
            }
        }
    }
}

/// Why a console request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No valid session: the sign-in page, never data. `fragment`: asked by htmx (a
    /// refresh), which is told to load the sign-in page as a whole page instead.
    #[error("sign in first")]
    SignIn { next: String, fragment: bool },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<PortError> for ConsoleError {
    fn from(e: PortError) -> ConsoleError {
        log::warn!(target: "memlink::console", "event=console_dependency_error port={} error={}", e.port, Quoted(&e.message));
        ConsoleError::Unavailable(format!("{} is unavailable; retry later", e.port))
    }
}

impl From<DlqError> for ConsoleError {
    fn from(e: DlqError) -> ConsoleError {
        match e {
            DlqError::Port(p) => p.into(),
            DlqError::NotFound(_) => ConsoleError::NotFound(e.to_string()),
            DlqError::FilterRequired => ConsoleError::BadRequest(e.to_string()),
            DlqError::ReplayInvalid { .. } => ConsoleError::BadRequest(e.to_string()),
            _ => ConsoleError::Conflict(format!("{}: {e}", e.code())),
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn { .. } => StatusCode::UNAUTHORIZED,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let markup = match self {
            ConsoleError::SignIn { next, fragment } => {
                let mut r = respond(self.status_code(), sign_in_page(next, None, true));
                if *fragment {
                    let to = url_with(&format!("{BASE}/sign-in"), &[("next", next)]);
                    if let Ok(v) = header::HeaderValue::from_str(&to) {
                        r.headers_mut()
                            .insert(header::HeaderName::from_static("hx-redirect"), v);
                    }
                }
                return r;
            }
            other => html! {
                (DOCTYPE)
                html lang="en" {
                    (head("Error"))
                    body {
                        main #main.narrow {
                            h1 { (self.status_code().canonical_reason().unwrap_or("Error")) }
                            p.flash.error role="alert" { (other.to_string()) }
                            p { a href=(BASE) { "Back to the overview" } }
                        }
                    }
                }
            },
        };
        respond(self.status_code(), markup)
    }
}

pub async fn not_found() -> HttpResponse {
    ConsoleError::NotFound("no such console page".to_owned()).error_response()
}

pub fn fmt_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
        .replace('T', " ")
}

/// The machine-readable form, for `<time datetime=...>`.
pub fn iso(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// "42 s", "3 min 5 s", "2 h 10 min", "3 d 4 h".
pub fn fmt_age(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `path?k=v&...`, leaving out empty values.
pub fn url_with(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{q}")
    }
}

/// At most `n` characters, with an ellipsis when cut.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

/// A flash message after an action (`?done=...`), from a fixed list: the query never becomes
/// text on the page.
pub fn flash(done: Option<&str>) -> Markup {
    let text = match done {
        Some("replayed") => "Replayed: the event is back in the outbox and will be relayed.",
        Some("discarded") => "Discarded: the letter stays recorded, with your name in its history.",
        Some("signed-in") => "Signed in.",
        _ => return html! {},
    };
    html! { p.flash.ok role="status" { (text) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_format_and_escape() {
        assert_eq!(fmt_age(5.4), "5 s");
        assert_eq!(fmt_age(185.0), "3 min 5 s");
        assert_eq!(fmt_age(7_800.0), "2 h 10 min");
        assert_eq!(fmt_age(-3.0), "0 s");
        assert_eq!(
            url_with("/x", &[("a", "b c"), ("empty", ""), ("u", "é&")]),
            "/x?a=b+c&u=%C3%A9%26"
        );
        assert_eq!(url_with("/x", &[("a", "")]), "/x");
        assert_eq!(clip("abcdef", 3), "abc…");
        let page = sign_in_page("/admin/ui\"><script>", Some("<b>"), true).into_string();
        assert!(
            !page.contains("<script>") && !page.contains("<b>"),
            "{page}"
        );
    }
}
