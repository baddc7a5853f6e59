//! Where pooled connections live. A connection's driver runs on the runtime that opened it,
//! so a connection opened by an HTTP worker thread dies with that thread's runtime when the
//! server stops. Pools whose connections must outlive those threads open them here, on the
//! runtime that built the pool (the daemon's main one).
//!
//! Plumbing only: it must never decide which pool is which (the adapters do).

use std::future::Future;

use tokio::runtime::Handle;

/// The calling runtime, to open connections on later (`None` outside a runtime).
pub fn here() -> Option<Handle> {
    Handle::try_current().ok()
}

/// Runs `open` on `home`, so that what it spawns (a connection's driver) lives there; without
/// a home, or once the home runtime is gone (the process is ending), on the caller's.
pub async fn open_at<T, F>(home: Option<&Handle>, open: impl Fn() -> F) -> T
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    if let Some(home) = home {
        if let Ok(opened) = home.spawn(open()).await {
            return opened;
        }
    }
    open().await
}
