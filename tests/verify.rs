//! `memlink verify` against a running daemon: the synthetic message goes through every stage
//! (through the API, and straight into the outbox) and leaves nothing behind; without a
//! daemon it fails, naming the first stage that did not complete, and still cleans up.

mod common;

use common::*;
use serde_json::Value;

/// Rows and entries a verify run may have left: all must be zero afterwards.
fn leftovers(env: &TestEnv) -> Vec<(&'static str, i64)> {
    let checks: [(&str, &str); 7] = [
        (
            "facts",
            "SELECT count(*) FROM facts WHERE user_id LIKE 'memlink-verify-%'",
        ),
        (
            "messages",
            "SELECT count(*) FROM messages WHERE user_id LIKE 'memlink-verify-%'",
        ),
        ("outbox_events", "SELECT count(*) FROM outbox_events"),
        ("processed_events", "SELECT count(*) FROM processed_events"),
        ("chats", "SELECT count(*) FROM chats"),
        ("watermarks", "SELECT count(*) FROM watermarks"),
        ("dead_letters", "SELECT count(*) FROM dead_letters"),
    ];
    let mut out: Vec<(&'static str, i64)> = checks
        .iter()
        .map(|(name, sql)| (*name, env.count(sql)))
        .collect();
    let len: i64 = redis::cmd("XLEN")
        .arg(&env.stream)
        .query(&mut env.redis())
        .unwrap();
    out.push(("stream", len));
    out
}

fn all_zero(env: &TestEnv) {
    let left = leftovers(env);
    assert!(
        left.iter().all(|(_, n)| *n == 0),
        "synthetic data left: {left:?}"
    );
}

fn stage<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage {name}"))
}

const STAGES: [&str; 7] = [
    "stored",
    "outbox",
    "relayed",
    "processed",
    "fact",
    "title",
    "watermark",
];

#[test]
fn a_synthetic_message_passes_every_stage_through_the_api_and_is_removed() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let run = env.command(&["verify", "--json", "--base-url", &daemon.url("")], &[]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let trace = run.json();
    assert_eq!(trace["ok"], true);
    assert_eq!(trace["via"], "api");
    assert_eq!(trace["failed_stage"], Value::Null);
    let mut last = 0;
    for name in STAGES {
        let s = stage(&trace, name);
        assert_eq!(s["ok"], true, "{s}");
        let latency = s["latency_ms"].as_u64().unwrap();
        assert!(
            latency >= last,
            "latencies grow along the pipeline: {trace:#}"
        );
        last = latency;
    }
    let user = trace["user_id"].as_str().unwrap();
    assert!(user.starts_with("memlink-verify-"), "{user}");
    let name = stage(&trace, "fact")["detail"].as_str().unwrap();
    assert!(name.starts_with("name = VerifyBot"), "{name}");
    let entry = trace["stream_entry_id"].as_str().unwrap();
    assert!(stage(&trace, "relayed")["detail"]
        .as_str()
        .unwrap()
        .ends_with(entry));
    // Everything it made is gone, the stream entry included.
    for key in [
        "facts",
        "messages",
        "outbox_events",
        "processed_events",
        "chats",
        "watermarks",
    ] {
        assert_eq!(trace["cleanup"][key], 1, "{key}: {:#}", trace["cleanup"]);
    }
    assert_eq!(trace["cleanup"]["stream_entries"], 1);
    all_zero(&env);
    // The facts API agrees: the synthetic user has none left.
    let (code, body) = daemon.get(&format!("/v1/users/{user}/facts"));
    assert_eq!(code, 200);
    assert_eq!(body["facts"].as_array().unwrap().len(), 0);
}

#[test]
fn through_the_outbox_the_human_trace_shows_each_stage() {
    let env = TestEnv::new();
    let _daemon = env.spawn_daemon(&[]);
    let run = env.command(&["verify", "--outbox"], &[]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    for name in STAGES {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{}", run.stdout));
        assert!(line.contains("✅"), "{line}");
        assert!(line.contains("ms"), "{line}");
    }
    assert!(
        run.stdout.contains("verified: every stage completed"),
        "{}",
        run.stdout
    );
    all_zero(&env);
}

#[test]
fn without_a_daemon_the_outbox_event_is_never_relayed() {
    let env = TestEnv::new();
    env.migrate();
    let run = env.command(&["verify", "--outbox", "--json", "--timeout", "2"], &[]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let trace = run.json();
    assert_eq!(trace["ok"], false);
    assert_eq!(trace["failed_stage"], "relayed");
    assert_eq!(stage(&trace, "stored")["ok"], true);
    assert_eq!(stage(&trace, "outbox")["ok"], true);
    assert_eq!(stage(&trace, "relayed")["ok"], false);
    assert_eq!(
        stage(&trace, "processed")["ok"],
        Value::Null,
        "not attempted"
    );
    assert!(stage(&trace, "relayed")["latency_ms"].as_u64().unwrap() >= 2000);
    // The pending synthetic event is removed, not left for a relay to find later.
    assert_eq!(trace["cleanup"]["outbox_events"], 1);
    all_zero(&env);
    // The human form names the stage.
    let run = env.command(&["verify", "--outbox", "--timeout", "1"], &[]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout.contains("FAILED at stage relayed"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("❌ relayed"), "{}", run.stdout);
}

#[test]
fn without_a_daemon_the_api_cannot_store_the_message() {
    let env = TestEnv::new();
    env.migrate();
    let run = env.command(
        &[
            "verify",
            "--json",
            "--timeout",
            "2",
            "--base-url",
            "http://127.0.0.1:1",
        ],
        &[],
    );
    assert_eq!(run.code, Some(1));
    let trace = run.json();
    assert_eq!(trace["failed_stage"], "stored");
    assert!(stage(&trace, "stored")["detail"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1:1"));
    all_zero(&env);
}
