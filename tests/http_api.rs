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
