//! The pipelined transaction (`memlink::postgres::pool::PipelinedTx`) against a real
//! PostgreSQL: BEGIN and COMMIT travel with the statements beside them, so what must hold is
//! that a failed write never commits anything, that a connection goes back to the pool only
//! outside a transaction, and that one left inside a transaction is closed, not reused.

mod common;

use common::{runtime, TestEnv};
use memlink::postgres::{build_pool, classify, PgPool};
use memlink_actors::ports::PortError;
use tokio_postgres::Client;

const INSERT: &str = "INSERT INTO t (id) VALUES ($1)";

async fn insert(db: &Client, id: i32) -> Result<(), PortError> {
    db.execute(INSERT, &[&id])
        .await
        .map(|_| ())
        .map_err(classify)
}

/// A transaction of one prepared insert, BEGIN and COMMIT in its flight.
async fn single_insert(pool: &PgPool, begin: &'static str, id: i32) -> Result<u64, PortError> {
    let mut conn = pool.get().await.expect("a connection");
    let stmt = conn.prepare(INSERT).await.expect("prepared");
    conn.pipelined().single(begin, &stmt, &[&id]).await
}

/// The backend process of the pool's one connection.
async fn backend(pool: &PgPool) -> i32 {
    let conn = pool.get().await.expect("a connection");
    conn.query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("its pid")
        .get(0)
}

fn rows(env: &TestEnv) -> Vec<i32> {
    env.pg()
        .query("SELECT id FROM t ORDER BY id", &[])
        .expect("read t")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn setup() -> TestEnv {
    let env = TestEnv::new();
    env.pg()
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .expect("create t");
    env
}

/// One connection, so every step gets the same one back unless it was closed. Built inside
/// the runtime, which drives its connections.
fn one_connection(env: &TestEnv) -> PgPool {
    build_pool(&env.database_url, 1).expect("a pool")
}

#[test]
fn a_write_that_fails_behind_its_commit_commits_nothing_and_the_connection_is_reused() {
    let env = setup();
    runtime().block_on(async {
        let pool = one_connection(&env);
        let before = backend(&pool).await;
        {
            let mut conn = pool.get().await.expect("a connection");
            let stmt = conn.prepare(INSERT).await.expect("prepared");
            let tx = conn.pipelined();
            let db = tx.client();
            tx.begin_with("BEGIN", insert(db, 1))
                .await
                .expect("BEGIN with the first insert");
            // A duplicate key: the transaction aborts and the COMMIT behind it rolls back.
            let failed = tx.commit_with(&stmt, &[&1i32]).await;
            assert!(failed.is_err(), "the duplicate insert must fail");
        }
        {
            let mut conn = pool.get().await.expect("a connection");
            let stmt = conn.prepare(INSERT).await.expect("prepared");
            let tx = conn.pipelined();
            let db = tx.client();
            tx.begin_with("BEGIN", insert(db, 2))
                .await
                .expect("BEGIN with the first insert");
            let touched = tx.commit_with(&stmt, &[&3i32]).await.expect("committed");
            assert_eq!(touched, 1);
        }
        assert_eq!(
            backend(&pool).await,
            before,
            "the connection left the transaction and went back to the pool"
        );
    });
    assert_eq!(
        rows(&env),
        vec![2, 3],
        "nothing of the failed transaction committed, all of the good one"
    );
}

#[test]
fn single_commits_its_write_in_one_flight_and_rolls_back_a_failed_one() {
    let env = setup();
    runtime().block_on(async {
        let pool = one_connection(&env);
        let before = backend(&pool).await;
        single_insert(&pool, "BEGIN; SET LOCAL synchronous_commit = off", 7)
            .await
            .expect("a one-statement transaction");
        let failed = single_insert(&pool, "BEGIN", 7).await;
        assert!(failed.is_err(), "the duplicate insert must fail");
        assert_eq!(
            backend(&pool).await,
            before,
            "both transactions ended, so the one connection stayed in the pool"
        );
    });
    assert_eq!(
        rows(&env),
        vec![7],
        "the first committed, the second nothing"
    );
}

#[test]
fn a_transaction_dropped_before_its_end_closes_its_connection_and_commits_nothing() {
    let env = setup();
    runtime().block_on(async {
        let pool = one_connection(&env);
        let before = backend(&pool).await;
        {
            let mut conn = pool.get().await.expect("a connection");
            let tx = conn.pipelined();
            let db = tx.client();
            tx.begin_with("BEGIN", insert(db, 3))
                .await
                .expect("BEGIN with the insert");
            // Dropped here, neither committed nor rolled back (an error path, a drain).
        }
        let after = backend(&pool).await;
        assert_ne!(
            after, before,
            "a connection left inside a transaction must be closed, not handed out again"
        );
    });
    assert!(
        rows(&env).is_empty(),
        "the dropped transaction's insert must not be committed"
    );
}
