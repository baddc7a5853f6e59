//! The Postgres adapter: the connection pool, migrations, error classification, and the
//! store functions behind the engine's ports, the HTTP API and the operator tools (the
//! diagnosis's reads in [`diagnose`], `memlink verify`'s rows in [`verify`], the bench's in
//! [`bench`]).
//!
//! All SQL lives here, as named constants beside the function that runs them, with every
//! value passed as a parameter: input is never concatenated into SQL. Errors leaving this
//! module are classified transient or permanent and never carry a password.

pub mod api;
pub mod bench;
pub mod connect;
pub mod console;
pub mod diagnose;
pub mod dlq;
pub mod effects;
pub mod heartbeat;
pub mod listen;
pub mod llm;
pub mod memory;
pub mod pool;
pub mod recovery;
pub mod retention;
pub mod store;
pub mod verify;

use memlink_actors::ports::PortError;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use connect::PgConnector;

/// BEGIN for transactions whose loss in a crash of PostgreSQL itself is harmless (see each
/// use): their commit returns before the WAL reaches the disk. One message, the first of a
/// [`pool::PipelinedTx`].
pub(crate) const BEGIN_ASYNC_COMMIT: &str = "BEGIN; SET LOCAL synchronous_commit = off";

pub type PgPool = bb8::Pool<pool::CachingManager<MakeRustlsConnect>>;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The schema version this binary expects (the highest embedded migration).
pub fn expected_schema_version() -> i32 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .max()
        .unwrap_or(0)
}

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("postgres: {0}")]
    Query(String),
    #[error("postgres: could not connect: {0}")]
    Connect(String),
    #[error("postgres: {0}")]
    Tls(String),
    #[error("postgres: migration failed: {0}")]
    Migrate(String),
    #[error("postgres: {0}")]
    Config(String),
}

impl PgError {
    /// Whether trying again may help: not for a refused certificate or a bad URL.
    pub fn retryable(&self) -> bool {
        !matches!(self, PgError::Tls(_) | PgError::Config(_))
    }
}

/// A lazy pool on `url` (see [`PgConnector::pool`]).
pub fn build_pool(url: &str, max_size: u32) -> Result<PgPool, PgError> {
    Ok(PgConnector::from_url(url)?.pool(max_size))
}

#[derive(Debug, Clone, Copy)]
struct LogSink;

impl bb8::ErrorSink<tokio_postgres::Error> for LogSink {
    fn sink(&self, error: tokio_postgres::Error) {
        log::warn!(target: "memlink::postgres", "event=postgres_connect_failed error={}", crate::logging::quoted(&crate::error_text::with_sources(&error)));
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<tokio_postgres::Error>> {
        Box::new(*self)
    }
}

/// Applies pending migrations, idempotently, one daemon at a time (an advisory lock held
/// on the migrating connection serialises concurrent starts).
pub async fn migrate(connector: &PgConnector) -> Result<usize, PgError> {
    const MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7311965431)";
    // refinery's `CREATE TABLE IF NOT EXISTS` draws a NOTICE on every start; it says nothing.
    let (mut client, connection) = connector.without_notices().connect().await?;
    let driver = actix_web::rt::spawn(connection);
    client
        .batch_execute(MIGRATION_LOCK)
        .await
        .map_err(|e| PgError::Migrate(e.to_string()))?;
    let report = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .map_err(|e| PgError::Migrate(e.to_string()))?;
    drop(client);
    let _ = driver.await;
    Ok(report.applied_migrations().len())
}

/// The schema version the database is at (0 when never migrated).
pub async fn current_schema_version(pool: &PgPool) -> Result<i32, PortError> {
    const SCHEMA_VERSION: &str = "SELECT coalesce(max(version), 0) FROM refinery_schema_history";
    let conn = pool.get().await.map_err(pool_error)?;
    Ok(missing_table(conn.query_one(SCHEMA_VERSION, &[]).await)?.map_or(0, |row| row.get(0)))
}

/// `Ok(None)` when the table a statement reads does not exist yet (a schema behind).
pub(crate) fn missing_table<T>(
    r: Result<T, tokio_postgres::Error>,
) -> Result<Option<T>, PortError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(classify(e)),
    }
}

/// Classifies a Postgres error: connection trouble, serialization failures, deadlocks and
/// shutdowns are transient; an error about the data is permanent.
pub fn classify(e: tokio_postgres::Error) -> PortError {
    let message = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    match e.code() {
        None => PortError::transient("postgres", message),
        Some(code) if is_transient(code) => PortError::transient("postgres", message),
        Some(_) => PortError::permanent("postgres", message),
    }
}

fn is_transient(code: &SqlState) -> bool {
    let c = code.code();
    c.starts_with("08") // connection exception
        || c.starts_with("53") // insufficient resources
        || c.starts_with("57") // operator intervention (admin shutdown, cannot connect now)
        || c.starts_with("58") // system error
        || c == "40001" // serialization_failure
        || c == "40P01" // deadlock_detected
        || c == "55P03" // lock_not_available
        || c == "25006" // read_only_sql_transaction (failover in progress)
}

pub fn pool_error(e: bb8::RunError<tokio_postgres::Error>) -> PortError {
    match e {
        bb8::RunError::User(e) => classify(e),
        bb8::RunError::TimedOut => {
            PortError::transient("postgres", "no connection available (timed out)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_and_permanent_sqlstates() {
        for code in [
            "40001", "40P01", "08006", "08001", "57P01", "57P03", "53300", "55P03", "25006",
        ] {
            assert!(
                is_transient(&SqlState::from_code(code)),
                "{code} should be retried"
            );
        }
        // Errors about the data itself: the same event fails the same way forever.
        for code in ["23505", "23514", "23503", "22P02", "22001", "42703"] {
            assert!(
                !is_transient(&SqlState::from_code(code)),
                "{code} should be dead-lettered"
            );
        }
    }
}
