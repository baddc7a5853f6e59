//! The console's static files, compiled into the binary: the vendored htmx (see
//! `assets/VENDOR.md` for its version, origin and sha256), the style sheet and the small
//! script that drives the overview's auto-refresh. Served without a session (they carry no
//! data) and never fetched from anywhere else.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use super::headers::secure;
use super::BASE;

pub const HTMX_FILE: &str = "htmx-2.0.11.min.js";
/// The sha256 of [`HTMX_FILE`] as published in the npm package `htmx.org` 2.0.11.
pub const HTMX_SHA256: &str = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717";
pub const CSS: &str = "console.css";
pub const JS: &str = "console.js";

const HTMX: &[u8] = include_bytes!("assets/htmx-2.0.11.min.js");
const CSS_BODY: &[u8] = include_bytes!("assets/console.css");
const JS_BODY: &[u8] = include_bytes!("assets/console.js");

/// The URL of an asset. Ours carry the crate version, so a new binary is never served a
/// stale cached copy.
pub fn url(name: &str) -> String {
    if name == HTMX_FILE {
        format!("{BASE}/assets/{name}")
    } else {
        format!("{BASE}/assets/{name}?v={}", env!("CARGO_PKG_VERSION"))
    }
}

/// `GET /admin/ui/assets/{name}`
pub async fn serve(name: web::Path<String>) -> HttpResponse {
    let (body, content_type, cache) = match name.as_str() {
        HTMX_FILE => (
            HTMX,
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        CSS => (CSS_BODY, "text/css; charset=utf-8", "public, max-age=3600"),
        JS => (
            JS_BODY,
            "text/javascript; charset=utf-8",
            "public, max-age=3600",
        ),
        _ => {
            let mut r = HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("no such asset\n");
            secure(&mut r, true);
            return r;
        }
    };
    let mut r = HttpResponse::Ok().content_type(content_type).body(body);
    secure(&mut r, false);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn vendored_htmx_is_the_noted_file() {
        let digest = Sha256::digest(HTMX);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, HTMX_SHA256);
        let vendor = include_str!("assets/VENDOR.md");
        assert!(vendor.contains(HTMX_SHA256) && vendor.contains(HTMX_FILE));
        // Version 2.x, as the file says of itself.
        assert!(String::from_utf8_lossy(HTMX).contains("version:\"2.0.11\""));
    }
}
