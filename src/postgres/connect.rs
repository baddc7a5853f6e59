//! How memlink reaches PostgreSQL: `DATABASE_URL` read once into the driver's settings and a
//! TLS connector, used by the daemon's pool, its LISTEN connection, migrations and every
//! operator command alike.
//!
//! TLS follows libpq's `sslmode` (`disable`, `prefer` (the default), `require`, `verify-ca`,
//! `verify-full`) and `sslrootcert` (a PEM file, or `system`), given in the URL's query or as
//! `key=value` words. It must never connect while parsing, and never put a password in an
//! error.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::SslMode as DriverSslMode;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::Socket;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{LogSink, PgError, PgPool};
use crate::error_text::with_sources;
use crate::tls::{self, Roots, Verify};

/// A connection's driver half, to be spawned.
pub type PgConnection =
    tokio_postgres::Connection<Socket, <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream>;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, String> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(format!(
                "sslmode={other:?}: expected disable, prefer, require, verify-ca or verify-full"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Everything needed to open a connection to the database of `DATABASE_URL`.
#[derive(Clone)]
pub struct PgConnector {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    mode: SslMode,
}

impl std::fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The driver's config holds the password; only the TLS mode is shown.
        f.debug_struct("PgConnector")
            .field("sslmode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl PgConnector {
    /// Parses the URL (or `key=value` string) and loads the trusted roots it names. Errors
    /// are configuration errors: the URL's syntax, the sslmode, an unreadable root file.
    pub fn from_url(url: &str) -> Result<PgConnector, PgError> {
        let (rest, params) = take_tls_params(url).map_err(PgError::Config)?;
        let mode = match params.sslmode.as_deref() {
            Some(s) => SslMode::parse(s).map_err(PgError::Config)?,
            None => SslMode::Prefer,
        };
        let roots = params.sslrootcert.as_deref().map(|r| match r {
            "system" => Roots::System,
            file => Roots::File(file.into()),
        });
        let verify = match (mode, &roots) {
            (SslMode::VerifyFull, _) => Verify::Full,
            (SslMode::VerifyCa, _) => Verify::Chain,
            // libpq: a root certificate, when given, is checked in the weaker modes too.
            (_, Some(_)) => Verify::Chain,
            (_, None) => Verify::Nothing,
        };
        // verify-* without sslrootcert trust the system's roots (there is no home directory
        // with a root.crt under systemd's DynamicUser).
        let roots = roots.unwrap_or(Roots::System);
        let tls_config = if mode == SslMode::Disable {
            tls::client_config(Verify::Nothing, &roots)
        } else {
            tls::client_config(verify, &roots)
        }
        .map_err(|e| PgError::Config(e.to_string()))?;
        let mut config = tokio_postgres::Config::from_str(&rest)
            .map_err(|e| PgError::Config(with_sources(&e)))?;
        config.ssl_mode(match mode {
            SslMode::Disable => DriverSslMode::Disable,
            SslMode::Prefer => DriverSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverSslMode::Require,
        });
        Ok(PgConnector {
            config,
            tls: MakeRustlsConnect::new(tls_config),
            mode,
        })
    }

    pub fn sslmode(&self) -> SslMode {
        self.mode
    }

    /// The driver's settings (host, user, application name, ...) for callers that adjust them.
    pub fn config_mut(&mut self) -> &mut tokio_postgres::Config {
        &mut self.config
    }

    /// The same target, asking the server not to send NOTICEs (which the driver logs at
    /// INFO): for statements whose notices tell nothing, such as `IF NOT EXISTS`.
    pub fn without_notices(&self) -> PgConnector {
        let mut quiet = self.clone();
        let options = match self.config.get_options() {
            Some(own) => format!("{own} -c client_min_messages=warning"),
            None => "-c client_min_messages=warning".to_owned(),
        };
        quiet.config.options(&options);
        quiet
    }

    /// One connection; spawn the returned driver. A refused certificate is [`PgError::Tls`]
    /// (permanent until a certificate changes), anything else [`PgError::Connect`].
    pub async fn connect(&self) -> Result<(tokio_postgres::Client, PgConnection), PgError> {
        self.config
            .connect(self.tls.clone())
            .await
            .map_err(|e| self.connect_error(&e))
    }

    /// Connects and runs `SELECT 1`, for startup and diagnosis: the real cause of a failure,
    /// where a pool would only say "timed out".
    pub async fn probe(&self) -> Result<(), PgError> {
        let (client, connection) = self.connect().await?;
        let driver = actix_web::rt::spawn(connection);
        let result = client
            .simple_query("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|e| PgError::Connect(with_sources(&e)));
        drop(client);
        let _ = driver.await;
        result
    }

    /// A lazy pool: connections are made on first use, and failures are logged with their
    /// real cause (bb8 itself only reports "timed out"). Its connections are opened and
    /// driven on the calling runtime, whichever thread uses them: for the actors and the
    /// daemon's own bookkeeping, which must outlive the HTTP server's threads.
    pub fn pool(&self, max_size: u32) -> PgPool {
        self.build_pool(max_size, true)
    }

    /// A pool whose connections live on the thread that opens them: for the HTTP server's
    /// worker threads, so that a request never waits on the main thread's actors.
    pub fn local_pool(&self, max_size: u32) -> PgPool {
        self.build_pool(max_size, false)
    }

    fn build_pool(&self, max_size: u32, at_home: bool) -> PgPool {
        let manager =
            super::pool::CachingManager::new(self.config.clone(), self.tls.clone(), at_home);
        bb8::Pool::builder()
            .max_size(max_size)
            // A round trip per checkout costs more than the rare broken connection it catches:
            // a closed one is dropped on return (`has_broken`), a failed statement is retried.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(5))
            .error_sink(Box::new(LogSink))
            .build_unchecked(manager)
    }

    fn connect_error(&self, e: &tokio_postgres::Error) -> PgError {
        let text = with_sources(e);
        if tls::is_certificate_error(e) {
            PgError::Tls(format!(
                "the server's TLS certificate was refused (sslmode={}): {text}",
                self.mode.as_str()
            ))
        } else {
            PgError::Connect(text)
        }
    }
}

/// The TLS words memlink handles itself (the driver knows neither `verify-*` nor
/// `sslrootcert`).
#[derive(Debug, Default, PartialEq, Eq)]
struct TlsParams {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

impl TlsParams {
    /// Takes `key` if it is one of ours; the last one given wins, as in libpq.
    fn take(&mut self, key: &str, value: String) -> bool {
        match key {
            "sslmode" => self.sslmode = Some(value),
            "sslrootcert" => self.sslrootcert = Some(value),
            _ => return false,
        }
        true
    }
}

/// Splits `sslmode` and `sslrootcert` off a URL or `key=value` string; the rest is left
/// as it was written, for the driver.
fn take_tls_params(url: &str) -> Result<(String, TlsParams), String> {
    let mut params = TlsParams::default();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), params));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| format!("{s:?} is not UTF-8 once percent-decoded"))
            };
            if !params.take(&decode(k)?, decode(v)?) {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, params));
    }
    let mut kept = Vec::new();
    for (key, value, raw) in key_values(url)? {
        if !params.take(&key, value) {
            kept.push(raw);
        }
    }
    Ok((kept.join(" "), params))
}

/// libpq's `key = value` words: values may be single-quoted, with `\` escaping. Each word
/// comes with its original text.
fn key_values(s: &str) -> Result<Vec<(String, String, &str)>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return Ok(out);
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(format!("{key:?} has no value (expected key=value)"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        let mut end = s.len();
        loop {
            match chars.next() {
                None if quoted => return Err(format!("the value of {key:?} has no closing quote")),
                None => break,
                Some((i, c)) if !quoted && c.is_whitespace() => {
                    end = i;
                    break;
                }
                Some((i, '\'')) if quoted => {
                    end = i + 1;
                    break;
                }
                Some((_, '\\')) => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => return Err(format!("the value of {key:?} ends in a backslash")),
                },
                Some((_, c)) => value.push(c),
            }
        }
        out.push((key, value, &s[start..end]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, Option<String>, Option<String>) {
        let (rest, p) = take_tls_params(url).unwrap();
        (rest, p.sslmode, p.sslrootcert)
    }

    #[test]
    fn tls_words_are_taken_from_a_url() {
        assert_eq!(
            split("postgres://u:pw@db:5432/m?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem"),
            (
                "postgres://u:pw@db:5432/m?application_name=x".to_owned(),
                Some("verify-full".to_owned()),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            split("postgresql://db/m?sslmode=require"),
            (
                "postgresql://db/m".to_owned(),
                Some("require".to_owned()),
                None
            )
        );
        assert_eq!(
            split("postgres://db/m"),
            ("postgres://db/m".to_owned(), None, None)
        );
    }

    #[test]
    fn tls_words_are_taken_from_key_values() {
        assert_eq!(
            split("host=db user=u password='a b\\'c' sslmode = verify-ca sslrootcert='/my ca.pem' dbname=m"),
            (
                "host=db user=u password='a b\\'c' dbname=m".to_owned(),
                Some("verify-ca".to_owned()),
                Some("/my ca.pem".to_owned())
            )
        );
        assert!(take_tls_params("host=db sslmode").is_err());
        assert!(take_tls_params("host='db").is_err());
    }

    #[test]
    fn modes_map_to_the_driver_and_bad_ones_are_named() {
        let c = PgConnector::from_url("postgres://u:pw@db/m").unwrap();
        assert_eq!(c.sslmode(), SslMode::Prefer, "libpq's default");
        assert_eq!(c.config.get_ssl_mode(), DriverSslMode::Prefer);
        let c = PgConnector::from_url("postgres://db/m?sslmode=disable").unwrap();
        assert_eq!(c.config.get_ssl_mode(), DriverSslMode::Disable);
        let c = PgConnector::from_url("host=db sslmode=require").unwrap();
        assert_eq!(c.config.get_ssl_mode(), DriverSslMode::Require);
        let e = PgConnector::from_url("postgres://u:s3cret@db/m?sslmode=maybe")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sslmode=\"maybe\"") && !e.contains("s3cret"),
            "{e}"
        );
        let e = PgConnector::from_url(
            "postgres://db/m?sslmode=verify-full&sslrootcert=/nonexistent.pem",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/nonexistent.pem"), "{e}");
        let e = PgConnector::from_url("postgres://db/m?nonsense=1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid connection string"), "{e}");
    }
}
