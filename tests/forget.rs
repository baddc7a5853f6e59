//! Complete forgetting: after `DELETE /v1/users/{id}` (or of a message) returns, no byte of
//! the forgotten text is left in any table of the database or in the stream, and the text
//! never reached the log at the default level.

mod common;

use std::time::Duration;

use common::{eventually, message_payload, new_uuid, request, TestEnv, LONG};
use serde_json::{json, Value};

/// Every (table, column) of the database whose text holds `marker`, with how many rows: each
/// column of every base table, cast to text (bytea searched as bytes).
fn tables_holding(env: &TestEnv, marker: &str) -> Vec<(String, String, i64)> {
    let mut pg = env.pg();
    let columns = pg
        .query(
            "SELECT c.table_name::text, c.column_name::text, c.data_type::text
               FROM information_schema.columns c
               JOIN information_schema.tables t
                 ON t.table_schema = c.table_schema AND t.table_name = c.table_name
              WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'",
            &[],
        )
        .expect("list columns");
    assert!(
        columns.len() > 50,
        "too few columns found: {}",
        columns.len()
    );
    let mut hits = Vec::new();
    for c in columns {
        let (table, column, ty): (String, String, String) = (c.get(0), c.get(1), c.get(2));
        let sql = if ty == "bytea" {
            format!(
                "SELECT count(*) FROM \"{table}\" WHERE position(convert_to($1, 'UTF8') in \"{column}\") > 0"
            )
        } else {
            format!("SELECT count(*) FROM \"{table}\" WHERE strpos(\"{column}\"::text, $1) > 0")
        };
        let n: i64 = pg.query_one(&sql, &[&marker]).expect(&sql).get(0);
        if n > 0 {
            hits.push((table, column, n));
        }
    }
    hits
}

/// Stream entries any of whose fields holds `marker`.
fn entries_holding(env: &TestEnv, marker: &str) -> Vec<String> {
    let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(&env.stream)
        .arg("-")
        .arg("+")
        .query(&mut env.redis())
        .expect("XRANGE");
    entries
        .into_iter()
        .filter(|(_, fields)| {
            fields
                .iter()
                .any(|f| String::from_utf8_lossy(f).contains(marker))
        })
        .map(|(id, _)| id)
        .collect()
}

fn marker(what: &str) -> String {
    format!("{what}{:016x}", rand::random::<u64>())
}

fn dead_letter_ids(env: &TestEnv) -> Vec<(String, String)> {
    env.pg()
        .query(
            "SELECT id::text, reason FROM dead_letters ORDER BY received_at",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn forgetting_a_user_leaves_no_byte_of_their_text_anywhere() {
    let env = TestEnv::new();
    // The default log level: message content must never reach it.
    let mut daemon = env.spawn_daemon(&[("RUST_LOG", "info")]);
    let secret = marker("Secretword");
    // In a field a detail quotes (an invalid created_at), not in the content.
    let quoted = marker("Quotedword");
    let user = format!("ivy-{}", &secret[10..18]);
    let (chat, shared) = (new_uuid(), new_uuid());
    for (c, u, text) in [
        (&chat, user.as_str(), format!("My name is Ivy. {secret}")),
        (&chat, user.as_str(), format!("I live in Porto. {secret}")),
        (&shared, user.as_str(), format!("I like chess {secret}.")),
        (&shared, "max", "I live in Rome.".to_owned()),
    ] {
        let (code, body) = daemon.post_message(c, u, "user", &text);
        assert_eq!(code, 201, "{body}");
        std::thread::sleep(Duration::from_millis(5));
    }
    // A stream dead letter: the content and the quoted field hold the markers.
    let letter_payload = json!({"message_id": new_uuid(), "chat_id": shared, "user_id": user,
        "role": "user", "content": format!("Later {secret}"), "created_at": format!("when {quoted}")});
    env.xadd_message(&new_uuid(), &letter_payload);
    // An outbox dead letter (its row stays, marked dead).
    let bad_row = json!({"message_id": new_uuid(), "chat_id": "chat-17", "user_id": user,
        "role": "user", "content": format!("Outbox {secret}"), "created_at": 1769067099});
    env.pg()
        .execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1::text::uuid, 'chat-17', 'message.created', $2)",
            &[&new_uuid(), &bad_row],
        )
        .unwrap();
    let letters = eventually("two dead letters", LONG, || {
        let l = dead_letter_ids(&env);
        (l.len() == 2).then_some(l)
    });
    // Audit rows holding the text: a patched replay (it goes through the outbox and is
    // processed) and a discard.
    let stream_letter = letters
        .iter()
        .find(|(_, r)| r == "invalid_timestamp")
        .expect("the stream letter");
    let outbox_letter = letters
        .iter()
        .find(|(_, r)| r == "invalid_uuid")
        .expect("the outbox letter");
    let (code, body) = request(
        "POST",
        &daemon.url(&format!("/admin/dead-letters/{}/replay", stream_letter.0)),
        Some(&json!({"patch": {"created_at": 1769067100}}).to_string()),
        None,
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = request(
        "POST",
        &daemon.url(&format!("/admin/dead-letters/{}/discard", outbox_letter.0)),
        Some("{}"),
        None,
    );
    assert_eq!(code, 200, "{body}");
    eventually("the user's messages processed", LONG, || {
        (env.count(&format!(
            "SELECT count(*) FROM messages WHERE user_id = '{user}' AND processed_at IS NOT NULL"
        )) == 4)
            .then_some(())
    });
    eventually("the stream drained", LONG, || {
        (daemon.status()["stream"]["pending"] == 0).then_some(())
    });
    daemon.signal("TERM");
    assert!(daemon.wait_exit(LONG).is_some(), "the daemon did not stop");
    let first_log = daemon.log_text();

    // Still pending when the user is forgotten: no relay runs in a worker-only daemon.
    let pending_id = new_uuid();
    let pending = message_payload(
        &chat,
        &new_uuid(),
        &user,
        &format!("Pending {secret}"),
        json!(1769067200),
    );
    env.pg()
        .execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1::text::uuid, $2, 'message.created', $3)",
            &[&pending_id, &chat, &pending],
        )
        .unwrap();

    // The search can fail: before the forget it finds the text everywhere it was copied.
    let before: Vec<String> = tables_holding(&env, &secret)
        .into_iter()
        .map(|(t, c, _)| format!("{t}.{c}"))
        .collect();
    for place in [
        "messages.content",
        "outbox_events.payload",
        "dead_letters.raw",
        "dead_letters.payload",
        "dead_letter_actions.original_payload",
        "dead_letter_actions.replayed_payload",
        "fact_sources.object",
    ] {
        assert!(
            before.iter().any(|p| p == place),
            "{place} not found before the forget: {before:?}"
        );
    }
    assert!(
        tables_holding(&env, &quoted)
            .iter()
            .any(|(t, c, _)| t == "dead_letters" && c == "detail"),
        "the quoted value is in the letter's detail"
    );
    assert!(entries_holding(&env, &secret).len() >= 4);

    let mut worker = env.spawn_daemon_with(&["run", "--role", "worker"], &[("RUST_LOG", "info")]);
    let (code, body) = worker.delete(&format!("/v1/users/{user}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["removed"]["messages"], 4, "{body}");
    let redacted = &body["redacted"];
    // Four processed events, the dead outbox row, the replay's row and the pending one.
    assert_eq!(redacted["outbox_events"], 6, "{body}");
    assert_eq!(redacted["dead_letters"], 2, "{body}");
    assert_eq!(redacted["dead_letter_actions"], 2, "{body}");
    assert!(
        redacted["stream_entries_deleted"].as_u64() >= Some(5),
        "{body}"
    );

    let left = tables_holding(&env, &secret);
    assert!(left.is_empty(), "the forgotten text is still in {left:?}");
    let left = tables_holding(&env, &quoted);
    assert!(left.is_empty(), "the quoted value is still in {left:?}");
    assert_eq!(entries_holding(&env, &secret), Vec::<String>::new());
    assert_eq!(entries_holding(&env, &quoted), Vec::<String>::new());

    // What stays: the letters' metadata and reasons, the outbox rows' ids and statuses.
    let kept = env.pg()
        .query(
            "SELECT reason, status, raw_len > 0, memlink_payload_user_id(payload) FROM dead_letters ORDER BY reason",
            &[],
        )
        .unwrap();
    let kept: Vec<(String, String, bool, Option<String>)> = kept
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        kept,
        vec![
            (
                "invalid_timestamp".into(),
                "replayed".into(),
                true,
                Some(user.clone())
            ),
            (
                "invalid_uuid".into(),
                "discarded".into(),
                true,
                Some(user.clone())
            ),
        ]
    );
    let row: Value = env
        .pg()
        .query_one(
            "SELECT payload FROM outbox_events WHERE id = $1::text::uuid AND status = 'pending'",
            &[&pending_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(row["user_id"], user.as_str());
    assert_eq!(row["chat_id"], chat.as_str());
    assert_eq!(row["content"], "[forgotten]");
    // The other user is untouched.
    assert_eq!(
        env.count("SELECT count(*) FROM messages WHERE user_id = 'max'"),
        1
    );

    // A forget again finds nothing more to redact, and the log never held the text.
    let (code, body) = worker.delete(&format!("/v1/users/{user}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["redacted"]["stream_entries_deleted"], 0, "{body}");
    assert_eq!(body["redacted"]["outbox_events"], 0, "{body}");

    // A malformed event for the user after the forget: dead-lettered without the text, and
    // its entry deleted once acked.
    let late = json!({"message_id": new_uuid(), "chat_id": chat, "user_id": user, "role": "user",
        "content": format!("Late {secret}"), "created_at": format!("then {quoted}")});
    env.xadd_message(&new_uuid(), &late);
    eventually("the late letter", LONG, || {
        (env.count("SELECT count(*) FROM dead_letters") == 3).then_some(())
    });
    eventually("the late entry deleted", LONG, || {
        entries_holding(&env, &secret).is_empty().then_some(())
    });
    let left = tables_holding(&env, &secret);
    assert!(left.is_empty(), "the late text is in {left:?}");
    assert!(tables_holding(&env, &quoted).is_empty());

    worker.signal("TERM");
    assert!(worker.wait_exit(LONG).is_some());

    // With a relay again: the redacted pending row is published and dropped, and a malformed
    // row a producer writes for the user now is dead-lettered without the text.
    let mut all = env.spawn_daemon(&[("RUST_LOG", "info")]);
    let bad_late = json!({"message_id": new_uuid(), "chat_id": "chat-18", "user_id": user,
        "role": "user", "content": format!("Outbox late {secret}"), "created_at": 1769067300});
    env.pg()
        .execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1::text::uuid, 'chat-18', 'message.created', $2)",
            &[&new_uuid(), &bad_late],
        )
        .unwrap();
    eventually("the late outbox letter", LONG, || {
        (env.count("SELECT count(*) FROM dead_letters") == 4).then_some(())
    });
    eventually("the pending row dropped", LONG, || {
        all.log_lines_with("event=forgotten_user_event_dropped")
            .first()
            .cloned()
    });
    let left = tables_holding(&env, &secret);
    assert!(left.is_empty(), "the late text is in {left:?}");
    assert_eq!(entries_holding(&env, &secret), Vec::<String>::new());
    all.signal("TERM");
    assert!(all.wait_exit(LONG).is_some());
    for log in [first_log, worker.log_text(), all.log_text()] {
        assert!(
            !log.contains(&secret),
            "message content reached the log:\n{log}"
        );
    }
}

/// `DELETE` of one message: its outbox payload is redacted and its stream entry deleted; the
/// user's other messages keep theirs.
#[test]
fn forgetting_a_message_removes_its_text_from_the_outbox_and_the_stream() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("RUST_LOG", "info")]);
    let gone = marker("Goneword");
    let kept = marker("Keptword");
    let chat = new_uuid();
    let (code, body) = daemon.post_message(&chat, "ola", "user", &format!("I like tea {gone}."));
    assert_eq!(code, 201, "{body}");
    let message = body["message_id"].as_str().expect("message id").to_owned();
    let (code, body) = daemon.post_message(&chat, "ola", "user", &format!("I like jam {kept}."));
    assert_eq!(code, 201, "{body}");
    eventually("both processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 2)
            .then_some(())
    });
    assert_eq!(entries_holding(&env, &gone).len(), 1);

    let (code, body) = daemon.delete(&format!("/v1/chats/{chat}/messages/{message}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["redacted"]["outbox_events"], 1, "{body}");
    assert_eq!(body["redacted"]["stream_entries_deleted"], 1, "{body}");
    let left = tables_holding(&env, &gone);
    assert!(left.is_empty(), "the forgotten text is still in {left:?}");
    assert_eq!(entries_holding(&env, &gone), Vec::<String>::new());
    let still: Vec<String> = tables_holding(&env, &kept)
        .into_iter()
        .map(|(t, c, _)| format!("{t}.{c}"))
        .collect();
    assert!(still.contains(&"messages.content".to_owned()), "{still:?}");
    assert!(
        still.contains(&"outbox_events.payload".to_owned()),
        "{still:?}"
    );
    assert_eq!(entries_holding(&env, &kept).len(), 1);
}
