//! The memory graph end to end, on the real daemon: facts with history (`?at=`,
//! `?include=history`), repeats as sources, late messages, multi-valued facts and retractions,
//! provenance, forgetting users (in flight too) and messages, and `memlink reextract`.

mod common;

use memlink_actors::extract::EXTRACTOR_VERSION;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Appends a user message said at `at` (RFC 3339) to the stream; returns its message id.
fn say(env: &TestEnv, chat: &str, user: &str, content: &str, at: &str) -> String {
    let id = new_uuid();
    env.xadd_message(
        &new_uuid(),
        &message_payload(chat, &id, user, content, json!(at)),
    );
    id
}

fn wait_processed(env: &TestEnv, n: i64) {
    eventually(&format!("{n} messages processed"), LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == n)
            .then_some(())
    });
}

fn wait_folded(env: &TestEnv, n: i64) {
    eventually(&format!("{n} messages folded"), LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE folded_at IS NOT NULL") == n).then_some(())
    });
}

fn facts(daemon: &Daemon, user: &str, query: &str) -> Vec<Value> {
    let (code, body) = daemon.get(&format!("/v1/users/{user}/facts{query}"));
    assert_eq!(code, 200, "{body}");
    body["facts"].as_array().cloned().expect("facts array")
}

/// (predicate, object) pairs, sorted.
fn values(facts: &[Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = facts
        .iter()
        .map(|f| {
            (
                f["predicate"].as_str().unwrap().to_owned(),
                f["object"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, o)| ((*p).to_owned(), (*o).to_owned()))
        .collect()
}

fn find<'a>(facts: &'a [Value], object: &str) -> &'a Value {
    facts
        .iter()
        .find(|f| f["object"] == object)
        .unwrap_or_else(|| panic!("no fact {object:?} in {facts:?}"))
}

fn fact(daemon: &Daemon, id: &str) -> Value {
    let (code, body) = daemon.get(&format!("/v1/facts/{id}"));
    assert_eq!(code, 200, "{body}");
    body
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// A name corrected, a location changed: the current view, the history with reasons, `?at=`
/// before and after each statement, the provenance chain, and the parameter errors.
#[test]
fn supersession_keeps_history_and_answers_at() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    let ana = say(
        &env,
        &chat,
        "ana",
        "My name is Ana.",
        "2026-01-01T10:00:00Z",
    );
    say(
        &env,
        &chat,
        "ana",
        "I live in Porto.",
        "2026-01-01T11:00:00Z",
    );
    let anna = say(
        &env,
        &chat,
        "ana",
        "Actually, my name is Anna.",
        "2026-01-02T10:00:00Z",
    );
    say(
        &env,
        &chat,
        "ana",
        "I moved to Paris.",
        "2026-01-03T10:00:00Z",
    );
    wait_processed(&env, 4);

    let current = facts(&daemon, "ana", "");
    assert_eq!(
        values(&current),
        pairs(&[("location", "Paris"), ("name", "Anna")])
    );
    // The original contract's fields are all there.
    let anna_fact = find(&current, "Anna");
    for field in [
        "id",
        "predicate",
        "object",
        "chat_id",
        "source_message_id",
        "created_at",
    ] {
        assert!(!anna_fact[field].is_null(), "{field} in {anna_fact}");
    }
    assert_eq!(anna_fact["source_message_id"], anna.as_str());
    assert_eq!(anna_fact["chat_id"], chat.as_str());
    assert_eq!(anna_fact["created_at"], "2026-01-02T10:00:00Z");
    assert_eq!(anna_fact["status"], "current");

    let history = facts(&daemon, "ana", "?include=history");
    assert_eq!(history.len(), 4, "{history:?}");
    let ana_fact = find(&history, "Ana");
    assert_eq!(ana_fact["status"], "corrected");
    assert_eq!(ana_fact["supersede_kind"], "correction");
    assert_eq!(ana_fact["superseded_by"], anna_fact["id"]);
    assert_eq!(
        ana_fact["valid_to"], ana_fact["valid_from"],
        "a corrected value was never true"
    );
    assert!(
        ana_fact["reason"].as_str().unwrap().contains("never true"),
        "{ana_fact}"
    );
    let porto = find(&history, "Porto");
    let paris = find(&history, "Paris");
    assert_eq!(porto["status"], "superseded");
    assert_eq!(porto["supersede_kind"], "change");
    assert_eq!(porto["valid_from"], "2026-01-01T11:00:00Z");
    assert_eq!(porto["valid_to"], "2026-01-03T10:00:00Z");
    assert_eq!(porto["superseded_by"], paris["id"]);
    assert!(porto["reason"].as_str().unwrap().contains("Paris"));
    assert!(paris["valid_to"].is_null());
    assert!(paris["reason"].is_null());

    let at = |t: &str| values(&facts(&daemon, "ana", &format!("?at={t}")));
    assert_eq!(at("2026-01-01T09:00:00Z"), pairs(&[]));
    // Ana was corrected: it never held, not even before the correction was said.
    assert_eq!(at("2026-01-01T10:30:00Z"), pairs(&[]));
    assert_eq!(at("2026-01-01T12:00:00Z"), pairs(&[("location", "Porto")]));
    assert_eq!(
        at("2026-01-02T12:00:00Z"),
        pairs(&[("location", "Porto"), ("name", "Anna")])
    );
    // valid_from <= at < valid_to: at the instant of the move, Paris.
    assert_eq!(
        at("2026-01-03T10:00:00Z"),
        pairs(&[("location", "Paris"), ("name", "Anna")])
    );
    // An offset other than Z, sent URL-encoded.
    assert_eq!(
        at("2026-01-02T13:00:00%2B02:00"),
        pairs(&[("location", "Porto"), ("name", "Anna")])
    );

    // Provenance: the correction's source, and the chain both ways.
    let detail = fact(&daemon, anna_fact["id"].as_str().unwrap());
    assert_eq!(detail["user_id"], "ana");
    assert_eq!(detail["kind"], "correction");
    assert_eq!(detail["sources"].as_array().unwrap().len(), 1);
    let source = &detail["sources"][0];
    assert_eq!(source["message_id"], anna.as_str());
    assert_eq!(source["message_text"], "Actually, my name is Anna.");
    assert_eq!(source["span"]["text"], "my name is Anna");
    assert_eq!(source["rule_id"], "name.my_name_is");
    assert_eq!(source["extractor"]["name"], "rules");
    assert_eq!(source["extractor"]["version"], EXTRACTOR_VERSION);
    assert!(source["confidence"].as_f64().unwrap() > 0.5);
    assert_eq!(detail["supersedes"].as_array().unwrap().len(), 1);
    assert_eq!(detail["supersedes"][0]["id"], ana_fact["id"]);
    assert_eq!(detail["supersedes"][0]["supersede_kind"], "correction");
    assert!(detail["superseded_by_fact"].is_null());
    let old = fact(&daemon, ana_fact["id"].as_str().unwrap());
    assert_eq!(old["superseded_by_fact"]["id"], anna_fact["id"]);
    assert_eq!(old["superseded_by_fact"]["object"], "Anna");
    assert_eq!(old["sources"][0]["message_id"], ana.as_str());
    assert_eq!(old["sources"][0]["span"]["text"], "My name is Ana");

    // Bad parameters are typed 400s; an unknown fact is a 404.
    for (path, code) in [
        ("/v1/users/ana/facts?at=yesterday", "invalid_at"),
        ("/v1/users/ana/facts?at=2026-01-02", "invalid_at"),
        ("/v1/users/ana/facts?include=everything", "invalid_include"),
        (
            "/v1/users/ana/facts?include=history&at=2026-01-02T10:00:00Z",
            "invalid_include",
        ),
        ("/v1/facts/not-a-uuid", "invalid_fact_id"),
    ] {
        let (status, body) = daemon.get(path);
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(error_code(&body), code, "{path}: {body}");
    }
    let (status, body) = daemon.get(&format!("/v1/facts/{}", new_uuid()));
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "fact_not_found");
}

/// Saying a current value again adds a source, not a row; redelivery and a second event for
/// the same message change nothing.
#[test]
fn repeats_add_sources_not_rows() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let (chat_a, chat_b) = (new_uuid(), new_uuid());
    let first_event = new_uuid();
    let first = new_uuid();
    let payload = message_payload(
        &chat_a,
        &first,
        "pia",
        "I live in Porto.",
        json!("2026-01-01T10:00:00Z"),
    );
    env.xadd_message(&first_event, &payload);
    wait_processed(&env, 1);
    let second = say(
        &env,
        &chat_b,
        "pia",
        "I live in Porto.",
        "2026-01-02T10:00:00Z",
    );
    let third = say(
        &env,
        &chat_a,
        "pia",
        "Hello! I live in Porto.",
        "2026-01-03T10:00:00Z",
    );
    wait_processed(&env, 3);
    // The same event again, and another event carrying the same message.
    env.xadd_message(&first_event, &payload);
    env.xadd_message(&new_uuid(), &payload);
    eventually("both redeliveries consumed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == 4).then_some(())
    });
    eventually("the stream is drained", LONG, || {
        (daemon.status()["stream"]["pending"] == 0).then_some(())
    });

    assert_eq!(
        env.count("SELECT count(*) FROM facts WHERE user_id = 'pia'"),
        1
    );
    assert_eq!(
        env.count("SELECT count(*) FROM fact_sources WHERE user_id = 'pia'"),
        3
    );
    let current = facts(&daemon, "pia", "");
    assert_eq!(current.len(), 1, "{current:?}");
    let porto = &current[0];
    assert_eq!(porto["object"], "Porto");
    assert_eq!(porto["source_message_id"], first.as_str());
    assert_eq!(porto["created_at"], "2026-01-01T10:00:00Z");
    assert_eq!(porto["sources"], 3);
    assert_eq!(porto["last_said_at"], "2026-01-03T10:00:00Z");
    assert_eq!(facts(&daemon, "pia", "?include=history").len(), 1);

    let detail = fact(&daemon, porto["id"].as_str().unwrap());
    let sources = detail["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 3);
    assert_eq!(sources[0]["message_id"], first.as_str());
    assert_eq!(sources[1]["chat_id"], chat_b.as_str());
    assert_eq!(sources[1]["message_id"], second.as_str());
    assert_eq!(sources[2]["message_id"], third.as_str());
    assert_eq!(sources[2]["message_text"], "Hello! I live in Porto.");
    assert_eq!(sources[2]["span"]["text"], "I live in Porto");
    assert!(detail["supersedes"].as_array().unwrap().is_empty());
}

/// An older message arriving after a newer one lands in the past: it never overrides the
/// current value, and the current fact keeps its id.
#[test]
fn a_late_older_message_does_not_override() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    say(
        &env,
        &chat,
        "leo",
        "I live in Paris.",
        "2026-01-03T10:00:00Z",
    );
    wait_processed(&env, 1);
    let before = facts(&daemon, "leo", "");
    assert_eq!(values(&before), pairs(&[("location", "Paris")]));
    let paris_id = before[0]["id"].clone();

    say(
        &env,
        &chat,
        "leo",
        "I live in Lisbon.",
        "2026-01-02T10:00:00Z",
    );
    wait_processed(&env, 2);
    let after = facts(&daemon, "leo", "");
    assert_eq!(values(&after), pairs(&[("location", "Paris")]));
    assert_eq!(after[0]["id"], paris_id);
    let history = facts(&daemon, "leo", "?include=history");
    let lisbon = find(&history, "Lisbon");
    assert_eq!(lisbon["valid_to"], "2026-01-03T10:00:00Z");
    assert_eq!(lisbon["superseded_by"], paris_id);
    assert_eq!(
        values(&facts(&daemon, "leo", "?at=2026-01-02T12:00:00Z")),
        pairs(&[("location", "Lisbon")])
    );

    // An even older statement of the current value is an earlier, separate stay in Paris.
    say(
        &env,
        &chat,
        "leo",
        "I live in Paris.",
        "2026-01-01T10:00:00Z",
    );
    wait_processed(&env, 3);
    let after = facts(&daemon, "leo", "");
    assert_eq!(values(&after), pairs(&[("location", "Paris")]));
    assert_eq!(after[0]["id"], paris_id, "the current fact keeps its id");
    assert_eq!(after[0]["valid_from"], "2026-01-03T10:00:00Z");
    assert_eq!(facts(&daemon, "leo", "?include=history").len(), 3);
    assert_eq!(
        values(&facts(&daemon, "leo", "?at=2026-01-01T12:00:00Z")),
        pairs(&[("location", "Paris")])
    );
}

/// Likes accumulate; a repeat is a source; a retraction ends only its value, and saying it
/// again later starts a new fact.
#[test]
fn multi_valued_facts_accumulate_and_retract() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    say(&env, &chat, "mia", "I like sushi.", "2026-01-01T10:00:00Z");
    say(&env, &chat, "mia", "I like hiking.", "2026-01-01T11:00:00Z");
    say(&env, &chat, "mia", "I like Sushi.", "2026-01-01T12:00:00Z");
    wait_processed(&env, 3);
    let current = facts(&daemon, "mia", "");
    assert_eq!(
        values(&current),
        pairs(&[("likes", "hiking"), ("likes", "sushi")])
    );
    assert_eq!(find(&current, "sushi")["sources"], 2);
    let sushi_id = find(&current, "sushi")["id"].as_str().unwrap().to_owned();

    let retraction_msg = say(
        &env,
        &chat,
        "mia",
        "I don't like sushi anymore.",
        "2026-01-02T10:00:00Z",
    );
    wait_processed(&env, 4);
    assert_eq!(
        values(&facts(&daemon, "mia", "")),
        pairs(&[("likes", "hiking")])
    );
    let history = facts(&daemon, "mia", "?include=history");
    assert_eq!(history.len(), 2, "retraction records are not values");
    let sushi = find(&history, "sushi");
    assert_eq!(sushi["status"], "retracted");
    assert_eq!(sushi["supersede_kind"], "retraction");
    assert_eq!(sushi["valid_to"], "2026-01-02T10:00:00Z");
    assert_eq!(
        values(&facts(&daemon, "mia", "?at=2026-01-01T13:00:00Z")),
        pairs(&[("likes", "hiking"), ("likes", "sushi")])
    );

    let detail = fact(&daemon, &sushi_id);
    let ended_by = &detail["superseded_by_fact"];
    assert_eq!(ended_by["kind"], "retraction");
    assert_eq!(ended_by["source_message_id"], retraction_msg.as_str());
    let retraction = fact(&daemon, ended_by["id"].as_str().unwrap());
    assert_eq!(retraction["status"], "retraction");
    assert_eq!(retraction["supersedes"][0]["id"], sushi_id.as_str());
    assert_eq!(
        retraction["sources"][0]["message_text"],
        "I don't like sushi anymore."
    );

    say(&env, &chat, "mia", "I like sushi.", "2026-01-03T10:00:00Z");
    wait_processed(&env, 5);
    let current = facts(&daemon, "mia", "");
    assert_eq!(
        values(&current),
        pairs(&[("likes", "hiking"), ("likes", "sushi")])
    );
    assert_ne!(find(&current, "sushi")["id"], sushi_id.as_str());
    assert_eq!(facts(&daemon, "mia", "?include=history").len(), 3);
}

/// `DELETE /v1/users/{id}`: facts, sources, messages, derived titles and watermarks go; the
/// other user's data stays; events for the forgotten user arriving afterwards (outbox row,
/// stream entry) are acked and dropped; new messages for them are refused.
#[test]
fn forgetting_a_user_removes_everything_and_drops_later_events() {
    let env = TestEnv::new();
    let mut daemon = env.spawn_daemon(&[]);
    let (solo, shared) = (new_uuid(), new_uuid());
    for (chat, user, role, content) in [
        (&solo, "zoe", "user", "My name is Zoe."),
        (&solo, "zoe", "user", "I live in Oslo."),
        (&shared, "zoe", "user", "I like chess."),
        (&shared, "max", "user", "I live in Rome."),
        (&shared, "max", "assistant", "Rome is lovely."),
    ] {
        let (code, body) = daemon.post_message(chat, user, role, content);
        assert_eq!(code, 201, "{body}");
        // Distinct created_at, so the earliest message is well defined.
        std::thread::sleep(Duration::from_millis(5));
    }
    wait_processed(&env, 5);
    wait_folded(&env, 5);
    let (_, view) = daemon.get(&format!("/v1/chats/{shared}"));
    assert_eq!(view["title"], "I like chess.");
    let max_ids: Vec<String> = env
        .pg()
        .query(
            "SELECT id::text FROM messages WHERE user_id = 'max' ORDER BY created_at",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();

    let (code, body) = daemon.delete("/v1/users/zoe");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["user_id"], "zoe");
    assert_eq!(
        body["removed"],
        json!({"facts": 3, "fact_sources": 3, "messages": 3, "titles_reset": 2,
               "watermarks_removed": 1, "watermarks_recomputed": 1})
    );
    assert!(daemon.wait_for_log("event=user_forgotten", LONG).is_some());

    assert!(facts(&daemon, "zoe", "?include=history").is_empty());
    for table in ["facts", "fact_sources", "messages"] {
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM {table} WHERE user_id = 'zoe'"
            )),
            0,
            "{table}"
        );
    }
    let (_, solo_view) = daemon.get(&format!("/v1/chats/{solo}"));
    assert!(solo_view["title"].is_null(), "{solo_view}");
    assert!(solo_view["watermark"].is_null(), "{solo_view}");
    assert_eq!(solo_view["message_count"], 0);
    let (_, shared_view) = daemon.get(&format!("/v1/chats/{shared}"));
    assert_eq!(shared_view["title"], "I live in Rome.");
    assert_eq!(shared_view["watermark"]["message_count"], 2);
    assert_eq!(
        shared_view["watermark"]["checksum"],
        expected_checksum(&[&max_ids[0], &max_ids[1]]).as_str()
    );
    assert_eq!(
        values(&facts(&daemon, "max", "")),
        pairs(&[("location", "Rome")])
    );
    assert_eq!(
        env.count("SELECT count(*) FROM forget_log WHERE scope = 'user' AND user_id = 'zoe'"),
        1
    );
    assert_eq!(
        env.count("SELECT count(*) FROM user_tombstones WHERE user_id = 'zoe'"),
        1
    );

    // In flight after the delete: an outbox row (as the chat service would write it) and a
    // stream entry for zoe, interleaved with messages for max on both paths.
    let mut pg = env.pg();
    let zoe_event = new_uuid();
    let max_event = new_uuid();
    for (event, user, content) in [
        (&zoe_event, "zoe", "I live in Bergen."),
        (&max_event, "max", "I like opera."),
    ] {
        let payload = message_payload(
            &shared,
            &new_uuid(),
            user,
            content,
            json!("2026-01-05T10:00:00Z"),
        );
        pg.execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1::text::uuid, $2, 'message.created', $3)",
            &[event, &shared, &payload],
        )
        .unwrap();
    }
    say(
        &env,
        &solo,
        "zoe",
        "My name is Zoe again.",
        "2026-01-05T11:00:00Z",
    );
    say(&env, &shared, "max", "I like jazz.", "2026-01-05T12:00:00Z");
    eventually("max's new messages processed", LONG, || {
        (env.count(
            "SELECT count(*) FROM messages WHERE user_id = 'max' AND processed_at IS NOT NULL",
        ) == 4)
            .then_some(())
    });
    eventually("all events consumed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == 9).then_some(())
    });
    eventually("the stream is drained", LONG, || {
        (daemon.status()["stream"]["pending"] == 0).then_some(())
    });
    assert_eq!(
        daemon
            .log_lines_with("event=forgotten_user_event_dropped")
            .len(),
        2,
        "{}",
        daemon.log_text()
    );
    for table in ["facts", "fact_sources", "messages"] {
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM {table} WHERE user_id = 'zoe'"
            )),
            0,
            "{table}"
        );
    }
    assert!(facts(&daemon, "zoe", "?include=history").is_empty());
    assert_eq!(
        values(&facts(&daemon, "max", "")),
        pairs(&[("likes", "jazz"), ("likes", "opera"), ("location", "Rome")])
    );
    let (_, solo_view) = daemon.get(&format!("/v1/chats/{solo}"));
    assert!(solo_view["title"].is_null(), "{solo_view}");
    wait_folded(&env, 4);
    let (_, shared_view) = daemon.get(&format!("/v1/chats/{shared}"));
    assert_eq!(shared_view["watermark"]["message_count"], 4);

    // A forgotten user stays forgotten.
    let (code, body) = daemon.post_message(&solo, "zoe", "user", "I live in Oslo.");
    assert_eq!(code, 410, "{body}");
    assert_eq!(error_code(&body), "user_forgotten");
    // Forgetting again is harmless.
    let (code, body) = daemon.delete("/v1/users/zoe");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["removed"]["messages"], 0);
}

/// Stop the daemon, queue events for a user, forget the user (through a second daemon on
/// another stream), start again: the queued events are dropped, the others processed.
#[test]
fn events_queued_before_a_forget_are_dropped_after_it() {
    let env = TestEnv::new();
    let chat = new_uuid();
    let mut first = env.spawn_daemon(&[]);
    say(
        &env,
        &chat,
        "kim",
        "My name is Kim.",
        "2026-01-01T10:00:00Z",
    );
    say(
        &env,
        &chat,
        "lou",
        "My name is Lou.",
        "2026-01-01T10:00:01Z",
    );
    wait_processed(&env, 2);
    first.signal("TERM");
    assert_eq!(
        first.wait_exit(LONG).and_then(|s| s.code()),
        Some(0),
        "{}",
        first.log_text()
    );

    // Queued while nothing consumes the stream.
    let queued_kim = say(
        &env,
        &chat,
        "kim",
        "I live in Oslo.",
        "2026-01-01T11:00:00Z",
    );
    say(&env, &chat, "kim", "I like chess.", "2026-01-01T11:00:01Z");
    say(
        &env,
        &chat,
        "lou",
        "I live in Lima.",
        "2026-01-01T11:00:02Z",
    );

    let other_stream = format!("{}:other", env.stream);
    {
        let helper = env.spawn_daemon(&[
            ("MEMLINK_STREAM", other_stream.as_str()),
            ("MEMLINK_GROUP", "memlink-test-helper"),
        ]);
        let (code, body) = helper.delete("/v1/users/kim");
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["removed"]["facts"], 1);
        assert_eq!(body["removed"]["messages"], 1);
    }
    let _: Result<i64, _> = redis::cmd("DEL").arg(&other_stream).query(&mut env.redis());

    let daemon = env.spawn_daemon(&[]);
    eventually("lou's queued message processed", LONG, || {
        (env.count(
            "SELECT count(*) FROM messages WHERE user_id = 'lou' AND processed_at IS NOT NULL",
        ) == 2)
            .then_some(())
    });
    eventually("all queued events consumed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == 5).then_some(())
    });
    eventually("the stream is drained", LONG, || {
        (daemon.status()["stream"]["pending"] == 0).then_some(())
    });
    assert_eq!(
        daemon
            .log_lines_with("event=forgotten_user_event_dropped")
            .len(),
        2
    );
    for table in ["facts", "fact_sources", "messages"] {
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM {table} WHERE user_id = 'kim'"
            )),
            0,
            "{table}"
        );
    }
    assert_eq!(
        env.pg()
            .query_one(
                "SELECT count(*) FROM messages WHERE id = $1::text::uuid",
                &[&queued_kim]
            )
            .unwrap()
            .get::<_, i64>(0),
        0
    );
    assert_eq!(
        values(&facts(&daemon, "lou", "")),
        pairs(&[("location", "Lima"), ("name", "Lou")])
    );
    wait_folded(&env, 2);
    let (_, view) = daemon.get(&format!("/v1/chats/{chat}"));
    assert_eq!(view["watermark"]["message_count"], 2);
    assert_eq!(view["title"], "My name is Lou.");
}

/// `DELETE /v1/chats/{chat}/messages/{id}`: a fact only that message supported goes, one said
/// elsewhere too stays minus that source; the title and watermark are recomputed; the
/// message's events arriving later are dropped.
#[test]
fn forgetting_a_message_retracts_only_what_it_alone_supports() {
    let env = TestEnv::new();
    let mut daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    let porto = say(
        &env,
        &chat,
        "ivy",
        "I live in Porto.",
        "2026-01-01T10:00:00Z",
    );
    let sushi = say(&env, &chat, "ivy", "I like sushi.", "2026-01-01T11:00:00Z");
    let both = say(
        &env,
        &chat,
        "ivy",
        "I like sushi and hiking.",
        "2026-01-01T12:00:00Z",
    );
    let paris = say(
        &env,
        &chat,
        "ivy",
        "I moved to Paris.",
        "2026-01-01T13:00:00Z",
    );
    wait_processed(&env, 4);
    wait_folded(&env, 4);
    assert_eq!(
        values(&facts(&daemon, "ivy", "")),
        pairs(&[
            ("likes", "hiking"),
            ("likes", "sushi"),
            ("location", "Paris")
        ])
    );
    let sushi_id = find(&facts(&daemon, "ivy", ""), "sushi")["id"].clone();

    let (code, body) = daemon.delete(&format!("/v1/chats/{chat}/messages/{both}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["removed"],
        json!({"fact_sources": 2, "facts": 1, "facts_kept": 1, "messages": 1, "titles_reset": 0,
               "watermarks_removed": 0, "watermarks_recomputed": 1})
    );
    assert!(daemon
        .wait_for_log("event=message_forgotten", LONG)
        .is_some());
    let current = facts(&daemon, "ivy", "");
    assert_eq!(
        values(&current),
        pairs(&[("likes", "sushi"), ("location", "Paris")])
    );
    let kept = find(&current, "sushi");
    assert_eq!(kept["id"], sushi_id);
    assert_eq!(kept["sources"], 1);
    assert_eq!(kept["source_message_id"], sushi.as_str());

    // Forgetting the move: the facts are re-derived as if it was never said.
    let (code, body) = daemon.delete(&format!("/v1/chats/{chat}/messages/{paris}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["removed"]["facts"], 1);
    assert_eq!(
        values(&facts(&daemon, "ivy", "")),
        pairs(&[("likes", "sushi"), ("location", "Porto")])
    );
    assert_eq!(facts(&daemon, "ivy", "?include=history").len(), 2);

    // Forgetting the title message: the next earliest user message titles the chat.
    let (code, body) = daemon.delete(&format!("/v1/chats/{chat}/messages/{porto}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["removed"]["titles_reset"], 1);
    let (_, view) = daemon.get(&format!("/v1/chats/{chat}"));
    assert_eq!(view["title"], "I like sushi.");
    assert_eq!(view["message_count"], 1);
    assert_eq!(
        values(&facts(&daemon, "ivy", "?include=history")),
        pairs(&[("likes", "sushi")])
    );
    assert_eq!(view["watermark"]["message_count"], 1);
    assert_eq!(
        view["watermark"]["checksum"],
        expected_checksum(&[&sushi]).as_str()
    );
    assert_eq!(
        env.count("SELECT count(*) FROM forget_log WHERE scope = 'message'"),
        3
    );

    // Again: 404. Bad ids: 400.
    let (code, body) = daemon.delete(&format!("/v1/chats/{chat}/messages/{porto}"));
    assert_eq!(code, 404, "{body}");
    assert_eq!(error_code(&body), "message_not_found");
    let (code, body) = daemon.delete(&format!("/v1/chats/{chat}/messages/nope"));
    assert_eq!(code, 400);
    assert_eq!(error_code(&body), "invalid_message_id");
    let (code, body) = daemon.delete(&format!("/v1/chats/nope/messages/{porto}"));
    assert_eq!(code, 400);
    assert_eq!(error_code(&body), "invalid_chat_id");

    // The forgotten message redelivered under a new event id stays forgotten.
    env.xadd_message(
        &new_uuid(),
        &message_payload(
            &chat,
            &both,
            "ivy",
            "I like sushi and hiking.",
            json!("2026-01-01T12:00:00Z"),
        ),
    );
    eventually("the redelivery consumed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == 5).then_some(())
    });
    assert_eq!(
        env.pg()
            .query_one(
                "SELECT count(*) FROM messages WHERE id = $1::text::uuid",
                &[&both]
            )
            .unwrap()
            .get::<_, i64>(0),
        0
    );
    assert_eq!(
        values(&facts(&daemon, "ivy", "?include=history")),
        pairs(&[("likes", "sushi")])
    );
}

fn reextract(env: &TestEnv, args: &[&str]) -> (i32, String) {
    let out = Command::new(binary())
        .arg("reextract")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &env.database_url)
        .output()
        .expect("run memlink reextract");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn reextract_json(env: &TestEnv, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, out) = reextract(env, &all);
    assert_eq!(code, 0, "{out}");
    let start = out.find('{').expect("a JSON report");
    let end = out.rfind('}').expect("a JSON report");
    serde_json::from_str(&out[start..=end]).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// An "old extractor version" is simulated in SQL: statements restamped to version 0, one
/// statement the current extractor does not make, one it makes missing. Re-extraction
/// restores exactly the current extractor's output, a dry run changes nothing, a second run
/// reports no change.
#[test]
fn reextract_replaces_old_versions_and_is_idempotent() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    let name_msg = say(
        &env,
        &chat,
        "rex",
        "My name is Rex.",
        "2026-01-01T10:00:00Z",
    );
    say(&env, &chat, "rex", "I like tea.", "2026-01-02T10:00:00Z");
    say(
        &env,
        &chat,
        "old",
        "I live in Rome.",
        "2025-06-01T10:00:00Z",
    );
    wait_processed(&env, 3);

    let mut pg = env.pg();
    pg.batch_execute(
        "UPDATE fact_sources SET extractor_version = 0 WHERE user_id = 'rex';
         UPDATE facts SET extractor_version = 0 WHERE user_id = 'rex';
         DELETE FROM fact_sources WHERE user_id = 'rex' AND object = 'tea';
         DELETE FROM facts WHERE user_id = 'rex' AND object = 'tea';",
    )
    .unwrap();
    let bogus = new_uuid();
    pg.execute(
        "INSERT INTO facts (id, user_id, predicate, object, kind, chat_id, source_message_id, created_at, valid_from,
                            span_start, span_end, rule_id, extractor, extractor_version, confidence)
         SELECT $1::text::uuid, 'rex', 'likes', 'coffee', 'assert', chat_id, id, created_at, created_at,
                0, 14, 'likes.old_rule', 'rules', 0, 0.5
           FROM messages WHERE id = $2::text::uuid",
        &[&bogus, &name_msg],
    )
    .unwrap();
    pg.execute(
        "INSERT INTO fact_sources (id, fact_id, user_id, predicate, object, kind, message_id, chat_id, said_at,
                                   span_start, span_end, rule_id, extractor, extractor_version, confidence)
         SELECT $1::text::uuid, $1::text::uuid, 'rex', 'likes', 'coffee', 'assert', id, chat_id, created_at,
                0, 14, 'likes.old_rule', 'rules', 0, 0.5
           FROM messages WHERE id = $2::text::uuid",
        &[&bogus, &name_msg],
    )
    .unwrap();
    assert_eq!(
        values(&facts(&daemon, "rex", "")),
        pairs(&[("likes", "coffee"), ("name", "Rex")])
    );

    let dry = reextract_json(&env, &["--since", "2026-01-01T00:00:00Z", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["messages"], 2, "{dry}");
    assert_eq!(
        (
            &dry["added"],
            &dry["removed"],
            &dry["unchanged"],
            &dry["restamped"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "{dry}"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM fact_sources WHERE extractor_version = 0"),
        2,
        "a dry run changes nothing"
    );

    let run = reextract_json(&env, &["--since", "2026-01-01T00:00:00Z"]);
    assert_eq!(
        (
            &run["added"],
            &run["removed"],
            &run["unchanged"],
            &run["restamped"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "{run}"
    );
    let changes = run["changes"].as_array().unwrap();
    let added = changes.iter().find(|c| c["change"] == "added").unwrap();
    assert_eq!(
        (&added["predicate"], &added["object"]),
        (&json!("likes"), &json!("tea"))
    );
    let removed = changes.iter().find(|c| c["change"] == "removed").unwrap();
    assert_eq!(removed["object"], "coffee");
    let restamped = changes.iter().find(|c| c["change"] == "restamped").unwrap();
    assert_eq!(restamped["previous_version"], 0);
    assert_eq!(restamped["extractor_version"], EXTRACTOR_VERSION);

    assert_eq!(
        values(&facts(&daemon, "rex", "")),
        pairs(&[("likes", "tea"), ("name", "Rex")])
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM fact_sources WHERE extractor_version <> {EXTRACTOR_VERSION}"
        )),
        0
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM facts WHERE extractor_version <> {EXTRACTOR_VERSION}"
        )),
        0
    );
    assert_eq!(
        env.count("SELECT count(*) FROM facts f WHERE NOT EXISTS (SELECT 1 FROM fact_sources s WHERE s.fact_id = f.id)"),
        0,
        "every fact has a source"
    );

    let again = reextract_json(&env, &["--since", "2026-01-01T00:00:00Z"]);
    assert_eq!(
        (
            &again["added"],
            &again["removed"],
            &again["unchanged"],
            &again["restamped"]
        ),
        (&json!(0), &json!(0), &json!(2), &json!(0)),
        "{again}"
    );
    assert_eq!(again["facts_written"], 0);
    assert_eq!(again["facts_deleted"], 0);
    assert!(again["changes"].as_array().unwrap().is_empty());

    // The whole history, in words; the older message was already current.
    let (code, out) = reextract(&env, &["--since", "2020-01-01T00:00:00Z"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("messages:   3"), "{out}");
    assert!(out.contains("added:      0"), "{out}");
    // A bad --since is a usage error.
    let (code, out) = reextract(&env, &["--since", "last week"]);
    assert_eq!(code, 2, "{out}");
}

/// A database written by V1 (one fact row per statement, repeats as rows, retraction rows
/// without an end) upgrades: every row becomes its own first source, reads work at once, and
/// the next statement about a (user, predicate) merges its legacy repeats into one fact.
#[test]
fn a_v1_database_upgrades_with_sources_backfilled() {
    // V1's history row as refinery writes it, taken from a database this binary migrated.
    let reference = TestEnv::new();
    let out = Command::new(binary())
        .arg("migrate")
        .env("DATABASE_URL", &reference.database_url)
        .output()
        .expect("run memlink migrate");
    assert!(out.status.success());
    let v1 = reference
        .pg()
        .query_one(
            "SELECT name, applied_on, checksum FROM refinery_schema_history WHERE version = 1",
            &[],
        )
        .unwrap();
    let (name, applied_on, checksum): (String, String, String) = (v1.get(0), v1.get(1), v1.get(2));

    let env = TestEnv::new();
    let mut pg = env.pg();
    pg.batch_execute(include_str!("../migrations/V1__init.sql"))
        .unwrap();
    pg.batch_execute(
        "CREATE TABLE refinery_schema_history (version int4 PRIMARY KEY, name varchar(255),
                                               applied_on varchar(255), checksum varchar(255))",
    )
    .unwrap();
    pg.execute(
        "INSERT INTO refinery_schema_history VALUES (1, $1, $2, $3)",
        &[&name, &applied_on, &checksum],
    )
    .unwrap();
    let chat = new_uuid();
    let ids: Vec<String> = (0..4).map(|_| new_uuid()).collect();
    let facts_ids: Vec<String> = (0..4).map(|_| new_uuid()).collect();
    pg.execute("INSERT INTO chats (id) VALUES ($1::text::uuid)", &[&chat])
        .unwrap();
    let said = [
        ("My name is Ana.", "2026-01-01T10:00:00Z"),
        ("My name is Ana.", "2026-01-02T10:00:00Z"),
        ("I like sushi.", "2026-01-03T10:00:00Z"),
        ("I don't like sushi anymore.", "2026-01-04T10:00:00Z"),
    ];
    for (id, (content, at)) in ids.iter().zip(said) {
        pg.execute(
            "INSERT INTO messages (id, chat_id, user_id, role, content, created_at, processed_at)
             VALUES ($1::text::uuid, $2::text::uuid, 'old', 'user', $3, $4::text::timestamptz, now())",
            &[id, &chat, &content, &at],
        )
        .unwrap();
    }
    // As V1's worker left them: the repeat superseded the first row as a change; the
    // retraction ended sushi and kept no end of its own.
    type LegacyRow<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<usize>,
        Option<&'a str>,
    );
    let rows: [LegacyRow; 4] = [
        (
            "name",
            "Ana",
            "assert",
            Some("2026-01-02T10:00:00Z"),
            Some(1),
            Some("change"),
        ),
        ("name", "Ana", "assert", None, None, None),
        (
            "likes",
            "sushi",
            "assert",
            Some("2026-01-04T10:00:00Z"),
            Some(3),
            Some("retraction"),
        ),
        ("likes", "sushi", "retraction", None, None, None),
    ];
    for (n, (predicate, object, kind, valid_to, by, how)) in rows.into_iter().enumerate() {
        let by = by.map(|i| facts_ids[i].clone());
        pg.execute(
            "INSERT INTO facts (id, user_id, predicate, object, kind, chat_id, source_message_id, created_at,
                                valid_from, valid_to, superseded_by, supersede_kind, span_start, span_end,
                                rule_id, extractor, extractor_version, confidence)
             SELECT $1::text::uuid, 'old', $2, $3, $4, chat_id, id, created_at, created_at,
                    $5::text::timestamptz, $6::text::uuid, $7, 0, 14, 'legacy.rule', 'rules', 1, 0.9
               FROM messages WHERE id = $8::text::uuid",
            &[&facts_ids[n], &predicate, &object, &kind, &valid_to, &by, &how, &ids[n]],
        )
        .unwrap();
    }

    let daemon = env.spawn_daemon(&[]);
    assert_eq!(
        env.count("SELECT count(*) FROM refinery_schema_history WHERE version = 3"),
        1
    );
    assert_eq!(
        env.count("SELECT count(*) FROM fact_sources WHERE fact_id = id"),
        4
    );
    assert_eq!(
        env.count("SELECT count(*) FROM facts WHERE kind = 'retraction' AND valid_to = valid_from"),
        1
    );
    assert_eq!(
        values(&facts(&daemon, "old", "")),
        pairs(&[("name", "Ana")])
    );
    let history = facts(&daemon, "old", "?include=history");
    assert_eq!(
        history.len(),
        3,
        "legacy repeats are still rows: {history:?}"
    );
    assert_eq!(find(&history, "sushi")["status"], "retracted");

    // The next statement about the name merges the legacy repeats.
    say(
        &env,
        &chat,
        "old",
        "My name is Ana.",
        "2026-01-05T10:00:00Z",
    );
    eventually("the new message processed", LONG, || {
        (env.count("SELECT count(*) FROM fact_sources") == 5).then_some(())
    });
    let history = facts(&daemon, "old", "?include=history");
    assert_eq!(
        values(&history),
        pairs(&[("likes", "sushi"), ("name", "Ana")])
    );
    let ana = find(&history, "Ana");
    assert_eq!(
        ana["id"],
        facts_ids[0].as_str(),
        "the earliest row's id is kept"
    );
    assert_eq!(ana["sources"], 3);
    assert_eq!(ana["valid_from"], "2026-01-01T10:00:00Z");
    assert!(ana["valid_to"].is_null());
    assert_eq!(
        fact(&daemon, &facts_ids[0])["sources"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// Forgetting is irreversible: with an admin token configured, it needs the token.
#[test]
fn forgetting_requires_the_admin_token_when_one_is_set() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", "s3cret-token")]);
    let chat = new_uuid();
    let (code, body) = daemon.post_message(&chat, "tess", "user", "My name is Tess.");
    assert_eq!(code, 201, "{body}");
    let message = body["message_id"].as_str().unwrap().to_owned();
    for path in [
        "/v1/users/tess".to_owned(),
        format!("/v1/chats/{chat}/messages/{message}"),
    ] {
        let (code, body) = daemon.delete(&path);
        assert_eq!(code, 401, "{path}: {body}");
        assert_eq!(error_code(&body), "unauthorized");
        let (code, _) = request("DELETE", &daemon.url(&path), None, Some("wrong"));
        assert_eq!(code, 401, "{path}");
    }
    assert_eq!(env.count("SELECT count(*) FROM forget_log"), 0);
    let (code, body) = request(
        "DELETE",
        &daemon.url("/v1/users/tess"),
        None,
        Some("s3cret-token"),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(env.count("SELECT count(*) FROM forget_log"), 1);
    // Reads stay open, like the rest of the chat API.
    let (code, body) = daemon.get("/v1/users/tess/facts");
    assert_eq!(code, 200, "{body}");
}

/// Forgetting while the user's messages are still pouring in: whatever the interleaving, no
/// trace of the user survives, and every accepted event is consumed.
#[test]
fn forgetting_during_traffic_leaves_nothing_behind() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let accepted = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (url, accepted) = (daemon.url(""), accepted.clone());
        std::thread::spawn(move || {
            let chat = new_uuid();
            for i in 0..400 {
                let body = json!({"user_id": "race", "role": "user",
                                  "content": format!("My name is Racer{i}.")})
                .to_string();
                let (code, _) = request(
                    "POST",
                    &format!("{url}/v1/chats/{chat}/messages"),
                    Some(&body),
                    None,
                );
                match code {
                    201 => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    410 => return,
                    other => panic!("unexpected status {other}"),
                }
            }
            panic!("the writer was never refused");
        })
    };
    let calm_chat = new_uuid();
    for i in 0..20 {
        let (code, _) = daemon.post_message(&calm_chat, "calm", "user", &format!("I like tea{i}."));
        assert_eq!(code, 201);
    }
    eventually("some of race's messages processed", LONG, || {
        (env.count("SELECT count(*) FROM fact_sources WHERE user_id = 'race'") >= 20).then_some(())
    });
    let (code, body) = daemon.delete("/v1/users/race");
    assert_eq!(code, 200, "{body}");
    writer.join().expect("writer");
    let total = accepted.load(Ordering::SeqCst) as i64 + 20;
    eventually("every accepted event consumed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == total).then_some(())
    });
    for table in ["facts", "fact_sources", "messages"] {
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM {table} WHERE user_id = 'race'"
            )),
            0,
            "{table}"
        );
    }
    assert!(facts(&daemon, "race", "?include=history").is_empty());
    // Nor in the transport copies: the outbox rows relayed before the forget, those relayed
    // after it (redacted before they were published) and their stream entries.
    assert_eq!(
        env.count("SELECT count(*) FROM outbox_events WHERE strpos(payload::text, 'Racer') > 0"),
        0
    );
    // An event that raced the forget is deleted from the stream by the worker that dropped it,
    // just after its ack.
    eventually("no stream entry keeps the forgotten text", LONG, || {
        let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
            .arg(&env.stream)
            .arg("-")
            .arg("+")
            .query(&mut env.redis())
            .expect("XRANGE");
        assert!(entries.len() >= 20);
        entries
            .iter()
            .all(|(_, fields)| {
                fields
                    .iter()
                    .all(|f| !String::from_utf8_lossy(f).contains("Racer"))
            })
            .then_some(())
    });
    eprintln!(
        "race: {} messages accepted, {} dropped in flight after the forget",
        total - 20,
        daemon
            .log_lines_with("event=forgotten_user_event_dropped")
            .len()
    );
    assert_eq!(facts(&daemon, "calm", "").len(), 20);
    wait_folded(&env, 20);
    let (_, view) = daemon.get(&format!("/v1/chats/{calm_chat}"));
    assert_eq!(view["watermark"]["message_count"], 20);
}
