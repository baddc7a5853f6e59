//! The HTTP surface under hostile or unlucky clients: NUL in filters, over-long URIs, ids
//! that do not decode, the bearer scheme in any case, `HEAD` on probes, probes that answer
//! in time with Redis down, and clients that send half a request.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// Sends `raw` on a new connection and reads until the server closes it (or `limit`).
/// Returns what was read and how long until the close.
fn raw_exchange(addr: &str, raw: &[u8], limit: Duration) -> (String, Option<Duration>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.write_all(raw).expect("write");
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => {
                return (
                    String::from_utf8_lossy(&got).into_owned(),
                    Some(start.elapsed()),
                )
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                return (
                    String::from_utf8_lossy(&got).into_owned(),
                    Some(start.elapsed()),
                )
            }
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), None)
}

/// The JSON body of a raw HTTP/1.1 response.
fn body_json(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[test]
fn bad_filters_uris_and_ids_get_json_400s() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    // A NUL (or anything that is not a reason code) in a dead-letter filter is the client's
    // mistake, not a Postgres outage.
    for path in [
        "/admin/dead-letters?reason=%00",
        "/admin/dead-letters?reason=a%00b",
        "/admin/dead-letters?reason=%0A",
    ] {
        let (status, body) = daemon.get(path);
        assert_error(status, &body, 400, "invalid_reason");
    }
    for path in ["/admin/dead-letters/replay", "/admin/dead-letters/discard"] {
        let (status, body) = daemon.post(path, &json!({"reason": "x\u{0}y"}).to_string());
        assert_error(status, &body, 400, "invalid_reason");
    }
    let (status, _) = daemon.get("/admin/dead-letters?reason=invalid_json");
    assert_eq!(status, 200);
    // Ids that are not UTF-8 once percent-decoded are refused, not read as U+FFFD.
    for (method, path, code) in [
        ("GET", "/v1/users/%ff/facts", "invalid_path"),
        ("GET", "/v1/users/caf%C3/facts", "invalid_path"),
        ("DELETE", "/v1/users/%ff%fe", "invalid_path"),
        ("GET", "/v1/users/u/facts?at=%ff", "invalid_query"),
    ] {
        let (status, body) = request(method, &daemon.url(path), None, None);
        assert_error(status, &body, 400, code);
    }
    let body = json!({"user_id": "u", "role": "user", "content": "hi"}).to_string();
    let (status, body) = daemon.post("/v1/chats/%ff/messages", &body);
    assert_error(status, &body, 400, "invalid_path");
    // A valid non-ASCII id still works.
    let (status, body) = daemon.get("/v1/users/caf%C3%A9/facts");
    assert_eq!(status, 200, "{body}");
    // Over-long URIs get a JSON error too.
    for len in [9_000, 60_000] {
        let path = format!("/healthz?pad={}", "a".repeat(len));
        let (status, body) = daemon.get(&path);
        assert_error(status, &body, 414, "uri_too_long");
    }
    // Nothing of it reached Postgres as a failed query.
    assert!(daemon
        .log_lines_with("event=http_dependency_error")
        .is_empty());
    assert_eq!(env.count("SELECT count(*) FROM messages"), 0);
}

#[test]
fn probes_answer_head_and_any_case_bearer() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", "s3cret-token")]);
    for path in ["/healthz", "/readyz", "/metrics"] {
        let resp = ureq::head(&daemon.url(path)).call().expect(path);
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.into_string().unwrap(), "", "{path}: HEAD has no body");
    }
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = format!("{scheme} s3cret-token");
        let (status, body) = request_with_headers(
            "GET",
            &daemon.url("/admin/status"),
            None,
            &[("Authorization", &auth)],
        );
        assert_eq!(status, 200, "{scheme}: {body}");
        let resp = ureq::head(&daemon.url("/admin/status"))
            .set("Authorization", &auth)
            .call()
            .expect("HEAD /admin/status");
        assert_eq!(resp.status(), 200);
    }
    for wrong in [
        "Basic s3cret-token",
        "Bearers3cret-token",
        "Bearer s3cret-tokenX",
    ] {
        let (status, body) = request_with_headers(
            "GET",
            &daemon.url("/admin/status"),
            None,
            &[("Authorization", wrong)],
        );
        assert_error(status, &body, 401, "unauthorized");
    }
}

/// One probe call: its status, body and how long it took.
fn timed(method: &str, url: &str, token: Option<&str>) -> (u16, Value, Duration) {
    let start = Instant::now();
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(30));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    let elapsed = start.elapsed();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, elapsed)
}

#[test]
fn probes_answer_within_a_second_with_redis_down() {
    let env = TestEnv::new();
    let redis = PrivateRedis::start(&[]);
    let daemon = env.spawn_daemon(&[("REDIS_URL", redis.url.as_str())]);
    let (status, body) = daemon.get("/readyz");
    assert_eq!(status, 200, "{body}");
    drop(redis);
    // Every probe, several times over (the first calls find pooled connections that just
    // broke, later ones a pool that cannot connect).
    for round in 0..4 {
        for (method, path) in [
            ("GET", "/healthz"),
            ("HEAD", "/healthz"),
            ("GET", "/readyz"),
            ("HEAD", "/readyz"),
            ("GET", "/metrics"),
            ("GET", "/admin/status"),
        ] {
            let (status, body, took) = timed(method, &daemon.url(path), None);
            assert!(
                took < Duration::from_secs(1),
                "round {round}: {method} {path} took {took:?}"
            );
            match (method, path) {
                (_, "/healthz") => assert_eq!(status, 200),
                ("GET", "/readyz") if round > 0 => {
                    assert_eq!(status, 503, "{body}");
                    let reasons = body["reasons"].to_string();
                    assert!(reasons.contains("redis unreachable"), "{body}");
                }
                ("GET", "/metrics") if round > 0 => {
                    let text = body.as_str().unwrap_or("");
                    assert!(text.contains("\nmemlink_redis_up 0\n"), "{text}");
                    assert!(text.contains("\nmemlink_postgres_up 1\n"), "{text}");
                }
                ("GET", "/admin/status") if round > 0 => {
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(body["stream"]["reachable"], false, "{body}");
                    assert!(body["outbox"]["pending"].is_number(), "{body}");
                }
                _ => {}
            }
        }
    }
}

#[test]
fn half_sent_requests_are_closed_after_the_client_timeout() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_HTTP_CLIENT_TIMEOUT_SECS", "1")]);
    let chat = new_uuid();
    // Half a body: 408 with a JSON error, and the connection is closed.
    let head = format!(
        "POST /v1/chats/{chat}/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"user_id\":"
    );
    let (response, closed) = raw_exchange(&daemon.addr, head.as_bytes(), Duration::from_secs(10));
    let closed = closed.unwrap_or_else(|| panic!("still open after 10 s: {response:?}"));
    assert!(closed < Duration::from_secs(4), "{closed:?}");
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert_eq!(
        body_json(&response)["error"]["code"],
        "body_timeout",
        "{response}"
    );
    // Half a head: closed too.
    let (response, closed) = raw_exchange(
        &daemon.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        Duration::from_secs(10),
    );
    let closed = closed.unwrap_or_else(|| panic!("still open after 10 s: {response:?}"));
    assert!(closed < Duration::from_secs(4), "{closed:?}");
    // Many at once: none is kept.
    let start = Instant::now();
    let mut open: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut s = TcpStream::connect(&daemon.addr).expect("connect");
            let half: &[u8] = if i % 2 == 0 {
                head.as_bytes()
            } else {
                b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            };
            s.write_all(half).expect("write");
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            s
        })
        .collect();
    eventually(
        "every half-sent connection is closed",
        Duration::from_secs(15),
        || {
            open.retain_mut(|s| {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => return false,
                        Ok(_) => continue,
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            return true
                        }
                        Err(_) => return false,
                    }
                }
            });
            open.is_empty().then_some(())
        },
    );
    assert!(start.elapsed() < Duration::from_secs(15));
    // The daemon still serves, and stored nothing.
    assert_eq!(daemon.get("/healthz").0, 200);
    assert_eq!(env.count("SELECT count(*) FROM messages"), 0);
}
