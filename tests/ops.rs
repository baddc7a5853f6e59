//! Running memlink like production: `/metrics` reports the pipeline with exact values, JSON
//! logs carry every event field, the docs list every log code, finding and alert, and the
//! alert rules pass promtool (Debian package prometheus, installed by scripts/test.sh).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use yaml_rust2::{Yaml, YamlLoader};

fn metrics(daemon: &Daemon) -> String {
    let resp = ureq::get(&daemon.url("/metrics"))
        .call()
        .expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.content_type().starts_with("text/plain"),
        "{}",
        resp.content_type()
    );
    resp.into_string().expect("body")
}

/// The value of one sample line, e.g. `memlink_relayed_total` or
/// `memlink_dead_letters_total{reason="invalid_json",actor="worker"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[test]
fn metrics_report_the_pipeline_with_exact_values() {
    let env = TestEnv::new();
    // A consumer that read an entry and died, before any memlink runs.
    env.create_group(&env.group);
    let now = chrono::Utc::now().timestamp();
    env.xadd_message(
        &new_uuid(),
        &message_payload(
            &new_uuid(),
            &new_uuid(),
            "rey",
            "I live in Oslo.",
            json!(now),
        ),
    );
    env.read_as(&env.group, "ghost", 1);
    let daemon = env.spawn_daemon(&[
        ("MEMLINK_RECLAIM_IDLE_SECS", "1"),
        ("MEMLINK_ADMIN_TOKEN", "s3cret-token"),
        ("MEMLINK_RECONCILE_AFTER_SECS", "60"),
    ]);
    let (code, _) = daemon.post_message(&new_uuid(), "ida", "user", "My name is Ida.");
    assert_eq!(code, 201);
    env.xadd(&[
        ("event_id", new_uuid().as_bytes()),
        ("event_type", b"message.created"),
        ("payload", b"{oops"),
    ]);
    eventually("both messages processed, one letter", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == 2
            && env.count("SELECT count(*) FROM dead_letters") == 1)
            .then_some(())
    });
    // /metrics needs no token even when the admin surface does.
    let text = eventually("the counters settle", LONG, || {
        let t = metrics(&daemon);
        (sample(&t, "memlink_watermark_folded_total") == Some(2.0)).then_some(t)
    });
    let expect = [
        ("memlink_build_info{version=\"0.1.0\"}", 1.0),
        ("memlink_relayed_total", 1.0),
        (
            "memlink_processed_total{event_type=\"message.created\"}",
            2.0,
        ),
        ("memlink_duplicates_total", 0.0),
        (
            "memlink_dead_letters_total{reason=\"invalid_json\",actor=\"worker\"}",
            1.0,
        ),
        ("memlink_reclaimed_total", 1.0),
        ("memlink_outbox_pending", 0.0),
        ("memlink_outbox_oldest_pending_age_seconds", 0.0),
        ("memlink_dead_letters_open", 1.0),
        ("memlink_stream_length", 3.0),
        ("memlink_stream_pending", 0.0),
        ("memlink_stream_lag", 0.0),
        ("memlink_end_to_end_latency_seconds_count", 2.0),
        ("memlink_postgres_up", 1.0),
        ("memlink_redis_up", 1.0),
        ("memlink_actor_up{actor=\"relay\"}", 1.0),
        ("memlink_actor_up{actor=\"worker\"}", 1.0),
        ("memlink_live_instances{function=\"relay\"}", 1.0),
        ("memlink_live_instances{function=\"worker\"}", 1.0),
        (
            "memlink_finding{code=\"dead_letters\",severity=\"warning\"}",
            1.0,
        ),
        (
            "memlink_finding{code=\"split_brain\",severity=\"critical\"}",
            0.0,
        ),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, series), Some(value), "{series}\n{text}");
    }
    for present in [
        "memlink_batch_size_bucket{actor=\"worker\",le=\"1\"}",
        "memlink_batch_duration_seconds_count{actor=\"relay\"}",
        "memlink_pg_pool_connections{state=\"idle\"}",
        "memlink_redis_pool_connections{state=\"in_use\"}",
        "memlink_heartbeat_last_success_timestamp_seconds",
        "# TYPE memlink_end_to_end_latency_seconds histogram",
    ] {
        assert!(text.contains(present), "{present} missing:\n{text}");
    }
    // Both messages took well under a minute from created_at to committed effects.
    assert_eq!(
        sample(
            &text,
            "memlink_end_to_end_latency_seconds_bucket{le=\"60\"}"
        ),
        Some(2.0)
    );
    assert!(!text.contains("s3cret-token"));
}

#[test]
fn json_logs_carry_every_event_field() {
    let env = TestEnv::new();
    let mut daemon = env.spawn_daemon(&[("MEMLINK_LOG_FORMAT", "json")]);
    env.xadd(&[
        ("event_id", new_uuid().as_bytes()),
        ("event_type", b"message.created"),
        ("payload", b"{\"quoted\": \"x"),
    ]);
    let line = daemon
        .wait_for_log("\"event\":\"dead_letter\"", LONG)
        .expect("a dead_letter line");
    let v: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(v["level"], "WARN");
    assert_eq!(v["target"], "memlink::worker");
    assert_eq!(v["reason"], "invalid_json");
    assert_eq!(v["source"], "stream");
    assert!(v["detail"].as_str().unwrap().contains("EOF"), "{v}");
    assert!(v.get("message").is_none(), "fully parsed: {v}");
    daemon.signal("TERM");
    daemon.wait_exit(LONG).expect("exits");
    let lines = daemon.log_lines();
    let mut events = BTreeSet::new();
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        for key in ["ts", "level", "target"] {
            assert!(v[key].is_string(), "{key} missing: {l}");
        }
        if let Some(e) = v["event"].as_str() {
            events.insert(e.to_owned());
        }
    }
    for e in ["starting", "ready", "stopping", "stopped", "actor_started"] {
        assert!(events.contains(e), "no {e} in {events:?}");
    }
    let ready: Value = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["event"] == "ready")
        .unwrap();
    assert_eq!(ready["role"], "all");
}

/// `event=` codes in non-test source code.
fn logged_codes() -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("src"), root.join("actors/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (i, _) in code.match_indices("event=") {
                let name: String = code[i + 6..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    codes.insert(name);
                }
            }
        }
    }
    codes
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

#[test]
fn the_operations_table_lists_every_log_code() {
    let table = read("docs/operations.md");
    let codes = logged_codes();
    assert!(codes.len() > 30, "{codes:?}");
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !table.contains(&format!("| `{c}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "add a row to the table in docs/operations.md for: {missing:?}"
    );
}

/// `### Heading` anchors of the runbook, GitHub style (lowercase).
fn runbook_anchors() -> BTreeSet<String> {
    read("docs/runbook.md")
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|h| h.trim().to_lowercase())
        .collect()
}

fn alert_rules(rel: &str) -> Vec<Yaml> {
    let docs = YamlLoader::load_from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let groups = docs[0]["groups"].as_vec().expect("groups").clone();
    assert!(!groups.is_empty());
    groups
        .iter()
        .flat_map(|g| {
            assert!(g["name"].as_str().is_some());
            g["rules"].as_vec().expect("rules").clone()
        })
        .collect()
}

#[test]
fn the_runbook_covers_every_finding_and_every_alert() {
    let anchors = runbook_anchors();
    for (code, _, runbook) in memlink::ops::diagnose::CODES {
        assert!(
            anchors.contains(*code),
            "docs/runbook.md has no section {code}"
        );
        assert!(!runbook.is_empty());
    }
    let mut names = BTreeSet::new();
    for file in ["deploy/prometheus/alerts.yml", "deploy/loki/alerts.yml"] {
        let rules = alert_rules(file);
        assert!(rules.len() >= 5, "{file}");
        for rule in rules {
            let name = rule["alert"].as_str().expect("alert").to_owned();
            assert!(names.insert(name.clone()), "duplicate alert {name}");
            assert!(
                rule["expr"].as_str().is_some_and(|e| !e.is_empty()),
                "{name}"
            );
            let severity = rule["labels"]["severity"].as_str().unwrap_or("");
            assert!(
                ["critical", "warning"].contains(&severity),
                "{name}: {severity}"
            );
            assert!(rule["annotations"]["summary"].as_str().is_some(), "{name}");
            let link = rule["annotations"]["runbook"].as_str().expect("runbook");
            let anchor = link
                .strip_prefix("docs/runbook.md#")
                .expect("a runbook link");
            assert!(anchors.contains(anchor), "{name}: no section #{anchor}");
            if anchors.contains(&name.to_lowercase()) {
                assert_eq!(
                    anchor,
                    name.to_lowercase(),
                    "{name} links to its own section"
                );
            }
        }
    }
    // The rules the brief asked for exist.
    for required in [
        "MemlinkOutboxStale",
        "MemlinkDeadLettersIncreasing",
        "MemlinkActorRestartStorm",
        "MemlinkRelayNotRunning",
        "MemlinkWorkerNotRunning",
        "MemlinkStreamLagGrowing",
    ] {
        assert!(names.contains(required), "{required}");
    }
    // Every metric an alert uses is one memlink exports.
    let ops = read("docs/operations.md");
    let prom = read("deploy/prometheus/alerts.yml");
    for (i, _) in prom.match_indices("memlink_") {
        let metric: String = prom[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let base = metric
            .trim_end_matches("_bucket")
            .trim_end_matches("_count")
            .trim_end_matches("_sum");
        assert!(
            ops.contains(base),
            "{metric} is not documented in docs/operations.md"
        );
    }
}

fn promtool() -> bool {
    std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn the_prometheus_rules_pass_promtool() {
    assert!(
        promtool(),
        "promtool is not installed: install the Debian package prometheus (scripts/test.sh does)"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus");
    for args in [
        vec!["check", "rules", "alerts.yml"],
        vec!["test", "rules", "alerts_test.yml"],
    ] {
        let out = std::process::Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn roles_run_only_their_actors_and_say_so() {
    let env = TestEnv::new();
    let relay = env.spawn_daemon_with(&["run", "--role", "relay"], &[]);
    let status = relay.status();
    assert_eq!(status["role"], "relay");
    let names: Vec<&str> = status["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    // The reconciler re-publishes outbox rows, so it runs with the relay.
    assert_eq!(names, vec!["reconciler", "relay"]);
    assert!(!relay
        .log_lines_with("event=supervisor_started children=2")
        .is_empty());
    let worker = env.spawn_daemon_with(&["run"], &[("MEMLINK_ROLE", "worker")]);
    assert_eq!(worker.status()["role"], "worker");
    // Both heartbeats are in the table with their roles and routes.
    let rows = env
        .pg()
        .query(
            "SELECT role, stream, group_name, backend, bus_id IS NOT NULL, stopped_at IS NULL
               FROM heartbeats ORDER BY role",
            &[],
        )
        .unwrap();
    let rows: Vec<(String, String, String, String, bool, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "relay".into(),
                env.stream.clone(),
                env.group.clone(),
                "redis".into(),
                true,
                true
            ),
            (
                "worker".into(),
                env.stream.clone(),
                env.group.clone(),
                "redis".into(),
                true,
                true
            ),
        ]
    );
    // An unknown role is a usage error, before anything starts.
    let run = env.command(&["run", "--role", "both"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("both"), "{}", run.stderr);
    // A graceful stop is recorded as such.
    drop(relay);
    worker.signal("TERM");
    let mut worker = worker;
    worker.wait_exit(Duration::from_secs(30)).expect("exits");
    let reason: Option<String> = env
        .pg()
        .query_one(
            "SELECT stop_reason FROM heartbeats WHERE role = 'worker'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        reason.as_deref(),
        Some("SIGTERM"),
        "the worker's log:\n{}",
        worker.log_lines_with("event=").join("\n")
    );
}

/// The line filters (`|~ \`...\``) of every Loki rule, by alert. The evaluator below supports
/// exactly these; any other LogQL line filter or parser in a rule fails the test, so the
/// rules cannot drift away from what is tested.
fn loki_line_filters() -> Vec<(String, Vec<regex::Regex>)> {
    alert_rules("deploy/loki/alerts.yml")
        .iter()
        .map(|rule| {
            let name = rule["alert"].as_str().expect("alert").to_owned();
            let expr = rule["expr"].as_str().expect("expr");
            for unsupported in [
                "|=",
                "!=",
                "!~",
                "| json",
                "| logfmt",
                "| regexp",
                "| pattern",
            ] {
                assert!(!expr.contains(unsupported), "{name}: {unsupported}");
            }
            let mut filters = Vec::new();
            let mut rest = expr;
            while let Some(i) = rest.find("|~ `") {
                let after = &rest[i + 4..];
                let end = after.find('`').expect("closing backquote");
                // LogQL regexes are RE2; the regex crate reads the same syntax.
                filters.push(
                    regex::Regex::new(&after[..end]).unwrap_or_else(|e| panic!("{name}: {e}")),
                );
                rest = &after[end + 1..];
            }
            assert!(!filters.is_empty(), "{name} has no line filter");
            (name, filters)
        })
        .collect()
}

/// The `event` a line really has: the first field of a memlink message (text), or the
/// `event` key of a memlink record (JSON). `None` for a library's line.
fn genuine_event(line: &str) -> Option<String> {
    if line.starts_with('{') {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let target = v["target"].as_str().expect("target");
        if !target.starts_with("memlink") {
            return None;
        }
        return v["event"].as_str().map(str::to_owned);
    }
    let mut parts = line.splitn(4, ' ');
    let (_ts, level, target, message) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next().unwrap_or(""),
    );
    assert!(
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
        "not a log line (a forged line break?): {line:?}"
    );
    if !target.starts_with("memlink") {
        return None;
    }
    let code = message.strip_prefix("event=")?;
    Some(code.split(' ').next().unwrap_or("").to_owned())
}

/// Values a producer or an HTTP client controls, each trying to fire the critical alert.
const FORGED: &[&str] = &[
    "x\" event=supervisor_escalate FAKE=1",
    "x\n2026-01-01T00:00:00.000Z ERROR memlink::supervisor event=supervisor_escalate reason=\"f\"",
    "x\r\nevent=exit code=70",
    "\\\" event=exit \\",
    "x\u{2028}2026-01-01T00:00:00.000Z ERROR memlink::daemon event=exit\u{2029}\u{85}",
    "x\",\"event\":\"supervisor_escalate\",\"y\":\"",
    "x\\\",\\\"event\\\":\\\"exit\\\"",
];

/// Runs a daemon in `format`, feeds it every forged value through the stream, the outbox
/// and HTTP, and returns its log lines, with those of a real exit (code 69) appended.
fn attacked_daemon_lines(format: &str) -> Vec<String> {
    let env = TestEnv::new();
    let mut daemon = env.spawn_daemon(&[("MEMLINK_LOG_FORMAT", format)]);
    let mut pg = env.pg();
    for (i, forged) in FORGED.iter().enumerate() {
        // Stream: the event id is echoed in the dead_letter line; the role in its detail.
        env.xadd(&[
            ("event_id", forged.as_bytes()),
            ("event_type", b"message.created"),
            ("payload", b"{oops"),
        ]);
        let mut payload =
            message_payload(&new_uuid(), &new_uuid(), "u", "hi", json!(1_700_000_000));
        payload["role"] = json!(forged);
        env.xadd_message(&new_uuid(), &payload);
        // Outbox: a producer's row with a forged aggregate id and chat id.
        let payload = message_payload(forged, &new_uuid(), "u", "hi", json!(1_700_000_000));
        pg.execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1, $2, 'message.created', $3)",
            &[&uuid::Uuid::new_v4(), &format!("{forged}{i}"), &payload],
        )
        .unwrap();
    }
    let expected = 3 * FORGED.len() as i64;
    eventually("every forged input is dead-lettered", LONG, || {
        (env.count("SELECT count(*) FROM dead_letters") >= expected).then_some(())
    });
    // HTTP: a forged user id (printable ones are accepted and logged) and a forged actor.
    let letter: String = pg
        .query_one("SELECT id::text FROM dead_letters LIMIT 1", &[])
        .unwrap()
        .get(0);
    for forged in FORGED.iter().filter(|f| !f.chars().any(char::is_control)) {
        let encoded: String = forged.bytes().map(|b| format!("%{b:02X}")).collect();
        let (status, body) = daemon.delete(&format!("/v1/users/{encoded}"));
        assert_eq!(status, 200, "{forged:?}: {body}");
        let _ = request_with_headers(
            "POST",
            &daemon.url(&format!("/admin/dead-letters/{letter}/discard")),
            Some("{}"),
            &[("X-Memlink-Actor", forged)],
        );
    }
    daemon.signal("TERM");
    daemon.wait_exit(LONG).expect("exits");
    let mut lines = daemon.log_lines();
    // A real exit: a daemon that finds the schema behind stops with `event=exit code=69`.
    let behind = TestEnv::new();
    let run = behind.command(&["run", "--no-migrate"], &[("MEMLINK_LOG_FORMAT", format)]);
    assert_eq!(run.code, Some(69), "{}", run.stderr);
    lines.extend(run.stderr.lines().map(str::to_owned));
    lines
}

/// No value from outside can fire a Loki alert: each rule's line filters match a line of
/// the real daemon exactly when that line's real `event` is one the rule is about, in both
/// log formats, with forged event ids, payloads, outbox rows, user ids and actor names.
#[test]
fn forged_values_cannot_fire_log_alerts() {
    let filters = loki_line_filters();
    // What each filter is about, read off the filter itself: the codes whose genuine lines
    // (as the daemon's own formatter writes them) it matches, in both formats alike.
    let codes = logged_codes();
    let about: Vec<(String, &regex::Regex, BTreeSet<String>)> = filters
        .iter()
        .flat_map(|(name, res)| res.iter().map(move |re| (name.clone(), re)))
        .map(|(name, re)| {
            let set: BTreeSet<String> = codes
                .iter()
                .filter(|code| {
                    let message = format!("event={code} actor=worker detail=\"x\"");
                    let ts = "2026-01-01T00:00:00.000Z";
                    let text =
                        memlink::logging::text_line(ts, "ERROR", "memlink::worker", &message);
                    let json =
                        memlink::logging::json_line(ts, "ERROR", "memlink::worker", &message);
                    assert_eq!(re.is_match(&text), re.is_match(&json), "{name}: {code}");
                    re.is_match(&text)
                })
                .cloned()
                .collect();
            assert!(!set.is_empty(), "{name}: {re} matches no code");
            (name, re, set)
        })
        .collect();
    let escalated: Vec<_> = about
        .iter()
        .filter(|(n, _, _)| n == "MemlinkLogEscalated")
        .collect();
    assert_eq!(escalated.len(), 1);
    assert_eq!(
        escalated[0].2,
        ["exit", "supervisor_escalate"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    for format in ["text", "json"] {
        let lines = attacked_daemon_lines(format);
        let mut forged_lines = 0;
        let mut fired: BTreeSet<String> = BTreeSet::new();
        for line in &lines {
            let genuine = genuine_event(line);
            if ["supervisor_escalate", "FAKE=1", "event=exit", "\\\"exit"]
                .iter()
                .any(|s| line.contains(s))
                && !matches!(genuine.as_deref(), Some("exit" | "supervisor_escalate"))
            {
                forged_lines += 1;
            }
            for (name, re, set) in &about {
                let real = genuine.as_ref().is_some_and(|g| set.contains(g));
                assert_eq!(
                    re.is_match(line),
                    real,
                    "{format}: {name} ({re}) on a line whose event is {genuine:?}:\n{line}"
                );
                if real {
                    fired.insert(name.clone());
                }
            }
        }
        // The attack reached the logs, and the rules still see the real events.
        assert!(
            forged_lines >= FORGED.len(),
            "{format}: only {forged_lines} forged lines:\n{}",
            lines.join("\n")
        );
        for name in ["MemlinkLogEscalated", "MemlinkLogDeadLetters"] {
            assert!(
                fired.contains(name),
                "{format}: {name} never matched a real line"
            );
        }
    }
}
