//! The shared integration-test harness: every test gets its own Postgres database and its
//! own Redis stream and group names, runs the real `memlink` binary on port 0, and cleans up
//! after itself (database dropped, stream deleted, process killed).
#![allow(dead_code)]

pub mod http;
pub mod pki;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn admin_database_url() -> String {
    std::env::var("MEMLINK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A single-threaded runtime for tests that call the adapters' async functions directly.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

pub fn redis_url() -> String {
    std::env::var("MEMLINK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn random_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// One test's private world.
pub struct TestEnv {
    pub db_name: String,
    pub database_url: String,
    pub redis_url: String,
    pub stream: String,
    pub group: String,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let suffix = random_suffix();
        let db_name = format!("memlink_test_{suffix}");
        let mut admin = postgres::Client::connect(&admin_database_url(), postgres::NoTls).expect(
            "connect to the admin database (is PostgreSQL running? see scripts/services.sh)",
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {db_name}"))
            .expect("create the test database");
        let mut url = url::Url::parse(&admin_database_url()).expect("admin URL");
        url.set_path(&format!("/{db_name}"));
        TestEnv {
            db_name,
            database_url: url.to_string(),
            redis_url: redis_url(),
            stream: format!("memlink-test:{suffix}:events"),
            group: format!("memlink-test-{suffix}"),
        }
    }

    pub fn pg(&self) -> postgres::Client {
        postgres::Client::connect(&self.database_url, postgres::NoTls)
            .expect("connect to the test database")
    }

    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(self.redis_url.as_str())
            .and_then(|c| c.get_connection())
            .expect("connect to redis")
    }

    /// The environment a daemon of this test runs with.
    pub fn daemon_env(&self) -> Vec<(String, String)> {
        vec![
            ("DATABASE_URL".into(), self.database_url.clone()),
            ("REDIS_URL".into(), self.redis_url.clone()),
            ("MEMLINK_HTTP_ADDR".into(), "127.0.0.1:0".into()),
            ("MEMLINK_STREAM".into(), self.stream.clone()),
            ("MEMLINK_GROUP".into(), self.group.clone()),
            ("RUST_LOG".into(), "info,memlink=debug".into()),
            // One worker actor, named `worker`, unless a test asks for more: the tests that
            // follow an entry to the actor handling it (panics, restarts, crash loops,
            // isolation) must know which one will. The default of two is run by
            // `several_workers_in_one_process_apply_each_event_once` (with three) and by the
            // benchmarks.
            ("MEMLINK_WORKERS".into(), "1".into()),
        ]
    }

    pub fn spawn_daemon(&self, extra: &[(&str, &str)]) -> Daemon {
        self.spawn_daemon_with(&["run"], extra)
    }

    /// This test's environment with `extra` added or replacing.
    pub fn env_with(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.daemon_env();
        for (k, v) in extra {
            env.retain(|(ek, _)| ek != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        env
    }

    /// A daemon started with other arguments (e.g. `run --role relay`).
    pub fn spawn_daemon_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Daemon {
        Daemon::spawn(args, &self.env_with(extra))
    }

    /// Runs a `memlink` command to completion with this test's environment.
    pub fn command(&self, args: &[&str], extra: &[(&str, &str)]) -> CliRun {
        run_cli(args, &self.env_with(extra))
    }

    /// `memlink migrate` on this test's database.
    pub fn migrate(&self) {
        let run = self.command(&["migrate"], &[]);
        assert_eq!(run.code, Some(0), "migrate failed: {}", run.stderr);
    }

    /// Appends a raw entry to this test's stream, as a legacy producer would.
    pub fn xadd(&self, fields: &[(&str, &[u8])]) -> String {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&self.stream).arg("*");
        for (k, v) in fields {
            cmd.arg(*k).arg(*v);
        }
        cmd.query(&mut self.redis()).expect("XADD")
    }

    /// Creates `group` on this test's stream (and the stream), reading from its start.
    pub fn create_group(&self, group: &str) {
        let _: () = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(group)
            .arg("0")
            .arg("MKSTREAM")
            .query(&mut self.redis())
            .expect("XGROUP CREATE");
    }

    /// Reads up to `count` entries never delivered to `group`, as `consumer`; their ids.
    pub fn read_as(&self, group: &str, consumer: &str, count: usize) -> Vec<String> {
        let v: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">")
            .query(&mut self.redis())
            .expect("XREADGROUP");
        let mut ids = Vec::new();
        if let redis::Value::Array(streams) = v {
            for s in streams {
                if let redis::Value::Array(parts) = s {
                    if let Some(redis::Value::Array(entries)) = parts.get(1) {
                        for e in entries {
                            if let redis::Value::Array(kv) = e {
                                if let Some(redis::Value::BulkString(id)) = kv.first() {
                                    ids.push(String::from_utf8_lossy(id).into_owned());
                                }
                            }
                        }
                    }
                }
            }
        }
        ids
    }

    /// Appends a well-formed `message.created` entry.
    pub fn xadd_message(&self, event_id: &str, payload: &Value) -> String {
        self.xadd(&[
            ("event_id", event_id.as_bytes()),
            ("event_type", b"message.created"),
            ("payload", payload.to_string().as_bytes()),
        ])
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.pg().query_one(sql, &[]).expect(sql).get(0)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&admin_database_url(), postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.db_name
            ));
        }
        if let Ok(mut r) =
            redis::Client::open(self.redis_url.as_str()).and_then(|c| c.get_connection())
        {
            let _: Result<i64, _> = redis::cmd("DEL").arg(&self.stream).query(&mut r);
        }
    }
}

/// A finished `memlink` command.
#[derive(Debug)]
pub struct CliRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }
}

pub fn run_cli(args: &[&str], env: &[(String, String)]) -> CliRun {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run memlink");
    CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running `memlink` process with its log captured.
pub struct Daemon {
    child: Child,
    pub addr: String,
    logs: Arc<Mutex<Vec<String>>>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_memlink")
}

impl Daemon {
    pub fn spawn(args: &[&str], env: &[(String, String)]) -> Daemon {
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn memlink");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var("MEMLINK_TEST_ECHO").is_ok() {
                    eprintln!("daemon: {line}");
                }
                sink.lock().unwrap().push(line);
            }
        });
        let mut d = Daemon {
            child,
            addr: String::new(),
            logs,
        };
        // Text logs say `event=http_listening addr=...`; JSON logs `"event":"http_listening"`.
        let json = env
            .iter()
            .any(|(k, v)| k == "MEMLINK_LOG_FORMAT" && v.eq_ignore_ascii_case("json"));
        let needle = if json {
            "\"event\":\"http_listening\""
        } else {
            "event=http_listening"
        };
        let line = d
            .wait_for_log(needle, Duration::from_secs(60))
            .unwrap_or_else(|| panic!("daemon did not start; log:\n{}", d.log_text()));
        d.addr = if json {
            serde_json::from_str::<Value>(&line).expect("a JSON log line")["addr"]
                .as_str()
                .expect("bound address")
                .to_owned()
        } else {
            line.split("addr=")
                .nth(1)
                .map(|s| s.split_whitespace().next().unwrap_or("").to_owned())
                .expect("bound address")
        };
        d
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the process dies without a graceful stop (as in an OOM kill).
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub fn log_lines_with(&self, needle: &str) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(l) = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return Some(l.clone());
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                return self
                    .logs
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|l| l.contains(needle))
                    .cloned();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        request("GET", &self.url(path), None, None)
    }

    pub fn get_auth(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        request("GET", &self.url(path), None, token)
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        request("DELETE", &self.url(path), None, None)
    }

    pub fn post(&self, path: &str, body: &str) -> (u16, Value) {
        request("POST", &self.url(path), Some(body), None)
    }

    pub fn post_message(
        &self,
        chat_id: &str,
        user: &str,
        role: &str,
        content: &str,
    ) -> (u16, Value) {
        let body =
            serde_json::json!({"user_id": user, "role": role, "content": content}).to_string();
        self.post(&format!("/v1/chats/{chat_id}/messages"), &body)
    }

    pub fn status(&self) -> Value {
        let (code, body) = self.get("/admin/status");
        assert_eq!(code, 200, "{body}");
        body
    }

    pub fn restarts(&self, actor: &str) -> u64 {
        self.status()["actors"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == actor))
            .and_then(|x| x["restarts"].as_u64())
            .unwrap_or_else(|| panic!("no actor {actor}"))
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP call; any status is returned, with the body parsed as JSON (or `Null`).
pub fn request(method: &str, url: &str, body: Option<&str>, token: Option<&str>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    request_with_headers(method, url, body, &headers)
}

/// One HTTP call with extra headers; any status is returned, with the body parsed as JSON.
pub fn request_with_headers(
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(30));
    for (name, value) in headers {
        req = req.set(name, value);
    }
    let result = match body {
        Some(b) => req.set("Content-Type", "application/json").send_string(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let code = resp.status();
    let text = resp.into_string().unwrap_or_default();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// What a finished `memlink` command printed and how it exited.
#[derive(Debug)]
pub struct CliOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the `memlink` binary to completion with exactly `env` (plus PATH).
pub fn run_binary(args: &[&str], env: &[(&str, &str)]) -> CliOutput {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run memlink");
    CliOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl TestEnv {
    /// Runs `memlink <args>` against this test's database, as user `tester`.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        run_binary(
            args,
            &[
                ("DATABASE_URL", self.database_url.as_str()),
                ("USER", "tester"),
                ("RUST_LOG", "info"),
            ],
        )
    }
}

/// Polls `f` until it returns `Some`, or panics after `timeout` with `what`.
pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A valid `message.created` payload.
pub fn message_payload(
    chat_id: &str,
    message_id: &str,
    user: &str,
    content: &str,
    created_at: Value,
) -> Value {
    serde_json::json!({
        "message_id": message_id, "chat_id": chat_id, "user_id": user, "role": "user",
        "content": content, "created_at": created_at,
    })
}

/// The watermark checksum of a set of message ids, computed independently of the daemon.
pub fn expected_checksum(message_ids: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut acc = [0u8; 32];
    for id in message_ids {
        let d = Sha256::digest(id.to_lowercase().as_bytes());
        for (a, b) in acc.iter_mut().zip(d) {
            *a ^= b;
        }
    }
    acc.iter().map(|b| format!("{b:02x}")).collect()
}

pub const LONG: Duration = Duration::from_secs(30);

/// A free TCP port on loopback (free when asked; taken by whoever binds it first).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A Redis server of this test's own (for settings the shared one must keep, or to stop and
/// start it), on its own port, stopped and its directory removed on drop. It needs
/// `redis-server` (Debian package redis-server, installed by scripts/test.sh); without it
/// the test fails saying so.
pub struct PrivateRedis {
    child: Child,
    pub port: u16,
    pub url: String,
    dir: std::path::PathBuf,
}

/// How to reach a private Redis over TLS: the CA that signed its certificate.
pub struct RedisTls<'a> {
    pub ca_file: &'a std::path::Path,
    pub cert_file: &'a std::path::Path,
    pub key_file: &'a std::path::Path,
}

impl PrivateRedis {
    /// On a free port.
    pub fn start(extra_args: &[&str]) -> PrivateRedis {
        PrivateRedis::start_on(free_port(), extra_args)
    }

    /// On `port` (e.g. the port of one stopped before, to bring "the same" server back).
    pub fn start_on(port: u16, extra_args: &[&str]) -> PrivateRedis {
        let mut args: Vec<String> = vec!["--port".into(), port.to_string()];
        args.extend(extra_args.iter().map(|a| (*a).to_owned()));
        PrivateRedis::spawn(port, format!("redis://127.0.0.1:{port}"), &args, None)
    }

    /// TLS only (`rediss://`, no plain port), with the given certificate; clients are not
    /// asked for certificates.
    pub fn start_tls(tls: &RedisTls<'_>) -> PrivateRedis {
        let port = free_port();
        let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
        let args: Vec<String> = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            path(tls.cert_file),
            "--tls-key-file".into(),
            path(tls.key_file),
            "--tls-ca-cert-file".into(),
            path(tls.ca_file),
            "--tls-auth-clients".into(),
            "no".into(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
        ];
        let ca = std::fs::read(tls.ca_file).expect("read the CA file");
        PrivateRedis::spawn(port, format!("rediss://127.0.0.1:{port}"), &args, Some(ca))
    }

    fn spawn(port: u16, url: String, args: &[String], ca: Option<Vec<u8>>) -> PrivateRedis {
        let dir = std::env::temp_dir().join(format!("memlink-test-redis-{}", random_suffix()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                panic!(
                    "cannot start redis-server ({e}): install the Debian package redis-server \
                     (scripts/test.sh does)"
                );
            }
        };
        let r = PrivateRedis {
            child,
            port,
            url,
            dir,
        };
        let client = || match &ca {
            Some(ca) => redis::Client::build_with_tls(
                r.url.as_str(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.clone()),
                },
            ),
            None => redis::Client::open(r.url.as_str()),
        };
        eventually("the private redis answers", Duration::from_secs(10), || {
            client()
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .ok()
        });
        r
    }

    /// Stops it at once (no persistence is written), returning its port.
    pub fn kill(self) -> u16 {
        self.port
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
