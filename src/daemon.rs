//! Builds the daemon from its configuration and runs it until a signal or an escalation:
//! PostgreSQL and migrations, the supervision tree, the outbox listener, HTTP and the systemd
//! notifications, in that order. Redis is not waited for: the consumer group is created and
//! the actors that need Redis are started when it first answers, while HTTP already accepts
//! messages into the outbox.
//!
//! It owns the process's lifecycle decisions (what to start, when to drain, which exit code)
//! and nothing else: no pipeline logic lives here.

use crate::logging::{quoted, Quoted};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use memlink_actors::backoff::ExponentialBackoff;
use memlink_actors::messages::{Drain, Wake};
use memlink_actors::pace::Pacer;
use memlink_actors::ports::{Ambient, PortError, StreamBus};
use memlink_actors::reconciler::{ReconcilerConfig, ReconcilerDeps};
use memlink_actors::relay::{RelayConfig, RelayDeps};
use memlink_actors::retention::{RetentionBoard, RetentionConfig, RetentionDeps};
use memlink_actors::round::{child_spec, Wakes};
use memlink_actors::status::StatusBoard;
use memlink_actors::supervisor::{ChildSpec, RootSupervisor, SupervisorConfig};
use memlink_actors::watermark::{WatermarkConfig, WatermarkDeps};
use memlink_actors::worker::{WorkerConfig, WorkerDeps, WorkerRounds};
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{redact_url, Config};
use crate::console::Console;
use crate::http::{self, AppState};
use crate::ops::diagnose::{OpsContext, Target, Thresholds};
use crate::ops::heartbeat::{self, Identity, RestartWindow};
use crate::postgres::recovery::{PgInflight, PgReconcile};
use crate::postgres::retention::PgRetention;
use crate::postgres::{self, store::PgStore};
use crate::redis::{self as redis_adapter, RedisBus};
use crate::role::ProcessRole;
use crate::{redis_gate, system, systemd, telemetry};

/// How the daemon ended, when it did not end well.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Unavailable(String),
    #[error("database schema is at version {found}, this binary needs {expected}: run `memlink migrate`")]
    SchemaBehind { found: i32, expected: i32 },
    #[error("could not bind the HTTP address: {0}")]
    Bind(std::io::Error),
    #[error("supervisor escalated: {0}")]
    Escalated(String),
    #[error("the HTTP server stopped: {0}")]
    Http(std::io::Error),
}

pub struct RunOptions {
    pub migrate: bool,
    /// Which actors this process runs.
    pub role: ProcessRole,
}

/// Whether a startup step may succeed on another try.
trait Retryable: std::fmt::Display {
    fn retryable(&self) -> bool;
}

impl Retryable for postgres::PgError {
    fn retryable(&self) -> bool {
        postgres::PgError::retryable(self)
    }
}

impl Retryable for PortError {
    fn retryable(&self) -> bool {
        true
    }
}

/// Retries `f` until it succeeds, fails for good, or `deadline` passes, logging each failure.
async fn with_retries<T, E: Retryable, F, Fut>(
    what: &str,
    deadline: Duration,
    mut f: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let start = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.retryable() && start.elapsed() + delay < deadline => {
                log::warn!(target: "memlink::daemon", "event=startup_retry what={what} error={}", quoted(&e));
                actix_web::rt::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                let text = e.to_string();
                return Err(if text.starts_with(what) {
                    text
                } else {
                    format!("{what}: {text}")
                });
            }
        }
    }
}

pub async fn run(config: Config, opts: RunOptions) -> Result<(), DaemonError> {
    log::info!(target: "memlink::daemon", "event=starting version={} role={} database={} redis={} stream={} group={} consumer={}",
        env!("CARGO_PKG_VERSION"), opts.role, Quoted(&redact_url(&config.database_url)), Quoted(&redact_url(&config.redis_url)),
        config.stream, config.group, config.consumer);
    telemetry::install();
    actix_web::rt::spawn(telemetry::upkeep());
    let startup_deadline = Duration::from_secs(30);

    // PostgreSQL is required: the outbox is the source of truth.
    let connector = postgres::PgConnector::from_url(&config.database_url)
        .map_err(|e| DaemonError::Unavailable(e.to_string()))?;
    with_retries("postgres", startup_deadline, || connector.probe())
        .await
        .map_err(DaemonError::Unavailable)?;
    let pg = connector.pool(16);
    if opts.migrate {
        let applied = with_retries("postgres migrations", startup_deadline, || {
            postgres::migrate(&connector)
        })
        .await
        .map_err(DaemonError::Unavailable)?;
        log::info!(target: "memlink::daemon", "event=migrations_applied count={applied}");
    }
    let found = with_retries("postgres", startup_deadline, || {
        postgres::current_schema_version(&pg)
    })
    .await
    .map_err(DaemonError::Unavailable)?;
    let expected = postgres::expected_schema_version();
    if found < expected {
        return Err(DaemonError::SchemaBehind { found, expected });
    }
    // Whether timelines stored before V8 are left to re-derive; if not, no batch asks again.
    if let Err(e) = postgres::memory::statements::note_legacy_pairs(&pg).await {
        log::debug!(target: "memlink::daemon", "event=legacy_check_failed error={}", Quoted(&e.message));
    }

    // Redis is not waited for: the actors that need it start when it first answers.
    let redis_pool =
        redis_adapter::build_pool(&config.redis_url, config.redis_ca_file.as_deref(), 16)
            .map_err(|e| DaemonError::Unavailable(e.to_string()))?;
    let bus = RedisBus::new(
        redis_pool.clone(),
        config.stream.clone(),
        config.group.clone(),
        config.consumer.clone(),
    );

    let status = StatusBoard::new();
    let ambient = system::ambient();
    let (escalate_tx, mut escalate_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let escalate = Arc::new(move |reason: String| {
        let _ = escalate_tx.send(reason);
    });
    // Who this process is: its heartbeat row, and the owner of its in-flight markers (so a
    // marker's owner can be told alive or dead from the heartbeats).
    let identity = Arc::new(identity(&config, opts.role));
    // Retention runs beside the worker: it trims what the group acknowledged and removes the
    // group's departed consumers.
    let retention = RetentionBoard::new(retention_config(&config), opts.role.runs_worker());
    let specs: Vec<ChildSpec> = child_specs(
        &config,
        &pg,
        &bus,
        &status,
        &ambient,
        identity.instance_id,
        &retention,
    )
    .into_iter()
    .filter(|spec| {
        // The reconciler re-publishes outbox rows: relay work.
        if spec.name == memlink_actors::relay::NAME || spec.name == memlink_actors::reconciler::NAME
        {
            opts.role.runs_relay()
        } else {
            opts.role.runs_worker()
        }
    })
    .collect();
    let supervision = SupervisorConfig {
        intensity: config.restart_intensity,
        period: config.restart_period,
        ..SupervisorConfig::default()
    };
    let needs_redis: Vec<&'static str> = specs
        .iter()
        .map(|spec| spec.name)
        .filter(|name| redis_gate::needs_redis(name))
        .collect();
    for name in &needs_redis {
        status.waiting(name, "waiting for redis");
    }
    let root = RootSupervisor::new(
        specs,
        supervision,
        status.clone(),
        ambient.clone(),
        escalate,
    )
    .with_deferred(&needs_redis)
    .start();

    if opts.role.runs_relay() {
        actix_web::rt::spawn(postgres::listen::forward_notifications(
            connector.clone(),
            root.clone().recipient::<Wake>(),
        ));
    }

    // The first heartbeat before "ready", so a peer never sees this process ready and absent.
    let mut restart_window = RestartWindow::new(heartbeat::RESTART_WINDOW);
    let board = status.snapshot();
    let recent = restart_window.record(std::time::Instant::now(), &board);
    // Redis may be down: the heartbeat names its server later rather than hold the start.
    let bus_id = actix_web::rt::time::timeout(
        Duration::from_millis(500),
        heartbeat::bus_id(&redis_pool, identity.bus_db),
    )
    .await
    .ok()
    .flatten();
    match heartbeat::beat(
        &pg,
        &identity,
        bus_id.as_deref(),
        &heartbeat::actors_json(&board, &recent),
    )
    .await
    {
        Ok(()) => telemetry::heartbeat_succeeded(),
        Err(e) => {
            log::warn!(target: "memlink::heartbeat", "event=heartbeat_failed instance={} error={}", identity.instance_id, Quoted(&e.message))
        }
    }
    if let Err(e) = heartbeat::prune(&pg).await {
        log::debug!(target: "memlink::heartbeat", "event=heartbeat_prune_failed error={}", Quoted(&e.message));
    }
    let heartbeat_task = actix_web::rt::spawn(heartbeat::run(
        pg.clone(),
        redis_pool.clone(),
        identity.clone(),
        status.clone(),
        restart_window,
    ));
    let ops = Arc::new(OpsContext {
        target: Target {
            database: redact_url(&config.database_url),
            redis: redact_url(&config.redis_url),
            stream: config.stream.clone(),
            group: config.group.clone(),
            reclaim_idle_secs: config.reclaim_idle.as_secs(),
            reconcile_after_secs: reconcile_setting(),
        },
        thresholds: Thresholds::default(),
        redis: redis_pool.clone(),
        role: opts.role,
        instance_id: identity.instance_id,
    });

    let state = AppState {
        // The server's own pool: its connections live on its worker threads.
        pg: connector.local_pool(16),
        bus: bus.clone(),
        status: status.clone(),
        root: root.clone(),
        ambient: ambient.clone(),
        admin_token: config.admin_token.clone(),
        stream: config.stream.clone(),
        group: config.group.clone(),
        ops,
        client_timeout: config.http_client_timeout,
        checks: http::admin::Checks::new(),
        retention,
    };
    // Handlers before the port answers: a supervisor that sees this process up and stops it
    // at once gets a graceful stop (and a `SIGTERM` stop reason), not the default kill.
    let mut sigterm = signal(SignalKind::terminate()).map_err(DaemonError::Http)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(DaemonError::Http)?;
    let console = Console::new(config.console, config.admin_token.as_deref());
    let (server, bound) =
        http::bind_with(state, config.http_addr, console.configure()).map_err(DaemonError::Bind)?;
    log::info!(target: "memlink::http", "event=http_listening addr={bound}");
    log::info!(target: "memlink::console", "event=console_mode mode={} path={}", config.console.as_str(), crate::console::BASE);
    let server_handle = server.handle();
    let mut server_task = actix_web::rt::spawn(server);
    actix_web::rt::spawn(systemd::watchdog(root.clone()));
    let bound_text = bound.to_string();
    systemd::ready(&systemd::status_line(opts.role, &status, &bound_text));
    actix_web::rt::spawn(redis_gate::start_when_redis_answers(
        redis_gate::Gate {
            bus: bus.clone(),
            root: root.clone(),
            status: status.clone(),
            redis: redact_url(&config.redis_url),
            role: opts.role,
            http: bound_text,
        },
        needs_redis,
    ));
    log::info!(target: "memlink::daemon", "event=ready role={} instance={} http={bound}", opts.role, identity.instance_id);

    let outcome = tokio::select! {
        _ = sigterm.recv() => Ok("SIGTERM"),
        _ = sigint.recv() => Ok("SIGINT"),
        reason = escalate_rx.recv() => Err(DaemonError::Escalated(reason.unwrap_or_default())),
        r = &mut server_task => match r {
            Ok(Ok(())) => Err(DaemonError::Http(std::io::Error::other("stopped unexpectedly"))),
            Ok(Err(e)) => Err(DaemonError::Http(e)),
            Err(e) => Err(DaemonError::Http(std::io::Error::other(e.to_string()))),
        },
    };
    let cause = match &outcome {
        Ok(signal) => (*signal).to_owned(),
        Err(e) => e.to_string(),
    };
    log::info!(target: "memlink::daemon", "event=stopping cause={}", Quoted(&cause));
    systemd::stopping();
    shutdown(server_handle, root).await;
    heartbeat_task.abort();
    let board = status.snapshot();
    let final_actors = heartbeat::actors_json(&board, &Default::default());
    if let Err(e) = heartbeat::stopped(&pg, identity.instance_id, &cause, &final_actors).await {
        log::warn!(target: "memlink::heartbeat", "event=heartbeat_failed instance={} error={}", identity.instance_id, Quoted(&e.message));
    }
    log::info!(target: "memlink::daemon", "event=stopped");
    outcome.map(|_| ())
}

/// `MEMLINK_RECONCILE_AFTER_SECS` as set (the reconciler reads it; the heartbeat reports it).
fn reconcile_setting() -> Option<String> {
    std::env::var(crate::config::vars::RECONCILE_AFTER_SECS).ok()
}

/// This process as its heartbeat row describes it.
fn identity(config: &Config, role: ProcessRole) -> Identity {
    Identity {
        instance_id: uuid::Uuid::new_v4(),
        host: crate::config::hostname(),
        pid: i32::try_from(std::process::id()).unwrap_or(i32::MAX),
        role,
        bus: redact_url(&config.redis_url),
        bus_db: heartbeat::redis_db(&config.redis_url),
        stream: config.stream.clone(),
        group: config.group.clone(),
        consumer: config.consumer.clone(),
        interval: config.heartbeat_interval,
        settings: serde_json::json!({
            "reclaim_idle_secs": config.reclaim_idle.as_secs(),
            "max_deliveries": config.max_deliveries,
            "reconcile_after_secs": reconcile_setting(),
        }),
    }
}

/// Stops taking HTTP requests, then lets each actor finish its round and stop; bounded.
async fn shutdown(server: actix_web::dev::ServerHandle, root: Addr<RootSupervisor>) {
    let drain = async {
        server.stop(true).await;
        let _ = root.send(Drain).await;
    };
    if actix_web::rt::time::timeout(Duration::from_secs(20), drain)
        .await
        .is_err()
    {
        log::warn!(target: "memlink::daemon", "event=drain_timeout");
    }
}

fn backoff() -> ExponentialBackoff {
    ExponentialBackoff::try_new(Duration::from_millis(100), Duration::from_secs(10), 0.3)
        .unwrap_or_else(|_| unreachable_backoff())
}

/// The constants above are valid; this keeps the daemon free of `expect`.
fn unreachable_backoff() -> ExponentialBackoff {
    match ExponentialBackoff::try_new(Duration::from_secs(1), Duration::from_secs(1), 0.0) {
        Ok(b) => b,
        Err(_) => std::process::abort(),
    }
}

/// The retention actor's settings, from the configuration.
fn retention_config(config: &Config) -> RetentionConfig {
    RetentionConfig {
        stream: config.retention.stream,
        processed: config.retention.processed,
        dead_letters: config.retention.dead_letters,
        batch_size: 1_000,
        // Heartbeat rows are pruned after a week: a consumer no row names and idle as long
        // belongs to a process long gone.
        orphan_consumer_idle: Duration::from_secs(7 * 86_400),
        consumer: config.consumer.clone(),
    }
}

/// Stream entries the process's workers hold at once, shared between them: each worker's batch
/// is its share. Two workers of 250 run PostgreSQL on two cores and peak at the same memory
/// as one worker of 500 (docs/benchmarks.md, "Two workers by default").
const IN_FLIGHT_ENTRIES: usize = 500;

fn child_specs(
    config: &Config,
    pg: &postgres::PgPool,
    bus: &RedisBus,
    status: &StatusBoard,
    ambient: &Ambient,
    instance: uuid::Uuid,
    retention: &RetentionBoard,
) -> Vec<ChildSpec> {
    let store = Arc::new(PgStore::new(pg.clone()));
    let janitor: Arc<dyn memlink_actors::ports::StreamJanitor> = Arc::new(bus.clone());
    let bus: Arc<dyn StreamBus> = Arc::new(bus.clone());

    let relay_deps = RelayDeps {
        outbox: store.clone(),
        bus: bus.clone(),
        ambient: ambient.clone(),
        status: status.clone(),
        config: RelayConfig::default(),
    };
    let relay_pacer = Pacer::new(backoff(), relay_deps.config.poll);
    let relay = child_spec::<RelayDeps, _>(
        memlink_actors::relay::NAME,
        relay_deps,
        relay_pacer,
        Wakes::OnNotify,
    );

    let worker_deps = WorkerDeps {
        name: memlink_actors::worker::NAME,
        bus: bus.clone(),
        store: store.clone(),
        ledger: Arc::new(PgInflight::new(
            pg.clone(),
            config.stream.clone(),
            config.group.clone(),
        )),
        // One identity per process, its heartbeat's: a marker left under another identity
        // whose heartbeat has stopped means that process died.
        owner: instance,
        ambient: ambient.clone(),
        status: status.clone(),
        config: WorkerConfig {
            reclaim_idle: config.reclaim_idle,
            reclaim_every: (config.reclaim_idle / 2)
                .clamp(Duration::from_millis(500), Duration::from_secs(5)),
            max_deliveries: config.max_deliveries,
            crash_quarantine_after: config.crash_quarantine_after,
            max_batch_retries: config.max_batch_retries,
            batch_size: (IN_FLIGHT_ENTRIES / config.workers.max(1)).max(1),
            ..WorkerConfig::default()
        },
    };
    // The read itself blocks while idle, so an idle worker reads again at once.
    let worker_pacer = Pacer::new(backoff(), Duration::ZERO);
    // Several workers in one process run their batches' transactions side by side (they share
    // the consumer name and the in-flight owner, as one consumer of the group would).
    let workers: Vec<ChildSpec> = memlink_actors::worker::NAMES
        .iter()
        .take(config.workers)
        .map(|&name| {
            let deps = WorkerDeps {
                name,
                ..worker_deps.clone()
            };
            child_spec::<WorkerRounds, _>(name, deps, worker_pacer.clone(), Wakes::Never)
        })
        .collect();

    let watermark_deps = WatermarkDeps {
        store,
        ambient: ambient.clone(),
        status: status.clone(),
        config: WatermarkConfig::default(),
    };
    let watermark_pacer = Pacer::new(backoff(), watermark_deps.config.interval);
    let watermark = child_spec::<WatermarkDeps, _>(
        memlink_actors::watermark::NAME,
        watermark_deps,
        watermark_pacer,
        Wakes::Never,
    );
    let mut children = vec![relay];
    children.extend(workers);
    children.push(watermark);
    if let Some(after) = config.reconcile_after {
        let deps = ReconcilerDeps {
            outbox: Arc::new(PgReconcile::new(
                pg.clone(),
                config.stream.clone(),
                config.group.clone(),
            )),
            bus,
            ambient: ambient.clone(),
            status: status.clone(),
            config: ReconcilerConfig {
                after,
                every: (after / 2).clamp(Duration::from_millis(500), Duration::from_secs(15)),
                batch_size: 500,
            },
        };
        let pacer = Pacer::new(backoff(), deps.config.every);
        children.push(child_spec::<ReconcilerDeps, _>(
            memlink_actors::reconciler::NAME,
            deps,
            pacer,
            Wakes::Never,
        ));
    } else {
        log::warn!(target: "memlink::reconciler", "event=reconciler_disabled");
    }
    // After the workers: when the tree drains (in start order), their rounds are done before
    // this process's consumer leaves the group.
    let retention_deps = RetentionDeps {
        store: Arc::new(PgRetention::new(
            pg.clone(),
            config.stream.clone(),
            config.group.clone(),
        )),
        stream: janitor,
        ambient: ambient.clone(),
        status: status.clone(),
        board: retention.clone(),
        config: retention_config(config),
    };
    let retention_pacer = Pacer::new(backoff(), retention_deps.config.every());
    children.push(child_spec::<RetentionDeps, _>(
        memlink_actors::retention::NAME,
        retention_deps,
        retention_pacer,
        Wakes::Never,
    ));
    if let Some(llm) = &config.llm {
        children.push(crate::llm::enricher::child_spec(
            crate::llm::enricher::EnricherSetup {
                pg: pg.clone(),
                owner: ambient.ids.new_id(),
                config: llm.clone(),
                ambient: ambient.clone(),
                status: status.clone(),
            },
        ));
    }
    children
}
