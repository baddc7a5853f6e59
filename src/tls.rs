//! TLS client settings for every connection memlink makes (PostgreSQL, Redis, the LLM
//! endpoint): which certificate authorities are trusted and how far a server is verified.
//! One stack (rustls on ring), one place that builds its configurations.
//!
//! It only builds configurations; it never connects. Verification is switched off only where
//! the operator asked for it through PostgreSQL's own `sslmode` vocabulary (`prefer` and
//! `require` without a root certificate, as libpq does); every other path verifies the chain
//! and the host name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// Why a TLS configuration could not be built. Names the file, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("the CA file {0} holds no PEM certificate")]
    CaFileEmpty(String),
    #[error("no trusted certificate authorities found on this system (install ca-certificates, or name a CA file)")]
    NoSystemRoots,
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// How far a server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Encryption only: any certificate is accepted (libpq's `prefer` and `require`).
    Nothing,
    /// The chain must lead to a trusted root; the name is not checked (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`, `rediss://`, https).
    Full,
}

/// Which certificate authorities are trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// The operating system's trust store (`/etc/ssl/certs` on Debian).
    System,
    /// The PEM certificates in this file, and nothing else.
    File(PathBuf),
}

impl Roots {
    /// A CA file when one is named, else the system's trust store.
    pub fn from_option(file: Option<&Path>) -> Roots {
        file.map_or(Roots::System, |f| Roots::File(f.to_owned()))
    }
}

/// The one crypto provider of this build. Installed as the process default too, because the
/// Redis client builds its own configuration from that default.
pub fn provider() -> Arc<CryptoProvider> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Err only means some provider is already installed: that is all this wants.
    let _ = CryptoProvider::install_default(provider.as_ref().clone());
    provider
}

/// The PEM certificates of a CA file, checked to hold at least one.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| TlsError::CaFile {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::CaFile {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::CaFileEmpty(shown));
    }
    Ok(certs)
}

/// The trusted roots, loaded now (so a bad file is a configuration error, not a failed
/// connection later).
pub fn root_store(roots: &Roots) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            for cert in read_ca_file(path)? {
                store.add(cert).map_err(|e| TlsError::CaFile {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(TlsError::NoSystemRoots);
            }
        }
    }
    Ok(store)
}

/// A client configuration that verifies servers as `verify` says, against `roots` (unused
/// for [`Verify::Nothing`]).
pub fn client_config(verify: Verify, roots: &Roots) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let config = match verify {
        Verify::Full => builder
            .with_webpki_verifier(webpki_verifier(roots, &provider)?)
            .with_no_client_auth(),
        Verify::Nothing | Verify::Chain => {
            let chain = match verify {
                Verify::Chain => Some(webpki_verifier(roots, &provider)?),
                _ => None,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient {
                    chain,
                    algorithms: provider.signature_verification_algorithms,
                }))
                .with_no_client_auth()
        }
    };
    Ok(config)
}

fn webpki_verifier(
    roots: &Roots,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, TlsError> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(root_store(roots)?), provider.clone())
        .build()
        .map_err(|e| TlsError::Setup(e.to_string()))
}

/// Whether `e` or one of its causes is a server certificate this side refused: that does not
/// get better by retrying until someone changes a certificate or the trusted CA.
pub fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        let wrapped = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if matches!(
            err.downcast_ref::<rustls::Error>().or(wrapped),
            Some(rustls::Error::InvalidCertificate(_))
        ) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Trust for an https endpoint: where the CA came from, and the configuration built from it
/// once (so it is checked when the configuration is loaded).
#[derive(Clone)]
pub struct HttpsTrust {
    /// `None`: the system's trust store.
    pub ca_file: Option<PathBuf>,
    pub config: Arc<ClientConfig>,
}

impl HttpsTrust {
    /// Full verification (chain and host name) against `ca_file` or the system's roots, with
    /// the ALPN protocols an HTTP client offers.
    pub fn new(ca_file: Option<&Path>) -> Result<HttpsTrust, TlsError> {
        let mut config = client_config(Verify::Full, &Roots::from_option(ca_file))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(HttpsTrust {
            ca_file: ca_file.map(Path::to_owned),
            config: Arc::new(config),
        })
    }
}

impl PartialEq for HttpsTrust {
    /// Two trusts built from the same source are the same trust.
    fn eq(&self, other: &HttpsTrust) -> bool {
        self.ca_file == other.ca_file
    }
}

impl std::fmt::Debug for HttpsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsTrust")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

/// The verifier of libpq's weaker modes: without `chain` any certificate is accepted
/// (`prefer`, `require`: encryption only); with it the chain must be valid but the name may
/// differ (`verify-ca`). The handshake's signatures are checked either way.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // webpki checks the chain before the name, so a name error means the chain was good.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let e = root_store(&Roots::File("/nonexistent/ca.pem".into())).unwrap_err();
        assert!(
            matches!(&e, TlsError::CaFile { path, .. } if path == "/nonexistent/ca.pem"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("memlink-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = root_store(&Roots::File(empty.clone())).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e, TlsError::CaFileEmpty(empty.display().to_string()));
    }

    #[test]
    fn encryption_only_needs_no_roots() {
        let config = client_config(Verify::Nothing, &Roots::File("/nonexistent".into()));
        assert!(config.is_ok());
    }
}
