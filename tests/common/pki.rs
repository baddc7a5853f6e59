//! A throwaway certificate authority for the TLS tests, made in the test (rcgen), written
//! to a directory of its own that is removed on drop: the CA, a second CA that signed
//! nothing of ours (the "wrong CA"), and server certificates signed by the first.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A server certificate and its key, as files.
pub struct ServerCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

pub struct Pki {
    pub dir: PathBuf,
    pub ca_file: PathBuf,
    pub wrong_ca_file: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let pem = params.self_signed(&key).expect("self-signed CA").pem();
    (pem, Issuer::new(params, key))
}

impl Pki {
    pub fn new() -> Pki {
        let dir =
            std::env::temp_dir().join(format!("memlink-test-pki-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("pki dir");
        let (ca, issuer) = new_ca("memlink test CA");
        let (wrong, _) = new_ca("memlink test CA (the wrong one)");
        let ca_file = dir.join("ca.pem");
        let wrong_ca_file = dir.join("wrong-ca.pem");
        std::fs::write(&ca_file, ca).expect("write the CA");
        std::fs::write(&wrong_ca_file, wrong).expect("write the wrong CA");
        Pki {
            dir,
            ca_file,
            wrong_ca_file,
            issuer,
        }
    }

    /// A server certificate for these names (DNS names or IP addresses), signed by the CA.
    pub fn server(&self, file_stem: &str, names: &[&str]) -> ServerCert {
        let key = KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, file_stem.to_owned());
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let cert_file = self.dir.join(format!("{file_stem}.pem"));
        let key_file = self.dir.join(format!("{file_stem}.key"));
        std::fs::write(&cert_file, cert.pem()).expect("write the certificate");
        std::fs::write(&key_file, key.serialize_pem()).expect("write the key");
        ServerCert {
            cert_file,
            key_file,
        }
    }

    /// A rustls server configuration presenting `cert` (for test servers written in Rust).
    pub fn rustls_server(&self, cert: &ServerCert) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_file_iter(&cert.cert_file)
            .expect("read the certificate")
            .collect::<Result<Vec<_>, _>>()
            .expect("parse the certificate");
        let key = PrivateKeyDer::from_pem_file(&cert.key_file).expect("read the key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
        Arc::new(config)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
