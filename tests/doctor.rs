//! `memlink doctor` against real Postgres and Redis: each detection recreates its condition
//! (a missing relay, a stale outbox, crash loops, a split brain, dead letters, stuck entries,
//! a schema behind the binary, unreachable dependencies, Redis without persistence) and
//! checks the finding, its details and the exit code. The same findings reach `/readyz`,
//! `/admin/status` and `/metrics`.

mod common;

use std::time::Duration;

use common::*;
use memlink_actors::plan::PANIC_MARKER;
use serde_json::{json, Value};

/// The reconciler counts as enabled unless a test says otherwise, so the shared Redis (which
/// may have no persistence) does not add a finding to every test.
const RECONCILER_ON: (&str, &str) = ("MEMLINK_RECONCILE_AFTER_SECS", "60");

fn doctor(env: &TestEnv, args: &[&str], extra: &[(&str, &str)]) -> (i32, Value) {
    let mut all = vec!["doctor", "--json"];
    all.extend_from_slice(args);
    let mut vars = vec![RECONCILER_ON];
    vars.extend_from_slice(extra);
    let run = env.command(&all, &vars);
    (run.code.expect("doctor exited by a signal"), run.json())
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn finding<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["code"] == code))
        .unwrap_or_else(|| panic!("no finding {code} in {report:#}"))
}

const FAST_HEARTBEAT: (&str, &str) = ("MEMLINK_HEARTBEAT_SECS", "1");

#[test]
fn a_healthy_pipeline_has_no_findings_and_exits_zero() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[FAST_HEARTBEAT, RECONCILER_ON]);
    let (code, _) = daemon.post_message(&new_uuid(), "hana", "user", "My name is Hana.");
    assert_eq!(code, 201);
    eventually("processed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == 1).then_some(())
    });
    let (code, report) = doctor(&env, &["--admin-url", &daemon.url("")], &[]);
    assert_eq!(codes(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);
    assert_eq!(report["snapshot"]["daemon"]["ready"], true);
    // The human report says so too.
    let run = env.command(&["doctor"], &[RECONCILER_ON]);
    assert_eq!(run.code, Some(0));
    assert!(run.stdout.contains("no problems found"), "{}", run.stdout);
    assert!(run.stdout.contains("1 alive"), "{}", run.stdout);
}

#[test]
fn pending_events_with_no_relay_alive_is_the_missing_relay_incident() {
    let env = TestEnv::new();
    let worker = env.spawn_daemon_with(
        &["run", "--role", "worker"],
        &[FAST_HEARTBEAT, RECONCILER_ON],
    );
    let actors: Vec<String> = worker.status()["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actors,
        vec!["retention", "watermark", "worker"],
        "a worker role runs no relay"
    );
    let chat = new_uuid();
    let (code, _) = worker.post_message(&chat, "noor", "user", "My name is Noor.");
    assert_eq!(code, 201);

    let (code, report) = doctor(&env, &[], &[]);
    assert_eq!(codes(&report), vec!["relay_missing"], "{report:#}");
    assert_eq!(code, 2);
    let f = finding(&report, "relay_missing");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["details"]["pending"], 1);
    assert!(
        f["message"].as_str().unwrap().contains("no relay is alive"),
        "{f}"
    );
    assert!(f["runbook"].as_str().unwrap().contains("--role relay"));
    // The worker itself says it is not ready, and why.
    let (status, body) = worker.get("/readyz");
    assert_eq!(status, 503);
    assert!(
        body["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("relay_missing:"),
        "{body}"
    );
    let text = ureq_text(&worker.url("/metrics"));
    assert!(
        text.contains("memlink_finding{code=\"relay_missing\",severity=\"critical\"} 1")
            || text.contains("memlink_finding{severity=\"critical\",code=\"relay_missing\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("memlink_live_instances{function=\"relay\"} 0"),
        "{text}"
    );

    // Starting a relay fixes it: the event flows and the finding goes away.
    let relay = env.spawn_daemon_with(
        &["run", "--role", "relay"],
        &[FAST_HEARTBEAT, RECONCILER_ON],
    );
    let actors = relay.status()["actors"].clone();
    let names: Vec<&str> = actors
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    // The reconciler re-publishes outbox rows, so it runs with the relay.
    assert_eq!(names, vec!["reconciler", "relay"]);
    eventually("the message is processed once a relay runs", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == 1).then_some(())
    });
    let (code, report) = doctor(&env, &[], &[]);
    assert_eq!(codes(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);
    let (status, _) = worker.get("/readyz");
    assert_eq!(status, 200);
}

fn ureq_text(url: &str) -> String {
    ureq::get(url)
        .call()
        .expect("GET")
        .into_string()
        .expect("body")
}

#[test]
fn an_old_pending_outbox_event_is_stale() {
    let env = TestEnv::new();
    env.migrate();
    let chat = new_uuid();
    let payload = message_payload(&chat, &new_uuid(), "olga", "hello", json!(1769067099));
    env.pg()
        .execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload, created_at)
             VALUES ($1, $2, 'message.created', $3, now() - interval '1 hour')",
            &[&uuid::Uuid::new_v4(), &chat, &payload],
        )
        .unwrap();
    let (code, report) = doctor(&env, &[], &[]);
    assert_eq!(code, 2, "{report:#}");
    let f = finding(&report, "outbox_stale");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["details"]["pending"], 1);
    let age = f["details"]["oldest_pending_age_s"].as_f64().unwrap();
    assert!((3600.0..3700.0).contains(&age), "{age}");
    // No relay has ever run: that is the missing relay, and it says so.
    assert!(finding(&report, "relay_missing")["message"]
        .as_str()
        .unwrap()
        .contains("no relay heartbeat in the last hour"));
    // A threshold above the age: not stale.
    let (_, report) = doctor(&env, &["--outbox-stale-secs", "7200"], &[]);
    assert!(!codes(&report).contains(&"outbox_stale".to_owned()));
}

#[test]
fn a_worker_restarting_repeatedly_is_an_actor_crash_loop() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[
        FAST_HEARTBEAT,
        RECONCILER_ON,
        ("MEMLINK_RESTART_INTENSITY", "100"),
    ]);
    let chat = new_uuid();
    for i in 0..3u64 {
        env.xadd_message(
            &new_uuid(),
            &message_payload(
                &chat,
                &new_uuid(),
                "pat",
                PANIC_MARKER,
                json!(1769067099 + i),
            ),
        );
        eventually("the worker restarted", LONG, || {
            (daemon.restarts("worker") == i + 1).then_some(())
        });
    }
    let report = eventually("the heartbeat carries the restarts", LONG, || {
        let (code, report) = doctor(&env, &[], &[]);
        (code == 2 && codes(&report).contains(&"actor_crash_loop".to_owned())).then_some(report)
    });
    let f = finding(&report, "actor_crash_loop");
    assert_eq!(f["details"]["actor"], "worker");
    assert_eq!(f["details"]["recent_restarts"], 3);
    assert!(
        f["details"]["last_error"]
            .as_str()
            .unwrap()
            .contains("panicked"),
        "{f}"
    );
    // The three poison messages are the dead letters, grouped under one reason.
    let dl = finding(&report, "dead_letters");
    assert_eq!(dl["details"]["total"], 3);
    assert_eq!(dl["details"]["by_reason"][0]["reason"], "panic");
    let metrics = ureq_text(&daemon.url("/metrics"));
    assert!(
        metrics.contains("memlink_actor_restarts_total{actor=\"worker\"} 3"),
        "{metrics}"
    );
    let (status, body) = daemon.get("/readyz");
    assert_eq!(status, 503, "{body}");
}

#[test]
fn a_process_that_keeps_dying_is_a_process_crash_loop() {
    let env = TestEnv::new();
    for _ in 0..3 {
        let mut d = env.spawn_daemon(&[FAST_HEARTBEAT, RECONCILER_ON]);
        d.kill_hard();
    }
    // Dead rows go stale after three missed heartbeats.
    std::thread::sleep(Duration::from_millis(3500));
    let (code, report) = doctor(&env, &[], &[]);
    assert_eq!(code, 2, "{report:#}");
    let f = finding(&report, "process_crash_loop");
    assert_eq!(f["details"]["crashes"], 3);
    assert_eq!(f["details"]["role"], "all");
    assert!(f["message"]
        .as_str()
        .unwrap()
        .contains("vanished without a stop"));
    assert!(codes(&report).contains(&"no_daemon".to_owned()));

    // Graceful stops (deploys) are not crashes.
    let env = TestEnv::new();
    for _ in 0..3 {
        let mut d = env.spawn_daemon(&[FAST_HEARTBEAT, RECONCILER_ON]);
        d.signal("TERM");
        assert_eq!(d.wait_exit(LONG).and_then(|s| s.code()), Some(0));
    }
    let (_, report) = doctor(&env, &[], &[]);
    assert!(
        !codes(&report).contains(&"process_crash_loop".to_owned()),
        "{report:#}"
    );
}

#[test]
fn relay_and_worker_on_different_streams_is_a_split_brain() {
    let env = TestEnv::new();
    let other_stream = format!("{}-elsewhere", env.stream);
    let relay = env.spawn_daemon_with(
        &["run", "--role", "relay"],
        &[FAST_HEARTBEAT, RECONCILER_ON],
    );
    let worker = env.spawn_daemon_with(
        &["run", "--role", "worker"],
        &[
            FAST_HEARTBEAT,
            RECONCILER_ON,
            ("MEMLINK_STREAM", &other_stream),
        ],
    );
    let (code, report) = doctor(&env, &[], &[]);
    let _cleanup = DelStream(env.redis_url.clone(), other_stream.clone());
    assert_eq!(code, 2, "{report:#}");
    assert!(
        codes(&report).contains(&"split_brain".to_owned()),
        "{report:#}"
    );
    let f = finding(&report, "split_brain");
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("stream {} ", env.stream)),
        "{message}"
    );
    assert!(
        message.contains(&format!("stream {other_stream} ")),
        "{message}"
    );
    assert!(message.contains("which no live worker reads"), "{message}");
    assert!(message.contains("which no live relay feeds"), "{message}");
    let sides: Vec<&str> = f["details"]["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["side"].as_str().unwrap())
        .collect();
    assert_eq!(sides, vec!["relay", "worker"]);
    // Both daemons refuse readiness and list it in their status.
    for d in [&relay, &worker] {
        let (status, body) = d.get("/readyz");
        assert_eq!(status, 503);
        assert!(body.to_string().contains("split_brain"), "{body}");
        assert!(d.status()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "split_brain"));
    }
}

#[test]
fn relay_and_worker_on_different_redis_servers_is_a_split_brain() {
    let other = PrivateRedis::start(&["--save", "", "--appendonly", "no"]);
    let env = TestEnv::new();
    let _relay = env.spawn_daemon_with(
        &["run", "--role", "relay"],
        &[FAST_HEARTBEAT, RECONCILER_ON],
    );
    let _worker = env.spawn_daemon_with(
        &["run", "--role", "worker"],
        &[FAST_HEARTBEAT, RECONCILER_ON, ("REDIS_URL", &other.url)],
    );
    let (code, report) = doctor(&env, &[], &[]);
    assert_eq!(code, 2, "{report:#}");
    let f = finding(&report, "split_brain");
    let workers = f["details"]["worker_routes"].as_array().unwrap();
    let relays = f["details"]["relay_routes"].as_array().unwrap();
    assert_eq!((workers.len(), relays.len()), (1, 1));
    // Same stream and group names, different servers.
    assert_ne!(workers[0], relays[0]);
    assert!(workers[0]
        .as_str()
        .unwrap()
        .ends_with(&format!("stream {} group {}", env.stream, env.group)));
}

struct DelStream(String, String);

impl Drop for DelStream {
    fn drop(&mut self) {
        if let Ok(mut c) = redis::Client::open(self.0.as_str()).and_then(|c| c.get_connection()) {
            let _: Result<i64, _> = redis::cmd("DEL").arg(&self.1).query(&mut c);
        }
    }
}

#[test]
fn dead_letters_are_grouped_by_reason_with_an_example() {
    let env = TestEnv::new();
    let _daemon = env.spawn_daemon(&[FAST_HEARTBEAT, RECONCILER_ON]);
    let first = env.xadd(&[
        ("event_id", new_uuid().as_bytes()),
        ("event_type", b"message.created"),
        ("payload", b"{oops"),
    ]);
    let second = env.xadd(&[
        ("event_id", new_uuid().as_bytes()),
        ("event_type", b"message.created"),
        ("payload", b"[1,2"),
    ]);
    let mut missing = message_payload(&new_uuid(), &new_uuid(), "u", "hi", json!(1769067099));
    missing.as_object_mut().unwrap().remove("user_id");
    env.xadd_message(&new_uuid(), &missing);
    eventually("three dead letters", LONG, || {
        (env.count("SELECT count(*) FROM dead_letters") == 3).then_some(())
    });
    let (code, report) = doctor(&env, &[], &[]);
    assert_eq!(code, 1, "warnings only: {report:#}");
    assert_eq!(codes(&report), vec!["dead_letters"]);
    let f = finding(&report, "dead_letters");
    assert_eq!(f["details"]["total"], 3);
    let groups = f["details"]["by_reason"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["reason"], "invalid_json");
    assert_eq!(groups[0]["count"], 2);
    assert_eq!(groups[1]["reason"], "missing_field");
    assert_eq!(groups[1]["count"], 1);
    let message = f["message"].as_str().unwrap();
    assert!(
        message.starts_with("3 dead letters await triage: invalid_json ×2"),
        "{message}"
    );
    assert!(message.contains("missing_field ×1"), "{message}");
    // Each group names one example letter.
    assert_eq!(groups[0]["example_source"], "stream");
    let example = groups[0]["example_ref"].as_str().unwrap();
    assert!(example == first || example == second, "{example}");
    assert!(groups[1]["example_detail"]
        .as_str()
        .unwrap()
        .contains("user_id"));
}

#[test]
fn entries_pending_far_longer_than_the_reclaim_timeout_are_stuck() {
    let env = TestEnv::new();
    env.migrate();
    env.create_group(&env.group);
    for _ in 0..2 {
        env.xadd_message(
            &new_uuid(),
            &message_payload(&new_uuid(), &new_uuid(), "u", "hi", json!(1769067099)),
        );
    }
    // A consumer that read them and died.
    env.read_as(&env.group, "ghost", 10);
    let reclaim = ("MEMLINK_RECLAIM_IDLE_SECS", "1");
    let (_, report) = doctor(&env, &[], &[reclaim]);
    assert!(
        !codes(&report).contains(&"stream_pending_stuck".to_owned()),
        "not yet: {report:#}"
    );
    // Three reclaim timeouts later, nobody took them over.
    std::thread::sleep(Duration::from_millis(3200));
    let (code, report) = doctor(&env, &[], &[reclaim]);
    assert_eq!(code, 2, "{report:#}");
    let f = finding(&report, "stream_pending_stuck");
    assert_eq!(f["details"]["count"], 2);
    assert_eq!(f["details"]["consumers"], json!(["ghost"]));
    assert_eq!(f["details"]["threshold_ms"], 3000);
    assert!(f["details"]["max_idle_ms"].as_i64().unwrap() >= 3000);
    // And with nobody alive to read them: the worker is missing.
    assert_eq!(finding(&report, "worker_missing")["details"]["backlog"], 2);
}

#[test]
fn a_database_behind_the_binary_is_schema_behind() {
    let env = TestEnv::new();
    env.migrate();
    let mut pg = env.pg();
    let latest: i32 = pg
        .query_one("SELECT max(version) FROM refinery_schema_history", &[])
        .unwrap()
        .get(0);
    pg.execute(
        "DELETE FROM refinery_schema_history WHERE version = $1",
        &[&latest],
    )
    .unwrap();
    let (code, report) = doctor(&env, &[], &[]);
    assert_eq!(code, 2);
    let f = finding(&report, "schema_behind");
    assert_eq!(f["details"]["expected"], latest);
    assert!(f["details"]["found"].as_i64().unwrap() < i64::from(latest));
    assert!(f["runbook"].as_str().unwrap().contains("memlink migrate"));
}

#[test]
fn unreachable_dependencies_are_named_with_redacted_urls() {
    let env = TestEnv::new();
    let run = env.command(
        &["doctor", "--json"],
        &[
            (
                "DATABASE_URL",
                "postgres://memlink:s3cret@127.0.0.1:1/memlink",
            ),
            ("REDIS_URL", "redis://:hunter2@127.0.0.1:1/0"),
        ],
    );
    assert_eq!(run.code, Some(2));
    assert!(
        !run.stdout.contains("s3cret") && !run.stdout.contains("hunter2"),
        "{}",
        run.stdout
    );
    let report = run.json();
    let pg = finding(&report, "postgres_unreachable");
    assert_eq!(
        pg["details"]["url"],
        "postgres://memlink:***@127.0.0.1:1/memlink"
    );
    assert!(
        pg["details"]["error"].as_str().unwrap().contains("refused"),
        "{pg}"
    );
    let redis = finding(&report, "redis_unreachable");
    assert_eq!(redis["details"]["url"], "redis://:***@127.0.0.1:1/0");
    // The human report names both too.
    let run = env.command(
        &["doctor"],
        &[(
            "DATABASE_URL",
            "postgres://memlink:s3cret@127.0.0.1:1/memlink",
        )],
    );
    assert_eq!(run.code, Some(2));
    assert!(run.stdout.contains("postgres_unreachable: cannot reach Postgres at postgres://memlink:***@127.0.0.1:1/memlink"), "{}", run.stdout);
    assert!(!run.stdout.contains("s3cret"));
}

#[test]
fn redis_without_persistence_while_the_reconciler_is_off() {
    let volatile = PrivateRedis::start(&["--save", "", "--appendonly", "no"]);
    let env = TestEnv::new();
    env.migrate();
    let off = ("MEMLINK_RECONCILE_AFTER_SECS", "0");
    let redis = ("REDIS_URL", volatile.url.as_str());
    // No daemon runs yet (`no_daemon`): the doctor's own environment decides.
    let (code, report) = doctor(&env, &[], &[redis, off]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(codes(&report), vec!["no_daemon", "redis_not_persistent"]);
    assert_eq!(
        finding(&report, "redis_not_persistent")["details"]["appendonly"],
        false
    );
    // The reconciler on: no finding.
    let (_, report) = doctor(&env, &[], &[redis]);
    assert_eq!(codes(&report), vec!["no_daemon"]);
    // A live relay's own setting (the reconciler runs with the relay) wins over the doctor's
    // environment.
    let _d = env.spawn_daemon(&[FAST_HEARTBEAT, redis, off]);
    let (_, report) = doctor(&env, &[], &[redis]);
    assert_eq!(codes(&report), vec!["redis_not_persistent"], "{report:#}");
    assert_eq!(
        finding(&report, "redis_not_persistent")["details"]["reconciler_source"],
        "the live relays"
    );
    // A Redis that keeps an append-only file is fine without the reconciler.
    let durable = PrivateRedis::start(&["--appendonly", "yes"]);
    let (code, report) = doctor(&env, &[], &[("REDIS_URL", durable.url.as_str()), off]);
    assert!(
        !codes(&report).contains(&"redis_not_persistent".to_owned()),
        "{report:#}"
    );
    let _ = code;
}

#[test]
fn a_database_ahead_of_the_binary_is_schema_ahead() {
    let env = TestEnv::new();
    env.migrate();
    env.pg()
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             VALUES (999, 'from_the_future', now()::text, '0')",
            &[],
        )
        .unwrap();
    let (code, report) = doctor(&env, &[], &[]);
    let f = finding(&report, "schema_ahead");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["details"]["found"], 999);
    assert_eq!(code, 1, "{report:#}");
}

#[test]
fn the_admin_endpoint_is_checked_when_given() {
    let env = TestEnv::new();
    // Nothing listens there.
    let (code, report) = doctor(&env, &["--admin-url", "http://127.0.0.1:1"], &[]);
    assert_eq!(code, 2);
    let f = finding(&report, "daemon_unreachable");
    assert!(
        f["message"].as_str().unwrap().contains("127.0.0.1:1"),
        "{f}"
    );

    // A worker-only daemon with an event pending: not ready, and the token is wrong.
    let worker = env.spawn_daemon_with(
        &["run", "--role", "worker"],
        &[
            FAST_HEARTBEAT,
            RECONCILER_ON,
            ("MEMLINK_ADMIN_TOKEN", "right"),
        ],
    );
    let (status, _) = worker.post_message(&new_uuid(), "ana", "user", "hello");
    assert_eq!(status, 201);
    let url = worker.url("");
    let (code, report) = doctor(&env, &["--admin-url", &url, "--admin-token", "wrong"], &[]);
    assert_eq!(code, 2);
    let not_ready = finding(&report, "daemon_not_ready");
    assert!(
        not_ready["details"]["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("relay_missing:"),
        "{not_ready}"
    );
    finding(&report, "daemon_unauthorized");
    // The right token (from the environment, as systemd would pass it): accepted.
    let (_, report) = doctor(
        &env,
        &["--admin-url", &url],
        &[("MEMLINK_ADMIN_TOKEN", "right")],
    );
    assert!(
        !codes(&report).contains(&"daemon_unauthorized".to_owned()),
        "{report:#}"
    );
    // The token never appears in the output.
    let run = env.command(
        &[
            "doctor",
            "--json",
            "--admin-url",
            &url,
            "--admin-token",
            "wrong",
        ],
        &[RECONCILER_ON],
    );
    assert!(!run.stdout.contains("\"wrong\""));
}
