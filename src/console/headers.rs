//! The headers every console answer carries: a Content-Security-Policy that lets a page load
//! nothing from another host (and run no inline script or style), no framing, no sniffing,
//! referrers only to this origin, and no caching of anything that may show data.

use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpResponse;

/// Only this origin, no inline script or style, no framing, forms post here only.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Security headers; `no_store` for anything that may show data.
pub fn secure(r: &mut HttpResponse, no_store: bool) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if no_store {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
