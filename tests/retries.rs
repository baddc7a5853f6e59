//! Bounded retries: a batch whose commit keeps failing with an error classified transient is
//! retried `MEMLINK_MAX_BATCH_RETRIES` times, then applied entry by entry; the entry that
//! still fails is dead-lettered `retries_exhausted` with the last error, and the queue moves.

mod common;

use common::{eventually, message_payload, new_uuid, TestEnv, LONG};
use serde_json::json;

/// A trigger of this test's own database: storing a message whose content holds the poison
/// fails with SQLSTATE 40001 (serialization_failure), which memlink classifies transient.
const POISON_TRIGGER: &str = "
    CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF strpos(NEW.content, 'poison-pill') > 0 THEN
            RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = '40001';
        END IF;
        RETURN NEW;
    END;
    $$;
    CREATE TRIGGER test_poison BEFORE INSERT OR UPDATE ON messages
        FOR EACH ROW EXECUTE FUNCTION test_poison();";

#[test]
fn an_entry_failing_transiently_forever_is_dead_lettered_and_the_queue_moves() {
    let env = TestEnv::new();
    env.migrate();
    env.pg()
        .batch_execute(POISON_TRIGGER)
        .expect("install the trigger");
    let chat = new_uuid();
    let xadd = |content: &str, at: i64| {
        env.xadd_message(
            &new_uuid(),
            &message_payload(&chat, &new_uuid(), "pat", content, json!(at)),
        )
    };
    // One batch: the worker's first read takes every entry already in the stream.
    xadd("I live in Rome.", 1769067001);
    xadd("I like tea.", 1769067002);
    let poison = xadd("Remember the poison-pill.", 1769067003);
    xadd("I like chess.", 1769067004);
    xadd("I have a cat.", 1769067005);

    let mut daemon = env.spawn_daemon(&[("MEMLINK_MAX_BATCH_RETRIES", "3")]);
    let (detail, deliveries, source_ref): (String, i64, String) = eventually(
        "the poison dead-lettered",
        LONG,
        || {
            env.pg()
                .query_opt(
                    "SELECT detail, delivery_count, source_ref FROM dead_letters WHERE reason = 'retries_exhausted'",
                    &[],
                )
                .unwrap()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
        },
    );
    assert_eq!(source_ref, poison);
    assert!(
        detail.contains("injected serialization failure (40001)"),
        "{detail}"
    );
    assert!(detail.contains("4 time(s)"), "{detail}");
    assert_eq!(deliveries, 1);
    eventually("the rest of the batch processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 4)
            .then_some(())
    });
    // The queue moves: a later entry is processed, and nothing stays pending.
    xadd("I work at a bakery.", 1769067006);
    eventually("the later entry processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 5)
            .then_some(())
    });
    eventually("nothing pending", LONG, || {
        (daemon.status()["stream"]["pending"] == 0).then_some(())
    });
    assert_eq!(env.count("SELECT count(*) FROM dead_letters"), 1);
    // Retried as a whole exactly three times (the first try and three retries failed), then
    // split once.
    assert_eq!(daemon.log_lines_with("event=worker_retry").len(), 4);
    assert_eq!(
        daemon.log_lines_with("event=batch_retries_exhausted").len(),
        1,
        "{}",
        daemon.log_text()
    );
    let (code, letters) = daemon.get("/admin/dead-letters?reason=retries_exhausted");
    assert_eq!(code, 200, "{letters}");
    assert_eq!(letters["total"], 1, "{letters}");
    assert!(daemon
        .wait_for_log(
            "event=dead_letter actor=worker reason=retries_exhausted",
            LONG
        )
        .is_some());
    let metrics = ureq::get(&daemon.url("/metrics"))
        .call()
        .expect("metrics")
        .into_string()
        .expect("metrics text");
    assert!(
        metrics.contains(
            "memlink_dead_letters_total{reason=\"retries_exhausted\",actor=\"worker\"} 1"
        ),
        "{metrics}"
    );
}

/// Entries pending on a consumer `ghost` under an in-flight batch marker of a process whose
/// heartbeat is fresh (`live`) or stale; a daemon takes them over. Returns its log.
fn take_over_from(live: bool) -> String {
    let env = TestEnv::new();
    env.migrate();
    let chat = new_uuid();
    env.create_group(&env.group);
    let ids: Vec<String> = ["I live in Rome.", "I like tea.", "I have a cat."]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            env.xadd_message(
                &new_uuid(),
                &message_payload(&chat, &new_uuid(), "sam", c, json!(1769067001 + i as i64)),
            )
        })
        .collect();
    env.read_as(&env.group, "ghost", 10);
    let owner = new_uuid();
    let mut pg = env.pg();
    pg.execute(
        "INSERT INTO heartbeats (instance_id, host, pid, role, version, bus, stream, group_name, consumer,
                                 interval_secs, last_seen)
         VALUES ($1::text::uuid, 'another-host', 4242, 'worker', 'test', 'redis://elsewhere', $2, $3, 'ghost',
                 $4, now() - make_interval(secs => $5))",
        &[
            &owner,
            &env.stream,
            &env.group,
            &(if live { 3600 } else { 1 }),
            &(if live { 0.0f64 } else { 3600.0 }),
        ],
    )
    .expect("the owner's heartbeat");
    pg.execute(
        "INSERT INTO inflight_batches (id, stream, grp, owner, entry_ids) VALUES ($1::text::uuid, $2, $3, $4::text::uuid, $5)",
        &[&new_uuid(), &env.stream, &env.group, &owner, &ids],
    )
    .expect("the owner's in-flight marker");
    let daemon = env.spawn_daemon(&[("MEMLINK_RECLAIM_IDLE_SECS", "1")]);
    eventually("the entries taken over and processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 3)
            .then_some(())
    });
    assert_eq!(env.count("SELECT count(*) FROM dead_letters"), 0);
    daemon.log_text()
}

/// Taking entries over from a live but slow owner is not a process death: nothing is
/// isolated as a suspect. From an owner whose heartbeat went stale it is.
#[test]
fn reclaiming_from_a_live_owner_is_not_a_death() {
    let live = take_over_from(true);
    assert!(live.contains("event=entries_reclaimed"), "{live}");
    assert!(!live.contains("event=isolating_suspects"), "{live}");
    let dead = take_over_from(false);
    assert!(dead.contains("event=entries_reclaimed"), "{dead}");
    assert!(dead.contains("event=isolating_suspects"), "{dead}");
}
