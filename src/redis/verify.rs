//! The stream entry `memlink verify` leaves behind: its removal once the trace is over.
//!
//! Redis commands only, on a connection of its own. It acknowledges and deletes the one entry
//! it is given and must never touch another entry, nor create or change a group.

use std::path::Path;

use super::connect::{connection, RedisCallError};

/// `XACK` (in case it is still pending; a failure is ignored) and `XDEL` of `entry`; answers
/// how many entries were deleted.
pub async fn remove_entry(
    url: &str,
    ca_file: Option<&Path>,
    stream: &str,
    group: &str,
    entry: &str,
) -> Result<i64, RedisCallError> {
    let mut conn = connection(url, ca_file).await?;
    let _: redis::RedisResult<i64> = redis::cmd("XACK")
        .arg(stream)
        .arg(group)
        .arg(entry)
        .query_async(&mut conn)
        .await;
    Ok(redis::cmd("XDEL")
        .arg(stream)
        .arg(entry)
        .query_async(&mut conn)
        .await?)
}
