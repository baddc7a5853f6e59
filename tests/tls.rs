//! TLS everywhere, against servers of the test's own: a PostgreSQL (initdb into a temporary
//! directory, `ssl = on`, plaintext refused by pg_hba.conf) and a Redis with only a TLS port,
//! both presenting certificates of a throwaway CA made in the test. The daemon and the
//! operator commands work end to end over TLS; a wrong CA, a wrong host name and
//! `sslmode=disable` are refused with errors that name the certificate and never a password.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pki::{Pki, ServerCert};
use common::*;

/// A password the servers never ask for (trust authentication): it must never be printed.
const PASSWORD: &str = "pw-that-must-not-leak";

/// The name in the PostgreSQL server's certificate (it names no address).
const PG_HOST: &str = "pg.memlink.test";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The newest installed PostgreSQL server's bin directory.
fn pg_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "no PostgreSQL server under /usr/lib/postgresql: install the Debian package postgresql \
         (scripts/test.sh does)",
    )
}

/// A PostgreSQL of this test's own, TLS only, stopped and removed on drop.
struct PrivatePostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// Runs a server binary as the user that owns the data (initdb and postgres refuse root).
    fn as_owner(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn start(cert: &ServerCert) -> PrivatePostgres {
        let dir = std::env::temp_dir().join(format!("memlink-test-pg-{}", new_uuid()));
        std::fs::create_dir_all(&dir).expect("pg dir");
        let pg = PrivatePostgres {
            dir,
            bin: pg_bin(),
            port: free_port(),
        };
        let data = pg.dir.join("data");
        std::fs::copy(&cert.cert_file, pg.dir.join("server.pem")).expect("copy the certificate");
        std::fs::copy(&cert.key_file, pg.dir.join("server.key")).expect("copy the key");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.dir)
                .status()
                .expect("chown");
            assert!(status.success());
        }
        run_ok(
            pg.as_owner("initdb")
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8"])
                .args(["--locale=C.UTF-8", "--no-sync"]),
            "initdb",
        );
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = ''\n\
             ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nfsync = off\n\
             max_connections = 60\n",
            pg.port,
            pg.dir.join("server.pem").display(),
            pg.dir.join("server.key").display(),
        );
        append(&data.join("postgresql.conf"), &conf);
        // Only TLS connections get in.
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 reject\n",
        )
        .expect("pg_hba.conf");
        run_ok(
            pg.as_owner("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(pg.dir.join("log"))
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
        pg
    }

    /// The URL of its `postgres` database, with `query` (sslmode and friends).
    fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@{host}:{}/postgres?{query}",
            self.port
        )
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for appending");
    f.write_all(text.as_bytes()).expect("append");
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.stdin(Stdio::null()).output().expect(what);
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The servers and certificates of one test.
struct World {
    pki: Pki,
    pg: PrivatePostgres,
    redis: PrivateRedis,
}

impl World {
    fn start() -> World {
        let pki = Pki::new();
        // PostgreSQL's certificate names a host, not the address it listens on, so that
        // verify-full and verify-ca differ; Redis's names the address.
        let pg_cert = pki.server("postgres", &[PG_HOST]);
        let redis_cert = pki.server("redis", &["127.0.0.1", "localhost"]);
        // PostgreSQL refuses a key others can read (the copy keeps these permissions).
        make_private(&pg_cert.key_file);
        let pg = PrivatePostgres::start(&pg_cert);
        let redis = PrivateRedis::start_tls(&RedisTls {
            ca_file: &pki.ca_file,
            cert_file: &redis_cert.cert_file,
            key_file: &redis_cert.key_file,
        });
        World { pki, pg, redis }
    }

    /// verify-full through the certificate's name (resolved to the server's address).
    fn database_url(&self, ca: &Path) -> String {
        self.pg.url(
            PG_HOST,
            &format!(
                "hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
                ca.display()
            ),
        )
    }

    fn env(&self, database_url: &str, redis_ca: &Path) -> Vec<(String, String)> {
        let suffix = new_uuid();
        vec![
            ("DATABASE_URL".into(), database_url.to_owned()),
            ("REDIS_URL".into(), self.redis.url.clone()),
            (
                "MEMLINK_REDIS_CA_FILE".into(),
                redis_ca.display().to_string(),
            ),
            ("MEMLINK_HTTP_ADDR".into(), "127.0.0.1:0".into()),
            ("MEMLINK_STREAM".into(), format!("tls-{suffix}")),
            ("MEMLINK_GROUP".into(), format!("tls-{suffix}")),
            ("RUST_LOG".into(), "info".into()),
        ]
    }
}

fn make_private(key: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).expect("chmod key");
}

fn with(env: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    env.push((key.to_owned(), value.to_owned()));
    env
}

fn assert_no_password(text: &str) {
    assert!(!text.contains(PASSWORD), "a password was printed:\n{text}");
}

#[test]
fn the_daemon_and_its_commands_work_end_to_end_over_tls() {
    let w = World::start();
    let env = w.env(&w.database_url(&w.pki.ca_file), &w.pki.ca_file);

    let migrate = run_cli(&["migrate"], &env);
    assert_eq!(migrate.code, Some(0), "{migrate:?}");
    let daemon = Daemon::spawn(&["run"], &env);
    eventually("ready over TLS", LONG, || {
        (daemon.get("/readyz").0 == 200).then_some(())
    });
    let chat = new_uuid();
    for (user, text) in [
        ("tls-a", "My name is Alma."),
        ("tls-b", "I live in Lisbon."),
    ] {
        let (code, body) = daemon.post_message(&chat, user, "user", text);
        assert_eq!(code, 201, "{body}");
    }
    let facts = eventually("facts extracted over TLS", LONG, || {
        let (_, a) = daemon.get("/v1/users/tls-a/facts");
        let (_, b) = daemon.get("/v1/users/tls-b/facts");
        (a["facts"].as_array()?.len() == 1 && b["facts"].as_array()?.len() == 1).then_some((a, b))
    });
    assert_eq!(facts.0["facts"][0]["object"], "Alma");
    assert_eq!(facts.1["facts"][0]["object"], "Lisbon");
    let status = daemon.status();
    assert_eq!(status["stream"]["reachable"], true, "{status}");

    // The operator commands connect the same way.
    let doctor = run_cli(&["doctor", "--json"], &env);
    let report = doctor.json();
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(
        !codes.contains(&"postgres_unreachable") && !codes.contains(&"redis_unreachable"),
        "{report:#}"
    );
    let verify = run_cli(
        &[
            "verify",
            "--json",
            "--timeout",
            "60",
            "--base-url",
            &format!("http://{}", daemon.addr),
        ],
        &env,
    );
    assert_eq!(verify.code, Some(0), "{verify:?}");
    let dlq = run_cli(&["dlq", "list", "--json"], &env);
    assert_eq!(dlq.code, Some(0), "{dlq:?}");
    for out in [&migrate, &doctor, &verify, &dlq] {
        assert_no_password(&format!("{}{}", out.stdout, out.stderr));
    }
    assert_no_password(&daemon.log_text());
}

#[test]
fn a_wrong_ca_a_wrong_name_and_plaintext_are_refused_by_name() {
    let w = World::start();
    let good = w.env(&w.database_url(&w.pki.ca_file), &w.pki.ca_file);

    // PostgreSQL, wrong CA: the daemon exits 69 at once (no 30 s of retries), naming it.
    let wrong_ca = with(&good, "DATABASE_URL", &w.database_url(&w.pki.wrong_ca_file));
    let started = Instant::now();
    let run = run_cli(&["run"], &wrong_ca);
    assert_eq!(run.code, Some(69), "{run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "retried a refused certificate"
    );
    assert!(
        run.stderr.contains("certificate") && run.stderr.contains("sslmode=verify-full"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("http_listening"), "nothing was bound");
    assert_no_password(&run.stderr);
    let migrate = run_cli(&["migrate"], &wrong_ca);
    assert_eq!(migrate.code, Some(69), "{migrate:?}");
    assert!(migrate.stderr.contains("certificate"), "{}", migrate.stderr);
    assert_no_password(&migrate.stderr);

    // The right CA but a name the certificate does not carry: verify-full refuses,
    // verify-ca (the chain only) accepts, and so does require (encryption only).
    let by_address = |query: &str| with(&good, "DATABASE_URL", &w.pg.url("127.0.0.1", query));
    let ca = w.pki.ca_file.display();
    let full = run_cli(
        &["migrate"],
        &by_address(&format!("sslmode=verify-full&sslrootcert={ca}")),
    );
    assert_eq!(full.code, Some(69), "{full:?}");
    assert!(full.stderr.contains("certificate"), "{}", full.stderr);
    for query in [
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        "sslmode=require".to_owned(),
    ] {
        let out = run_cli(&["migrate"], &by_address(&query));
        assert_eq!(out.code, Some(0), "{query}: {out:?}");
    }
    // require with a root certificate checks the chain (as libpq does).
    let out = run_cli(
        &["migrate"],
        &by_address(&format!(
            "sslmode=require&sslrootcert={}",
            w.pki.wrong_ca_file.display()
        )),
    );
    assert_eq!(out.code, Some(69), "{out:?}");
    // sslmode=disable really sends plaintext, which this server refuses.
    let out = run_cli(&["migrate"], &by_address("sslmode=disable"));
    assert_eq!(out.code, Some(69), "{out:?}");
    assert!(out.stderr.contains("no encryption"), "{}", out.stderr);
    assert_no_password(&out.stderr);

    // Redis, wrong CA: the daemon serves (Redis is not waited for) but is not ready, and
    // says why; the doctor names it too.
    let redis_wrong = with(
        &good,
        "MEMLINK_REDIS_CA_FILE",
        &w.pki.wrong_ca_file.display().to_string(),
    );
    let daemon = Daemon::spawn(&["run"], &redis_wrong);
    let reasons = eventually("not ready, naming the certificate", LONG, || {
        let (code, body) = daemon.get("/readyz");
        let reasons = body["reasons"].to_string();
        (code == 503 && reasons.contains("redis unreachable") && reasons.contains("certificate"))
            .then_some(reasons)
    });
    assert_no_password(&reasons);
    let waiting = daemon.log_lines_with("event=redis_waiting");
    assert!(
        waiting.iter().any(|l| l.contains("certificate")),
        "{}",
        daemon.log_text()
    );
    let doctor = run_cli(&["doctor", "--json"], &redis_wrong);
    assert_eq!(doctor.code, Some(2), "{doctor:?}");
    let report = doctor.json();
    let unreachable = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "redis_unreachable")
        .unwrap_or_else(|| panic!("{report:#}"))
        .to_string();
    assert!(unreachable.contains("certificate"), "{unreachable}");

    // A CA file that is not there is a configuration error (64), before anything binds.
    let missing = with(&good, "MEMLINK_REDIS_CA_FILE", "/nonexistent/ca.pem");
    let out = run_cli(&["run"], &missing);
    assert_eq!(out.code, Some(64), "{out:?}");
    assert!(
        out.stderr.contains("MEMLINK_REDIS_CA_FILE") && out.stderr.contains("/nonexistent/ca.pem"),
        "{}",
        out.stderr
    );
    let missing = with(
        &good,
        "DATABASE_URL",
        &w.pg.url(
            PG_HOST,
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        ),
    );
    let out = run_cli(&["migrate"], &missing);
    assert_eq!(out.code, Some(64), "{out:?}");
    assert!(out.stderr.contains("/nonexistent/ca.pem"), "{}", out.stderr);
    assert_no_password(&out.stderr);
}
