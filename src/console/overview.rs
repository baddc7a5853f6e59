//! The overview: what an operator paged at night looks at first. Outbox backlog, stream
//! length/pending/lag, throughput and p99 latency of the last minutes, dead letters by reason,
//! this process's actors, every memlink process's heartbeat and role, and the doctor's
//! findings with their runbook text.
//!
//! It reads the same self-diagnosis as `/admin/status`, `/readyz` and `memlink doctor`
//! ([`crate::ops::diagnose`]), so they never disagree. The live part is re-fetched by htmx every
//! 2 s (see `assets/console.js`: paused while the tab is hidden, with a toggle). Read-only.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped};
use memlink_actors::status::{ActorState, ActorStatus};
use serde_json::Value;

use super::auth::Viewer;
use super::html::{self, fmt_age, fmt_time, iso, page, respond, url_with, ConsoleError, Nav};
use super::{runbook, Console, BASE};
use crate::http::AppState;
use crate::ops::diagnose::{self, Finding, Heartbeat, Severity, Snapshot};
use crate::postgres::console::{recent_minutes, MinuteStats};

/// How often the page refreshes itself.
pub const REFRESH_MS: u32 = 2_000;
/// The chart's span.
pub const CHART_MINUTES: i32 = 15;
/// The chart's figures are recomputed at most this often, however many tabs are open.
pub const CHART_TTL: Duration = Duration::from_secs(5);
/// The diagnosis is gathered at most this often, however many tabs are open.
pub const SNAPSHOT_TTL: Duration = Duration::from_millis(1_500);

struct Data {
    diagnosis: Arc<(Snapshot, Vec<Finding>)>,
    chart: Result<Vec<MinuteStats>, String>,
    actors: Vec<ActorStatus>,
    me: uuid::Uuid,
    generated_at: DateTime<Utc>,
}

async fn chart(console: &Console, state: &AppState) -> Result<Vec<MinuteStats>, String> {
    if let Some(v) = console.inner.chart.fresh(CHART_TTL) {
        return Ok(v);
    }
    let fresh = recent_minutes(&state.pg, CHART_MINUTES)
        .await
        .map_err(|e| e.message)?;
    console.inner.chart.put(fresh.clone());
    Ok(fresh)
}

/// The same diagnosis as `/admin/status` and `memlink doctor`.
async fn diagnosis(console: &Console, state: &AppState) -> Arc<(Snapshot, Vec<Finding>)> {
    if let Some(d) = console.inner.diagnosis.fresh(SNAPSHOT_TTL) {
        return d;
    }
    let snapshot = state.ops.snapshot(&state.pg).await;
    let findings = diagnose::evaluate(&snapshot, &state.ops.thresholds);
    let fresh = Arc::new((snapshot, findings));
    console.inner.diagnosis.put(fresh.clone());
    fresh
}

async fn gather(state: &AppState, console: &Console) -> Data {
    Data {
        diagnosis: diagnosis(console, state).await,
        chart: chart(console, state).await,
        actors: state.status.snapshot(),
        me: state.ops.instance_id,
        generated_at: Utc::now(),
    }
}

/// `GET /admin/ui`
pub async fn show(
    viewer: Viewer,
    state: web::Data<AppState>,
    console: web::Data<Console>,
) -> Result<HttpResponse, ConsoleError> {
    let data = gather(&state, &console).await;
    let body = html! {
        div.refresh {
            label.check for="auto-refresh" {
                input #auto-refresh type="checkbox" checked;
                "Auto-refresh"
            }
            button.secondary #refresh-now type="button" { "Refresh now" }
            span #refresh-state.muted role="status" aria-live="polite" {
                "Refreshing every " (REFRESH_MS / 1000) " s."
            }
        }
        div #overview-live
            hx-get={(BASE) "/overview/live"}
            hx-trigger="refresh"
            hx-swap="innerHTML"
            data-refresh-ms=(REFRESH_MS) {
            (live_markup(&data))
        }
    };
    Ok(respond(
        StatusCode::OK,
        page(&viewer.frame(), Nav::Overview, "Overview", body),
    ))
}

/// `GET /admin/ui/overview/live`: the refreshed part alone.
pub async fn live(
    _viewer: Viewer,
    state: web::Data<AppState>,
    console: web::Data<Console>,
) -> HttpResponse {
    let data = gather(&state, &console).await;
    respond(StatusCode::OK, live_markup(&data))
}

fn live_markup(d: &Data) -> Markup {
    let (snapshot, findings) = &*d.diagnosis;
    let pg = snapshot.postgres.as_ref();
    let outbox = pg.ok().and_then(|p| p.outbox.as_ref());
    let groups = pg.ok().and_then(|p| p.dead_letters.as_ref());
    let heartbeats = pg.ok().and_then(|p| p.heartbeats.as_ref());
    let redis = snapshot.redis.as_ref();
    let open_letters: i64 = groups.map(|g| g.iter().map(|x| x.count).sum()).unwrap_or(0);
    let live_processes = heartbeats.map(|h| h.iter().filter(|x| x.live).count());
    html! {
        p.muted.stamp {
            "Updated " time #generated-at datetime=(iso(&d.generated_at)) { (fmt_time(&d.generated_at)) }
        }
        div.cards {
            div.card #card-outbox {
                h2 { "Outbox pending" }
                @match outbox {
                    Some(o) => {
                        div.figure { (o.pending) }
                        div.muted { "oldest " (if o.pending > 0 { fmt_age(o.oldest_pending_age_s) } else { "—".to_owned() }) }
                    }
                    None => div.figure.muted { "?" },
                }
            }
            div.card #card-stream {
                h2 { "Stream" }
                @match redis {
                    Ok(r) => {
                        dl.kv {
                            dt { "length" } dd { (r.stream.length) }
                            dt { "pending" } dd { (r.stream.pending) }
                            dt { "lag" } dd { (r.stream.lag.map_or_else(|| "unknown".to_owned(), |l| l.to_string())) }
                            dt { "consumers" } dd { (r.stream.consumers) }
                        }
                    }
                    Err(u) => p.muted { "unreachable: " (u.error) },
                }
            }
            div.card #card-dead {
                h2 { "Dead letters awaiting triage" }
                div.figure { (open_letters) }
                a href={(BASE) "/dead-letters"} { "Open the list" }
            }
            div.card #card-processes {
                h2 { "Live processes" }
                div.figure { (live_processes.map_or_else(|| "?".to_owned(), |n| n.to_string())) }
                div.muted { "by heartbeat, all hosts" }
            }
        }

        section.panel #findings aria-labelledby="findings-h" {
            h2 #findings-h { "Findings" }
            @if findings.is_empty() {
                p { span.badge.ok { "ok" } " No findings: the doctor sees nothing wrong." }
            }
            @for f in findings {
                (finding(f))
            }
        }

        section.panel.chart aria-labelledby="chart-h" {
            h2 #chart-h { "Throughput and p99 latency, last " (CHART_MINUTES) " minutes" }
            @match &d.chart {
                Ok(series) => (chart_markup(series)),
                Err(e) => p.muted { "unavailable: " (e) },
            }
        }

        section.panel aria-labelledby="reasons-h" {
            h2 #reasons-h { "Dead letters by reason" }
            @match groups {
                Some(g) if !g.is_empty() => {
                    div.scroll { table {
                        thead { tr { th scope="col" { "Reason" } th.num scope="col" { "Dead" } th scope="col" { "Newest" } th scope="col" { "Example detail" } } }
                        tbody {
                            @for x in g {
                                tr {
                                    td { a href=(url_with(&format!("{BASE}/dead-letters"), &[("reason", &x.reason)])) { (x.reason) } }
                                    td.num { (x.count) }
                                    td { (fmt_time(&x.newest)) }
                                    td.mono { (html::clip(&x.example_detail, 120)) }
                                }
                            }
                        }
                    } }
                }
                Some(_) => p { "None awaiting triage." },
                None => p.muted { "unknown (Postgres did not answer)" },
            }
        }

        section.panel aria-labelledby="actors-h" {
            h2 #actors-h { "Actors of this process" }
            div.scroll { table {
                thead { tr { th scope="col" { "Actor" } th scope="col" { "State" } th.num scope="col" { "Restarts" } th scope="col" { "Last progress" } th scope="col" { "Last error" } } }
                tbody {
                    @for a in &d.actors {
                        tr {
                            td { (a.name) }
                            td { (state_badge(a.state)) }
                            td.num { (a.restarts) }
                            td { (a.last_progress.as_ref().map(fmt_time).unwrap_or_default()) }
                            td.mono { (a.last_error.as_deref().map(|e| html::clip(e, 200)).unwrap_or_default()) }
                        }
                    }
                }
            } }
        }

        section.panel aria-labelledby="processes-h" {
            h2 #processes-h { "memlink processes (heartbeats of the last hour)" }
            @match heartbeats {
                Some(h) if !h.is_empty() => {
                    div.scroll { table {
                        thead { tr {
                            th scope="col" { "Host / pid" } th scope="col" { "Role" } th scope="col" { "Status" }
                            th scope="col" { "Seen" } th scope="col" { "Up" } th scope="col" { "Version" } th scope="col" { "Actors" }
                        } }
                        tbody { @for x in h { (process_row(x, d.me)) } }
                    } }
                }
                Some(_) => p { "No heartbeat in the last hour." },
                None => p.muted { "unknown (Postgres did not answer)" },
            }
        }
    }
}

fn state_badge(s: ActorState) -> Markup {
    let (class, text) = match s {
        ActorState::Running => ("ok", "running"),
        // Held back until a dependency it cannot work without is reachable (last_error says which).
        ActorState::Waiting => ("warn", "waiting"),
        ActorState::Starting => ("info", "starting"),
        ActorState::Degraded => ("warn", "degraded"),
        ActorState::Restarting => ("bad", "restarting"),
        ActorState::Stopped => ("bad", "stopped"),
    };
    html! { span class={"badge " (class)} { (text) } }
}

fn finding(f: &Finding) -> Markup {
    let (class, badge) = match f.severity {
        Severity::Critical => ("critical", "bad"),
        Severity::Warning => ("warning", "warn"),
        Severity::Info => ("info", "info"),
    };
    html! {
        div class={"finding " (class)} data-code=(f.code) {
            p {
                span class={"badge " (badge)} { (f.severity.as_str()) } " "
                code { (f.code) } " " (f.message)
            }
            p { strong { "Next: " } (PreEscaped(runbook::inline(f.runbook))) }
            @if let Some(section) = runbook::section(f.code) {
                details {
                    summary { "Runbook: " (f.code) }
                    div.runbook { (PreEscaped(section)) }
                }
            }
        }
    }
}

fn process_row(h: &Heartbeat, me: uuid::Uuid) -> Markup {
    let actors: Vec<String> = h
        .actors
        .as_array()
        .map(|a| a.iter().map(actor_summary).collect())
        .unwrap_or_default();
    html! {
        tr {
            td { (h.host) " / " (h.pid) @if h.instance_id == me { " " span.badge.info { "this process" } } }
            td { (h.role) }
            td {
                @if h.live { span.badge.ok { "live" } }
                @else if h.stopped_at.is_some() { span.badge.info { "stopped" } " " (h.stop_reason.as_deref().unwrap_or("")) }
                @else { span.badge.bad { "silent" } }
            }
            td { (fmt_age(h.seen_ago_s)) " ago" }
            td { (fmt_age(h.started_ago_s)) }
            td { (h.version) }
            td.mono { @for a in &actors { (a) br; } }
        }
    }
}

fn actor_summary(a: &Value) -> String {
    let name = a["name"].as_str().unwrap_or("?");
    let state = a["state"].as_str().unwrap_or("?");
    let restarts = a["restarts"].as_u64().unwrap_or(0);
    let mut s = format!("{name} {state}");
    if restarts > 0 {
        s.push_str(&format!(" ({restarts} restarts)"));
    }
    if let Some(e) = a["last_error"].as_str() {
        s.push_str(&format!(": {}", html::clip(e, 80)));
    }
    s
}

/// Bars: messages processed per minute; line: their p99 end-to-end latency. Inline SVG
/// (presentation attributes only: the CSP allows no inline style), with the figures in a
/// table for screen readers.
fn chart_markup(series: &[MinuteStats]) -> Markup {
    const W: f64 = 600.0;
    const H: f64 = 170.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 50.0;
    const TOP: f64 = 14.0;
    const BOTTOM: f64 = 22.0;
    let n = series.len().max(1) as f64;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let max_count = series.iter().map(|m| m.processed).max().unwrap_or(0).max(1) as f64;
    let max_p99 = series
        .iter()
        .filter_map(|m| m.p99_latency_s)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let slot = plot_w / n;
    let x_mid = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let points: Vec<String> = series
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            m.p99_latency_s
                .map(|p| format!("{:.1},{:.1}", x_mid(i), TOP + plot_h * (1.0 - p / max_p99)))
        })
        .collect();
    let total: i64 = series.iter().map(|m| m.processed).sum();
    let label = format!(
        "{total} messages processed in the last {} minutes; at most {} in a minute; p99 latency at most {}",
        series.len(),
        max_count as i64,
        seconds(max_p99)
    );
    let hhmm = |t: &DateTime<Utc>| t.format("%H:%M").to_string();
    html! {
        div.legend {
            span { span.sw.bar {} "messages processed per minute (max " (max_count as i64) ")" }
            span { span.sw.p99 {} "p99 end-to-end latency (max " (seconds(max_p99)) ")" }
        }
        svg viewBox={"0 0 " (W) " " (H)} role="img" aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            line.axis x1=(LEFT) y1=(TOP + plot_h) x2=(W - RIGHT) y2=(TOP + plot_h) {}
            text x="2" y=(TOP + 10.0) { (max_count as i64) "/min" }
            text x=(W - RIGHT + 4.0) y=(TOP + 10.0) { (seconds(max_p99)) }
            @for (i, m) in series.iter().enumerate() {
                @let h = plot_h * m.processed as f64 / max_count;
                rect.bar x=(format!("{:.1}", LEFT + slot * i as f64 + slot * 0.15)) y=(format!("{:.1}", TOP + plot_h - h))
                    width=(format!("{:.1}", slot * 0.7)) height=(format!("{:.1}", h)) {
                    title { (hhmm(&m.minute)) ": " (m.processed) " processed" }
                }
            }
            @if points.len() > 1 {
                polyline.p99 points=(points.join(" ")) {}
            }
            @for p in &points {
                @let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                circle.dot cx=(x) cy=(y) r="2.5" {}
            }
            @if let (Some(first), Some(last)) = (series.first(), series.last()) {
                text x=(LEFT) y=(H - 6.0) { (hhmm(&first.minute)) }
                text x=(W - RIGHT - 30.0) y=(H - 6.0) { (hhmm(&last.minute)) " UTC" }
            }
        }
        details {
            summary { "Figures" }
            div.scroll { table {
                thead { tr { th scope="col" { "Minute (UTC)" } th.num scope="col" { "Processed" } th.num scope="col" { "p99 latency" } } }
                tbody {
                    @for m in series {
                        tr { td { (hhmm(&m.minute)) } td.num { (m.processed) } td.num { (m.p99_latency_s.map(seconds).unwrap_or_else(|| "—".to_owned())) } }
                    }
                }
            } }
        }
    }
}

fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else {
        fmt_age(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_draws_a_bar_per_minute_and_a_line_through_the_p99s() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let series: Vec<MinuteStats> = (0..4)
            .map(|i| MinuteStats {
                minute: t0 + chrono::Duration::minutes(i),
                processed: i * 10,
                p99_latency_s: (i > 0).then_some(i as f64 * 0.25),
            })
            .collect();
        let svg = chart_markup(&series).into_string();
        assert_eq!(svg.matches("<rect").count(), 4, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
        assert!(svg.contains("<polyline"), "{svg}");
        assert!(svg.contains("60 messages processed"), "{svg}");
        assert!(!svg.contains("style="), "{svg}");
        assert_eq!(seconds(0.25), "250 ms");
        assert_eq!(seconds(2.0), "2.0 s");
    }
}
