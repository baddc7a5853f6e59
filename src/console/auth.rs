//! Who may see and do what in the console.
//!
//! With an admin token configured, a browser signs in once with the token and a name: the
//! answer sets a session cookie (HttpOnly, SameSite=Strict, Path=/admin/ui, Secure when the
//! request came over TLS, as the proxy's `X-Forwarded-Proto`/`Forwarded` says), signed with
//! HMAC-SHA256 under the token, so changing the token signs every session out and no session
//! store is needed. Every mutation carries a CSRF token derived from the session, and a
//! cross-origin `Origin` is refused. Without a token (only allowed read-only, see
//! [`ConsoleMode`]) there is no one to sign in and no action to take.
//!
//! A request without a valid session must never see data: [`Viewer`] refuses it with the
//! sign-in page. The token is never logged or echoed.

use std::future::{ready, Ready};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::html::{self, ConsoleError, Frame};
use super::{Console, BASE};
use crate::config::ConsoleMode;
use crate::logging::Quoted;
use crate::postgres::dlq::{Channel, Operator};

const COOKIE: &str = "memlink_console";
/// A session lasts a working shift.
const SESSION_SECS: i64 = 12 * 3600;
/// A wrong token costs this long: guessing stays slow.
const WRONG_TOKEN_DELAY: Duration = Duration::from_millis(500);

type HmacSha256 = Hmac<Sha256>;

fn tag(key: &[u8], message: &str) -> Vec<u8> {
    // HMAC takes a key of any length; the fallback only satisfies the type.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// A signed-in operator's session, as the cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    expires: i64,
    nonce: String,
    operator: String,
}

impl Session {
    fn body(&self) -> String {
        format!(
            "v1.{}.{}.{}",
            self.expires,
            self.nonce,
            B64.encode(self.operator.as_bytes())
        )
    }

    /// The cookie value: the body and its tag.
    fn seal(&self, key: &[u8]) -> String {
        let body = self.body();
        let t = B64.encode(tag(key, &format!("session|{body}")));
        format!("{body}.{t}")
    }

    /// A cookie value back into a session, if its tag is right and it has not expired.
    fn open(key: &[u8], value: &str, now: i64) -> Option<Session> {
        let (body, presented) = value.rsplit_once('.')?;
        let expected = B64.encode(tag(key, &format!("session|{body}")));
        if !constant_time_eq::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            return None;
        }
        let mut parts = body.split('.');
        let (Some("v1"), Some(expires), Some(nonce), Some(name), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let expires: i64 = expires.parse().ok()?;
        let operator = String::from_utf8(B64.decode(name).ok()?).ok()?;
        (expires > now).then(|| Session {
            expires,
            nonce: nonce.to_owned(),
            operator,
        })
    }

    /// The CSRF token of this session's forms.
    fn csrf(&self, key: &[u8]) -> String {
        B64.encode(tag(key, &format!("csrf|{}", self.nonce)))
    }
}

fn cookie_value(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn over_tls(req: &HttpRequest) -> bool {
    req.connection_info().scheme().eq_ignore_ascii_case("https")
}

fn set_cookie(req: &HttpRequest, value: &str, max_age: i64) -> String {
    let secure = if over_tls(req) { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path={BASE}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// A cross-site form post names another origin: refused whatever the cookie says.
fn same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let info = req.connection_info();
    let ours = format!("{}://{}", info.scheme(), info.host());
    origin.to_str().is_ok_and(|o| o.eq_ignore_ascii_case(&ours))
}

/// Where to go after signing in: a console path only (never another host).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with(BASE)
                && !n.contains("//")
                && !n.contains('\\')
                && !n.starts_with(&format!("{BASE}/sign-")) =>
        {
            n.to_owned()
        }
        _ => BASE.to_owned(),
    }
}

/// The request's path and query, for the sign-in page to come back to.
fn here(req: &HttpRequest) -> String {
    let uri = req.uri();
    safe_next(Some(
        uri.path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(uri.path()),
    ))
}

/// Someone allowed to look: a signed-in operator, or (without a token) anyone on loopback.
pub struct Viewer {
    pub operator: Option<String>,
    csrf: String,
    pub mode: ConsoleMode,
}

impl Viewer {
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            operator: self.operator.as_deref(),
            csrf: &self.csrf,
            mode: self.mode,
        }
    }

    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether actions are offered: the console is `on` and someone signed in.
    pub fn can_act(&self) -> bool {
        self.mode == ConsoleMode::On && self.operator.is_some()
    }

    /// The actor of a mutation: the console must be `on`, and the form must carry this
    /// session's CSRF token.
    pub fn authorize(&self, presented_csrf: &str) -> Result<Operator, ConsoleError> {
        if self.mode != ConsoleMode::On {
            return Err(ConsoleError::Forbidden(
                "the console is read-only (MEMLINK_CONSOLE): no action can be taken here"
                    .to_owned(),
            ));
        }
        let Some(name) = &self.operator else {
            return Err(ConsoleError::Forbidden(
                "actions need an operator signed in with the admin token".to_owned(),
            ));
        };
        if self.csrf.is_empty()
            || !constant_time_eq::constant_time_eq(presented_csrf.as_bytes(), self.csrf.as_bytes())
        {
            log::warn!(target: "memlink::console", "event=console_csrf_refused operator={}", Quoted(name));
            return Err(ConsoleError::Forbidden(
                "the form's CSRF token is missing or stale: reload the page and try again"
                    .to_owned(),
            ));
        }
        Operator::parse(name, Channel::Console).map_err(ConsoleError::Forbidden)
    }
}

fn viewer(req: &HttpRequest) -> Result<Viewer, ConsoleError> {
    let console = req
        .app_data::<web::Data<Console>>()
        .ok_or_else(|| ConsoleError::NotFound("the console is off".to_owned()))?;
    if req.method() != actix_web::http::Method::GET && !same_origin(req) {
        return Err(ConsoleError::Forbidden(
            "a request from another origin is refused".to_owned(),
        ));
    }
    let mode = console.mode();
    let Some(key) = console.inner.key.as_deref() else {
        return Ok(Viewer {
            operator: None,
            csrf: String::new(),
            mode,
        });
    };
    let session = cookie_value(req).and_then(|v| Session::open(key, &v, Utc::now().timestamp()));
    match session {
        Some(s) => Ok(Viewer {
            csrf: s.csrf(key),
            operator: Some(s.operator),
            mode,
        }),
        None => {
            let fragment = req.headers().contains_key("hx-request");
            // A refresh comes back to the page it refreshed, not to the fragment.
            let next = if fragment {
                req.headers()
                    .get("hx-current-url")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|u| url::Url::parse(u).ok())
                    .map(|u| {
                        safe_next(Some(&match u.query() {
                            Some(q) => format!("{}?{q}", u.path()),
                            None => u.path().to_owned(),
                        }))
                    })
                    .unwrap_or_else(|| BASE.to_owned())
            } else {
                here(req)
            };
            Err(ConsoleError::SignIn { next, fragment })
        }
    }
}

impl FromRequest for Viewer {
    type Error = ConsoleError;
    type Future = Ready<Result<Viewer, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(viewer(req))
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /admin/ui/sign-in`
pub async fn sign_in_page(
    req: HttpRequest,
    console: web::Data<Console>,
    query: web::Query<NextQuery>,
) -> HttpResponse {
    let next = safe_next(query.next.as_deref());
    if console.inner.key.is_some() && viewer(&req).is_ok() {
        return html::see_other(&next);
    }
    html::respond(
        actix_web::http::StatusCode::OK,
        html::sign_in_page(&next, None, console.inner.key.is_some()),
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    operator: String,
    token: String,
    next: Option<String>,
}

/// `POST /admin/ui/sign-in`: name and token in, session cookie out.
pub async fn sign_in(
    req: HttpRequest,
    console: web::Data<Console>,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, ConsoleError> {
    let next = safe_next(form.next.as_deref());
    let Some(key) = console.inner.key.as_deref() else {
        return Ok(html::see_other(BASE));
    };
    if !same_origin(&req) {
        return Err(ConsoleError::Forbidden(
            "a request from another origin is refused".to_owned(),
        ));
    }
    let refuse = |status, why: &str| {
        Ok(html::respond(
            status,
            html::sign_in_page(&next, Some(why), true),
        ))
    };
    let actor = match Operator::parse(&form.operator, Channel::Console) {
        Ok(a) => a,
        Err(why) => {
            return refuse(
                actix_web::http::StatusCode::BAD_REQUEST,
                &format!("Your name: {why}."),
            )
        }
    };
    if !constant_time_eq::constant_time_eq(form.token.as_bytes(), key) {
        log::warn!(target: "memlink::console", "event=console_sign_in_refused operator={} peer={}",
            Quoted(actor.name()), Quoted(req.connection_info().realip_remote_addr().unwrap_or("-")));
        actix_web::rt::time::sleep(WRONG_TOKEN_DELAY).await;
        return refuse(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "That is not the admin token.",
        );
    }
    let session = Session {
        expires: Utc::now().timestamp() + SESSION_SECS,
        nonce: B64.encode(rand::random::<[u8; 18]>()),
        operator: actor.name().to_owned(),
    };
    log::info!(target: "memlink::console", "event=console_signed_in operator={}", Quoted(actor.name()));
    let mut r = html::see_other(&next);
    if let Ok(v) =
        header::HeaderValue::from_str(&set_cookie(&req, &session.seal(key), SESSION_SECS))
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/ui/sign-out`
pub async fn sign_out(
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    if viewer.operator.is_some()
        && !constant_time_eq::constant_time_eq(form.csrf.as_bytes(), viewer.csrf().as_bytes())
    {
        return Err(ConsoleError::Forbidden(
            "the form's CSRF token is missing or stale: reload the page and try again".to_owned(),
        ));
    }
    let mut r = html::see_other(&format!("{BASE}/sign-in"));
    if let Ok(v) = header::HeaderValue::from_str(&set_cookie(&req, "", 0)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(operator: &str, expires: i64) -> Session {
        Session {
            expires,
            nonce: "bm9uY2U".into(),
            operator: operator.into(),
        }
    }

    #[test]
    fn a_session_opens_only_with_its_key_and_before_it_expires() {
        let s = session("ana. with dots é", 2_000);
        let sealed = s.seal(b"token");
        assert_eq!(Session::open(b"token", &sealed, 1_000), Some(s.clone()));
        assert_eq!(Session::open(b"other", &sealed, 1_000), None);
        assert_eq!(Session::open(b"token", &sealed, 2_000), None);
        // Another name under the same tag is refused.
        let forged = sealed.replacen(&B64.encode("ana. with dots é"), &B64.encode("root"), 1);
        assert_eq!(Session::open(b"token", &forged, 1_000), None);
        assert_eq!(Session::open(b"token", "v1.1.2.3", 1_000), None);
        assert_eq!(Session::open(b"token", "", 1_000), None);
        // The CSRF token depends on the session and the key.
        assert_ne!(s.csrf(b"token"), session("x", 2_000).csrf(b"other"));
        assert_eq!(s.csrf(b"token"), session("y", 9).csrf(b"token"));
    }

    #[test]
    fn sign_in_returns_only_to_console_paths() {
        assert_eq!(
            safe_next(Some("/admin/ui/dead-letters?reason=x")),
            "/admin/ui/dead-letters?reason=x"
        );
        assert_eq!(safe_next(Some("https://evil.example/")), "/admin/ui");
        assert_eq!(safe_next(Some("/admin/ui//evil.example")), "/admin/ui");
        assert_eq!(safe_next(Some("/admin/ui/sign-in")), "/admin/ui");
        assert_eq!(safe_next(Some("/v1/chats")), "/admin/ui");
        assert_eq!(safe_next(None), "/admin/ui");
    }
}
