//! The HTTP contract: bad input gets a 4xx with a JSON error body and a stable code; the admin
//! token is enforced; configuration errors exit 64 before anything binds.

mod common;

use std::process::Command;

use common::*;

#[test]
fn bad_inputs_get_typed_errors() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    let path = format!("/v1/chats/{chat}/messages");
    let cases: Vec<(String, String, u16, &str)> = vec![
        (
            "/v1/chats/chat-1769035355992/messages".into(),
            r#"{"user_id":"u","role":"user","content":"hi"}"#.into(),
            400,
            "invalid_chat_id",
        ),
        (path.clone(), "{not json".into(), 400, "invalid_json"),
        (path.clone(), "[1,2]".into(), 400, "invalid_json"),
        (
            path.clone(),
            r#"{"role":"user","content":"hi"}"#.into(),
            422,
            "missing_field",
        ),
        (
            path.clone(),
            r#"{"user_id":"","role":"user","content":"hi"}"#.into(),
            422,
            "empty_field",
        ),
        (
            path.clone(),
            r#"{"user_id":"u","role":"user","content":"   "}"#.into(),
            422,
            "empty_field",
        ),
        (
            path.clone(),
            r#"{"user_id":7,"role":"user","content":"hi"}"#.into(),
            422,
            "invalid_type",
        ),
        (
            path.clone(),
            r#"{"user_id":"u","role":"admin","content":"hi"}"#.into(),
            422,
            "invalid_role",
        ),
        (
            path.clone(),
            r#"{"user_id":"u","role":"user","content":"a\u0000b"}"#.into(),
            422,
            "invalid_text",
        ),
        (
            path.clone(),
            serde_json::json!({"user_id":"u","role":"user","content":"x".repeat(65_537)})
                .to_string(),
            413,
            "payload_too_large",
        ),
        (
            path.clone(),
            "x".repeat(2_000_000),
            413,
            "payload_too_large",
        ),
    ];
    for (p, body, status, code) in cases {
        let (got, json) = daemon.post(&p, &body);
        assert_eq!(got, status, "{code}: {json}");
        assert_eq!(json["error"]["code"], code, "{json}");
        assert!(json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // Exactly at the limit (in bytes of UTF-8) is accepted.
    let (got, json) = daemon.post_message(&chat, "u", "user", &"é".repeat(32_768));
    assert_eq!(got, 201, "{json}");
    let (got, json) = daemon.get("/v1/chats/not-a-uuid");
    assert_eq!(
        (got, json["error"]["code"].as_str()),
        (400, Some("invalid_chat_id"))
    );
    let (got, json) = daemon.get(&format!("/v1/chats/{}", new_uuid()));
    assert_eq!(
        (got, json["error"]["code"].as_str()),
        (404, Some("chat_not_found"))
    );
    let (got, json) = daemon.get("/no/such/thing");
    assert_eq!(
        (got, json["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (got, json) = daemon.get("/admin/dead-letters?limit=0");
    assert_eq!(
        (got, json["error"]["code"].as_str()),
        (400, Some("invalid_limit"))
    );
    // Nothing bad reached the outbox; the one good message did.
    assert_eq!(env.count("SELECT count(*) FROM outbox_events"), 1);
}

#[test]
fn the_admin_token_is_enforced() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", "s3cret-token")]);
    for path in ["/admin/status", "/admin/dead-letters"] {
        let (code, body) = daemon.get_auth(path, None);
        assert_eq!(
            (code, body["error"]["code"].as_str()),
            (401, Some("unauthorized")),
            "{path}"
        );
        let (code, _) = daemon.get_auth(path, Some("wrong"));
        assert_eq!(code, 401, "{path}");
        let (code, _) = daemon.get_auth(path, Some("s3cret-token"));
        assert_eq!(code, 200, "{path}");
    }
    assert_eq!(daemon.get("/healthz").0, 200);
    assert_eq!(daemon.get("/readyz").0, 200);
    assert!(!daemon.log_text().contains("s3cret-token"));
}

fn run_with_env(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = Command::new(binary())
        .arg("run")
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run memlink");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_errors_exit_64_with_one_line_and_no_secret() {
    let (code, err) = run_with_env(&[("REDIS_URL", "redis://127.0.0.1:6379")]);
    assert_eq!(code, Some(64));
    assert_eq!(
        err.trim(),
        "memlink: configuration error: DATABASE_URL is not set"
    );

    let (code, err) = run_with_env(&[
        (
            "DATABASE_URL",
            "postgres://memlink:hunter2@127.0.0.1:5432/x",
        ),
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("MEMLINK_HTTP_ADDR", "nowhere"),
    ]);
    assert_eq!(code, Some(64));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("MEMLINK_HTTP_ADDR"), "{err}");

    let (code, err) = run_with_env(&[
        (
            "DATABASE_URL",
            "postgres://memlink:hunter2@127.0.0.1:5432/x",
        ),
        ("REDIS_URL", "redis://:pw@127.0.0.1:6379"),
        ("MEMLINK_RECLAIM_IDLE_SECS", "soon"),
    ]);
    assert_eq!(code, Some(64));
    assert!(
        !err.contains("hunter2") && err.contains("MEMLINK_RECLAIM_IDLE_SECS"),
        "{err}"
    );
}

/// POSTs a message with an `Idempotency-Key`; returns status, body and whether the answer
/// says it is a replay.
fn post_keyed(
    daemon: &Daemon,
    chat: &str,
    key: &str,
    body: &str,
) -> (u16, serde_json::Value, bool) {
    let resp = ureq::post(&daemon.url(&format!("/v1/chats/{chat}/messages")))
        .timeout(std::time::Duration::from_secs(30))
        .set("Content-Type", "application/json")
        .set("Idempotency-Key", key)
        .send_string(body);
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST: {e}"),
    };
    let status = resp.status();
    let replayed = resp.header("Idempotent-Replayed") == Some("true");
    let text = resp.into_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        replayed,
    )
}

/// A retried POST with the same `Idempotency-Key` gets the first answer and stores nothing,
/// also when the daemon died (kill -9) before the client saw that answer; the same key with
/// another request is a 422; concurrent duplicates store one message; keys are per chat and
/// honoured for 24 hours.
#[test]
fn idempotency_keys_make_retries_safe() {
    let env = TestEnv::new();
    let mut daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    let key = new_uuid();
    let body = r#"{"user_id":"ida","role":"user","content":"My name is Ida."}"#;
    let (status, first, replayed) = post_keyed(&daemon, &chat, &key, body);
    assert_eq!((status, replayed), (201, false), "{first}");
    assert!(first["message_id"].is_string() && first["event_id"].is_string());
    // The daemon dies before the client hears back; the client retries on a new daemon, with
    // the same request written differently.
    daemon.kill_hard();
    let daemon = env.spawn_daemon(&[]);
    let same = r#"{ "content": "My name is Ida.", "role": "user", "user_id": "ida" }"#;
    let (status, again, replayed) = post_keyed(&daemon, &chat, &key, same);
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again, first);
    // The sf-string form of the draft names the same key.
    let (status, quoted, _) = post_keyed(&daemon, &chat, &format!("\"{key}\""), body);
    assert_eq!((status, &quoted), (201, &first));
    assert_eq!(env.count("SELECT count(*) FROM messages"), 1);
    assert_eq!(env.count("SELECT count(*) FROM outbox_events"), 1);
    // The same key with another request is refused, and stores nothing.
    let other = r#"{"user_id":"ida","role":"user","content":"My name is Eve."}"#;
    let (status, err, _) = post_keyed(&daemon, &chat, &key, other);
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "idempotency_key_reused", "{err}");
    assert_eq!(env.count("SELECT count(*) FROM messages"), 1);
    // Keys are scoped to the chat: the same key in another chat is another key.
    let (status, elsewhere, replayed) = post_keyed(&daemon, &new_uuid(), &key, body);
    assert_eq!((status, replayed), (201, false), "{elsewhere}");
    assert_ne!(elsewhere["message_id"], first["message_id"]);
    // A refused request does not use up its key.
    let fresh = new_uuid();
    let bad = r#"{"user_id":"ida","role":"admin","content":"hi"}"#;
    assert_eq!(post_keyed(&daemon, &chat, &fresh, bad).0, 422);
    let (status, _, replayed) = post_keyed(&daemon, &chat, &fresh, body);
    assert_eq!((status, replayed), (201, false));
    assert_eq!(env.count("SELECT count(*) FROM messages"), 3);
    // Concurrent duplicates: one message, every answer the same.
    let race_key = new_uuid();
    let answers: Vec<(u16, serde_json::Value, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| post_keyed(&daemon, &chat, &race_key, body)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        answers
            .iter()
            .all(|(st, b, _)| *st == 201 && *b == answers[0].1),
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|(_, _, replayed)| !replayed).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(env.count("SELECT count(*) FROM messages"), 4);
    // Honoured for 24 hours; after that the key is a new one.
    let age = |hours: i32| {
        env.pg()
            .execute(
                "UPDATE idempotency_keys SET created_at = now() - make_interval(hours => $1) WHERE key = $2",
                &[&hours, &key],
            )
            .unwrap();
    };
    age(23);
    let (status, late, replayed) = post_keyed(&daemon, &chat, &key, body);
    assert_eq!((status, replayed, &late), (201, true, &first));
    age(25);
    let (status, expired, replayed) = post_keyed(&daemon, &chat, &key, body);
    assert_eq!((status, replayed), (201, false), "{expired}");
    assert_ne!(expired["message_id"], first["message_id"]);
    assert_eq!(env.count("SELECT count(*) FROM messages"), 5);
    // Bad keys are refused with a typed error.
    for bad_key in ["", "  ", &"k".repeat(256), "\"unterminated", "\"a\"b\""] {
        let (status, err, _) = post_keyed(&daemon, &chat, bad_key, body);
        assert_eq!(status, 400, "{bad_key:?}: {err}");
        assert_eq!(err["error"]["code"], "invalid_idempotency_key", "{err}");
    }
    assert_eq!(env.count("SELECT count(*) FROM messages"), 5);
}

/// A URL that does not parse is still reported without its password, by every command
/// that reads it, and the process exits 64 before connecting anywhere.
#[test]
fn unparsable_urls_exit_64_without_their_password() {
    let good_db = "postgres://memlink@127.0.0.1:5432/x";
    let good_redis = "redis://127.0.0.1:6379";
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "LeakMe1",
            vec![
                ("DATABASE_URL", "postgres://u:LeakMe1@127.0.0.1:notaport/db"),
                ("REDIS_URL", good_redis),
            ],
        ),
        (
            "LeakMe2",
            vec![
                ("DATABASE_URL", "postgres://u:LeakMe2@[::1/db"),
                ("REDIS_URL", good_redis),
            ],
        ),
        (
            "LeakR1",
            vec![
                ("DATABASE_URL", good_db),
                ("REDIS_URL", "redis://:LeakR1@127.0.0.1:notaport/0"),
            ],
        ),
        (
            "LeakL1",
            vec![
                ("DATABASE_URL", good_db),
                ("REDIS_URL", good_redis),
                ("MEMLINK_EXTRACTOR", "llm"),
                ("MEMLINK_LLM_MODEL", "m"),
                (
                    "MEMLINK_LLM_BASE_URL",
                    "http://u:LeakL1@127.0.0.1:notaport/v1",
                ),
            ],
        ),
    ];
    for (secret, env) in &cases {
        let commands: &[&[&str]] = if env[0].1.contains(secret) {
            // DATABASE_URL is read by every command.
            &[&["run"], &["migrate"], &["doctor"], &["dlq", "list"]]
        } else {
            &[&["run"], &["doctor"]]
        };
        for args in commands {
            let out = run_binary(args, env);
            assert_eq!(out.code, Some(64), "{args:?} {env:?}: {}", out.stderr);
            assert!(
                out.stderr.contains("configuration error") && out.stderr.contains("***"),
                "{args:?}: {}",
                out.stderr
            );
            assert!(
                !out.stderr.contains(secret) && !out.stdout.contains(secret),
                "{args:?} printed the password: {}",
                out.stderr
            );
        }
    }
}

#[test]
fn help_lists_the_commands() {
    let out = Command::new(binary())
        .arg("--help")
        .output()
        .expect("run memlink");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("run") && text.contains("migrate"), "{text}");
}

#[test]
fn migrate_is_idempotent() {
    let env = TestEnv::new();
    for _ in 0..2 {
        let out = Command::new(binary())
            .arg("migrate")
            .env("DATABASE_URL", &env.database_url)
            .output()
            .expect("run memlink migrate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // One row per migration file, however many branches have added.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".sql"))
        })
        .count() as i64;
    assert_eq!(
        env.count("SELECT count(*) FROM refinery_schema_history"),
        files
    );
}

#[test]
fn a_start_on_a_migrated_database_logs_no_postgres_notice() {
    let env = TestEnv::new();
    env.migrate();
    // The daemon migrates again (nothing to do): refinery's `CREATE TABLE IF NOT EXISTS`
    // must not surface as an INFO line on every start.
    let mut daemon = env.spawn_daemon(&[("RUST_LOG", "info")]);
    daemon
        .wait_for_log("event=ready", LONG)
        .expect("the daemon is ready");
    let migrated = daemon.log_lines_with("event=migrations_applied count=0");
    assert_eq!(migrated.len(), 1, "{}", daemon.log_text());
    let notices: Vec<String> = daemon
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("NOTICE") || l.contains("already exists"))
        .collect();
    assert!(notices.is_empty(), "{notices:?}");
}

#[test]
fn no_migrate_refuses_a_schema_that_is_behind() {
    let env = TestEnv::new();
    let out = Command::new(binary())
        .args(["run", "--no-migrate"])
        .env_clear()
        .env("DATABASE_URL", &env.database_url)
        .env("REDIS_URL", &env.redis_url)
        .env("MEMLINK_HTTP_ADDR", "127.0.0.1:0")
        .env("MEMLINK_STREAM", &env.stream)
        .env("MEMLINK_GROUP", &env.group)
        .output()
        .expect("run memlink");
    assert_eq!(out.status.code(), Some(69));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("memlink migrate"), "{err}");
    assert!(!err.contains("http_listening"), "nothing was bound: {err}");
    assert_eq!(
        env.count("SELECT count(*) FROM pg_tables WHERE tablename = 'outbox_events'"),
        0,
        "--no-migrate changed nothing"
    );
}
