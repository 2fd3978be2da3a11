//! TLS for a listener: a certificate chain and key from PEM files, loaded
//! at start and again on demand (SIGHUP), without dropping a connection.
//!
//! Why reload in place: certificates from an ACME client renew every few
//! weeks, and a restart would end every running call. A connection takes
//! the configuration current when it is accepted; a reload that fails
//! keeps the one before, and says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing of the kind expected.
    #[error("{path}: expected {expected} in PEM, got {got}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        expected: &'static str,
        /// What reading it gave.
        got: String,
    },
    /// The certificate and key do not make a TLS configuration (a key that
    /// is not the certificate's, an unsupported algorithm).
    #[error("{cert} with {key}: {source}")]
    Config {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
}

/// A listener's TLS: where its PEM files are, and the configuration now in use.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({}, ..)", self.cert.display())
    }
}

fn build(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let pem = |expected: &'static str, got: String| TlsError::Pem {
        path: cert.to_path_buf(),
        expected,
        got,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem("certificates", e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem("certificates", e.to_string()))?;
    if chain.is_empty() {
        return Err(pem("certificates", "none".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
        path: key.to_path_buf(),
        expected: "a private key",
        got: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
        .map_err(|source| TlsError::Config {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            source,
        })?;
    // HTTP/1.1 only, as the accept loop serves (WebSocket upgrades need it).
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

impl Tls {
    /// Loads the certificate chain and key (PEM: the chain leaf first, the
    /// key PKCS#8, PKCS#1 or SEC1).
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let cfg = build(cert, key)?;
        Ok(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(cfg)),
        })
    }

    /// Reads the files again; new connections use them from now on. On an
    /// error the configuration in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let cfg = Arc::new(build(&self.cert, &self.key)?);
        match self.current.write() {
            Ok(mut c) => *c = cfg,
            Err(poisoned) => *poisoned.into_inner() = cfg,
        }
        Ok(())
    }

    /// An acceptor with the configuration now in use.
    pub fn acceptor(&self) -> TlsAcceptor {
        let cfg = match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        TlsAcceptor::from(cfg)
    }
}
