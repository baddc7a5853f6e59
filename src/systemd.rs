//! systemd integration: `READY=1` once PostgreSQL, the schema and HTTP are up, `STATUS=` lines, `STOPPING=1`, and a
//! watchdog that pings only while every actor answers (a wedged actor stops the pings, so
//! systemd restarts the service).
//!
//! Every call is a no-op when not started by systemd (`NOTIFY_SOCKET` unset); failures to
//! notify are logged, never fatal.

use std::time::Duration;

use actix::Addr;
use memlink_actors::status::{ActorState, StatusBoard};
use memlink_actors::supervisor::{Health, RootSupervisor};
use sd_notify::NotifyState;

use crate::role::ProcessRole;

fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        log::debug!(target: "memlink::systemd", "event=notify_failed error={}", crate::logging::quoted(&e));
    }
}

/// systemd's `STATUS=` line: which actors run and which wait for Redis.
pub fn status_line(role: ProcessRole, status: &StatusBoard, http: &str) -> String {
    let board = status.snapshot();
    let named = |waiting: bool| {
        board
            .iter()
            .filter(|a| (a.state == ActorState::Waiting) == waiting)
            .map(|a| a.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (running, waiting) = (named(false), named(true));
    if waiting.is_empty() {
        format!("role {role}: {running} running; http on {http}")
    } else {
        format!("role {role}: {running} running, {waiting} waiting for redis; http on {http}")
    }
}

pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A new `STATUS=` line (e.g. once the actors that waited for Redis have started).
pub fn status(status: &str) {
    notify(&[NotifyState::Status(status)]);
}

pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("draining")]);
}

/// Pings the watchdog at half its interval while all actors answer their ping.
pub async fn watchdog(root: Addr<RootSupervisor>) {
    let Some(interval) = sd_notify::watchdog_enabled().map(|usec| usec / 2) else {
        return;
    };
    let interval = interval.max(Duration::from_millis(100));
    loop {
        actix_web::rt::time::sleep(interval).await;
        match root.send(Health).await {
            Ok(children) if children.iter().all(|c| c.responsive) => {
                notify(&[NotifyState::Watchdog])
            }
            Ok(children) => {
                let stuck: Vec<&str> = children
                    .iter()
                    .filter(|c| !c.responsive)
                    .map(|c| c.name)
                    .collect();
                log::error!(target: "memlink::systemd", "event=watchdog_withheld unresponsive={}", stuck.join(","));
            }
            Err(_) => {
                log::error!(target: "memlink::systemd", "event=watchdog_withheld unresponsive=supervisor")
            }
        }
    }
}
