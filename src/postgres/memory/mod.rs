//! The memory graph on PostgreSQL: statements (`fact_sources`) and the facts derived from
//! them, the read models behind the facts API, forgetting (users and messages) and
//! re-extraction.
//!
//! What the facts become is decided in the engine (`memlink_actors::memory`); this module
//! reads what it asks for and writes what it plans ([`statements::rebuild`]). Every write to
//! a user's statements or facts holds that user's advisory lock (the same key the worker's
//! apply takes). This module must never write a fact without a source, never keep a
//! forgotten user's or message's data, and never put message content into logs or the
//! forget audit.

mod forget;
mod read;
mod reextract;
pub mod statements;
pub mod transport;

pub use forget::{
    forget_message, forget_message_by, forget_user, forget_user_by, MessageForgotten, UserForgotten,
};
pub use read::*;
pub use reextract::{reextract, ReextractReport, StatementChange};
pub use statements::{rebuild, Rebuilt};
pub use transport::Redacted;

use memlink_actors::ports::PortError;

use super::classify;

/// One advisory lock per user, taken in key order (no deadlocks between batches). The key
/// must stay the one the V1 apply path used, so old and new code exclude each other.
pub(crate) const LOCK_USERS: &str = "
    SELECT pg_advisory_xact_lock(k)
      FROM (SELECT DISTINCT hashtextextended(u, 7311) AS k FROM unnest($1::text[]) AS u ORDER BY 1) s";

pub(crate) async fn lock_users(
    tx: &tokio_postgres::Client,
    users: &[&str],
) -> Result<(), PortError> {
    tx.query(LOCK_USERS, &[&users]).await.map_err(classify)?;
    Ok(())
}
