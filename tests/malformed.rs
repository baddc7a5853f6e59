//! Malformed input of every class is dead-lettered with its reason, at the stream or at the
//! relay, while every valid message around it is processed and no actor restarts.

mod common;

use common::*;
use serde_json::json;

#[test]
fn each_malformed_class_is_dead_lettered_and_the_rest_flows() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    let good = |content: &str, at: serde_json::Value| {
        message_payload(&chat, &new_uuid(), "mia", content, at)
    };
    let mut valid_ids = Vec::new();
    let mut expected = Vec::new(); // (stream entry id, reason)

    let mut add_valid = |env: &TestEnv, content: &str, at: serde_json::Value| {
        let p = good(content, at);
        valid_ids.push(p["message_id"].as_str().unwrap().to_owned());
        env.xadd_message(&new_uuid(), &p);
    };
    let bad = |env: &TestEnv, event_id: &str, event_type: &str, payload: &[u8]| {
        env.xadd(&[
            ("event_id", event_id.as_bytes()),
            ("event_type", event_type.as_bytes()),
            ("payload", payload),
        ])
    };
    let with = |key: &str, value: serde_json::Value| {
        let mut p = good("hello", json!(1769067099));
        p[key] = value;
        p.to_string().into_bytes()
    };
    let mc = "message.created";

    add_valid(&env, "My name is Mia.", json!(1769067099.568));
    expected.push((
        bad(&env, "chat-1769035355992", mc, &with("content", json!("x"))),
        "invalid_uuid",
    ));
    expected.push((
        bad(
            &env,
            &new_uuid(),
            mc,
            &with("chat_id", json!("chat-1769035355992")),
        ),
        "invalid_uuid",
    ));
    expected.push((
        bad(&env, &new_uuid(), mc, &with("created_at", json!(-5))),
        "invalid_timestamp",
    ));
    expected.push((
        bad(
            &env,
            &new_uuid(),
            mc,
            &with("created_at", json!("yesterday")),
        ),
        "invalid_timestamp",
    ));
    expected.push((
        bad(&env, &new_uuid(), mc, &with("created_at", json!(1e20))),
        "invalid_timestamp",
    ));
    expected.push((bad(&env, &new_uuid(), mc, b"{not json"), "invalid_json"));
    expected.push((
        bad(&env, &new_uuid(), mc, b"{\"message_id\": \"5d2b0b7e-3f0a"),
        "invalid_json",
    ));
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    expected.push((
        bad(&env, &new_uuid(), mc, deep.as_bytes()),
        "payload_too_deep",
    ));
    expected.push((
        bad(&env, &new_uuid(), mc, &with("user_id", json!(42))),
        "invalid_type",
    ));
    let mut no_content = good("x", json!(1769067099));
    no_content.as_object_mut().unwrap().remove("content");
    expected.push((
        bad(&env, &new_uuid(), mc, no_content.to_string().as_bytes()),
        "missing_field",
    ));
    expected.push((
        env.xadd(&[("event_type", mc.as_bytes()), ("payload", b"{}")]),
        "missing_field",
    ));
    expected.push((
        bad(&env, &new_uuid(), mc, &with("user_id", json!(""))),
        "empty_field",
    ));
    expected.push((
        bad(
            &env,
            &new_uuid(),
            "message.deleted",
            &with("content", json!("x")),
        ),
        "unknown_event_type",
    ));
    expected.push((
        bad(&env, &new_uuid(), mc, &with("content", json!("a\u{0}b"))),
        "invalid_text",
    ));
    expected.push((
        bad(&env, &new_uuid(), mc, b"{\"content\": \"\xff\xfe\"}"),
        "invalid_utf8",
    ));
    expected.push((
        bad(&env, &new_uuid(), mc, &with("role", json!("admin"))),
        "invalid_role",
    ));
    expected.push((
        bad(
            &env,
            &new_uuid(),
            mc,
            &with("content", json!("x".repeat(65_537))),
        ),
        "payload_too_large",
    ));
    let ten_mb = vec![b'x'; 10 * 1024 * 1024];
    expected.push((bad(&env, &new_uuid(), mc, &ten_mb), "payload_too_large"));
    for (payload, reason) in [
        (with("created_at", json!(true)), "invalid_timestamp"),
        (with("created_at", json!("1769067099")), "invalid_timestamp"),
        (with("content", json!(null)), "missing_field"),
        (b"[1, 2, 3]".to_vec(), "invalid_type"),
        (with("user_id", json!("bad\u{7}id")), "invalid_text"),
    ] {
        expected.push((bad(&env, &new_uuid(), mc, &payload), reason));
    }
    add_valid(
        &env,
        "'; DROP TABLE facts; -- I live in Bobby Tables.",
        json!("2026-01-22T07:31:40Z"),
    );
    add_valid(&env, "שלום 👋 مرحبا", json!(1769067101000_i64));
    let exactly_limit = "é".repeat(32_768);
    add_valid(&env, &exactly_limit, json!(1769067102));

    eventually("every valid message processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL")
            == valid_ids.len() as i64)
            .then_some(())
    });
    eventually("every bad entry dead-lettered", LONG, || {
        (env.count("SELECT count(*) FROM dead_letters") == expected.len() as i64).then_some(())
    });
    let mut pg = env.pg();
    for (entry_id, reason) in &expected {
        let got: String = pg
            .query_one(
                "SELECT reason FROM dead_letters WHERE source = 'stream' AND source_ref = $1",
                &[entry_id],
            )
            .unwrap_or_else(|e| panic!("no dead letter for {entry_id} ({reason}): {e}"))
            .get(0);
        assert_eq!(&got, reason, "entry {entry_id}");
    }
    let kept: i32 = pg
        .query_one(
            "SELECT length(raw) FROM dead_letters WHERE raw_len > 10485760",
            &[],
        )
        .expect("the 10 MB entry is recorded with its size")
        .get(0);
    assert_eq!(kept, 65_536, "and kept truncated");
    let (_, body) = daemon.get("/admin/dead-letters?reason=invalid_uuid");
    let letters = body["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 2);
    assert!(letters
        .iter()
        .any(|l| l["event_id"] == "chat-1769035355992"));
    assert!(letters
        .iter()
        .all(|l| l["source"] == "stream" && !l["detail"].as_str().unwrap().is_empty()));

    let (_, facts) = daemon.get("/v1/users/mia/facts");
    assert!(
        facts["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["object"] == "Mia"),
        "{facts}"
    );
    for actor in ["relay", "worker", "watermark"] {
        assert_eq!(daemon.restarts(actor), 0, "{actor} restarted");
    }
    assert_eq!(daemon.status()["stream"]["pending"], 0, "everything acked");
    assert!(
        daemon
            .log_lines_with("event=dead_letter actor=worker reason=invalid_uuid")
            .len()
            >= 2
    );
}

/// Outbox rows that can never be decoded are marked `dead` and dead-lettered at the relay,
/// never published; valid rows beside them are relayed.
#[test]
fn undecodable_outbox_rows_die_at_the_relay() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let mut pg = env.pg();
    let insert = |pg: &mut postgres::Client,
                  aggregate: &str,
                  event_type: &str,
                  payload: serde_json::Value|
     -> String {
        let id = new_uuid();
        pg.execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1::text::uuid, $2, $3, $4)",
            &[&id, &aggregate, &event_type, &payload],
        )
        .unwrap();
        id
    };
    let chat = new_uuid();
    let ok = insert(
        &mut pg,
        &chat,
        "message.created",
        message_payload(
            &chat,
            &new_uuid(),
            "oli",
            "I live in Porto.",
            json!(1769067099.568),
        ),
    );
    let legacy = message_payload(
        "chat-1769035355992",
        &new_uuid(),
        "oli",
        "hi",
        json!(1769067099),
    );
    let bad_id = insert(&mut pg, "chat-1769035355992", "message.created", legacy);
    let huge = insert(
        &mut pg,
        &chat,
        "message.created",
        message_payload(
            &chat,
            &new_uuid(),
            "oli",
            &"x".repeat(70_000),
            json!(1769067099),
        ),
    );
    let unknown = insert(&mut pg, &chat, "chat.renamed", json!({}));
    let mismatch = insert(
        &mut pg,
        &new_uuid(),
        "message.created",
        message_payload(&chat, &new_uuid(), "oli", "hi", json!(1769067099)),
    );

    eventually("valid row relayed", LONG, || {
        let s: String = pg
            .query_one(
                "SELECT status FROM outbox_events WHERE id = $1::text::uuid",
                &[&ok],
            )
            .unwrap()
            .get(0);
        (s == "relayed").then_some(())
    });
    for (id, reason) in [
        (&bad_id, "invalid_uuid"),
        (&huge, "payload_too_large"),
        (&unknown, "unknown_event_type"),
        (&mismatch, "aggregate_mismatch"),
    ] {
        let (status, got): (String, String) = eventually("row dead", LONG, || {
            let r = pg
                .query_opt(
                    "SELECT o.status, d.reason FROM outbox_events o JOIN dead_letters d ON d.source = 'outbox' AND d.source_ref = o.id::text WHERE o.id = $1::text::uuid",
                    &[id],
                )
                .unwrap()?;
            Some((r.get(0), r.get(1)))
        });
        assert_eq!(status, "dead");
        assert_eq!(got, reason);
    }
    let len: i64 = redis::cmd("XLEN")
        .arg(&env.stream)
        .query(&mut env.redis())
        .unwrap();
    assert_eq!(len, 1, "only the valid row is published");
    eventually("the valid row's fact", LONG, || {
        let (_, f) = daemon.get("/v1/users/oli/facts");
        (f["facts"].as_array().map(|a| a.len()) == Some(1)).then_some(())
    });
    assert_eq!(daemon.restarts("relay"), 0);
    let status = daemon.status();
    assert_eq!(status["outbox"]["dead"], 4);
    assert_eq!(status["dead_letters"]["total"], 4);
}

/// PostgreSQL refusing one specific event (a constraint, `invalid input syntax`, ...) is
/// deterministic: that event is dead-lettered on its first failure as `store_rejected`, with
/// the database's reason, and the rest of its batch is applied.
#[test]
fn an_event_the_database_refuses_is_dead_lettered_on_first_failure() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    // A stand-in for any per-row constraint the schema may have: it refuses one content.
    env.pg()
        .batch_execute(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.content = 'violates a constraint' THEN
                 RAISE EXCEPTION 'content refused by policy' USING ERRCODE = '23514';
               END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER refuse_poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
        )
        .unwrap();
    let chat = new_uuid();
    env.xadd_message(
        &new_uuid(),
        &message_payload(
            &chat,
            &new_uuid(),
            "sid",
            "My name is Sid.",
            json!(1769067099),
        ),
    );
    let poison = env.xadd_message(
        &new_uuid(),
        &message_payload(
            &chat,
            &new_uuid(),
            "sid",
            "violates a constraint",
            json!(1769067100),
        ),
    );
    env.xadd_message(
        &new_uuid(),
        &message_payload(
            &chat,
            &new_uuid(),
            "sid",
            "I live in Oslo.",
            json!(1769067101),
        ),
    );
    let (reason, detail, deliveries): (String, String, i64) =
        eventually("dead-lettered", LONG, || {
            let r = env
                .pg()
                .query_opt(
                    "SELECT reason, detail, delivery_count FROM dead_letters WHERE source_ref = $1",
                    &[&poison],
                )
                .unwrap()?;
            Some((r.get(0), r.get(1), r.get(2)))
        });
    assert_eq!(reason, "store_rejected");
    assert!(
        detail.contains("content refused by policy") && detail.contains("23514"),
        "{detail}"
    );
    assert_eq!(
        deliveries, 1,
        "no retry schedule for a deterministic refusal"
    );
    eventually("the rest of the batch applied", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 2)
            .then_some(())
    });
    assert_eq!(
        env.count("SELECT count(*) FROM facts WHERE user_id = 'sid'"),
        2
    );
    assert_eq!(daemon.restarts("worker"), 0);
    eventually("nothing pending", LONG, || {
        (daemon.status()["stream"]["pending"] == 0).then_some(())
    });
    assert!(!daemon.log_lines_with("event=batch_refused").is_empty());

    // The letter keeps the message as its payload: once the cause is gone it can be replayed.
    env.pg()
        .batch_execute("DROP TRIGGER refuse_poison ON messages")
        .unwrap();
    let id: String = env
        .pg()
        .query_one(
            "SELECT id::text FROM dead_letters WHERE source_ref = $1",
            &[&poison],
        )
        .unwrap()
        .get(0);
    let (code, body) = daemon.post(&format!("/admin/dead-letters/{id}/replay"), "");
    assert_eq!(code, 200, "{body}");
    eventually("the replayed message is processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 3)
            .then_some(())
    });
}

/// One message id in several events: the same message again is a duplicate (nothing new is
/// stored, nothing is lost); other content, or another chat, under that id is a conflict,
/// dead-lettered as `message_id_conflict` naming both events, and the first stays as it was.
#[test]
fn a_reused_message_id_is_a_conflict_not_swallowed() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let (chat, other_chat, message) = (new_uuid(), new_uuid(), new_uuid());
    let first_event = new_uuid();
    let said = |chat: &str, content: &str| {
        message_payload(chat, &message, "rue", content, json!(1769067099))
    };
    env.xadd_message(&first_event, &said(&chat, "My name is Rue."));
    eventually("the first processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 1)
            .then_some(())
    });
    let again = new_uuid();
    env.xadd_message(&again, &said(&chat, "My name is Rue."));
    let other_content = new_uuid();
    let conflict_content = env.xadd_message(&other_content, &said(&chat, "My name is Eve."));
    let other_chat_event = new_uuid();
    let conflict_chat = env.xadd_message(&other_chat_event, &said(&other_chat, "My name is Rue."));
    eventually("both conflicts dead-lettered", LONG, || {
        (env.count("SELECT count(*) FROM dead_letters WHERE reason = 'message_id_conflict'") == 2)
            .then_some(())
    });
    let mut pg = env.pg();
    for (entry, event) in [
        (&conflict_content, &other_content),
        (&conflict_chat, &other_chat_event),
    ] {
        let detail: String = pg
            .query_one(
                "SELECT detail FROM dead_letters WHERE source_ref = $1",
                &[entry],
            )
            .unwrap()
            .get(0);
        assert!(
            detail.contains(&first_event) && detail.contains(event.as_str()),
            "names both events: {detail}"
        );
    }
    eventually("nothing pending", LONG, || {
        (daemon.status()["stream"]["pending"] == 0).then_some(())
    });
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters"),
        2,
        "the repeat of the same message is a duplicate, not a letter"
    );
    let content: String = pg
        .query_one(
            "SELECT content FROM messages WHERE id = $1::text::uuid",
            &[&message],
        )
        .unwrap()
        .get(0);
    assert_eq!(content, "My name is Rue.", "the first message stays");
    assert_eq!(env.count("SELECT count(*) FROM facts"), 1);
    assert_eq!(env.count("SELECT count(*) FROM messages"), 1);
    let (_, letters) = daemon.get("/admin/dead-letters?reason=message_id_conflict");
    assert_eq!(letters["total"], 2, "{letters}");
    let metrics = ureq::get(&daemon.url("/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics.contains(
            "memlink_dead_letters_total{reason=\"message_id_conflict\",actor=\"worker\"} 2"
        ),
        "counted: {metrics}"
    );
}
