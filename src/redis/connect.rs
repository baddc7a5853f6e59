//! The one place where Redis clients and pools are built: `redis://`, or `rediss://` (TLS,
//! verifying the certificate and the host name against `MEMLINK_REDIS_CA_FILE` or the
//! system's trusted roots), for the daemon and every operator command alike.
//!
//! It checks URLs and reads CA files; it never connects while building (only [`connection`]
//! and [`probe`] do, when asked), and never decides anything about the stream.

use std::path::Path;
use std::time::Duration;

pub type RedisPool = bb8::Pool<RedisManager>;

#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct RedisSetupError(String);

/// The client for `url`: `redis://`, or `rediss://` (TLS, verifying the server's certificate
/// and host name against `ca_file`, or the system's trusted roots when there is none).
/// Checks the URL and reads the CA file; never connects.
pub fn client(url: &str, ca_file: Option<&Path>) -> Result<redis::Client, RedisSetupError> {
    let tls = url.trim_start().starts_with("rediss://");
    // Commands go out at once: with Nagle's algorithm a command written while an earlier
    // one is unacknowledged waits for the server's delayed ACK (tens of milliseconds).
    let info = redis::IntoConnectionInfo::into_connection_info(url)
        .map_err(|e| RedisSetupError(e.to_string()))?
        .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
    if !tls {
        if ca_file.is_some() {
            return Err(RedisSetupError(
                "a CA file is set but the URL is not rediss://".to_owned(),
            ));
        }
        return redis::Client::open(info).map_err(|e| RedisSetupError(e.to_string()));
    }
    // The Redis client builds its own rustls configuration from the process default.
    crate::tls::provider();
    let setup = |e: crate::tls::TlsError| RedisSetupError(e.to_string());
    match ca_file {
        Some(path) => {
            crate::tls::read_ca_file(path).map_err(setup)?;
            let pem = std::fs::read(path).map_err(|e| {
                RedisSetupError(format!("cannot read the CA file {}: {e}", path.display()))
            })?;
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem),
            };
            redis::Client::build_with_tls(info, certificates)
                .map_err(|e| RedisSetupError(e.to_string()))
        }
        None => {
            crate::tls::root_store(&crate::tls::Roots::System).map_err(setup)?;
            redis::Client::open(info).map_err(|e| RedisSetupError(e.to_string()))
        }
    }
}

/// A one-off call on a client of its own failed: the client could not be built, or Redis
/// refused or did not answer.
#[derive(Debug, thiserror::Error)]
pub enum RedisCallError {
    #[error(transparent)]
    Setup(#[from] RedisSetupError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// A connection of its own (no pool) to `url`, for the operator commands' one-off calls: a
/// failure names its real cause (refused, a refused certificate, ...) where a pool would only
/// time out.
pub async fn connection(
    url: &str,
    ca_file: Option<&Path>,
) -> Result<redis::aio::MultiplexedConnection, RedisCallError> {
    Ok(client(url, ca_file)?
        .get_multiplexed_async_connection()
        .await?)
}

/// Connects once and PINGs.
pub async fn probe(url: &str, ca_file: Option<&Path>) -> Result<(), RedisCallError> {
    let mut conn = connection(url, ca_file).await?;
    redis::cmd("PING").query_async::<String>(&mut conn).await?;
    Ok(())
}

/// Builds the pool lazily (connections on first use).
pub fn build_pool(
    url: &str,
    ca_file: Option<&Path>,
    max_size: u32,
) -> Result<RedisPool, RedisSetupError> {
    let manager = RedisManager {
        client: client(url, ca_file)?,
        home: crate::home::here(),
    };
    Ok(bb8::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(5))
        // No PING before every use (a round trip on every publish, read and ack): a
        // connection that failed is known by its own error and discarded (`has_broken`).
        .test_on_check_out(false)
        .build_unchecked(manager))
}

/// bb8's manager for multiplexed connections of one client (TLS or not). Each connection is
/// opened and driven on the runtime that built the pool, as the PostgreSQL pool's are: one
/// opened by an HTTP worker thread would otherwise die with that thread's runtime.
#[derive(Debug, Clone)]
pub struct RedisManager {
    client: redis::Client,
    home: Option<tokio::runtime::Handle>,
}

/// A pooled connection that remembers whether it failed: an I/O error, a dropped connection
/// or a timeout marks it broken, and the pool then opens a new one instead of handing it out
/// again. A command error (`NOGROUP`, a wrong type) leaves it in use.
pub struct RedisConn {
    inner: redis::aio::MultiplexedConnection,
    broken: bool,
}

impl RedisConn {
    fn note<T>(&mut self, result: redis::RedisResult<T>) -> redis::RedisResult<T> {
        if let Err(e) = &result {
            if e.is_io_error()
                || e.is_connection_dropped()
                || e.is_timeout()
                || e.is_unrecoverable_error()
            {
                self.broken = true;
            }
        }
        result
    }
}

impl redis::aio::ConnectionLike for RedisConn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            let result = self.inner.req_packed_command(cmd).await;
            self.note(result)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            let result = self
                .inner
                .req_packed_commands(pipeline, offset, count)
                .await;
            self.note(result)
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

impl bb8::ManageConnection for RedisManager {
    type Connection = RedisConn;
    type Error = redis::RedisError;

    async fn connect(&self) -> Result<Self::Connection, Self::Error> {
        crate::home::open_at(self.home.as_ref(), || {
            let client = self.client.clone();
            async move { client.get_multiplexed_async_connection().await }
        })
        .await
        .map(|inner| RedisConn {
            inner,
            broken: false,
        })
    }

    async fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), Self::Error> {
        redis::cmd("PING").query_async::<()>(conn).await
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        conn.broken
    }
}
