//! The bench's exact latency to the commit (`memlink::postgres::bench::commit_latencies`)
//! against a real PostgreSQL: it reads PostgreSQL's own commit timestamps where the server
//! records them and says there is no figure where it does not, never a made-up one.

mod common;

use common::{runtime, TestEnv};
use memlink::postgres::bench;
use uuid::Uuid;

#[test]
fn latency_to_the_commit_comes_from_commit_timestamps_or_not_at_all() {
    let env = TestEnv::new();
    env.migrate();
    let mut pg = env.pg();
    let (processed, pending) = (Uuid::new_v4(), Uuid::new_v4());
    // An event created 50 ms before the transaction that records it commits; another that
    // is never processed, and so has no latency to count.
    pg.execute(
        "INSERT INTO outbox_events (id, aggregate_id, event_type, payload, created_at)
         SELECT u.id, 'chat', 'message.created', '{}', clock_timestamp() - interval '50 ms'
           FROM unnest($1::uuid[]) AS u(id)",
        &[&vec![processed, pending]],
    )
    .expect("two outbox rows");
    pg.execute(
        "INSERT INTO processed_events (event_id, message_id, chat_id, digest)
         VALUES ($1, $2, $3, '\\x00')",
        &[&processed, &Uuid::new_v4(), &Uuid::new_v4()],
    )
    .expect("one processed");
    let tracked: String = pg
        .query_one("SHOW track_commit_timestamp", &[])
        .expect("the setting")
        .get(0);

    let got = runtime().block_on(async {
        let (client, conn) = tokio_postgres::connect(&env.database_url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        bench::commit_latencies(&client, &[processed, pending])
            .await
            .expect("the query runs")
    });
    match (tracked.as_str(), got) {
        ("on", Some(c)) => {
            // One event: every quantile is its latency, at least the 50 ms it was created
            // before, and the recording transaction's own span is part of it.
            assert!(c.to_commit_p50_s >= 0.05, "{c:?}");
            assert_eq!(c.to_commit_p50_s, c.to_commit_max_s, "{c:?}");
            assert!(c.effects_tx_p50_s >= 0.0, "{c:?}");
            assert!(c.effects_tx_p50_s < c.to_commit_p50_s, "{c:?}");
        }
        ("off", None) => {}
        (setting, got) => panic!("track_commit_timestamp = {setting}, but got {got:?}"),
    }
}
