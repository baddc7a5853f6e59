//! LISTEN for outbox inserts and wake the relay, so relay latency is low without busy polling.
//!
//! Best effort by design: if the listening connection drops, it reconnects with backoff, and
//! the relay's slow poll covers the gap. It must never be the only way work is found.

use std::time::Duration;

use actix::Recipient;
use futures_util::StreamExt;
use memlink_actors::messages::Wake;
use tokio_postgres::AsyncMessage;

use super::PgConnector;

pub const CHANNEL: &str = "memlink_outbox";

/// Runs forever: listen, forward each notification as a `Wake`, reconnect on failure.
pub async fn forward_notifications(connector: PgConnector, wake: Recipient<Wake>) {
    let mut delay = Duration::from_millis(200);
    loop {
        match listen_once(&connector, &wake).await {
            Ok(()) => delay = Duration::from_millis(200),
            Err(e) => {
                log::warn!(target: "memlink::relay", "event=listen_failed error={} retry_ms={}", crate::logging::quoted(&e), delay.as_millis());
            }
        }
        actix_web::rt::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

async fn listen_once(connector: &PgConnector, wake: &Recipient<Wake>) -> Result<(), String> {
    const LISTEN: &str = "LISTEN memlink_outbox";
    let (client, mut connection) = connector.connect().await.map_err(|e| e.to_string())?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    // The connection only makes progress while polled, so LISTEN is sent while polling.
    let listen = client.batch_execute(LISTEN);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            r = &mut listen, if !listening => {
                r.map_err(|e| e.to_string())?;
                listening = true;
                log::debug!(target: "memlink::relay", "event=listening channel={CHANNEL}");
                // Rows inserted while we were not listening would otherwise wait for the poll.
                wake.do_send(Wake);
            }
            m = messages.next() => match m {
                Some(Ok(AsyncMessage::Notification(_))) => wake.do_send(Wake),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Ok(()),
            }
        }
    }
}
