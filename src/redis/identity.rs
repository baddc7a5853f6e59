//! The Redis server's identity: a random id set once (`SET NX`) under [`BUS_ID_KEY`] and read by
//! every memlink, so that two URLs reaching one server are told apart from two servers. Redis
//! commands only; the heartbeat reports it and the diagnosis compares it.

use uuid::Uuid;

use super::RedisPool;

/// The Redis key holding the server's identity: a random id set once (`SET NX`), read by
/// every memlink. Two URLs that reach one server see one id; two servers, two ids.
pub const BUS_ID_KEY: &str = "memlink:bus-id";

/// The Redis server's identity (`<id>/<db>`), creating it on first use; `None` when Redis
/// cannot be asked.
pub async fn bus_id(redis: &RedisPool, db: i64) -> Option<String> {
    let mut conn = redis.get().await.ok()?;
    let fresh = Uuid::new_v4().to_string();
    let _: redis::RedisResult<Option<String>> = redis::cmd("SET")
        .arg(BUS_ID_KEY)
        .arg(&fresh)
        .arg("NX")
        .query_async(&mut *conn)
        .await;
    let id: Option<String> = redis::cmd("GET")
        .arg(BUS_ID_KEY)
        .query_async(&mut *conn)
        .await
        .ok()
        .flatten();
    id.map(|id| format!("{id}/{db}"))
}
