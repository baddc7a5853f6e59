//! The diagnosis rules: a [`Snapshot`] in, [`Finding`]s out, most severe first. Pure, so each
//! rule is unit-tested without services; it must never read Postgres, Redis or the clock.

use super::*;

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

fn secs(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0}s")
    } else if s < 7200.0 {
        format!("{:.0}m", s / 60.0)
    } else {
        format!("{:.1}h", s / 3600.0)
    }
}

/// Whether the reconciler is enabled, from a raw `MEMLINK_RECONCILE_AFTER_SECS`: unset means
/// its default (enabled); `0` disables it.
pub fn reconciler_enabled(raw: Option<&str>) -> bool {
    match raw.map(str::trim) {
        None | Some("") => true,
        Some(v) => v.parse::<u64>().map(|n| n > 0).unwrap_or(true),
    }
}

/// Turns a snapshot into findings, most severe first. Pure.
pub fn evaluate(s: &Snapshot, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(d) = &s.daemon {
        daemon_rules(d, &mut out);
    }
    let pg = match &s.postgres {
        Ok(pg) => Some(pg),
        Err(u) => {
            out.push(finding(
                "postgres_unreachable",
                format!("cannot reach Postgres at {}: {}", u.url, u.error),
                json!({"url": u.url, "error": u.error}),
            ));
            None
        }
    };
    let redis = match &s.redis {
        Ok(r) => Some(r),
        Err(u) => {
            out.push(finding(
                "redis_unreachable",
                format!("cannot reach Redis at {}: {}", u.url, u.error),
                json!({"url": u.url, "error": u.error}),
            ));
            None
        }
    };
    if let Some(pg) = pg {
        schema_rules(pg, s.expected_schema, &mut out);
        if let Some(hb) = &pg.heartbeats {
            liveness_rules(pg, hb, redis, &s.target, &mut out);
            split_brain_rule(hb, &mut out);
            crash_rules(hb, pg.dead_letters.as_deref(), t, &mut out);
        }
        outbox_rules(pg, t, &mut out);
        dead_letter_rule(pg, &mut out);
    }
    if let Some(r) = redis {
        stuck_rule(r, &s.target, &mut out);
        persistence_rule(r, pg, &s.target, &mut out);
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

fn daemon_rules(d: &DaemonFacts, out: &mut Vec<Finding>) {
    if let Some(e) = &d.unreachable {
        out.push(finding(
            "daemon_unreachable",
            format!("the daemon's admin endpoint {} did not answer: {e}", d.url),
            json!({"url": d.url, "error": e}),
        ));
        return;
    }
    if d.ready == Some(false) {
        out.push(finding(
            "daemon_not_ready",
            format!(
                "the daemon at {} reports not ready: {}",
                d.url,
                d.reasons.join("; ")
            ),
            json!({"url": d.url, "reasons": d.reasons}),
        ));
    }
    if d.unauthorized {
        out.push(finding(
            "daemon_unauthorized",
            format!("the daemon at {} refused the admin token", d.url),
            json!({"url": d.url}),
        ));
    }
}

fn schema_rules(pg: &PgFacts, expected: i32, out: &mut Vec<Finding>) {
    let found = pg.schema_version;
    if found < expected {
        out.push(finding(
            "schema_behind",
            format!("the database schema is at version {found}, this binary needs {expected}"),
            json!({"found": found, "expected": expected}),
        ));
    } else if found > expected {
        out.push(finding(
            "schema_ahead",
            format!(
                "the database schema is at version {found}, newer than this binary's {expected}"
            ),
            json!({"found": found, "expected": expected}),
        ));
    }
}

fn liveness_rules(
    pg: &PgFacts,
    hb: &[Heartbeat],
    redis: Option<&RedisFacts>,
    target: &Target,
    out: &mut Vec<Finding>,
) {
    let live: Vec<&Heartbeat> = hb.iter().filter(|h| h.live).collect();
    let relays: Vec<&&Heartbeat> = live.iter().filter(|h| h.runs_relay()).collect();
    let workers: Vec<&&Heartbeat> = live.iter().filter(|h| h.runs_worker()).collect();
    let last_seen = |pred: fn(&Heartbeat) -> bool| {
        hb.iter()
            .filter(|h| pred(h))
            .map(|h| h.seen_ago_s)
            .fold(None, |acc: Option<f64>, a| {
                Some(acc.map_or(a, |b| b.min(a)))
            })
    };
    let pending = pg.outbox.as_ref().map(|o| o.pending).unwrap_or(0);
    let mut missing = false;
    if pending > 0 && relays.is_empty() {
        missing = true;
        let oldest = pg
            .outbox
            .as_ref()
            .map(|o| o.oldest_pending_age_s)
            .unwrap_or(0.0);
        let seen = match last_seen(Heartbeat::runs_relay) {
            Some(ago) => format!("the last relay heartbeat was {} ago", secs(ago)),
            None => "no relay heartbeat in the last hour".to_owned(),
        };
        out.push(finding(
            "relay_missing",
            format!(
                "{pending} outbox events are pending (oldest {}) and no relay is alive: {seen}",
                secs(oldest)
            ),
            json!({"pending": pending, "oldest_pending_age_s": oldest,
                   "last_relay_seen_ago_s": last_seen(Heartbeat::runs_relay)}),
        ));
    }
    let backlog = redis
        .map(|r| r.stream.pending + r.stream.lag.unwrap_or(0))
        .unwrap_or(0);
    if workers.is_empty() && (backlog > 0 || !relays.is_empty()) {
        missing = true;
        let seen = match last_seen(Heartbeat::runs_worker) {
            Some(ago) => format!("the last worker heartbeat was {} ago", secs(ago)),
            None => "no worker heartbeat in the last hour".to_owned(),
        };
        let what = if relays.is_empty() {
            format!(
                "{backlog} entries wait in stream {} group {}",
                target.stream, target.group
            )
        } else {
            format!(
                "{} relay(s) publish ({backlog} entries waiting in {})",
                relays.len(),
                target.stream
            )
        };
        out.push(finding(
            "worker_missing",
            format!("{what} and no worker is alive: {seen}"),
            json!({"backlog": backlog, "stream": target.stream, "group": target.group,
                   "live_relays": relays.len(), "last_worker_seen_ago_s": last_seen(Heartbeat::runs_worker)}),
        ));
    }
    if live.is_empty() && !missing {
        out.push(finding(
            "no_daemon",
            match hb.iter().map(|h| h.seen_ago_s).reduce(f64::min) {
                Some(ago) => format!(
                    "no memlink process is alive; the last heartbeat was {} ago",
                    secs(ago)
                ),
                None => "no memlink process sent a heartbeat in the last hour".to_owned(),
            },
            json!({}),
        ));
    }
}

/// A relay whose events no live worker reads, or a worker reading what no live relay feeds.
fn split_brain_rule(hb: &[Heartbeat], out: &mut Vec<Finding>) {
    let live: Vec<&Heartbeat> = hb.iter().filter(|h| h.live).collect();
    let relay_routes: BTreeMap<Route, Vec<&Heartbeat>> = live
        .iter()
        .filter(|h| h.runs_relay())
        .fold(BTreeMap::new(), |mut m, h| {
            m.entry(h.route()).or_insert_with(Vec::new).push(*h);
            m
        });
    let worker_routes: BTreeMap<Route, Vec<&Heartbeat>> = live
        .iter()
        .filter(|h| h.runs_worker())
        .fold(BTreeMap::new(), |mut m, h| {
            m.entry(h.route()).or_insert_with(Vec::new).push(*h);
            m
        });
    // With no live worker (or relay) at all, that is `worker_missing` (`relay_missing`).
    if relay_routes.is_empty() || worker_routes.is_empty() {
        return;
    }
    let mut problems = Vec::new();
    let mut details = Vec::new();
    for (route, relays) in &relay_routes {
        if !worker_routes.contains_key(route) {
            let who: Vec<String> = relays.iter().map(|h| h.label()).collect();
            problems.push(format!(
                "{} publish to {route}, which no live worker reads",
                who.join(", ")
            ));
            details.push(json!({"side": "relay", "route": route, "instances": who}));
        }
    }
    for (route, workers) in &worker_routes {
        if !relay_routes.contains_key(route) {
            let who: Vec<String> = workers.iter().map(|h| h.label()).collect();
            problems.push(format!(
                "{} read {route}, which no live relay feeds",
                who.join(", ")
            ));
            details.push(json!({"side": "worker", "route": route, "instances": who}));
        }
    }
    if problems.is_empty() {
        return;
    }
    let relays: Vec<String> = relay_routes.keys().map(|r| r.to_string()).collect();
    let workers: Vec<String> = worker_routes.keys().map(|r| r.to_string()).collect();
    out.push(finding(
        "split_brain",
        format!(
            "relays and workers disagree on where events go: {} (relays publish to: {}; workers read: {})",
            problems.join("; "),
            relays.join(" | "),
            workers.join(" | ")
        ),
        json!({"mismatches": details, "relay_routes": relays, "worker_routes": workers}),
    ));
}

fn crash_rules(
    hb: &[Heartbeat],
    letters: Option<&[DeadLetterGroup]>,
    t: &Thresholds,
    out: &mut Vec<Finding>,
) {
    let window = t.crash_window.as_secs_f64();
    let quarantined = quarantine_advice(letters);
    for h in hb.iter().filter(|h| h.live) {
        for a in h.actors.as_array().into_iter().flatten() {
            let count = |key: &str| a.get(key).and_then(Value::as_u64).unwrap_or(0);
            let (recent, same) = (count("recent_restarts"), count("same_error_restarts"));
            let name = a.get("name").and_then(Value::as_str).unwrap_or("?");
            let last_error = a.get("last_error").and_then(Value::as_str).unwrap_or("");
            let details = json!({"instance_id": h.instance_id, "host": h.host, "actor": name,
                   "recent_restarts": recent, "same_error_restarts": same,
                   "restarts": a.get("restarts"), "last_error": last_error,
                   "dead_lettered_crashes": quarantined.0});
            // The same error restart after restart, however slowly: one input is in the way.
            if same >= t.crash_loop_restarts && recent > 0 {
                out.push(finding(
                    "actor_poison_loop",
                    format!(
                        "the {name} of {} restarted {same} times in a row on the same error: {}; {}",
                        h.label(),
                        clip(last_error, 200),
                        quarantined.1
                    ),
                    details,
                ));
            } else if recent >= t.crash_loop_restarts {
                out.push(finding(
                    "actor_crash_loop",
                    format!(
                        "the {name} of {} restarted {recent} times in the last {}; last error: {}; {}",
                        h.label(),
                        secs(window),
                        clip(last_error, 200),
                        quarantined.1
                    ),
                    details,
                ));
            }
        }
    }
    let mut by_host_role: BTreeMap<(&str, &str), Vec<&Heartbeat>> = BTreeMap::new();
    for h in hb
        .iter()
        .filter(|h| h.started_ago_s <= window && h.crashed())
    {
        by_host_role
            .entry((h.host.as_str(), h.role.as_str()))
            .or_default()
            .push(h);
    }
    for ((host, role), dead) in by_host_role {
        if dead.len() < t.process_crashes {
            continue;
        }
        let reasons: Vec<String> = dead
            .iter()
            .map(|h| {
                h.stop_reason
                    .clone()
                    .unwrap_or_else(|| "vanished without a stop".to_owned())
            })
            .collect();
        out.push(finding(
            "process_crash_loop",
            format!(
                "{} memlink processes (role {role}) on {host} died in the last {}: {}",
                dead.len(),
                secs(window),
                reasons.join("; ")
            ),
            json!({"host": host, "role": role, "crashes": dead.len(),
                   "instances": dead.iter().map(|h| h.instance_id).collect::<Vec<_>>(), "reasons": reasons}),
        ));
    }
}

/// What the dead letters actually hold of inputs that crashed an actor, as the next step: a
/// crash loop's advice must never point at letters that are not there.
fn quarantine_advice(letters: Option<&[DeadLetterGroup]>) -> (i64, String) {
    let Some(groups) = letters else {
        return (0, "dead letters could not be read".to_owned());
    };
    let found: Vec<(&str, i64)> = groups
        .iter()
        .filter(|g| g.reason == "panic" || g.reason == "crashed_process")
        .map(|g| (g.reason.as_str(), g.count))
        .collect();
    let total = found.iter().map(|(_, n)| n).sum();
    if found.is_empty() {
        return (
            0,
            "no dead letter holds an input that crashed it (none with reason panic or \
             crashed_process), so whatever crashes it is not being quarantined"
                .to_owned(),
        );
    }
    let lists: Vec<String> = found
        .iter()
        .map(|(reason, n)| {
            format!("{n} with reason {reason}: `memlink dlq list --reason {reason}`")
        })
        .collect();
    (
        total,
        format!(
            "dead letters hold inputs that crashed it ({})",
            lists.join("; ")
        ),
    )
}

fn outbox_rules(pg: &PgFacts, t: &Thresholds, out: &mut Vec<Finding>) {
    let Some(o) = &pg.outbox else { return };
    if o.pending > 0 && o.oldest_pending_age_s > t.outbox_stale.as_secs_f64() {
        out.push(finding(
            "outbox_stale",
            format!(
                "{} outbox events are pending; the oldest has waited {} (threshold {})",
                o.pending,
                secs(o.oldest_pending_age_s),
                secs(t.outbox_stale.as_secs_f64())
            ),
            json!({"pending": o.pending, "oldest_pending_age_s": o.oldest_pending_age_s,
                   "threshold_s": t.outbox_stale.as_secs()}),
        ));
    }
}

fn dead_letter_rule(pg: &PgFacts, out: &mut Vec<Finding>) {
    let Some(groups) = &pg.dead_letters else {
        return;
    };
    if groups.is_empty() {
        return;
    }
    let total: i64 = groups.iter().map(|g| g.count).sum();
    let mut sorted: Vec<&DeadLetterGroup> = groups.iter().collect();
    sorted.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    let parts: Vec<String> = sorted
        .iter()
        .map(|g| {
            format!(
                "{} ×{} (e.g. {} {} {}: {})",
                g.reason,
                g.count,
                g.example_source,
                g.example_ref,
                g.example_id,
                clip(&g.example_detail, 120)
            )
        })
        .collect();
    out.push(finding(
        "dead_letters",
        format!("{total} dead letters await triage: {}", parts.join("; ")),
        json!({"total": total, "by_reason": sorted}),
    ));
}

fn stuck_rule(r: &RedisFacts, target: &Target, out: &mut Vec<Finding>) {
    let s = &r.stuck;
    if s.count == 0 {
        return;
    }
    let more = if s.count >= STUCK_SAMPLE {
        "at least "
    } else {
        ""
    };
    out.push(finding(
        "stream_pending_stuck",
        format!(
            "{more}{} entries of stream {} group {} have been pending for longer than {} (longest {}), on consumer(s) {}",
            s.count,
            target.stream,
            target.group,
            secs(s.threshold_ms as f64 / 1000.0),
            secs(s.max_idle_ms as f64 / 1000.0),
            s.consumers.join(", ")
        ),
        json!({"count": s.count, "max_idle_ms": s.max_idle_ms, "threshold_ms": s.threshold_ms,
               "consumers": s.consumers, "stream": target.stream, "group": target.group}),
    ));
}

fn persistence_rule(r: &RedisFacts, pg: Option<&PgFacts>, target: &Target, out: &mut Vec<Finding>) {
    let Some(p) = &r.persistence else { return };
    if p.persistent() {
        return;
    }
    // The live relays' own setting wins over the diagnosing process's environment: the
    // reconciler runs with the relay role.
    let live_settings: Vec<Option<String>> = pg
        .and_then(|p| p.heartbeats.as_ref())
        .into_iter()
        .flatten()
        .filter(|h| h.live && h.runs_relay())
        .map(|h| {
            h.settings
                .get("reconcile_after_secs")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let (enabled, source) = if live_settings.is_empty() {
        (
            reconciler_enabled(target.reconcile_after_secs.as_deref()),
            "this environment",
        )
    } else {
        (
            live_settings
                .iter()
                .all(|s| reconciler_enabled(s.as_deref())),
            "the live relays",
        )
    };
    if enabled {
        return;
    }
    out.push(finding(
        "redis_not_persistent",
        format!(
            "Redis at {} has no persistence (appendonly no, save \"{}\") and the reconciler is disabled ({}): a Redis restart loses relayed events that were not processed yet",
            target.redis, p.save, source
        ),
        json!({"appendonly": p.appendonly, "save": p.save, "reconciler_source": source}),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::StreamStats;
    use chrono::Utc;

    fn target() -> Target {
        Target {
            database: "postgres://u:***@db/m".into(),
            redis: "redis://r:6379".into(),
            stream: "s".into(),
            group: "g".into(),
            reclaim_idle_secs: 30,
            reconcile_after_secs: None,
        }
    }

    fn hb(role: &str, stream: &str, group: &str, live: bool) -> Heartbeat {
        Heartbeat {
            instance_id: Uuid::new_v4(),
            host: "h1".into(),
            pid: 7,
            role: role.into(),
            version: "0".into(),
            backend: "redis".into(),
            bus: "redis://r:6379".into(),
            bus_id: Some("b/0".into()),
            stream: stream.into(),
            group: group.into(),
            consumer: "c".into(),
            interval_secs: 5,
            started_at: Utc::now(),
            last_seen: Utc::now(),
            stopped_at: None,
            stop_reason: None,
            actors: json!([]),
            settings: json!({}),
            live,
            seen_ago_s: if live { 1.0 } else { 100.0 },
            started_ago_s: 60.0,
        }
    }

    fn snapshot(heartbeats: Vec<Heartbeat>, pending: i64) -> Snapshot {
        Snapshot {
            expected_schema: 4,
            target: target(),
            postgres: Ok(PgFacts {
                schema_version: 4,
                outbox: Some(OutboxFacts {
                    pending,
                    oldest_pending_age_s: 10.0,
                }),
                heartbeats: Some(heartbeats),
                dead_letters: Some(Vec::new()),
            }),
            redis: Ok(RedisFacts {
                stream: StreamStats::default(),
                stuck: StuckEntries::default(),
                persistence: Some(Persistence {
                    appendonly: true,
                    save: String::new(),
                }),
            }),
            daemon: None,
        }
    }

    fn codes(s: &Snapshot) -> Vec<&'static str> {
        evaluate(s, &Thresholds::default())
            .iter()
            .map(|f| f.code)
            .collect()
    }

    #[test]
    fn a_healthy_pipeline_has_no_findings() {
        assert!(codes(&snapshot(vec![hb("all", "s", "g", true)], 3)).is_empty());
        let split = snapshot(
            vec![hb("relay", "s", "g", true), hb("worker", "s", "g", true)],
            0,
        );
        assert!(codes(&split).is_empty());
    }

    #[test]
    fn pending_events_without_a_live_relay() {
        let s = snapshot(
            vec![hb("worker", "s", "g", true), hb("relay", "s", "g", false)],
            5,
        );
        assert_eq!(codes(&s), vec!["relay_missing"]);
        let f = &evaluate(&s, &Thresholds::default())[0];
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.message.contains("5 outbox events"), "{}", f.message);
        assert!(
            f.message.contains("last relay heartbeat was 100s ago"),
            "{}",
            f.message
        );
    }

    #[test]
    fn split_brain_names_both_sides() {
        let s = snapshot(
            vec![hb("relay", "s1", "g", true), hb("worker", "s2", "g", true)],
            0,
        );
        let f = evaluate(&s, &Thresholds::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "split_brain");
        assert!(f[0].message.contains("stream s1"), "{}", f[0].message);
        assert!(f[0].message.contains("stream s2"), "{}", f[0].message);
        // Another Redis server under the same stream name is a split brain too.
        let mut other = hb("worker", "s", "g", true);
        other.bus_id = Some("other/0".into());
        let s = snapshot(vec![hb("relay", "s", "g", true), other], 0);
        assert_eq!(codes(&s), vec!["split_brain"]);
        // A relay-only and an all-in-one on the same route agree.
        let s = snapshot(
            vec![hb("relay", "s", "g", true), hb("all", "s", "g", true)],
            0,
        );
        assert!(codes(&s).is_empty());
    }

    #[test]
    fn crash_loops() {
        let mut h = hb("all", "s", "g", true);
        h.actors =
            json!([{"name": "worker", "restarts": 4, "recent_restarts": 3, "last_error": "boom"}]);
        assert_eq!(codes(&snapshot(vec![h], 0)), vec!["actor_crash_loop"]);
        let mut dead: Vec<Heartbeat> = (0..3).map(|_| hb("all", "s", "g", false)).collect();
        dead.push(hb("all", "s", "g", true));
        assert_eq!(
            codes(&snapshot(dead.clone(), 0)),
            vec!["process_crash_loop"]
        );
        // Graceful stops are deploys, not crashes.
        for d in dead.iter_mut().filter(|h| !h.live) {
            d.stopped_at = Some(Utc::now());
            d.stop_reason = Some("SIGTERM".into());
        }
        assert!(codes(&snapshot(dead, 0)).is_empty());
    }

    /// A relay that dies on the same row every lease (twice a minute: far below the restart
    /// budget) is named as a poison loop, and the advice says what the dead letters hold.
    #[test]
    fn a_slow_loop_on_the_same_error_is_a_poison_loop_with_true_advice() {
        let mut h = hb("all", "s", "g", true);
        h.actors = json!([{"name": "relay", "restarts": 4, "recent_restarts": 4,
                           "same_error_restarts": 4, "last_error": "died outside its boundary"}]);
        let mut s = snapshot(vec![h], 0);
        let found = evaluate(&s, &Thresholds::default());
        assert_eq!(found[0].code, "actor_poison_loop");
        assert!(
            found[0].message.contains("no dead letter holds")
                && !found[0].message.contains("dlq list"),
            "{}",
            found[0].message
        );
        if let Ok(pg) = &mut s.postgres {
            pg.dead_letters = Some(vec![DeadLetterGroup {
                reason: "panic".into(),
                count: 2,
                newest: Utc::now(),
                example_id: Uuid::nil(),
                example_source: "outbox".into(),
                example_ref: "r".into(),
                example_detail: "d".into(),
            }]);
        }
        let found = evaluate(&s, &Thresholds::default());
        let poison = found
            .iter()
            .find(|f| f.code == "actor_poison_loop")
            .unwrap();
        assert!(
            poison
                .message
                .contains("2 with reason panic: `memlink dlq list --reason panic`"),
            "{}",
            poison.message
        );
        assert_eq!(poison.details["dead_lettered_crashes"], 2);
    }

    #[test]
    fn unreachable_dependencies_are_named_and_redacted() {
        let mut s = snapshot(vec![], 0);
        s.postgres = Err(Unreachable {
            url: "postgres://u:***@db:1/m".into(),
            error: "connection refused".into(),
        });
        let f = evaluate(&s, &Thresholds::default());
        assert_eq!(f[0].code, "postgres_unreachable");
        assert!(f[0].message.contains("postgres://u:***@db:1/m"));
    }

    #[test]
    fn persistence_and_reconciler() {
        let mut s = snapshot(vec![hb("all", "s", "g", true)], 0);
        if let Ok(r) = &mut s.redis {
            r.persistence = Some(Persistence {
                appendonly: false,
                save: String::new(),
            });
        }
        assert!(codes(&s).is_empty(), "the reconciler is on by default");
        if let Ok(pg) = &mut s.postgres {
            pg.heartbeats.as_mut().unwrap()[0].settings = json!({"reconcile_after_secs": "0"});
        }
        assert_eq!(codes(&s), vec!["redis_not_persistent"]);
        assert!(!reconciler_enabled(Some("0")));
        assert!(reconciler_enabled(Some("30")));
    }

    #[test]
    fn every_code_has_a_runbook_line() {
        for (code, _, runbook) in CODES {
            assert!(!runbook.is_empty(), "{code}");
        }
    }
}
