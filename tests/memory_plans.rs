//! The memory's neighbour reads stay key lookups however long a user's history grows: the
//! plan PostgreSQL picks for them on a large timeline fetches each statement's fact by its
//! primary key and never reads the whole `facts` table (which made every batch's cost grow
//! with the users' histories, the decline issue 9 measures with `scripts/bench.sh --history`).

mod common;

use common::*;
use memlink::postgres::memory::statements::{NEIGHBOURS_MANY, NEIGHBOURS_ONE};

/// One user with `n` statements of one predicate, each with its own fact, analysed.
fn long_timeline(pg: &mut postgres::Client, n: i32) {
    pg.batch_execute(&format!(
        "
        -- Only the two memory tables are filled: their references are not what is measured.
        SET session_replication_role = replica;
        INSERT INTO facts (id, user_id, predicate, object, kind, chat_id, source_message_id,
                           created_at, valid_from, span_start, span_end, rule_id, extractor,
                           extractor_version, confidence)
        SELECT md5('f' || g)::uuid, 'long-user', 'likes', 'thing' || g, 'assert',
               md5('chat')::uuid, md5('m' || g)::uuid, t, t, 0, 5, 'likes.verb', 'rules', 4, 90
          FROM generate_series(1, {n}) g, LATERAL (SELECT timestamptz '2026-01-01' + g * interval '1 minute' AS t) a;
        INSERT INTO fact_sources (id, fact_id, user_id, predicate, object, kind, message_id, chat_id,
                                  said_at, span_start, span_end, rule_id, extractor,
                                  extractor_version, confidence)
        SELECT md5('s' || g)::uuid, md5('f' || g)::uuid, 'long-user', 'likes', 'thing' || g,
               'assert', md5('m' || g)::uuid, md5('chat')::uuid,
               timestamptz '2026-01-01' + g * interval '1 minute', 0, 5, 'likes.verb', 'rules', 4, 90
          FROM generate_series(1, {n}) g;
        SET session_replication_role = origin;
        ANALYZE facts;
        ANALYZE fact_sources;
        "
    ))
    .expect("fill one long timeline");
}

fn plan_of(
    pg: &mut postgres::Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> String {
    pg.query(&format!("EXPLAIN {sql}"), params)
        .expect("explain")
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn neighbour_reads_fetch_facts_by_key_on_a_long_history() {
    let env = TestEnv::new();
    env.migrate();
    let mut pg = env.pg();
    long_timeline(&mut pg, 20_000);

    // A batch of five new statements of that user, as the worker asks for them.
    let keys = 5;
    let users = vec!["long-user".to_owned(); keys];
    let predicates = vec!["likes".to_owned(); keys];
    let values: Vec<String> = (0..keys).map(|i| format!("thing{}", 100 + i)).collect();
    let at: Vec<chrono::DateTime<chrono::Utc>> = (0..keys)
        .map(|i| {
            "2026-02-01T00:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
                + chrono::Duration::minutes(i as i64)
        })
        .collect();
    let messages: Vec<uuid::Uuid> = (0..keys).map(|_| uuid::Uuid::new_v4()).collect();
    let ordinals = vec![0i32; keys];
    let ids: Vec<uuid::Uuid> = (0..keys).map(|_| uuid::Uuid::new_v4()).collect();
    let before = vec![1i64; keys];
    let after = vec![1i64; keys];

    // Both reads take the same key columns after their timeline's (user, predicate[, value]).
    type Param<'a> = &'a (dyn postgres::types::ToSql + Sync);
    let key: [Param; 6] = [&at, &messages, &ordinals, &ids, &before, &after];
    let one_params: Vec<Param> = [&users as Param, &predicates]
        .into_iter()
        .chain(key)
        .collect();
    let many_params: Vec<Param> = [&users as Param, &predicates, &values]
        .into_iter()
        .chain(key)
        .collect();
    let one = plan_of(&mut pg, NEIGHBOURS_ONE, &one_params);
    let many = plan_of(&mut pg, NEIGHBOURS_MANY, &many_params);
    for (name, plan) in [("single-valued", &one), ("multi-valued", &many)] {
        assert!(
            !plan.contains("Seq Scan on facts"),
            "the {name} neighbour read scans the facts table:\n{plan}"
        );
        assert!(
            plan.contains("facts_pkey"),
            "the {name} neighbour read does not fetch facts by key:\n{plan}"
        );
        assert!(
            !plan.contains("Seq Scan on fact_sources"),
            "the {name} neighbour read scans the statements:\n{plan}"
        );
    }
}

#[test]
fn stored_messages_are_read_by_key_on_a_large_table() {
    let env = TestEnv::new();
    env.migrate();
    let mut pg = env.pg();
    pg.batch_execute(
        "
        SET session_replication_role = replica;
        INSERT INTO messages (id, chat_id, user_id, role, content, created_at)
        SELECT md5('m' || g)::uuid, md5('chat')::uuid, 'u', 'user', 'hello', now()
          FROM generate_series(1, 50000) g;
        SET session_replication_role = origin;
        ANALYZE messages;
        ",
    )
    .expect("fill messages");
    // A full batch of ids, as the worker reads them.
    let ids: Vec<uuid::Uuid> = (0..500).map(|_| uuid::Uuid::new_v4()).collect();
    let plan = plan_of(
        &mut pg,
        memlink::postgres::effects::STORED_MESSAGES,
        &[&ids],
    );
    assert!(!plan.contains("Seq Scan on messages"), "{plan}");
    assert!(plan.contains("messages_pkey"), "{plan}");
}
