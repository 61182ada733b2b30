//! TLS for the HTTPS listener and the PostgreSQL wire: a certificate and key from PEM files
//! (`--tls-cert`, `--tls-key`), or a self-signed pair made once and kept in the data dir
//! (`--tls-self-signed`: `keys/tls-cert.pem`, `keys/tls-key.pem`, mode 0600), valid for
//! `localhost`, `127.0.0.1`, `::1` and the names given with `--domain`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the certificate comes from.
pub enum Source {
    Files { cert: PathBuf, key: PathBuf },
    SelfSigned { keys_dir: PathBuf, names: Vec<String> },
}

/// The certificate chain and key, and the SHA-256 fingerprint of the leaf for the start-up
/// message (what a client pins or compares).
pub struct Loaded {
    pub certs: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub fingerprint: String,
    /// The PEM file of the certificate (a CA bundle for clients of a self-signed one).
    pub cert_path: PathBuf,
    pub generated: bool,
}

pub fn load(source: &Source) -> Result<Loaded, String> {
    let (cert_path, key_path, generated) = match source {
        Source::Files { cert, key } => (cert.clone(), key.clone(), false),
        Source::SelfSigned { keys_dir, names } => {
            let cert = keys_dir.join("tls-cert.pem");
            let key = keys_dir.join("tls-key.pem");
            let generated = !cert.exists() || !key.exists();
            if generated {
                generate(&cert, &key, names)?;
            }
            (cert, key, generated)
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| format!("--tls-cert {}: {e}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!("--tls-cert {}: no certificate in the file", cert_path.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| format!("--tls-key {}: {e}", key_path.display()))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, certs[0].as_ref());
    let fingerprint = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
    Ok(Loaded { certs, key, fingerprint, cert_path, generated })
}

/// A self-signed certificate for the local names, written durably with private modes.
fn generate(cert_path: &Path, key_path: &Path, names: &[String]) -> Result<(), String> {
    let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    for n in names {
        if !sans.contains(n) {
            sans.push(n.clone());
        }
    }
    let certified = rcgen::generate_simple_self_signed(sans).map_err(|e| format!("generating a certificate: {e}"))?;
    if let Some(dir) = cert_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    write_private(key_path, certified.signing_key.serialize_pem().as_bytes())?;
    write_private(cert_path, certified.cert.pem().as_bytes())?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
    }
    Ok(())
}

/// A TLS acceptor for the given ALPN protocols (HTTPS: h2 and http/1.1; PostgreSQL's direct
/// SSL: postgresql).
pub fn acceptor(loaded: &Loaded, alpn: &[&[u8]]) -> Result<tokio_rustls::TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(loaded.certs.clone(), loaded.key.clone_key())
        .map_err(|e| format!("TLS: the certificate and key do not go together: {e}"))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
