//! Supervision: a message that panics the worker is dead-lettered as `panic` and restarts only
//! the worker; the queue keeps moving. Too many restarts too fast exit the process with 70.

mod common;

use std::time::Duration;

use common::*;
use memlink_actors::plan::PANIC_MARKER;
use serde_json::json;

#[test]
fn a_panic_restarts_only_its_actor_and_the_queue_moves_on() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    let before = new_uuid();
    env.xadd_message(
        &new_uuid(),
        &message_payload(
            &chat,
            &before,
            "pat",
            "I live in Lisbon.",
            json!(1769067099),
        ),
    );
    let poison = env.xadd_message(
        &new_uuid(),
        &message_payload(&chat, &new_uuid(), "pat", PANIC_MARKER, json!(1769067100)),
    );
    let after: Vec<String> = (0..20).map(|_| new_uuid()).collect();
    for (i, id) in after.iter().enumerate() {
        env.xadd_message(
            &new_uuid(),
            &message_payload(
                &chat,
                id,
                "pat",
                &format!("message {i}"),
                json!(1769067101 + i as i64),
            ),
        );
    }
    eventually("everything else processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 21)
            .then_some(())
    });
    let (reason, detail): (String, String) = {
        let r = env
            .pg()
            .query_one(
                "SELECT reason, detail FROM dead_letters WHERE source_ref = $1",
                &[&poison],
            )
            .expect("the poison entry is dead-lettered");
        (r.get(0), r.get(1))
    };
    assert_eq!(reason, "panic");
    assert!(detail.contains("fault injection"), "{detail}");
    eventually("the worker restarted once", LONG, || {
        (daemon.restarts("worker") == 1).then_some(())
    });
    assert_eq!(daemon.restarts("relay"), 0);
    assert_eq!(daemon.restarts("watermark"), 0);
    // And it keeps working after its restart.
    let (code, _) = daemon.post_message(&chat, "pat", "user", "My name is Pat.");
    assert_eq!(code, 201);
    eventually("a new message after the restart", LONG, || {
        let (_, f) = daemon.get("/v1/users/pat/facts");
        f["facts"]
            .as_array()?
            .iter()
            .any(|f| f["object"] == "Pat")
            .then_some(())
    });
    assert_eq!(daemon.status()["stream"]["pending"], 0);
    assert!(!daemon
        .log_lines_with("event=actor_panic actor=worker action=restart")
        .is_empty());
    let (code, _) = daemon.get("/readyz");
    assert_eq!(code, 200);
}

#[test]
fn a_restart_storm_escalates_with_exit_code_70() {
    let env = TestEnv::new();
    let mut daemon = env.spawn_daemon(&[
        ("MEMLINK_RESTART_INTENSITY", "1"),
        ("MEMLINK_RESTART_PERIOD_SECS", "60"),
    ]);
    let chat = new_uuid();
    // One poison message per round: the first restart is within the budget of 1 ...
    env.xadd_message(
        &new_uuid(),
        &message_payload(&chat, &new_uuid(), "pat", PANIC_MARKER, json!(1769067099)),
    );
    eventually("the first restart", LONG, || {
        (daemon.restarts("worker") == 1).then_some(())
    });
    // ... the second exceeds it.
    env.xadd_message(
        &new_uuid(),
        &message_payload(&chat, &new_uuid(), "pat", PANIC_MARKER, json!(1769067100)),
    );
    let status = daemon
        .wait_exit(Duration::from_secs(60))
        .expect("the daemon escalates and exits");
    assert_eq!(status.code(), Some(70), "{}", daemon.log_text());
    assert!(!daemon
        .log_lines_with("event=supervisor_escalate")
        .is_empty());
    // Both poison messages were recorded before the process gave up.
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE reason = 'panic'"),
        2
    );
}
