//! End to end: chat API → outbox → relay → stream → worker → facts, titles, watermarks.

mod common;

use common::*;
use serde_json::json;

/// The seed's check, stage by stage: message stored, outbox event, relayed, fact, title,
/// watermark.
#[test]
fn a_posted_message_becomes_memory() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();

    let (code, body) = daemon.post_message(&chat, "pronter", "user", "My name is PronterTestUser.");
    assert_eq!(code, 201, "{body}");
    let message_id = body["message_id"].as_str().expect("message_id").to_owned();
    let event_id = body["event_id"].as_str().expect("event_id").to_owned();

    let mut pg = env.pg();
    let row = pg
        .query_one(
            "SELECT chat_id::text, content FROM messages WHERE id = $1::text::uuid",
            &[&message_id],
        )
        .expect("message row");
    assert_eq!(row.get::<_, String>(0), chat);
    assert_eq!(row.get::<_, String>(1), "My name is PronterTestUser.");

    let stream_id: String = eventually("the outbox event is relayed", LONG, || {
        let r = pg
            .query_one(
                "SELECT status, stream_id FROM outbox_events WHERE id = $1::text::uuid",
                &[&event_id],
            )
            .expect("outbox row");
        (r.get::<_, String>(0) == "relayed").then(|| r.get(1))
    });
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(&env.stream)
        .arg(&stream_id)
        .arg(&stream_id)
        .query(&mut env.redis())
        .expect("XRANGE");
    assert_eq!(entries.len(), 1);
    assert!(entries[0]
        .1
        .contains(&("event_id".to_owned(), event_id.clone())));

    let facts = eventually("the name fact", LONG, || {
        let (_, body) = daemon.get("/v1/users/pronter/facts");
        let facts = body["facts"].as_array().cloned().unwrap_or_default();
        (!facts.is_empty()).then_some(facts)
    });
    assert_eq!(facts.len(), 1, "{facts:?}");
    assert_eq!(facts[0]["predicate"], "name");
    assert_eq!(facts[0]["object"], "PronterTestUser");
    assert_eq!(facts[0]["chat_id"], chat.as_str());
    assert_eq!(facts[0]["source_message_id"], message_id.as_str());

    let chat_view = eventually("the watermark", LONG, || {
        let (code, body) = daemon.get(&format!("/v1/chats/{chat}"));
        (code == 200 && !body["watermark"].is_null()).then_some(body)
    });
    assert_eq!(chat_view["title"], "My name is PronterTestUser.");
    assert_eq!(chat_view["title_source"], "fallback");
    assert_eq!(chat_view["message_count"], 1);
    assert_eq!(chat_view["watermark"]["message_count"], 1);
    assert_eq!(
        chat_view["watermark"]["checksum"],
        expected_checksum(&[&message_id]).as_str()
    );
    assert!(chat_view["watermark"]["updated_at"].is_i64(), "{chat_view}");

    let status = daemon.status();
    assert_eq!(status["outbox"]["pending"], 0);
    assert_eq!(status["dead_letters"]["total"], 0);
    assert_eq!(status["watermarks"]["pending"], 0);
    assert_eq!(status["stream"]["pending"], 0);
    assert_eq!(status["stream"]["length"], 1);
    let (code, ready) = daemon.get("/readyz");
    assert_eq!(code, 200, "{ready}");
}

/// Facts come from user messages only, several per message; a later statement supersedes an
/// earlier one whatever the arrival order; the earliest user message titles the chat.
#[test]
fn order_of_arrival_does_not_matter() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    let (early, late, bot) = (new_uuid(), new_uuid(), new_uuid());
    // The later message arrives first.
    env.xadd_message(
        &new_uuid(),
        &message_payload(
            &chat,
            &late,
            "ana",
            "I live in Paris.",
            json!("2026-01-02T10:00:00Z"),
        ),
    );
    env.xadd_message(
        &new_uuid(),
        &message_payload(
            &chat,
            &early,
            "ana",
            "My name is Ana. I live in Lyon.",
            json!(1767261600),
        ),
    );
    let mut from_bot = message_payload(&chat, &bot, "ana", "My name is Botty.", json!(1767261500));
    from_bot["role"] = json!("assistant");
    env.xadd_message(&new_uuid(), &from_bot);

    let view = eventually("all three folded", LONG, || {
        let (_, body) = daemon.get(&format!("/v1/chats/{chat}"));
        (body["watermark"]["message_count"] == 3).then_some(body)
    });
    assert_eq!(view["title"], "My name is Ana. I live in Lyon.");
    assert_eq!(
        view["watermark"]["checksum"],
        expected_checksum(&[&early, &late, &bot]).as_str()
    );

    let (_, body) = daemon.get("/v1/users/ana/facts");
    let mut facts: Vec<(String, String)> = body["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["predicate"].as_str().unwrap().to_owned(),
                f["object"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    facts.sort();
    assert_eq!(
        facts,
        vec![
            ("location".into(), "Paris".into()),
            ("name".into(), "Ana".into())
        ]
    );
    // The superseded value is kept, ended when the new one was said.
    let valid_to: String = env
        .pg()
        .query_one(
            "SELECT valid_to::text FROM facts WHERE user_id = 'ana' AND object = 'Lyon' AND superseded_by IS NOT NULL",
            &[],
        )
        .expect("Lyon superseded")
        .get(0);
    assert!(valid_to.starts_with("2026-01-02 10:00:00"), "{valid_to}");
}

/// The same event delivered twice changes nothing; the same event id with another payload is
/// dead-lettered as a conflict.
#[test]
fn redelivery_changes_nothing() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let (chat, msg, event) = (new_uuid(), new_uuid(), new_uuid());
    let payload = message_payload(
        &chat,
        &msg,
        "rita",
        "I live in Rome.",
        json!(1769067099.568),
    );
    env.xadd_message(&event, &payload);
    env.xadd_message(&event, &payload);
    let mut changed = payload.clone();
    changed["content"] = json!("I live in Oslo.");
    env.xadd_message(&event, &changed);

    eventually("the conflict is dead-lettered", LONG, || {
        (env.count("SELECT count(*) FROM dead_letters WHERE reason = 'duplicate_event_id'") == 1)
            .then_some(())
    });
    eventually("the watermark", LONG, || {
        (env.count("SELECT coalesce(sum(message_count), 0)::int8 FROM watermarks") == 1)
            .then_some(())
    });
    assert_eq!(env.count("SELECT count(*) FROM facts"), 1);
    assert_eq!(env.count("SELECT count(*) FROM processed_events"), 1);
    let created: String = env
        .pg()
        .query_one("SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM messages", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        created, "2026-01-22 07:31:39.568000",
        "the float timestamp is an exact instant"
    );
    let (_, chat_view) = daemon.get(&format!("/v1/chats/{chat}"));
    assert_eq!(
        chat_view["watermark"]["checksum"],
        expected_checksum(&[&msg]).as_str()
    );
    assert_eq!(daemon.status()["stream"]["pending"], 0);
}

/// A chat known only from a legacy producer's stream entry is known to the API.
#[test]
fn a_chat_known_only_from_the_stream_is_known() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    let (code, _) = daemon.get(&format!("/v1/chats/{chat}"));
    assert_eq!(code, 404);
    env.xadd_message(
        &new_uuid(),
        &message_payload(&chat, &new_uuid(), "leo", "hello there", json!(1769067099)),
    );
    let view = eventually("the chat is known", LONG, || {
        let (code, body) = daemon.get(&format!("/v1/chats/{chat}"));
        (code == 200).then_some(body)
    });
    assert_eq!(view["title"], "hello there");
    assert_eq!(view["message_count"], 1);
}

/// Two relays on one outbox publish each event exactly once.
#[test]
fn two_relays_publish_each_event_once() {
    let env = TestEnv::new();
    let a = env.spawn_daemon(&[("MEMLINK_CONSUMER", "host-a")]);
    let b = env.spawn_daemon(&[("MEMLINK_CONSUMER", "host-b")]);
    const N: i64 = 600;
    let mut pg = env.pg();
    // Inserted as an external producer would, in several transactions while both relays run.
    for batch in 0..6 {
        let mut tx = pg.transaction().unwrap();
        for i in 0..N / 6 {
            let chat = new_uuid();
            let payload = message_payload(
                &chat,
                &new_uuid(),
                &format!("user-{batch}-{i}"),
                &format!("My name is U{batch}x{i}."),
                json!(1769067099 + i),
            );
            tx.execute(
                "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1::text::uuid, $2, 'message.created', $3)",
                &[&new_uuid(), &chat, &payload],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    eventually("all events relayed", LONG, || {
        (env.count("SELECT count(*) FROM outbox_events WHERE status = 'relayed'") == N)
            .then_some(())
    });
    let len: i64 = redis::cmd("XLEN")
        .arg(&env.stream)
        .query(&mut env.redis())
        .unwrap();
    assert_eq!(len, N, "each event published exactly once");
    eventually("all facts", LONG, || {
        (env.count("SELECT count(*) FROM facts") == N).then_some(())
    });
    eventually("all folded", LONG, || {
        (env.count("SELECT coalesce(sum(message_count), 0)::int8 FROM watermarks") == N)
            .then_some(())
    });
    assert_eq!(env.count("SELECT count(*) FROM processed_events"), N);
    drop((a, b));
}

/// SIGTERM drains and exits 0.
#[test]
fn sigterm_exits_cleanly() {
    let env = TestEnv::new();
    let mut daemon = env.spawn_daemon(&[]);
    let (code, _) = daemon.post_message(&new_uuid(), "sam", "user", "I live in Faro.");
    assert_eq!(code, 201);
    daemon.signal("TERM");
    let status = daemon
        .wait_exit(std::time::Duration::from_secs(30))
        .expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", daemon.log_text());
    assert!(!daemon.log_lines_with("event=stopped").is_empty());
}

/// Several workers in one process share the stream and still apply each event once.
#[test]
fn several_workers_in_one_process_apply_each_event_once() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_WORKERS", "3")]);
    let names: Vec<String> = daemon.status()["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    for w in ["worker", "worker-2", "worker-3"] {
        assert!(names.iter().any(|n| n == w), "{w} not running: {names:?}");
    }
    const N: i64 = 900;
    let chats: Vec<String> = (0..30).map(|_| new_uuid()).collect();
    let mut pg = env.pg();
    let mut tx = pg.transaction().unwrap();
    for i in 0..N {
        let chat = &chats[i as usize % chats.len()];
        let payload = message_payload(
            chat,
            &new_uuid(),
            &format!("w-{}", i % 100),
            &format!("My name is W{i}."),
            json!(1769067099 + i),
        );
        tx.execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1::text::uuid, $2, 'message.created', $3)",
            &[&new_uuid(), chat, &payload],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    eventually("all processed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == N).then_some(())
    });
    eventually("all folded", LONG, || {
        (env.count("SELECT coalesce(sum(message_count), 0)::int8 FROM watermarks") == N)
            .then_some(())
    });
    assert_eq!(
        env.count("SELECT count(*) FROM fact_sources"),
        N,
        "one statement per message"
    );
    // 100 users, each said 9 names: one current name each, the rest superseded in order.
    assert_eq!(
        env.count("SELECT count(*) FROM facts WHERE superseded_by IS NULL"),
        100
    );
    assert_eq!(env.count("SELECT count(*) FROM dead_letters"), 0);
    let started = ["worker", "worker-2", "worker-3"]
        .iter()
        .filter(|w| {
            !daemon
                .log_lines_with(&format!("event=actor_started actor={w} "))
                .is_empty()
        })
        .count();
    assert_eq!(started, 3);
    for w in ["worker", "worker-2", "worker-3"] {
        assert_eq!(daemon.restarts(w), 0, "{w}");
    }
}
