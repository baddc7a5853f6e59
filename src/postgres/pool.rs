//! The connection pool: bb8 over tokio-postgres, with a prepared-statement cache per
//! connection.
//!
//! A statement prepared once per connection costs one round trip the first time and none
//! after; statements issued side by side on one connection (a transaction's independent
//! reads and writes) then go out in one flight, in the order they were issued, and execute in
//! that order. This module holds no SQL of its own and must never hand a statement prepared
//! on one connection to another.

use std::collections::HashMap;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bb8_postgres::PostgresConnectionManager;
use memlink_actors::ports::PortError;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Error, GenericClient, Socket, Statement};

/// Prepared statements of one connection, by their SQL text.
#[derive(Clone, Default)]
pub struct StatementCache(Arc<Mutex<HashMap<&'static str, Statement>>>);

impl StatementCache {
    /// The statement for `sql`, prepared on `client` (the connection this cache belongs to,
    /// or a transaction on it) the first time.
    pub async fn get<C: GenericClient + Sync>(
        &self,
        client: &C,
        sql: &'static str,
    ) -> Result<Statement, Error> {
        if let Some(s) = self.lock().get(sql) {
            return Ok(s.clone());
        }
        let s = client.prepare(sql).await?;
        self.lock().insert(sql, s.clone());
        Ok(s)
    }

    /// Prepares, side by side, whichever of `sqls` this connection has not prepared yet, so
    /// that [`StatementCache::cached`] then has them all. Statements taken from the cache and
    /// issued side by side are sent in the order they were issued; a statement still to be
    /// prepared would be sent only after its preparation, out of that order.
    pub async fn ensure<C: GenericClient + Sync>(
        &self,
        client: &C,
        sqls: &[&'static str],
    ) -> Result<(), Error> {
        let missing: Vec<&'static str> = {
            let map = self.lock();
            sqls.iter()
                .copied()
                .filter(|s| !map.contains_key(s))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let prepared =
            futures_util::future::try_join_all(missing.iter().map(|sql| client.prepare(sql)))
                .await?;
        let mut map = self.lock();
        for (sql, s) in missing.into_iter().zip(prepared) {
            map.insert(sql, s);
        }
        Ok(())
    }

    /// A statement [`StatementCache::ensure`] prepared. One it did not is a bug in the
    /// caller's list, refused as permanent (any test that runs the path finds it).
    pub fn cached(&self, sql: &'static str) -> Result<Statement, PortError> {
        self.lock().get(sql).cloned().ok_or_else(|| {
            PortError::permanent("postgres", "a statement was used before it was prepared")
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Statement>> {
        // Plain data: a panic while holding the lock leaves a usable map.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A pooled connection: the client and its statement cache.
pub struct PgConn {
    client: Client,
    statements: StatementCache,
    /// A [`PipelinedTx`] began and did not end: the pool must close this connection rather
    /// than hand it out in the middle of a transaction.
    in_transaction: AtomicBool,
}

impl PgConn {
    /// This connection's statement cache (clone it before starting a transaction, which
    /// borrows the connection).
    pub fn statements(&self) -> StatementCache {
        self.statements.clone()
    }

    /// A transaction whose BEGIN and COMMIT travel with its statements.
    pub fn pipelined(&mut self) -> PipelinedTx<'_> {
        PipelinedTx { conn: self }
    }
}

/// A transaction whose BEGIN goes out in the same flight as its first statements, and whose
/// COMMIT in the same flight as its last write: a claim, a publish and a mark cost two round
/// trips to PostgreSQL instead of four, a one-statement transaction one instead of three.
///
/// Order is what makes it safe: a connection executes requests in the order they were issued,
/// so statements issued after BEGIN run inside the transaction, and a COMMIT issued after a
/// write that failed ends the aborted transaction as a ROLLBACK. What it must never carry is
/// a COMMIT sent before a statement of the transaction: behind several writes of which one
/// might not be sent at all (a client-side error), or behind a statement that still has to be
/// prepared (a round trip of its own, after which the COMMIT has already run). So the COMMIT
/// only ever rides behind one prepared statement ([`PipelinedTx::commit_with`],
/// [`PipelinedTx::single`]).
///
/// A transaction dropped before it ended (an error, a drain) leaves its connection marked,
/// and the pool closes that connection, which ends the transaction, instead of reusing it.
pub struct PipelinedTx<'a> {
    conn: &'a PgConn,
}

impl<'a> PipelinedTx<'a> {
    /// The connection, for the statements of the transaction.
    pub fn client(&self) -> &'a Client {
        &self.conn.client
    }

    /// Sends `begin` (`BEGIN`, or `BEGIN; SET LOCAL ...`) and then runs `first`, whose
    /// statements follow it in the same flight; returns what `first` returns.
    pub async fn begin_with<T>(
        &self,
        begin: &'static str,
        first: impl Future<Output = Result<T, PortError>>,
    ) -> Result<T, PortError> {
        self.conn.in_transaction.store(true, Ordering::Relaxed);
        // try_join! polls in argument order: BEGIN is issued before any statement of `first`.
        let ((), value) = futures_util::try_join!(self.run(begin), first)?;
        Ok(value)
    }

    /// Executes the prepared `statement` and sends COMMIT behind it in the same flight;
    /// returns the rows it touched. If the statement failed in PostgreSQL, the COMMIT rolls
    /// the transaction back; the statement's error is returned either way.
    ///
    /// A prepared statement, not any future: a statement given as SQL text would first be
    /// prepared, a round trip of its own, and the COMMIT, already sent, would then end the
    /// transaction before the statement ran.
    pub async fn commit_with(
        self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, PortError> {
        self.execute_and_commit(statement, params).await
    }

    /// A transaction of one prepared statement: BEGIN (`begin`), the statement and COMMIT
    /// in one flight, one round trip; returns the rows it touched. If the statement failed in
    /// PostgreSQL, the COMMIT rolls it back. Prepared, for the reason given at
    /// [`PipelinedTx::commit_with`].
    pub async fn single(
        self,
        begin: &'static str,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, PortError> {
        self.conn.in_transaction.store(true, Ordering::Relaxed);
        // join! polls in argument order: BEGIN, then the statement and the COMMIT.
        let (started, value) =
            futures_util::join!(self.run(begin), self.execute_and_commit(statement, params));
        started?;
        value
    }

    /// Gives up the transaction after `error`: rolled back and awaited, or, were the ROLLBACK
    /// lost too, left for the pool to close (which rolls back as well). Returns `error`.
    pub async fn abandon(self, error: PortError) -> PortError {
        let _ = self.end("ROLLBACK").await;
        error
    }

    /// COMMIT on its own (the transaction's last statements were checked before it).
    pub async fn commit(self) -> Result<(), PortError> {
        self.end("COMMIT").await
    }

    /// `sql` as one simple query.
    async fn run(&self, sql: &str) -> Result<(), PortError> {
        self.conn
            .client
            .batch_execute(sql)
            .await
            .map_err(super::classify)
    }

    /// Ends the transaction with `sql` (COMMIT or ROLLBACK): once it answered, the
    /// connection is out of the transaction and may go back to the pool.
    async fn end(&self, sql: &str) -> Result<(), PortError> {
        self.run(sql).await?;
        self.conn.in_transaction.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// The statement, then COMMIT, in one flight.
    async fn execute_and_commit(
        &self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, PortError> {
        let last = async {
            self.conn
                .client
                .execute(statement, params)
                .await
                .map_err(super::classify)
        };
        // join!, not try_join!: polled in argument order (the statement is sent before the
        // COMMIT), and the COMMIT is awaited even when the statement failed, so the
        // connection is known to be out of the transaction before it goes back to the pool.
        let (value, ended) = futures_util::join!(last, self.end("COMMIT"));
        ended?;
        value
    }
}

impl Deref for PgConn {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// bb8's PostgreSQL manager, giving each connection a statement cache.
///
/// In the actors' pool every connection is opened and driven on the runtime that built the
/// pool (the daemon's main one), whichever thread first asks for it: a connection opened by
/// an HTTP worker thread would otherwise live on that thread's runtime and die with it when
/// the server stops, leaving closed connections for the drains and the final heartbeat. The
/// HTTP server has a pool of its own ([`super::PgConnector::local_pool`]).
pub struct CachingManager<Tls: MakeTlsConnect<Socket>> {
    inner: PostgresConnectionManager<Tls>,
    config: tokio_postgres::Config,
    tls: Tls,
    home: Option<tokio::runtime::Handle>,
}

impl<Tls: MakeTlsConnect<Socket> + Clone> CachingManager<Tls> {
    /// `at_home`: open and drive every connection on the runtime that calls this (the
    /// actors' pool); otherwise on whichever thread first asks for it (the HTTP server's
    /// pool, whose threads must not wait on a main thread busy with the actors, and whose
    /// connections may die with them).
    pub fn new(config: tokio_postgres::Config, tls: Tls, at_home: bool) -> Self {
        CachingManager {
            inner: PostgresConnectionManager::new(config.clone(), tls.clone()),
            config,
            tls,
            home: if at_home { crate::home::here() } else { None },
        }
    }
}

impl<Tls> bb8::ManageConnection for CachingManager<Tls>
where
    Tls: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    <Tls as MakeTlsConnect<Socket>>::Stream: Send + Sync,
    <Tls as MakeTlsConnect<Socket>>::TlsConnect: Send,
    <<Tls as MakeTlsConnect<Socket>>::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    type Connection = PgConn;
    type Error = Error;

    async fn connect(&self) -> Result<PgConn, Error> {
        let client = crate::home::open_at(self.home.as_ref(), || {
            let (config, tls) = (self.config.clone(), self.tls.clone());
            async move {
                let (client, connection) = config.connect(tls).await?;
                tokio::spawn(connection);
                Ok::<Client, Error>(client)
            }
        })
        .await?;
        Ok(PgConn {
            client,
            statements: StatementCache::default(),
            in_transaction: AtomicBool::new(false),
        })
    }

    async fn is_valid(&self, conn: &mut PgConn) -> Result<(), Error> {
        self.inner.is_valid(&mut conn.client).await
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        *conn.in_transaction.get_mut() || self.inner.has_broken(&mut conn.client)
    }
}
