//! The systemd protocol, spoken to a notify socket of the test's own: `READY=1` only once the
//! schema is migrated and HTTP answers, `WATCHDOG=1` pings only while every actor answers (a
//! wedged actor silences them, so systemd would restart the service), `STOPPING=1` on SIGTERM.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::*;
use memlink_actors::plan::HANG_MARKER;
use serde_json::json;

/// Every datagram received until `deadline`, with its arrival time.
fn receive(socket: &UnixDatagram, until: Instant, out: &mut Vec<(Instant, String)>) {
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        if let Ok(n) = socket.recv(&mut buf) {
            out.push((
                Instant::now(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
    }
}

fn max_gap(pings: &[Instant]) -> Duration {
    pings
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

#[test]
fn ready_watchdog_and_stopping_follow_the_actors() {
    let env = TestEnv::new();
    let path = std::env::temp_dir().join(format!("memlink-notify-{}.sock", new_uuid()));
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    let sock = path.to_string_lossy().into_owned();
    let mut daemon = env.spawn_daemon(&[
        ("NOTIFY_SOCKET", sock.as_str()),
        ("WATCHDOG_USEC", "400000"),
    ]);

    let mut got = Vec::new();
    receive(&socket, Instant::now() + Duration::from_secs(2), &mut got);
    let ready = got
        .iter()
        .find(|(_, m)| m.contains("READY=1"))
        .expect("READY=1 sent");
    assert!(ready.1.contains("STATUS="), "{}", ready.1);
    // Ready means ready: the schema is there and HTTP answers.
    assert!(env.count("SELECT count(*) FROM refinery_schema_history") > 0);
    assert_eq!(daemon.get("/healthz").0, 200);
    let pings: Vec<Instant> = got
        .iter()
        .filter(|(_, m)| m.contains("WATCHDOG=1"))
        .map(|(t, _)| *t)
        .collect();
    assert!(pings.len() >= 4, "pinged at half of 400 ms: {got:?}");

    // A wedged worker (its thread blocked for 3 s) silences the pings; they resume after.
    let marked = Instant::now();
    env.xadd_message(
        &new_uuid(),
        &message_payload(
            &new_uuid(),
            &new_uuid(),
            "wd",
            HANG_MARKER,
            json!(1769067099),
        ),
    );
    let mut during = Vec::new();
    receive(
        &socket,
        Instant::now() + Duration::from_secs(5),
        &mut during,
    );
    // Counted from the moment the marker was sent: the wedge may begin before the first ping
    // of this window arrives, so the silence can open the window.
    let pings: Vec<Instant> = std::iter::once(marked)
        .chain(
            during
                .iter()
                .filter(|(_, m)| m.contains("WATCHDOG=1"))
                .map(|(t, _)| *t),
        )
        .collect();
    assert!(
        max_gap(&pings) >= Duration::from_millis(2_000),
        "the pings went on while wedged: gap {:?}, pings at {:?} ms",
        max_gap(&pings),
        pings
            .iter()
            .map(|t| (*t - marked).as_millis())
            .collect::<Vec<_>>()
    );
    assert!(
        pings
            .last()
            .is_some_and(|t| Instant::now() - *t < Duration::from_secs(1)),
        "pings resumed"
    );

    daemon.signal("TERM");
    let mut end = Vec::new();
    receive(&socket, Instant::now() + Duration::from_secs(3), &mut end);
    assert!(end.iter().any(|(_, m)| m.contains("STOPPING=1")), "{end:?}");
    assert_eq!(
        daemon
            .wait_exit(Duration::from_secs(20))
            .and_then(|s| s.code()),
        Some(0)
    );
    let _ = std::fs::remove_file(&path);
}
