//! The worker's apply path into the memory graph: the forgotten-user and -message check under
//! the users' locks, and the statements of freshly processed messages.

use std::collections::HashSet;

use memlink_actors::memory::{Changes, Statement};
use memlink_actors::plan::PlannedMessage;
use memlink_actors::ports::PortError;
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::{lock_users, rebuild};
use crate::postgres::classify;

const TOMBSTONED_USERS: &str = "SELECT user_id FROM user_tombstones WHERE user_id = ANY($1)";
const TOMBSTONED_MESSAGES: &str =
    "SELECT message_id FROM message_tombstones WHERE message_id = ANY($1)";
/// Content that reached the store for a forgotten user or message (a producer's row, or a
/// POST racing the forget) goes too. Such a message was never processed, so never counted.
const DELETE_DROPPED_MESSAGES: &str =
    "DELETE FROM messages WHERE id = ANY($1) AND processed_at IS NULL";

/// Takes the advisory locks of the batch's users, then keeps only the messages whose user
/// and message were not forgotten. Dropped events stay recorded as processed by the caller,
/// so they are acked and never retried, but store nothing.
///
/// Holding the user lock from here to commit is what makes forgetting race-free: a forget
/// either commits first (and this sees its tombstone) or waits for this batch (and deletes
/// what it stored).
pub async fn drop_forgotten<'a>(
    tx: &Transaction<'_>,
    fresh: &[&'a PlannedMessage],
) -> Result<Vec<&'a PlannedMessage>, PortError> {
    let users: Vec<&str> = fresh.iter().map(|m| m.event.user_id.as_str()).collect();
    lock_users(tx, &users).await?;
    let gone_users: HashSet<String> = tx
        .query(TOMBSTONED_USERS, &[&users])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let ids: Vec<Uuid> = fresh.iter().map(|m| m.event.message_id.0).collect();
    let gone_messages: HashSet<Uuid> = tx
        .query(TOMBSTONED_MESSAGES, &[&ids])
        .await
        .map_err(classify)?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    if gone_users.is_empty() && gone_messages.is_empty() {
        return Ok(fresh.to_vec());
    }
    let mut kept = Vec::with_capacity(fresh.len());
    let mut dropped = Vec::new();
    for m in fresh {
        let user_gone = gone_users.contains(m.event.user_id.as_str());
        if user_gone || gone_messages.contains(&m.event.message_id.0) {
            let event = if user_gone {
                "forgotten_user_event_dropped"
            } else {
                "forgotten_message_event_dropped"
            };
            log::info!(target: "memlink::worker", "event={event} event_id={} message_id={} chat_id={} user_id={:?}",
                m.event.event_id, m.event.message_id, m.event.chat_id, m.event.user_id.as_str());
            dropped.push(m.event.message_id.0);
        } else {
            kept.push(*m);
        }
    }
    tx.execute(DELETE_DROPPED_MESSAGES, &[&dropped])
        .await
        .map_err(classify)?;
    Ok(kept)
}

/// Stores the statements of freshly processed messages and re-derives the touched facts.
/// The users' locks are held (taken by [`drop_forgotten`]).
pub async fn apply_facts(tx: &Transaction<'_>, owed: &[&PlannedMessage]) -> Result<(), PortError> {
    let mut added = Vec::new();
    for m in owed {
        for (ordinal, f) in m.facts.iter().enumerate() {
            added.push(Statement::from_extracted(
                f.id,
                &f.fact,
                m.event.user_id.as_str(),
                m.event.message_id.0,
                m.event.chat_id.0,
                m.event.created_at,
                ordinal,
            ));
        }
    }
    if added.is_empty() {
        return Ok(());
    }
    rebuild(
        tx,
        Changes {
            added,
            ..Changes::default()
        },
    )
    .await?;
    Ok(())
}
