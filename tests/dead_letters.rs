//! The dead-letter lifecycle, end to end against the real daemon, Postgres and Redis:
//! inspect, replay (refused, then patched), replay again (refused), discard, bulk dry runs
//! and bulk discard over admin HTTP with the token enforced; an outbox-sourced letter fixed
//! by a `chat_id` patch; and the `memlink dlq` CLI with the daemon stopped.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "dlq-test-token";

struct Admin<'a> {
    daemon: &'a Daemon,
}

impl Admin<'_> {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        actor: Option<&str>,
    ) -> (u16, Value) {
        let auth = format!("Bearer {TOKEN}");
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(a) = actor {
            headers.push(("X-Memlink-Actor", a));
        }
        request_with_headers(method, &self.daemon.url(path), body, &headers)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None, None)
    }

    fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.call("POST", path, Some(body), None)
    }
}

fn letter_id(env: &TestEnv, source_ref: &str) -> String {
    let id: uuid::Uuid = eventually("the dead letter", LONG, || {
        env.pg()
            .query_opt(
                "SELECT id FROM dead_letters WHERE source_ref = $1",
                &[&source_ref],
            )
            .unwrap()
            .map(|r| r.get(0))
    });
    id.to_string()
}

fn status_of(env: &TestEnv, id: &str) -> String {
    env.pg()
        .query_one(
            "SELECT status FROM dead_letters WHERE id = $1::text::uuid",
            &[&id],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_stream_letter_is_inspected_patched_replayed_once_and_others_discarded() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", TOKEN)]);
    let admin = Admin { daemon: &daemon };
    let chat = new_uuid();
    let message_id = new_uuid();
    let event_id = new_uuid();

    // A message whose created_at is nonsense, under a valid event id.
    let bad_time = message_payload(
        &chat,
        &message_id,
        "rui",
        "My name is Rui.",
        json!("yesterday"),
    );
    let bad_time_ref = env.xadd_message(&event_id, &bad_time);
    // A legacy producer's event id.
    let legacy_ref = env.xadd_message(
        "chat-1769035355992",
        &message_payload(&chat, &new_uuid(), "rui", "hello", json!(1769067099)),
    );
    // Two messages with a role nobody knows.
    let bad_role = |content: &str| {
        let mut p = message_payload(&chat, &new_uuid(), "rui", content, json!(1769067099));
        p["role"] = json!("admin");
        env.xadd_message(&new_uuid(), &p)
    };
    let role_refs = [bad_role("one"), bad_role("two")];

    let id = letter_id(&env, &bad_time_ref);
    let legacy = letter_id(&env, &legacy_ref);
    for r in &role_refs {
        letter_id(&env, r);
    }
    assert_eq!(env.count("SELECT count(*) FROM dead_letters"), 4);

    // The token is required on every dead-letter endpoint, and nothing changes without it.
    for (method, path, body) in [
        ("GET", "/admin/dead-letters".to_owned(), None),
        ("GET", format!("/admin/dead-letters/{id}"), None),
        (
            "POST",
            format!("/admin/dead-letters/{id}/replay"),
            Some("{}"),
        ),
        (
            "POST",
            format!("/admin/dead-letters/{id}/discard"),
            Some("{}"),
        ),
        (
            "POST",
            "/admin/dead-letters/replay".to_owned(),
            Some(r#"{"all":true}"#),
        ),
        (
            "POST",
            "/admin/dead-letters/discard".to_owned(),
            Some(r#"{"all":true}"#),
        ),
    ] {
        let (code, body) = request(method, &daemon.url(&path), body, None);
        assert_eq!(code, 401, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized");
        let (code, _) = request(method, &daemon.url(&path), None, Some("wrong"));
        assert_eq!(code, 401, "{method} {path} with a wrong token");
    }
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE status = 'dead'"),
        4
    );

    // List: filters, status, paging.
    let (code, page) = admin.get("/admin/dead-letters?status=dead&reason=invalid_timestamp");
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["dead_letters"][0]["id"], id.as_str());
    assert_eq!(page["next_offset"], Value::Null);
    let (_, page) = admin.get("/admin/dead-letters?limit=3");
    assert_eq!(page["total"], 4);
    assert_eq!(page["dead_letters"].as_array().unwrap().len(), 3);
    assert_eq!(page["next_offset"], 3);
    let (_, page) = admin.get("/admin/dead-letters?limit=3&offset=3");
    assert_eq!(page["dead_letters"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_offset"], Value::Null);
    let (code, body) = admin.get("/admin/dead-letters?status=gone");
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("invalid_status"))
    );

    // Show: the payload as received, a replay check, no history yet.
    let (code, detail) = admin.get(&format!("/admin/dead-letters/{id}"));
    assert_eq!(code, 200, "{detail}");
    assert_eq!(detail["reason"], "invalid_timestamp");
    assert_eq!(detail["event_id"], event_id.as_str());
    let payload: Value = serde_json::from_str(detail["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, bad_time);
    assert_eq!(detail["replay_check"]["replayable"], false);
    assert_eq!(detail["replay_check"]["code"], "replay_invalid");
    assert_eq!(detail["actions"], json!([]));
    let (code, body) = admin.get("/admin/dead-letters/chat-1769035355992");
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("invalid_dead_letter_id"))
    );
    let (code, body) = admin.get(&format!("/admin/dead-letters/{}", new_uuid()));
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("dead_letter_not_found"))
    );
    let (code, body) = admin.post(&format!("/admin/dead-letters/{}/replay", new_uuid()), "");
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("dead_letter_not_found"))
    );

    // Replay as is: still invalid, refused with the decoder's reason, nothing changes.
    let (code, body) = admin.call(
        "POST",
        &format!("/admin/dead-letters/{id}/replay"),
        None,
        Some("ana"),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["code"], "replay_invalid");
    assert_eq!(body["error"]["rejection"]["reason"], "invalid_timestamp");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("yesterday"),
        "{body}"
    );
    assert_eq!(status_of(&env, &id), "dead");
    assert_eq!(env.count("SELECT count(*) FROM outbox_events"), 0);
    assert_eq!(env.count("SELECT count(*) FROM dead_letter_actions"), 0);
    // A typo in the body is refused, not ignored.
    let (code, body) = admin.post(
        &format!("/admin/dead-letters/{id}/replay"),
        r#"{"pacth": {"created_at": 1769067099}}"#,
    );
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("invalid_body"))
    );

    // Replay with a patch that fixes it, as "ana".
    let (code, replayed) = admin.call(
        "POST",
        &format!("/admin/dead-letters/{id}/replay"),
        Some(r#"{"patch": {"created_at": 1769067099}, "note": "producer sent a word"}"#),
        Some("ana"),
    );
    assert_eq!(code, 200, "{replayed}");
    assert_eq!(replayed["status"], "replayed");
    assert_eq!(replayed["patched"], true);
    assert_eq!(
        replayed["event_id"],
        event_id.as_str(),
        "the original id is reused"
    );
    assert_eq!(replayed["outbox_action"], "inserted");
    assert_eq!(replayed["payload"]["created_at"], 1769067099);

    // It goes through the outbox, the relay and the worker, once.
    eventually("the replayed message's fact", LONG, || {
        let (_, f) = daemon.get("/v1/users/rui/facts");
        f["facts"]
            .as_array()
            .filter(|a| {
                a.iter()
                    .any(|x| x["predicate"] == "name" && x["object"] == "Rui")
            })
            .map(|_| ())
    });
    let chat_view = eventually("the chat's watermark", LONG, || {
        let (code, c) = daemon.get(&format!("/v1/chats/{chat}"));
        (code == 200 && c["watermark"]["message_count"] == 1).then_some(c)
    });
    assert_eq!(chat_view["message_count"], 1);
    assert_eq!(
        chat_view["watermark"]["checksum"],
        expected_checksum(&[message_id.as_str()])
    );
    let mut pg = env.pg();
    let (outbox_status, aggregate): (String, String) = {
        let r = pg
            .query_one(
                "SELECT status, aggregate_id FROM outbox_events WHERE id = $1::text::uuid",
                &[&event_id],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (outbox_status.as_str(), aggregate.as_str()),
        ("relayed", chat.as_str())
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM processed_events WHERE event_id = '{event_id}'"
        )),
        1
    );

    // The letter is replayed and the audit row records the original, the patch, the actor.
    let (_, detail) = admin.get(&format!("/admin/dead-letters/{id}"));
    assert_eq!(detail["status"], "replayed");
    assert_eq!(detail["replay_check"], Value::Null);
    let actions = detail["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{detail}");
    let a = &actions[0];
    assert_eq!(a["action"], "replay_patched");
    assert_eq!(a["actor"], "ana");
    assert_eq!(a["channel"], "http");
    assert_eq!(a["patch"], json!({"created_at": 1769067099}));
    let original: Value = serde_json::from_str(a["original_payload"].as_str().unwrap()).unwrap();
    assert_eq!(original, bad_time);
    assert_eq!(a["replayed_payload"]["created_at"], 1769067099);
    assert_eq!(a["replayed_payload"]["content"], "My name is Rui.");
    assert_eq!(a["new_event_id"], event_id.as_str());
    assert_eq!(a["outbox_id"], event_id.as_str());
    assert_eq!(a["note"], "producer sent a word");
    assert_eq!(a["bulk"], false);

    // Again: refused, nothing more is written.
    let (code, body) = admin.post(&format!("/admin/dead-letters/{id}/replay"), "");
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("not_dead"))
    );
    let (code, body) = admin.post(&format!("/admin/dead-letters/{id}/discard"), "");
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("not_dead"))
    );
    assert_eq!(env.count("SELECT count(*) FROM outbox_events"), 1);
    assert_eq!(env.count("SELECT count(*) FROM dead_letter_actions"), 1);

    // Discard the legacy one (default actor).
    let (code, body) = admin.post(
        &format!("/admin/dead-letters/{legacy}/discard"),
        r#"{"note": "legacy producer, resent upstream"}"#,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "discarded");
    assert_eq!(status_of(&env, &legacy), "discarded");
    let (_, detail) = admin.get(&format!("/admin/dead-letters/{legacy}"));
    let a = &detail["actions"][0];
    assert_eq!(
        (
            a["action"].as_str(),
            a["actor"].as_str(),
            a["note"].as_str()
        ),
        (
            Some("discard"),
            Some("admin-http"),
            Some("legacy producer, resent upstream")
        )
    );

    // Bulk: a filter is required; dry runs count exactly and change nothing.
    let (code, body) = admin.post("/admin/dead-letters/replay", "{}");
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("filter_required"))
    );
    let (code, body) = admin.post("/admin/dead-letters/discard", "");
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("filter_required"))
    );
    let (code, dry) = admin.post(
        "/admin/dead-letters/replay",
        r#"{"reason": "invalid_role", "dry_run": true}"#,
    );
    assert_eq!(code, 200, "{dry}");
    assert_eq!(dry["matched"], 2);
    assert_eq!(dry["would_replay"], 0);
    assert_eq!(dry["skipped"], 2);
    assert_eq!(dry["skipped_by_code"], json!({"replay_invalid": 2}));
    let (_, dry) = admin.post(
        "/admin/dead-letters/discard",
        r#"{"reason": "invalid_role", "dry_run": true}"#,
    );
    assert_eq!(
        (dry["matched"].as_i64(), dry["would_discard"].as_i64()),
        (Some(2), Some(2))
    );
    let (_, dry) = admin.post(
        "/admin/dead-letters/discard",
        r#"{"all": true, "dry_run": true}"#,
    );
    assert_eq!(dry["matched"], 2, "only dead letters count: {dry}");
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE status = 'dead'"),
        2
    );
    // A real bulk replay of what cannot be replayed skips each with its reason.
    let (_, real) = admin.post(
        "/admin/dead-letters/replay",
        r#"{"reason": "invalid_role"}"#,
    );
    assert_eq!(
        (real["replayed"].as_i64(), real["skipped"].as_i64()),
        (Some(0), Some(2)),
        "{real}"
    );
    assert_eq!(real["skipped_letters"][0]["code"], "replay_invalid");

    // Bulk discard by reason.
    let (code, done) = admin.call(
        "POST",
        "/admin/dead-letters/discard",
        Some(r#"{"reason": "invalid_role", "note": "bad producer build"}"#),
        Some("oncall"),
    );
    assert_eq!(code, 200, "{done}");
    assert_eq!(
        (done["matched"].as_i64(), done["discarded"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE status = 'discarded'"),
        3
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM dead_letter_actions WHERE bulk AND action = 'discard' AND actor = 'oncall'"
        ),
        2
    );
    let (_, page) = admin.get("/admin/dead-letters?status=dead");
    assert_eq!(page["total"], 0);
    let (_, page) = admin.get("/admin/dead-letters?status=discarded");
    assert_eq!(page["total"], 3);

    // One log line per action, on the dlq target.
    let replayed_logs = daemon.log_lines_with("event=dead_letter_replayed");
    assert_eq!(replayed_logs.len(), 1, "{replayed_logs:?}");
    let line = &replayed_logs[0];
    assert!(line.contains("memlink::dlq"), "{line}");
    assert!(line.contains(&format!("id={id}")), "{line}");
    assert!(line.contains("reason=invalid_timestamp"), "{line}");
    assert!(line.contains("actor=\"ana\""), "{line}");
    assert!(line.contains("patched=true"), "{line}");
    assert_eq!(
        daemon.log_lines_with("event=dead_letter_discarded").len(),
        3
    );
    assert!(!daemon.log_text().contains(TOKEN));
    for actor in ["relay", "worker", "watermark"] {
        let (_, s) = admin.get("/admin/status");
        let restarts = s["actors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == actor)
            .unwrap()["restarts"]
            .clone();
        assert_eq!(restarts, 0, "{actor} restarted");
    }
}

#[test]
fn an_outbox_letter_is_fixed_by_a_chat_id_patch_and_relayed() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let mut pg = env.pg();
    let chat = new_uuid();
    let insert = |pg: &mut postgres::Client, aggregate: &str, payload: &Value| -> String {
        let id = new_uuid();
        pg.execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1::text::uuid, $2, 'message.created', $3)",
            &[&id, &aggregate, payload],
        )
        .unwrap();
        id
    };
    // The legacy id in both the aggregate and the payload.
    let legacy_payload = message_payload(
        "chat-1769035355992",
        &new_uuid(),
        "ivo",
        "I live in Lisbon.",
        json!(1769067099),
    );
    let legacy_row = insert(&mut pg, "chat-1769035355992", &legacy_payload);
    // A row whose aggregate is another chat than its payload's.
    let mismatch_row = insert(
        &mut pg,
        &new_uuid(),
        &message_payload(
            &chat,
            &new_uuid(),
            "ivo",
            "My name is Ivo.",
            json!(1769067100),
        ),
    );
    let legacy = letter_id(&env, &legacy_row);
    let mismatch = letter_id(&env, &mismatch_row);

    // Unpatched: refused as it was.
    let (code, body) = daemon.post(&format!("/admin/dead-letters/{legacy}/replay"), "");
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["rejection"]["reason"], "invalid_uuid");
    // A patch that leaves chat_id alone keeps the row's aggregate: still a mismatch.
    let (code, body) = daemon.post(
        &format!("/admin/dead-letters/{mismatch}/replay"),
        r#"{"patch": {"content": "My name is Ivo!"}}"#,
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["rejection"]["reason"], "aggregate_mismatch");
    assert_eq!(status_of(&env, &mismatch), "dead");

    // Naming chat_id fixes the payload and the row's aggregate_id together.
    let patch = json!({"patch": {"chat_id": chat}}).to_string();
    let (code, body) = daemon.post(&format!("/admin/dead-letters/{legacy}/replay"), &patch);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outbox_action"], "reset");
    assert_eq!(
        body["event_id"],
        legacy_row.as_str(),
        "the row keeps its id"
    );
    let (code, body) = daemon.post(&format!("/admin/dead-letters/{mismatch}/replay"), &patch);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outbox_action"], "reset");

    for row in [&legacy_row, &mismatch_row] {
        eventually("the reset row relayed", LONG, || {
            let r = pg
                .query_one(
                    "SELECT status, aggregate_id, payload->>'chat_id' FROM outbox_events WHERE id = $1::text::uuid",
                    &[row],
                )
                .unwrap();
            let (status, aggregate, payload_chat): (String, String, String) =
                (r.get(0), r.get(1), r.get(2));
            (status == "relayed" && aggregate == chat && payload_chat == chat).then_some(())
        });
    }
    eventually("the name fact", LONG, || {
        let (_, f) = daemon.get("/v1/users/ivo/facts");
        f["facts"]
            .as_array()
            .filter(|a| a.iter().any(|x| x["object"] == "Ivo"))
            .map(|_| ())
    });
    eventually("the chat's watermark", LONG, || {
        let (_, c) = daemon.get(&format!("/v1/chats/{chat}"));
        (c["watermark"]["message_count"] == 2).then_some(())
    });
    assert_eq!(
        env.count("SELECT count(*) FROM outbox_events"),
        2,
        "no row was added"
    );
    assert_eq!(env.count("SELECT count(*) FROM processed_events"), 2);
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE status = 'replayed'"),
        2
    );
    let (_, detail) = daemon.get(&format!("/admin/dead-letters/{legacy}"));
    let a = &detail["actions"][0];
    assert_eq!(a["actor"], "admin-http");
    assert_eq!(a["outbox_action"], "reset");
    assert_eq!(a["patch"], json!({"chat_id": chat}));
    let original: Value = serde_json::from_str(a["original_payload"].as_str().unwrap()).unwrap();
    assert_eq!(original, legacy_payload);
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters"),
        2,
        "no new letter"
    );
    assert_eq!(daemon.restarts("relay"), 0);
}

#[test]
fn the_cli_lists_shows_replays_and_discards_with_the_daemon_stopped() {
    let env = TestEnv::new();
    let chat = new_uuid();
    let event_id = new_uuid();
    let (bad_ref, legacy_ref) = {
        let daemon = env.spawn_daemon(&[]);
        let bad = env.xadd_message(
            &event_id,
            &message_payload(
                &chat,
                &new_uuid(),
                "eva",
                "My name is Eva.",
                json!("yesterday"),
            ),
        );
        let legacy = env.xadd_message(
            "chat-1769035355992",
            &message_payload(&chat, &new_uuid(), "eva", "hi", json!(1769067099)),
        );
        letter_id(&env, &bad);
        letter_id(&env, &legacy);
        drop(daemon);
        (bad, legacy)
    };
    let id = letter_id(&env, &bad_ref);
    let legacy = letter_id(&env, &legacy_ref);

    let out = env.cli(&["dlq", "list", "--json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let page = out.json();
    assert_eq!(page["total"], 2);
    let ids: Vec<&str> = page["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&legacy.as_str()),
        "{ids:?}"
    );

    let out = env.cli(&["dlq", "list", "--reason", "invalid_uuid"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("REASON"),
        "{}",
        out.stdout
    );
    assert_eq!(lines.len(), 3, "header, one letter, footer: {}", out.stdout);
    assert!(
        lines[1].starts_with(&legacy) && lines[1].contains("chat-1769035355992"),
        "{}",
        out.stdout
    );
    assert!(lines[2].contains("1-1 of 1"), "{}", out.stdout);

    let out = env.cli(&["dlq", "show", &id, "--json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let detail = out.json();
    assert!(detail["payload"].as_str().unwrap().contains("yesterday"));
    assert_eq!(detail["replay_check"]["code"], "replay_invalid");
    let out = env.cli(&["dlq", "show", &id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("invalid_timestamp") && out.stdout.contains("replay check:"),
        "{}",
        out.stdout
    );

    let missing = new_uuid();
    let out = env.cli(&["dlq", "show", &missing]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("dead letter {missing} not found")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("dead_letter_not_found"),
        "{}",
        out.stderr
    );
    let out = env.cli(&["dlq", "replay", &missing]);
    assert_eq!(out.code, Some(1), "{out:?}");

    // Unpatched: refused; patched: written to the outbox, pending until a daemon runs.
    let out = env.cli(&["dlq", "replay", &id, "--json"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(
        out.json()["error"]["rejection"]["reason"],
        "invalid_timestamp"
    );
    assert_eq!(env.count("SELECT count(*) FROM outbox_events"), 0);
    let out = env.cli(&[
        "dlq",
        "replay",
        &id,
        "--patch",
        r#"{"created_at": 1769067099}"#,
        "--actor",
        "ci-bot",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout
            .starts_with(&format!("replayed dead letter {id}")),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("event=dead_letter_replayed") && out.stderr.contains("patched=true"),
        "{}",
        out.stderr
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM outbox_events WHERE id = '{event_id}' AND status = 'pending'"
        )),
        1
    );
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letter_actions WHERE actor = 'ci-bot' AND channel = 'cli' AND action = 'replay_patched'"),
        1
    );
    let out = env.cli(&["dlq", "replay", &id]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("not_dead"), "{}", out.stderr);

    // Discard, as $USER, with a note; again is refused.
    let out = env.cli(&["dlq", "discard", &legacy, "--note", "legacy id"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(status_of(&env, &legacy), "discarded");
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letter_actions WHERE action = 'discard' AND actor = 'tester' AND note = 'legacy id'"),
        1
    );
    let out = env.cli(&["dlq", "discard", &legacy]);
    assert_eq!(out.code, Some(1), "{out:?}");

    // Bulk needs a filter; a dry run reports exactly (nothing is dead any more).
    let out = env.cli(&["dlq", "discard"]);
    assert_eq!(out.code, Some(64), "{out:?}");
    let out = env.cli(&["dlq", "discard", "--all", "--dry-run", "--json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.json()["matched"], 0);
    let out = env.cli(&["dlq", "list", "--status", "dead", "--json"]);
    assert_eq!(out.json()["total"], 0);

    // Configuration and reachability errors.
    let out = run_binary(&["dlq", "list"], &[]);
    assert_eq!(out.code, Some(64), "{out:?}");
    assert!(out.stderr.contains("DATABASE_URL"), "{}", out.stderr);
    let out = run_binary(
        &["dlq", "list"],
        &[(
            "DATABASE_URL",
            "postgres://postgres:hunter2@127.0.0.1:1/nothing",
        )],
    );
    assert_eq!(out.code, Some(69), "{out:?}");
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);

    // A daemon started later publishes what the CLI replayed, exactly once.
    let daemon = env.spawn_daemon(&[]);
    eventually("the replayed fact", LONG, || {
        let (_, f) = daemon.get("/v1/users/eva/facts");
        f["facts"]
            .as_array()
            .filter(|a| a.iter().any(|x| x["object"] == "Eva"))
            .map(|_| ())
    });
    assert_eq!(env.count("SELECT count(*) FROM processed_events"), 1);
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE status = 'dead'"),
        0
    );
}

/// Letters that are valid as they are (say, dead-lettered for `max_deliveries` while a store
/// was failing) are replayed in bulk from the CLI, each once, under their original event id
/// when it is a free UUID, else under the id derived from the letter.
#[test]
fn a_bulk_replay_republishes_valid_letters_once() {
    let env = TestEnv::new();
    let out = env.cli(&["migrate"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let chat = new_uuid();
    let free_event = new_uuid();
    let mut pg = env.pg();
    let mut letter = |event_id: &str, payload: Option<Value>| -> uuid::Uuid {
        let id = uuid::Uuid::new_v4();
        let payload = payload.map(|p| p.to_string().into_bytes());
        pg.execute(
            "INSERT INTO dead_letters (id, received_at, source, source_ref, event_id, event_type, reason, detail,
                                       raw, raw_len, payload, first_seen, last_seen, actor)
             VALUES ($1, now(), 'stream', $2, $3, 'message.created', 'max_deliveries', 'delivered 6 times',
                     '\\x'::bytea, 0, $4, now(), now(), 'worker')",
            &[&id, &format!("{}-0", rand::random::<u32>()), &event_id, &payload],
        )
        .unwrap();
        id
    };
    let fresh = letter(
        &free_event,
        Some(message_payload(
            &chat,
            &new_uuid(),
            "lia",
            "My name is Lia.",
            json!(1769067099),
        )),
    );
    let legacy = letter(
        "legacy-7",
        Some(message_payload(
            &chat,
            &new_uuid(),
            "lia",
            "I live in Braga.",
            json!(1769067100),
        )),
    );
    let empty = letter(&new_uuid(), None);

    let out = env.cli(&[
        "dlq",
        "replay",
        "--reason",
        "max_deliveries",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let dry = out.json();
    assert_eq!(
        (
            dry["matched"].as_i64(),
            dry["would_replay"].as_i64(),
            dry["skipped"].as_i64()
        ),
        (Some(3), Some(2), Some(1)),
        "{dry}"
    );
    assert_eq!(dry["skipped_letters"][0]["id"], empty.to_string());
    assert_eq!(dry["skipped_letters"][0]["code"], "not_replayable");
    assert_eq!(env.count("SELECT count(*) FROM outbox_events"), 0);

    let out = env.cli(&["dlq", "replay", "--reason", "max_deliveries", "--json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let done = out.json();
    assert_eq!(
        (done["replayed"].as_i64(), done["skipped"].as_i64()),
        (Some(2), Some(1)),
        "{done}"
    );
    let derived = uuid::Uuid::new_v5(&memlink_actors::dlq::REPLAY_NAMESPACE, legacy.as_bytes());
    for (letter, event) in [(fresh, free_event.clone()), (legacy, derived.to_string())] {
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM outbox_events o JOIN dead_letter_actions a ON a.outbox_id = o.id
                  WHERE o.id = '{event}' AND o.status = 'pending' AND o.aggregate_id = '{chat}'
                    AND a.dead_letter_id = '{letter}' AND a.bulk AND a.action = 'replay' AND a.actor = 'tester'"
            )),
            1,
            "letter {letter} → event {event}"
        );
    }
    // Again: only the unreplayable letter is still dead, and nothing is written twice.
    let out = env.cli(&["dlq", "replay", "--reason", "max_deliveries", "--json"]);
    let again = out.json();
    assert_eq!(
        (again["matched"].as_i64(), again["replayed"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(env.count("SELECT count(*) FROM outbox_events"), 2);

    let daemon = env.spawn_daemon(&[]);
    eventually("both replayed messages processed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == 2).then_some(())
    });
    eventually("the chat's watermark", LONG, || {
        let (_, c) = daemon.get(&format!("/v1/chats/{chat}"));
        (c["watermark"]["message_count"] == 2).then_some(())
    });
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters"),
        3,
        "no new letter"
    );
}

/// If the relay refuses a row a replay reset (a relay of another version, or a row changed
/// behind memlink's back), the letter becomes dead again with the new reason, never stays
/// "replayed" while its event is lost; it can then be replayed again.
#[test]
fn a_reset_outbox_row_refused_again_makes_its_letter_dead_again() {
    let env = TestEnv::new();
    let chat = new_uuid();
    let row = new_uuid();
    let letter = {
        let _daemon = env.spawn_daemon(&[]);
        env.pg()
            .execute(
                "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1::text::uuid, 'chat-1769035355992', 'message.created', $2)",
                &[&row, &message_payload("chat-1769035355992", &new_uuid(), "noa", "My name is Noa.", json!(1769067099))],
            )
            .unwrap();
        letter_id(&env, &row)
    };
    let patch = json!({"chat_id": chat}).to_string();
    let out = env.cli(&["dlq", "replay", &letter, "--patch", &patch]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("outbox row reset"), "{}", out.stdout);
    // Behind memlink's back, the row becomes invalid again.
    env.pg()
        .execute(
            "UPDATE outbox_events SET payload = jsonb_set(payload, '{created_at}', '\"yesterday\"') WHERE id = $1::text::uuid",
            &[&row],
        )
        .unwrap();

    let daemon = env.spawn_daemon(&[]);
    eventually("the letter dead again", LONG, || {
        let r = env
            .pg()
            .query_one(
                "SELECT status, reason FROM dead_letters WHERE id = $1::text::uuid",
                &[&letter],
            )
            .unwrap();
        let (status, reason): (String, String) = (r.get(0), r.get(1));
        (status == "dead" && reason == "invalid_timestamp").then_some(())
    });
    let (_, detail) = daemon.get(&format!("/admin/dead-letters/{letter}"));
    assert!(
        detail["payload"].as_str().unwrap().contains("yesterday"),
        "{detail}"
    );
    assert_eq!(
        detail["actions"].as_array().unwrap().len(),
        1,
        "the first replay stays audited"
    );
    assert_eq!(env.count("SELECT count(*) FROM dead_letters"), 1);

    let (code, body) = daemon.post(
        &format!("/admin/dead-letters/{letter}/replay"),
        r#"{"patch": {"created_at": 1769067099}}"#,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outbox_action"], "reset");
    eventually("the fact", LONG, || {
        let (_, f) = daemon.get("/v1/users/noa/facts");
        f["facts"]
            .as_array()
            .filter(|a| a.iter().any(|x| x["object"] == "Noa"))
            .map(|_| ())
    });
    assert_eq!(env.count("SELECT count(*) FROM processed_events"), 1);
}
