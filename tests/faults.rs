//! Fault tests with real processes, real PostgreSQL and Redis, bounded in time, on loopback:
//! a process that dies handling a message, `kill -9` mid-flow, a Redis that loses everything,
//! PostgreSQL connections killed, several daemons sharing the work. Counts are exact.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use memlink_actors::plan::ABORT_MARKER;
use serde_json::json;

/// Every event processed exactly once: one processed record, one fact, one message per
/// event, and each chat's watermark equal to what its messages imply.
fn assert_exactly_once(env: &TestEnv, n: i64) {
    eventually("every event processed", Duration::from_secs(90), || {
        (env.count("SELECT count(*) FROM processed_events") == n).then_some(())
    });
    eventually("every message folded", Duration::from_secs(60), || {
        (env.count("SELECT coalesce(sum(message_count), 0)::int8 FROM watermarks") == n)
            .then_some(())
    });
    assert_eq!(
        env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL"),
        n
    );
    assert_eq!(
        env.count("SELECT count(*) FROM facts"),
        n,
        "one fact per message, none duplicated"
    );
    assert_eq!(
        env.count("SELECT count(DISTINCT (user_id, object)) FROM facts"),
        n
    );
    let mut pg = env.pg();
    let dead: Vec<(String, i64)> = pg
        .query(
            "SELECT reason, count(*) FROM dead_letters GROUP BY reason ORDER BY reason",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(dead.is_empty(), "dead letters by reason: {dead:?}");
    let mut per_chat: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in pg
        .query("SELECT chat_id::text, id::text FROM messages", &[])
        .unwrap()
    {
        per_chat.entry(r.get(0)).or_default().push(r.get(1));
    }
    for (chat, ids) in per_chat {
        let r = pg
            .query_one("SELECT message_count, encode(checksum, 'hex') FROM watermarks WHERE chat_id = $1::text::uuid", &[&chat])
            .unwrap();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(r.get::<_, i64>(0), ids.len() as i64, "chat {chat}");
        assert_eq!(
            r.get::<_, String>(1),
            expected_checksum(&refs),
            "chat {chat}"
        );
    }
}

#[test]
fn a_message_that_kills_the_process_is_quarantined_and_the_rest_flows() {
    let env = TestEnv::new();
    let fast = [("MEMLINK_RECLAIM_IDLE_SECS", "1")];
    let mut first = env.spawn_daemon(&fast);
    let chat = new_uuid();
    let mut valid = Vec::new();
    for i in 0..5 {
        let id = new_uuid();
        env.xadd_message(
            &new_uuid(),
            &message_payload(
                &chat,
                &id,
                &format!("k{i}"),
                &format!("My name is K{i}."),
                json!(1769067099 + i),
            ),
        );
        valid.push(id);
    }
    let killer = env.xadd_message(
        &new_uuid(),
        &message_payload(&chat, &new_uuid(), "k", ABORT_MARKER, json!(1769067110)),
    );
    for i in 5..10 {
        let id = new_uuid();
        env.xadd_message(
            &new_uuid(),
            &message_payload(
                &chat,
                &id,
                &format!("k{i}"),
                &format!("My name is K{i}."),
                json!(1769067099 + i),
            ),
        );
        valid.push(id);
    }
    let mut deaths = 0;
    let status = first
        .wait_exit(Duration::from_secs(30))
        .expect("the marked message kills the process");
    assert!(!status.success());
    deaths += 1;
    // Restart as systemd would, until a process survives.
    let survivor = loop {
        let mut d = env.spawn_daemon(&fast);
        if d.wait_exit(Duration::from_secs(8)).is_some() {
            deaths += 1;
            assert!(deaths <= 2, "the process kept dying: not quarantined");
            continue;
        }
        break d;
    };
    assert_eq!(deaths, 2, "quarantined after the default 2 process deaths");
    eventually("everything else processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 10)
            .then_some(())
    });
    let reason: String = env
        .pg()
        .query_one(
            "SELECT reason FROM dead_letters WHERE source_ref = $1",
            &[&killer],
        )
        .expect("the killer is dead-lettered")
        .get(0);
    assert_eq!(reason, "crashed_process");
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters"),
        1,
        "no innocent entry quarantined"
    );
    assert_eq!(env.count("SELECT count(*) FROM facts"), 10);
    eventually("nothing pending", LONG, || {
        (survivor.status()["stream"]["pending"] == 0).then_some(())
    });
    assert!(!survivor
        .log_lines_with("event=entry_quarantined reason=crashed_process")
        .is_empty());
}

#[test]
fn kill_9_mid_flow_loses_and_duplicates_nothing() {
    let env = TestEnv::new();
    let fast = [("MEMLINK_RECLAIM_IDLE_SECS", "1")];
    let mut daemon = env.spawn_daemon(&fast);
    const N: usize = 2_000;
    let producer = {
        let (url, tag) = (env.database_url.clone(), "kill9".to_owned());
        std::thread::spawn(move || {
            let env = ProducerEnv(url);
            env.produce(N, 50, &tag);
        })
    };
    eventually("some events processed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") >= 300).then_some(())
    });
    daemon.signal("KILL");
    daemon.wait_exit(Duration::from_secs(10)).expect("killed");
    let processed_at_kill = env.count("SELECT count(*) FROM processed_events");
    let _restarted = env.spawn_daemon(&fast);
    producer.join().unwrap();
    assert_exactly_once(&env, N as i64);
    eprintln!(
        "kill -9: sent={N} processed_at_kill={processed_at_kill} processed={N} duplicated=0 lost=0"
    );
}

/// A producer usable from another thread (the TestEnv stays with the test): inserts `n`
/// outbox events as an external producer would, in small paced transactions, spread over
/// `chats` chats, each message naming a distinct user so that every event yields one fact.
struct ProducerEnv(String);

impl ProducerEnv {
    fn produce(&self, n: usize, chats: usize, tag: &str) {
        // Named, so that the connection-killing test spares the producer.
        let mut config: postgres::Config = self.0.parse().unwrap();
        config.application_name("memlink-test-producer");
        let mut pg = config.connect(postgres::NoTls).unwrap();
        let chat_ids: Vec<String> = (0..chats).map(|_| new_uuid()).collect();
        for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
            let mut tx = pg.transaction().unwrap();
            for &i in chunk {
                let chat = &chat_ids[i % chats];
                let payload = message_payload(
                    chat,
                    &new_uuid(),
                    &format!("{tag}-{i}"),
                    &format!("My name is {tag}x{i}."),
                    json!(1769067099 + i as i64),
                );
                tx.execute(
                    "INSERT INTO outbox_events (id, aggregate_id, event_type, payload) VALUES ($1::text::uuid, $2, 'message.created', $3)",
                    &[&new_uuid(), chat, &payload],
                )
                .unwrap();
            }
            tx.commit().unwrap();
            std::thread::sleep(Duration::from_millis(15));
        }
    }
}

/// A Redis of the test's own that keeps nothing on disk, so it can be killed and restarted
/// empty.
const VOLATILE: [&str; 4] = ["--save", "", "--appendonly", "no"];

#[test]
fn redis_losing_everything_mid_flow_loses_nothing() {
    let env = TestEnv::new();
    let redis = PrivateRedis::start(&VOLATILE);
    let redis_url = redis.url.clone();
    let _daemon = env.spawn_daemon(&[
        ("REDIS_URL", redis_url.as_str()),
        ("MEMLINK_RECONCILE_AFTER_SECS", "2"),
        ("MEMLINK_RECLAIM_IDLE_SECS", "1"),
    ]);
    const N: usize = 1_500;
    let producer = {
        let url = env.database_url.clone();
        std::thread::spawn(move || ProducerEnv(url).produce(N, 40, "redisloss"))
    };
    eventually("some events processed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") >= 200).then_some(())
    });
    // Redis dies without persistence and comes back empty: stream, group and pending list gone.
    let port = redis.kill();
    std::thread::sleep(Duration::from_millis(500));
    let _redis = PrivateRedis::start_on(port, &VOLATILE);
    producer.join().unwrap();
    assert_exactly_once(&env, N as i64);
    let republished = env.count("SELECT coalesce(sum(republished), 0)::int8 FROM outbox_events");
    eprintln!(
        "redis restart: sent={N} processed={N} duplicated=0 lost=0 republished={republished}"
    );
}

#[test]
fn the_reconciler_republishes_events_the_broker_lost() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_RECONCILE_AFTER_SECS", "1")]);
    // Relayed long ago under stream ids that no longer exist, never confirmed by a worker:
    // exactly what a Redis failover or FLUSHALL leaves behind.
    let mut pg = env.pg();
    let chat = new_uuid();
    for i in 0..25 {
        let payload = message_payload(
            &chat,
            &new_uuid(),
            &format!("lost-{i}"),
            &format!("My name is Lost{i}."),
            json!(1769067099 + i),
        );
        pg.execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload, status, relayed_at, stream_id)
             VALUES ($1::text::uuid, $2, 'message.created', $3, 'relayed', now() - interval '1 hour', $4)",
            &[&new_uuid(), &chat, &payload, &format!("{}-0", 1000 + i)],
        )
        .unwrap();
    }
    eventually("all lost events processed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == 25).then_some(())
    });
    assert_eq!(env.count("SELECT count(*) FROM facts"), 25);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM outbox_events o JOIN processed_events p ON p.event_id = o.id
              WHERE o.republished = 1"
        ),
        25,
        "each published once more, and processed"
    );
    eventually("reported", LONG, || {
        (daemon.status()["reconciler"]["republished_total"] == 25).then_some(())
    });
    assert!(!daemon.log_lines_with("event=reconciled").is_empty());
    // Events that are merely waiting in the stream are left alone.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(daemon.status()["reconciler"]["republished_total"], 25);
}

#[test]
fn postgres_connections_killed_mid_flow_recover_by_themselves() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    const N: usize = 1_000;
    let producer = {
        let url = env.database_url.clone();
        std::thread::spawn(move || ProducerEnv(url).produce(N, 30, "pgloss"))
    };
    let mut admin = postgres::Client::connect(&admin_database_url(), postgres::NoTls).unwrap();
    let mut killed = 0i64;
    for _ in 0..5 {
        eventually("progress", LONG, || {
            (env.count("SELECT count(*) FROM processed_events") > killed * 10).then_some(())
        });
        let n: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                  WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name = ''",
                &[&env.db_name],
            )
            .unwrap()
            .get(0);
        killed += n;
        std::thread::sleep(Duration::from_millis(300));
    }
    producer.join().unwrap();
    assert_exactly_once(&env, N as i64);
    assert!(killed > 0, "connections were terminated");
    let (code, _) = daemon.get("/healthz");
    assert_eq!(code, 200, "the same process recovered");
    eprintln!("pg connection loss: sent={N} processed={N} duplicated=0 lost=0 backends_terminated={killed}");
}

fn pending_per_consumer(env: &TestEnv) -> Vec<(String, i64)> {
    redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(&env.stream)
        .arg(&env.group)
        .query::<Vec<std::collections::HashMap<String, redis::Value>>>(&mut env.redis())
        .unwrap()
        .into_iter()
        .filter_map(|m| match (m.get("name"), m.get("pending")) {
            (Some(redis::Value::BulkString(n)), Some(redis::Value::Int(p))) => {
                Some((String::from_utf8_lossy(n).into_owned(), *p))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn three_daemons_share_the_work_and_killing_one_loses_nothing() {
    let env = TestEnv::new();
    let fast = |name: &'static str| {
        [
            ("MEMLINK_RECLAIM_IDLE_SECS", "1"),
            ("MEMLINK_CONSUMER", name),
        ]
    };
    let mut a = env.spawn_daemon(&fast("host-a"));
    let b = env.spawn_daemon(&fast("host-b"));
    let c = env.spawn_daemon(&fast("host-c"));
    const N: usize = 1_500;
    let producer = {
        let url = env.database_url.clone();
        std::thread::spawn(move || ProducerEnv(url).produce(N, 60, "three"))
    };
    eventually("some events processed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") >= 300).then_some(())
    });
    a.signal("KILL");
    a.wait_exit(Duration::from_secs(10)).expect("killed");
    producer.join().unwrap();
    assert_exactly_once(&env, N as i64);
    // Entries host-a had applied but not acknowledged when it died are already counted
    // above; the survivors reclaim them after the idle time and acknowledge them as
    // duplicates, so the group's pending lists drain a moment later, not at once.
    eventually("every consumer's pending list drained", LONG, || {
        let consumers = pending_per_consumer(&env);
        eprintln!("pending per consumer: {consumers:?}");
        consumers
            .iter()
            .all(|(_, pending)| *pending == 0)
            .then_some(())
    });
    for (name, d) in [("host-a", &a), ("host-b", &b), ("host-c", &c)] {
        assert!(
            !d.log_lines_with("event=batch_applied").is_empty(),
            "{name} did no work"
        );
    }
}

#[test]
fn an_entry_delivered_too_often_is_dead_lettered_as_max_deliveries() {
    let env = TestEnv::new();
    let chat = new_uuid();
    let stuck = env.xadd_message(
        &new_uuid(),
        &message_payload(
            &chat,
            &new_uuid(),
            "max",
            "My name is Max.",
            json!(1769067099),
        ),
    );
    let mut r = env.redis();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&env.stream)
        .arg(&env.group)
        .arg("0")
        .query(&mut r)
        .unwrap();
    // A consumer that keeps failing before completing it: each claim is one more delivery.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(&env.group)
        .arg("ghost")
        .arg("STREAMS")
        .arg(&env.stream)
        .arg(">")
        .query(&mut r)
        .unwrap();
    for _ in 0..5 {
        let _: redis::Value = redis::cmd("XCLAIM")
            .arg(&env.stream)
            .arg(&env.group)
            .arg("ghost")
            .arg(0)
            .arg(&stuck)
            .query(&mut r)
            .unwrap();
    }
    let ok = new_uuid();
    env.xadd_message(
        &new_uuid(),
        &message_payload(&chat, &ok, "fine", "My name is Fine.", json!(1769067100)),
    );
    let daemon = env.spawn_daemon(&[
        ("MEMLINK_MAX_DELIVERIES", "3"),
        ("MEMLINK_RECLAIM_IDLE_SECS", "1"),
    ]);
    let (reason, deliveries): (String, i64) = eventually("dead-lettered", LONG, || {
        let row = env
            .pg()
            .query_opt(
                "SELECT reason, delivery_count FROM dead_letters WHERE source_ref = $1",
                &[&stuck],
            )
            .unwrap()?;
        Some((row.get(0), row.get(1)))
    });
    assert_eq!(reason, "max_deliveries");
    assert_eq!(deliveries, 7, "6 deliveries to the ghost, plus the reclaim");
    eventually("the other message processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 1)
            .then_some(())
    });
    assert_eq!(
        env.count("SELECT count(*) FROM facts WHERE user_id = 'max'"),
        0,
        "not handled"
    );
    eventually("nothing pending", LONG, || {
        (daemon.status()["stream"]["pending"] == 0).then_some(())
    });
}

#[test]
fn sigterm_mid_flow_leaves_nothing_half_done() {
    let env = TestEnv::new();
    let mut daemon = env.spawn_daemon(&[("MEMLINK_RECLAIM_IDLE_SECS", "1")]);
    const N: usize = 1_000;
    let producer = {
        let url = env.database_url.clone();
        std::thread::spawn(move || ProducerEnv(url).produce(N, 20, "term"))
    };
    eventually("some events processed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") >= 200).then_some(())
    });
    daemon.signal("TERM");
    let status = daemon
        .wait_exit(Duration::from_secs(30))
        .expect("exits within the bound");
    assert_eq!(status.code(), Some(0), "{}", daemon.log_text());
    // Every batch it took was finished (markers cleared) and every processed message folded.
    assert_eq!(
        env.count("SELECT count(*) FROM inflight_entries"),
        0,
        "no batch left half-done"
    );
    let processed = env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL");
    assert_eq!(
        env.count("SELECT coalesce(sum(message_count), 0)::int8 FROM watermarks"),
        processed,
        "watermarks flushed"
    );
    let _next = env.spawn_daemon(&[("MEMLINK_RECLAIM_IDLE_SECS", "1")]);
    producer.join().unwrap();
    assert_exactly_once(&env, N as i64);
    eprintln!("sigterm: sent={N} processed_at_stop={processed} processed={N} duplicated=0 lost=0");
}

#[test]
fn a_dependency_outage_shows_as_degraded_then_heals() {
    let env = TestEnv::new();
    let redis = PrivateRedis::start(&VOLATILE);
    let daemon = env.spawn_daemon(&[("REDIS_URL", redis.url.as_str())]);
    eventually("ready", LONG, || {
        (daemon.get("/readyz").0 == 200).then_some(())
    });
    let port = redis.kill();
    let reasons = eventually("not ready while Redis is down", LONG, || {
        let (code, body) = daemon.get("/readyz");
        let reasons = body["reasons"].to_string();
        (code == 503
            && reasons.contains("redis unreachable")
            && reasons.contains("worker is degraded"))
        .then_some(reasons)
    });
    assert!(!reasons.contains("password"), "{reasons}");
    let (code, status) = daemon.get("/admin/status");
    assert_eq!(code, 200, "status still answers from Postgres: {status}");
    let worker = status["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "worker")
        .unwrap()
        .clone();
    assert_eq!(worker["state"], "degraded");
    assert!(worker["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    // Messages accepted meanwhile are kept in the outbox and flow once Redis is back.
    let chat = new_uuid();
    let (code, _) = daemon.post_message(&chat, "deg", "user", "My name is Deg.");
    assert_eq!(code, 201);
    let _redis = PrivateRedis::start_on(port, &VOLATILE);
    eventually("ready again", Duration::from_secs(60), || {
        (daemon.get("/readyz").0 == 200).then_some(())
    });
    eventually(
        "the message written during the outage is processed",
        LONG,
        || (env.count("SELECT count(*) FROM facts WHERE user_id = 'deg'") == 1).then_some(()),
    );
    assert_eq!(
        daemon.restarts("worker"),
        0,
        "a transient outage restarts nothing"
    );
    assert!(!daemon.log_lines_with("event=worker_retry").is_empty());
}

#[test]
fn started_before_redis_it_accepts_at_once_and_processes_each_message_once_redis_answers() {
    let env = TestEnv::new();
    // A port nothing listens on yet: the Redis of this test is started only later.
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let all = env.spawn_daemon(&[
        ("REDIS_URL", url.as_str()),
        ("MEMLINK_CONSUMER", "early-all"),
    ]);
    let worker = env.spawn_daemon_with(
        &["run", "--role", "worker"],
        &[
            ("REDIS_URL", url.as_str()),
            ("MEMLINK_CONSUMER", "early-worker"),
        ],
    );
    for d in [&all, &worker] {
        assert_eq!(d.get("/healthz").0, 200);
        let (code, body) = d.get("/readyz");
        assert_eq!(code, 503, "{body}");
        let reasons = body["reasons"].to_string();
        assert!(reasons.contains("redis unreachable"), "{reasons}");
        assert!(reasons.contains("actor worker is waiting"), "{reasons}");
    }
    const N: i64 = 20;
    for i in 0..N {
        let (code, body) = all.post_message(
            &new_uuid(),
            &format!("early-{i}"),
            "user",
            &format!("My name is Early{i}."),
        );
        assert_eq!(
            code, 201,
            "accepted into the outbox while Redis is down: {body}"
        );
    }
    let status = all.status();
    for name in ["relay", "worker", "reconciler"] {
        let actor = status["actors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no actor {name}: {status}"));
        assert_eq!(actor["state"], "waiting", "{actor}");
        assert!(
            actor["last_error"]
                .as_str()
                .is_some_and(|e| e.starts_with("waiting for redis")),
            "{actor}"
        );
    }
    assert_eq!(
        env.count("SELECT count(*) FROM outbox_events WHERE status = 'pending'"),
        N
    );
    assert_eq!(env.count("SELECT count(*) FROM processed_events"), 0);

    let _redis = PrivateRedis::start_on(port, &VOLATILE);
    assert_exactly_once(&env, N);
    for d in [&all, &worker] {
        eventually("ready once Redis answers", LONG, || {
            (d.get("/readyz").0 == 200).then_some(())
        });
        assert!(!d.log_lines_with("event=redis_waiting").is_empty());
        assert!(!d.log_lines_with("event=redis_connected").is_empty());
    }
    // The worker-only process started its worker too.
    assert!(
        !worker
            .log_lines_with("event=actor_started actor=worker ")
            .is_empty(),
        "{}",
        worker.log_text()
    );
}

/// The relay's own poison pill (the seed's incident one stage earlier): rows PostgreSQL stores
/// but no JSON parser here can read — a number beyond `f64` (`1e400`, stored as 401 digits)
/// and nesting 200 levels deep — claimed in one batch with hundreds of good rows. Each bad row
/// is dead-lettered with its own reason in the first round that claims it, the good rows are
/// relayed in that same round, and the relay never restarts.
#[test]
fn rows_the_relay_cannot_read_are_dead_lettered_and_the_batch_moves() {
    let env = TestEnv::new();
    env.migrate();
    let mut pg = env.pg();
    let chat = new_uuid();
    let bad = |pg: &mut postgres::Client, extra: &str| -> String {
        let id = new_uuid();
        let payload = message_payload(
            &chat,
            &new_uuid(),
            "ria",
            "I like poison.",
            json!(1769067099),
        );
        // Spliced as text: no client-side JSON library could even build these values.
        let text = format!("{{{extra}, {}", &payload.to_string()[1..]);
        pg.execute(
            "INSERT INTO outbox_events (id, aggregate_id, event_type, payload, created_at)
             VALUES ($1::text::uuid, $2, 'message.created', $3::text::jsonb, now() - interval '1 second')",
            &[&id, &chat, &text],
        )
        .unwrap();
        id
    };
    let huge_number = bad(&mut pg, "\"n\": 1e400");
    let too_deep = bad(
        &mut pg,
        &format!("\"d\": {}{}", "[".repeat(200), "]".repeat(200)),
    );
    let stored: i32 = pg
        .query_one(
            "SELECT length(payload->>'n') FROM outbox_events WHERE id = $1::text::uuid",
            &[&huge_number],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, 401, "PostgreSQL keeps 1e400 as a 401-digit integer");
    const GOOD: i64 = 600;
    pg.execute(
        "INSERT INTO outbox_events (id, aggregate_id, event_type, payload)
         SELECT gen_random_uuid(), $1::text, 'message.created',
                jsonb_build_object('message_id', gen_random_uuid(), 'chat_id', $1::text, 'user_id', 'good-' || i,
                                   'role', 'user', 'content', 'My name is Good' || i || '.',
                                   'created_at', 1769067099 + i)
           FROM generate_series(1, $2::int8) AS i",
        &[&chat, &GOOD],
    )
    .unwrap();

    let daemon = env.spawn_daemon(&[]);
    eventually("every good row processed", LONG, || {
        (env.count("SELECT count(*) FROM processed_events") == GOOD).then_some(())
    });
    for (id, reason) in [
        (&huge_number, "payload_unreadable"),
        (&too_deep, "payload_too_deep"),
    ] {
        let r = pg
            .query_one(
                "SELECT o.status, d.reason, d.detail, d.actor, length(d.payload)
                   FROM outbox_events o JOIN dead_letters d ON d.source = 'outbox' AND d.source_ref = o.id::text
                  WHERE o.id = $1::text::uuid",
                &[id],
            )
            .unwrap_or_else(|e| panic!("no dead letter for the {reason} row: {e}"));
        assert_eq!(r.get::<_, String>(0), "dead");
        assert_eq!(r.get::<_, String>(1), reason);
        assert!(!r.get::<_, String>(2).is_empty());
        assert_eq!(r.get::<_, String>(3), "relay");
        assert!(
            r.get::<_, Option<i32>>(4).unwrap_or(0) > 0,
            "the letter keeps the payload as stored, for a patched replay"
        );
    }
    assert_eq!(
        env.count("SELECT count(*) FROM outbox_events WHERE status = 'pending'"),
        0
    );
    assert_eq!(env.count("SELECT count(*) FROM dead_letters"), 2);
    assert_eq!(
        env.count("SELECT max(attempts)::int8 FROM outbox_events"),
        1,
        "every row was settled by the first claim: no lease ran out, nothing came back"
    );
    assert_eq!(daemon.restarts("relay"), 0);
    assert!(daemon.log_lines_with("event=panic").is_empty());
    let (_, letters) = daemon.get("/admin/dead-letters?reason=payload_too_deep");
    assert_eq!(letters["total"], 1, "{letters}");
}
