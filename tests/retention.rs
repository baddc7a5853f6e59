//! Retention against real Postgres and Redis, with seconds-long retentions: acknowledged old
//! stream entries go while pending, undelivered and young ones stay; processed outbox rows and
//! their bookkeeping go while pending, dead and unconfirmed rows stay; resolved dead letters
//! expire and open ones stay; consumers of stopped or killed processes leave the group, one
//! owning pending entries stays; an event redelivered after its exactly-once record expired
//! changes nothing. What was removed shows in `/admin/status` and `/metrics`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn entry_exists(env: &TestEnv, id: &str) -> bool {
    let found: Vec<redis::Value> = redis::cmd("XRANGE")
        .arg(&env.stream)
        .arg(id)
        .arg(id)
        .query(&mut env.redis())
        .expect("XRANGE");
    !found.is_empty()
}

fn id_ms(id: &str) -> i64 {
    id.split('-').next().unwrap().parse().unwrap()
}

fn ack(env: &TestEnv, group: &str, ids: &[String]) {
    let n: i64 = redis::cmd("XACK")
        .arg(&env.stream)
        .arg(group)
        .arg(ids)
        .query(&mut env.redis())
        .expect("XACK");
    assert_eq!(n as usize, ids.len());
}

/// The consumers of the daemon's group: (name, pending).
fn consumers(env: &TestEnv) -> Vec<(String, i64)> {
    // No stream or group yet: no consumers.
    let v: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(&env.stream)
        .arg(&env.group)
        .query(&mut env.redis())
        .unwrap_or_default();
    v.iter()
        .map(|c| {
            let fields: Vec<redis::Value> = match c {
                redis::Value::Array(f) => f.clone(),
                redis::Value::Map(m) => {
                    m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect()
                }
                other => panic!("{other:?}"),
            };
            let mut name = String::new();
            let mut pending = -1;
            for pair in fields.chunks(2) {
                match (&pair[0], &pair[1]) {
                    (redis::Value::BulkString(k), redis::Value::BulkString(v)) if k == b"name" => {
                        name = String::from_utf8_lossy(v).into_owned()
                    }
                    (redis::Value::BulkString(k), redis::Value::Int(n)) if k == b"pending" => {
                        pending = *n
                    }
                    _ => {}
                }
            }
            (name, pending)
        })
        .collect()
}

fn consumer_names(env: &TestEnv) -> Vec<String> {
    let mut names: Vec<String> = consumers(env).into_iter().map(|(n, _)| n).collect();
    names.sort();
    names
}

fn metrics(daemon: &Daemon) -> String {
    ureq::get(&daemon.url("/metrics"))
        .call()
        .expect("GET /metrics")
        .into_string()
        .expect("body")
}

fn removed_metric(text: &str, kind: &str) -> f64 {
    let series = format!("memlink_retention_removed_total{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn acknowledged_old_entries_are_trimmed_while_pending_undelivered_and_young_ones_stay() {
    let env = TestEnv::new();
    env.migrate();
    // A second consumer group on the same stream, not memlink's: what it has not read or not
    // acknowledged must stay, whatever memlink's group did with it.
    env.create_group("audit");
    let e: Vec<String> = (0..3)
        .map(|i| {
            env.xadd_message(
                &new_uuid(),
                &message_payload(
                    &new_uuid(),
                    &new_uuid(),
                    "ret",
                    &format!("I live in Town{i}."),
                    json!(chrono::Utc::now().to_rfc3339()),
                ),
            )
        })
        .collect();
    // audit: e0 read and acknowledged, e1 read and pending, e2 never delivered.
    let first = env.read_as("audit", "auditor", 1);
    assert_eq!(first, vec![e[0].clone()]);
    ack(&env, "audit", &first);
    assert_eq!(env.read_as("audit", "auditor", 1), vec![e[1].clone()]);

    let daemon = env.spawn_daemon(&[("MEMLINK_STREAM_RETENTION_SECS", "6")]);
    eventually(
        "memlink processed the three entries",
        Duration::from_secs(30),
        || (env.count("SELECT count(*) FROM processed_events") == 3).then_some(()),
    );
    // e0 is old, acknowledged by both groups: trimmed. e1 (pending in audit) and e2 (never
    // delivered to audit) stay, however old.
    eventually("e0 trimmed", Duration::from_secs(30), || {
        (!entry_exists(&env, &e[0])).then_some(())
    });
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        entry_exists(&env, &e[1]),
        "an entry pending in a group was trimmed"
    );
    assert!(
        entry_exists(&env, &e[2]),
        "an entry a group never read was trimmed"
    );

    // Two young entries through the chat API, processed by memlink, then everything read and
    // acknowledged by audit too: e1 and e2 go, the young ones stay while young.
    let chat = new_uuid();
    for text in ["I live in Oslo.", "I work at Acme."] {
        let (code, body) = daemon.post_message(&chat, "ret", "user", text);
        assert_eq!(code, 201, "{body}");
    }
    eventually(
        "memlink processed the young entries",
        Duration::from_secs(30),
        || (env.count("SELECT count(*) FROM processed_events") == 5).then_some(()),
    );
    ack(&env, "audit", &[e[1].clone()]);
    let rest = env.read_as("audit", "auditor", 10);
    assert_eq!(rest.len(), 3, "{rest:?}");
    ack(&env, "audit", &rest);
    let (young, newest) = (rest[1].clone(), rest[2].clone());
    eventually("e1 and e2 trimmed", Duration::from_secs(30), || {
        (!entry_exists(&env, &e[1]) && !entry_exists(&env, &e[2])).then_some(())
    });
    let age_ms = chrono::Utc::now().timestamp_millis() - id_ms(&young);
    assert!(
        entry_exists(&env, &young),
        "an entry {age_ms} ms old was trimmed with a 6 s retention"
    );
    assert!(
        age_ms < 6_000,
        "the test ran too slowly to tell: {age_ms} ms"
    );
    // Once old, it goes too; the newest stays as both groups' last-delivered entry.
    eventually(
        "the young entry trimmed once old",
        Duration::from_secs(30),
        || (!entry_exists(&env, &young)).then_some(()),
    );
    assert!(chrono::Utc::now().timestamp_millis() - id_ms(&young) >= 6_000);
    assert!(entry_exists(&env, &newest));

    let status = daemon.status();
    let retention = &status["retention"];
    assert_eq!(
        retention["settings"]["stream_retention_secs"], 6,
        "{retention}"
    );
    assert_eq!(retention["running"], true);
    assert!(
        retention["removed_total"]["stream_entries"]
            .as_u64()
            .unwrap()
            >= 4,
        "{retention}"
    );
    assert!(retention["last_run"]["at"].is_string(), "{retention}");
    assert!(removed_metric(&metrics(&daemon), "stream_entries") >= 4.0);
    assert!(!daemon.log_lines_with("event=retention_removed").is_empty());
}

#[test]
fn processed_outbox_rows_and_bookkeeping_expire_while_pending_dead_and_unconfirmed_stay() {
    let env = TestEnv::new();
    env.migrate();
    let mut pg = env.pg();
    // Rows as the relay and the worker leave them, an hour old (or an hour in the future: young
    // for the whole test).
    let mut row = |status: &str, relayed: &str| {
        let id = uuid::Uuid::new_v4();
        pg.execute(
            &format!(
                "INSERT INTO outbox_events (id, aggregate_id, event_type, payload, status, created_at,
                                            relayed_at, stream_id)
                 VALUES ($1, 'chat', 'message.created', '{{}}', $2, now() - interval '1 hour', {relayed}, '1-1')"
            ),
            &[&id, &status],
        )
        .unwrap();
        id
    };
    let processed_old = row("relayed", "now() - interval '1 hour'");
    let processed_young = row("relayed", "now() + interval '1 hour'");
    let unconfirmed_old = row("relayed", "now() - interval '1 hour'");
    let dead_old = row("dead", "NULL");
    let dead_lettered_old = row("relayed", "now() - interval '1 hour'");
    let processed = |event: uuid::Uuid, at: &str| {
        env.pg()
            .execute(
                &format!(
                    "INSERT INTO processed_events (event_id, message_id, chat_id, digest, processed_at)
                     VALUES ($1, gen_random_uuid(), gen_random_uuid(), '\\x00', {at})"
                ),
                &[&event],
            )
            .unwrap();
    };
    processed(processed_old, "now() - interval '1 hour'");
    processed(processed_young, "now() + interval '1 hour'");
    // Bookkeeping of events no outbox row holds (published straight to the stream).
    let orphan_old = uuid::Uuid::new_v4();
    let orphan_young = uuid::Uuid::new_v4();
    processed(orphan_old, "now() - interval '1 hour'");
    processed(orphan_young, "now() + interval '1 hour'");
    // An open dead letter confirms its row (the row goes, the letter stays).
    env.pg()
        .execute(
            "INSERT INTO dead_letters (id, received_at, source, source_ref, event_id, reason, detail, raw,
                                       raw_len, first_seen, last_seen, actor)
             VALUES (gen_random_uuid(), now() - interval '1 hour', 'stream', '1-1', $1, 'invalid_json',
                     'x', '\\x00', 1, now() - interval '1 hour', now() - interval '1 hour', 'worker')",
            &[&dead_lettered_old.to_string()],
        )
        .unwrap();
    // Idempotency keys: two days old (expired), and one hour old (honoured for a day, whatever
    // the retention).
    for age in ["2 days", "1 hour"] {
        env.pg()
            .execute(
                &format!(
                    "INSERT INTO idempotency_keys (chat_id, key, request_hash, message_id, event_id, created_at)
                     VALUES (gen_random_uuid(), $1, '\\x{}', gen_random_uuid(), gen_random_uuid(),
                             now() - interval '{age}')",
                    "00".repeat(32)
                ),
                &[&age],
            )
            .unwrap();
    }

    // A worker-only process: no relay, so a message posted now stays pending.
    let daemon = env.spawn_daemon_with(
        &["run", "--role", "worker"],
        &[("MEMLINK_RETENTION_SECS", "2")],
    );
    let (code, body) = daemon.post_message(&new_uuid(), "ret", "user", "I live in Oslo.");
    assert_eq!(code, 201, "{body}");
    env.pg()
        .execute(
            "UPDATE outbox_events SET created_at = now() - interval '1 hour' WHERE status = 'pending'",
            &[],
        )
        .unwrap();

    let outbox = |id: uuid::Uuid| -> bool {
        env.pg()
            .query_one("SELECT count(*) FROM outbox_events WHERE id = $1", &[&id])
            .unwrap()
            .get::<_, i64>(0)
            == 1
    };
    let bookkeeping = |id: uuid::Uuid| -> bool {
        env.pg()
            .query_one(
                "SELECT count(*) FROM processed_events WHERE event_id = $1",
                &[&id],
            )
            .unwrap()
            .get::<_, i64>(0)
            == 1
    };
    eventually(
        "old processed rows removed",
        Duration::from_secs(30),
        || {
            (!outbox(processed_old)
                && !bookkeeping(processed_old)
                && !outbox(dead_lettered_old)
                && !bookkeeping(orphan_old)
                && env.count("SELECT count(*) FROM idempotency_keys") == 1)
                .then_some(())
        },
    );
    // A few more rounds: what must stay, stays.
    std::thread::sleep(Duration::from_secs(3));
    assert!(outbox(processed_young) && bookkeeping(processed_young));
    assert!(outbox(unconfirmed_old), "an unconfirmed row was removed");
    assert!(outbox(dead_old), "a dead row was removed");
    assert_eq!(
        env.count("SELECT count(*) FROM outbox_events WHERE status = 'pending'"),
        1,
        "a pending row was removed"
    );
    assert!(bookkeeping(orphan_young));
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE status = 'dead'"),
        1
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM idempotency_keys WHERE created_at > now() - interval '1 day'"
        ),
        1
    );

    let retention = daemon.status()["retention"].clone();
    assert_eq!(retention["settings"]["retention_secs"], 2, "{retention}");
    assert_eq!(
        retention["removed_total"]["outbox_events"], 2,
        "{retention}"
    );
    assert_eq!(
        retention["removed_total"]["processed_events"], 2,
        "{retention}"
    );
    assert_eq!(
        retention["removed_total"]["idempotency_keys"], 1,
        "{retention}"
    );
    let text = metrics(&daemon);
    assert_eq!(removed_metric(&text, "outbox_events"), 2.0, "{text}");
    assert_eq!(removed_metric(&text, "processed_events"), 2.0);
}

#[test]
fn resolved_dead_letters_expire_with_their_actions_and_open_ones_stay() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_DEAD_LETTER_RETENTION_SECS", "3")]);
    // Two poison entries: two open letters.
    let a = env.xadd(&[
        ("event_id", b"poison-a"),
        ("event_type", b"message.created"),
        ("payload", b"{not json"),
    ]);
    let b = env.xadd(&[
        ("event_id", b"poison-b"),
        ("event_type", b"message.created"),
        ("payload", b"{not json"),
    ]);
    let letters = eventually("two letters", Duration::from_secs(30), || {
        let rows = env
            .pg()
            .query(
                "SELECT id, source_ref FROM dead_letters ORDER BY source_ref",
                &[],
            )
            .unwrap();
        (rows.len() == 2).then(|| {
            rows.iter()
                .map(|r| (r.get::<_, uuid::Uuid>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>()
        })
    });
    assert_eq!(
        (letters[0].1.as_str(), letters[1].1.as_str()),
        (a.as_str(), b.as_str())
    );
    let (discarded, open) = (letters[0].0, letters[1].0);
    let (code, body) = daemon.post(&format!("/admin/dead-letters/{discarded}/discard"), "");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letter_actions"),
        1,
        "the discard is audited"
    );
    let gone = |id: uuid::Uuid| {
        env.pg()
            .query_one("SELECT count(*) FROM dead_letters WHERE id = $1", &[&id])
            .unwrap()
            .get::<_, i64>(0)
            == 0
    };
    // Not before the retention has passed since the discard.
    std::thread::sleep(Duration::from_millis(1_500));
    assert!(!gone(discarded), "a letter went before its retention");
    eventually(
        "the discarded letter expired",
        Duration::from_secs(30),
        || gone(discarded).then_some(()),
    );
    assert_eq!(env.count("SELECT count(*) FROM dead_letter_actions"), 0);
    std::thread::sleep(Duration::from_secs(3));
    assert!(!gone(open), "an open letter expired silently");
    let retention = daemon.status()["retention"].clone();
    assert_eq!(retention["removed_total"]["dead_letters"], 1, "{retention}");
    assert_eq!(
        retention["removed_total"]["dead_letter_actions"], 1,
        "{retention}"
    );
    assert_eq!(retention["settings"]["dead_letter_retention_secs"], 3);
}

#[test]
fn consumers_of_stopped_processes_leave_the_group_unless_they_own_pending_entries() {
    let env = TestEnv::new();
    env.migrate();
    // A short stream retention makes rounds run every second.
    let fast = [
        ("MEMLINK_HEARTBEAT_SECS", "1"),
        ("MEMLINK_RECLAIM_IDLE_SECS", "3600"),
        ("MEMLINK_STREAM_RETENTION_SECS", "2"),
    ];
    let with = |consumer: &'static str| -> Vec<(&'static str, &'static str)> {
        let mut v = fast.to_vec();
        v.push(("MEMLINK_CONSUMER", consumer));
        v
    };
    // A consumer exists once its worker was delivered an entry; wait until it acknowledged it
    // (a consumer killed while owning it would rightly stay, with reclaiming set to an hour).
    let wait_consumer = |daemon: &Daemon, name: &str| {
        let (code, body) = daemon.post_message(&new_uuid(), "ret", "user", "I live in Oslo.");
        assert_eq!(code, 201, "{body}");
        eventually(
            &format!("consumer {name} in the group, nothing pending"),
            Duration::from_secs(30),
            || {
                consumers(&env)
                    .contains(&(name.to_owned(), 0))
                    .then_some(())
            },
        )
    };

    // A graceful stop: its consumer leaves at once.
    let mut a = env.spawn_daemon(&with("ret-a"));
    wait_consumer(&a, "ret-a");
    a.signal("TERM");
    a.wait_exit(Duration::from_secs(30)).expect("a exits");
    assert!(
        !consumer_names(&env).contains(&"ret-a".to_owned()),
        "{:?}\n{}",
        consumer_names(&env),
        a.log_text()
    );
    assert!(!a
        .log_lines_with("event=retention_consumer_removed consumer=\"ret-a\" reason=departed")
        .is_empty());

    // Killed: its consumer stays until its heartbeat is stale.
    let mut b = env.spawn_daemon(&with("ret-b"));
    wait_consumer(&b, "ret-b");
    b.kill_hard();

    // A consumer whose process died owning an entry (its heartbeat is stale), one that owns
    // none, and one that no heartbeat names (another tool's, recently active).
    let mut pg = env.pg();
    for ghost in ["ghost-pending", "ghost-idle"] {
        pg.execute(
            "INSERT INTO heartbeats (instance_id, host, pid, role, version, bus, stream, group_name,
                                     consumer, interval_secs, started_at, last_seen)
             VALUES (gen_random_uuid(), 'elsewhere', 1, 'worker', '0', 'redis://x', $1, $2, $3, 1,
                     now() - interval '1 hour', now() - interval '1 hour')",
            &[&env.stream, &env.group, &ghost],
        )
        .unwrap();
    }
    let entry = env.xadd(&[
        ("event_id", b"held"),
        ("event_type", b"message.created"),
        ("payload", b"{}"),
    ]);
    assert_eq!(
        env.read_as(&env.group, "ghost-pending", 10),
        vec![entry.clone()]
    );
    for idle in ["ghost-idle", "stranger"] {
        let _: i64 = redis::cmd("XGROUP")
            .arg("CREATECONSUMER")
            .arg(&env.stream)
            .arg(&env.group)
            .arg(idle)
            .query(&mut env.redis())
            .unwrap();
    }

    let c = env.spawn_daemon(&with("ret-c"));
    eventually(
        "ret-b and ghost-idle removed",
        Duration::from_secs(30),
        || {
            let names = consumer_names(&env);
            (!names.contains(&"ret-b".to_owned()) && !names.contains(&"ghost-idle".to_owned()))
                .then_some(())
        },
    );
    let stayed = consumers(&env);
    assert!(
        stayed.contains(&("ghost-pending".to_owned(), 1)),
        "a consumer owning a pending entry left the group: {stayed:?}"
    );
    assert!(stayed.iter().any(|(n, _)| n == "stranger"), "{stayed:?}");
    // Once its entry is dealt with (here acknowledged by hand), it goes too.
    ack(&env, &env.group, &[entry]);
    eventually("ghost-pending removed", Duration::from_secs(30), || {
        (!consumer_names(&env).contains(&"ghost-pending".to_owned())).then_some(())
    });
    assert!(consumer_names(&env).contains(&"stranger".to_owned()));
    assert!(
        !c.log_lines_with("event=retention_consumer_removed consumer=\"ret-b\" reason=stopped")
            .is_empty(),
        "{}",
        c.log_text()
    );
    let retention = c.status()["retention"].clone();
    assert_eq!(retention["removed_total"]["consumers"], 3, "{retention}");
}

/// Exactly-once at the edge of the window: an event redelivered after its `processed_events`
/// row expired is recognised by its stored message and changes nothing.
#[test]
fn an_event_redelivered_after_its_record_expired_changes_nothing() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_RETENTION_SECS", "1")]);
    let (chat, message, event) = (new_uuid(), new_uuid(), new_uuid());
    let payload = message_payload(
        &chat,
        &message,
        "edge",
        "My name is Edge. I live in Oslo.",
        json!(chrono::Utc::now().to_rfc3339()),
    );
    env.xadd_message(&event, &payload);
    let facts = eventually("processed", Duration::from_secs(30), || {
        let n = env.count("SELECT count(*) FROM facts");
        (n > 0 && env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 1)
            .then_some(n)
    });
    // Published straight to the stream: no outbox row holds it, so its record expires alone.
    eventually("the record expired", Duration::from_secs(30), || {
        (env.count("SELECT count(*) FROM processed_events") == 0).then_some(())
    });
    env.xadd_message(&event, &payload);
    eventually(
        "the redelivery recorded again",
        Duration::from_secs(30),
        || (env.count("SELECT count(*) FROM processed_events") == 1).then_some(()),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.count("SELECT count(*) FROM facts"), facts);
    assert_eq!(env.count("SELECT count(*) FROM messages"), 1);
    assert_eq!(env.count("SELECT count(*) FROM dead_letters"), 0);
    let (code, view) = daemon.get(&format!("/v1/chats/{chat}"));
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["watermark"]["message_count"], 1, "{view}");
}
