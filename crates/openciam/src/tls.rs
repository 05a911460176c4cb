//! HTTPS: the development certificates of `openciam dev --tls` (a local CA and a server
//! certificate kept under the data directory) and a rustls listener that axum serves exactly like a
//! TCP one, for `dev --tls` and for `serve` with `[tls] cert_file` / `key_file`.
//!
//! Invariants: private keys are written with mode 0600 and never printed; the CA is made once and
//! reused, so a device that trusts it keeps trusting the server after restarts; the server
//! certificate is re-issued from that CA when it is missing, unreadable, about to expire, or does
//! not name every host in [`DEV_HOSTS`].

use anyhow::{Context as _, bail};
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// DNS names the development server certificate covers. `openciam.localhost` is the dotted name
/// MSAL iOS needs (it rejects an authority host without a dot, such as `localhost`).
pub const DEV_HOSTS: [&str; 2] = ["localhost", "openciam.localhost"];
/// IP addresses the development server certificate covers: the loopback, and the address under
/// which the Android emulator reaches its host's loopback.
pub const DEV_IPS: [Ipv4Addr; 2] = [Ipv4Addr::LOCALHOST, Ipv4Addr::new(10, 0, 2, 2)];

/// The CA lives ten years; the server certificate one year (Apple platforms refuse server
/// certificates valid for more than 825 days), re-issued when less than a week is left.
const CA_DAYS: i64 = 3650;
const LEAF_DAYS: i64 = 365;
const LEAF_RENEW_BEFORE_DAYS: i64 = 7;
/// A peer that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the development certificates are, and what a client needs to trust them.
#[derive(Debug, Clone)]
pub struct DevCertificates {
    /// The local CA certificate (PEM): what devices, browsers and tools must trust.
    pub ca_cert: PathBuf,
    /// The server certificate (PEM).
    pub server_cert: PathBuf,
    /// The server certificate's private key (PEM, mode 0600).
    pub server_key: PathBuf,
    /// base64 of the SHA-256 of the server certificate's SubjectPublicKeyInfo, the form Chromium's
    /// `--ignore-certificate-errors-spki-list` takes.
    pub server_spki_sha256: String,
}

/// Makes (once) the local CA under `dir` and (when needed) a server certificate it signs for
/// [`DEV_HOSTS`] and [`DEV_IPS`]. `now` decides whether the server certificate is still good.
pub fn ensure_dev_certificates(dir: &Path, now: OffsetDateTime) -> anyhow::Result<DevCertificates> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let paths = DevCertificates {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        server_spki_sha256: String::new(),
    };
    let ca_key_path = dir.join("ca.key");
    let (ca_pem, ca_key, fresh_ca) = if paths.ca_cert.exists() && ca_key_path.exists() {
        let pem = read(&paths.ca_cert)?;
        let key = KeyPair::from_pem(&read(&ca_key_path)?)
            .with_context(|| format!("{} is not a PEM private key", ca_key_path.display()))?;
        (pem, key, false)
    } else {
        let key = KeyPair::generate().context("generating the CA key")?;
        let pem = ca_params(now)?.self_signed(&key).context("signing the CA")?.pem();
        write_private(&ca_key_path, &key.serialize_pem())?;
        write_public(&paths.ca_cert, &pem)?;
        (pem, key, true)
    };
    let leaf_ok = !fresh_ca && leaf_still_good(&paths.server_cert, &paths.server_key, now);
    let leaf_key = if leaf_ok {
        KeyPair::from_pem(&read(&paths.server_key)?)?
    } else {
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)
            .with_context(|| format!("{} is not a CA certificate", paths.ca_cert.display()))?;
        let key = KeyPair::generate().context("generating the server key")?;
        let cert = leaf_params(now)?
            .signed_by(&key, &issuer)
            .context("signing the server certificate")?;
        write_private(&paths.server_key, &key.serialize_pem())?;
        write_public(&paths.server_cert, &format!("{}{ca_pem}", cert.pem()))?;
        key
    };
    let spki = Sha256::digest(rcgen::PublicKeyData::subject_public_key_info(&leaf_key));
    Ok(DevCertificates {
        server_spki_sha256: base64::engine::general_purpose::STANDARD.encode(spki),
        ..paths
    })
}

fn ca_params(now: OffsetDateTime) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "openciam dev local CA");
    dn.push(DnType::OrganizationName, "openciam development");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(CA_DAYS);
    Ok(params)
}

fn leaf_params(now: OffsetDateTime) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(DEV_HOSTS.map(str::to_owned).to_vec())?;
    params
        .subject_alt_names
        .extend(DEV_IPS.map(|ip| SanType::IpAddress(IpAddr::V4(ip))));
    params
        .distinguished_name
        .push(DnType::CommonName, "openciam dev server");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(LEAF_DAYS);
    Ok(params)
}

/// The server certificate and key exist, parse, cover every dev name and are not about to expire.
fn leaf_still_good(cert: &Path, key: &Path, now: OffsetDateTime) -> bool {
    let Ok(pem) = std::fs::read(cert) else {
        return false;
    };
    let Ok(key_pem) = std::fs::read_to_string(key) else {
        return false;
    };
    if KeyPair::from_pem(&key_pem).is_err() {
        return false;
    }
    let Ok((_, parsed)) = x509_parser::pem::parse_x509_pem(&pem) else {
        return false;
    };
    let Ok(x509) = parsed.parse_x509() else {
        return false;
    };
    let renew_at = now + time::Duration::days(LEAF_RENEW_BEFORE_DAYS);
    if x509.validity().not_after.to_datetime() <= renew_at {
        return false;
    }
    let Ok(Some(san)) = x509.subject_alternative_name() else {
        return false;
    };
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    for name in &san.value.general_names {
        match name {
            x509_parser::extensions::GeneralName::DNSName(d) => dns.push(d.to_string()),
            x509_parser::extensions::GeneralName::IPAddress(b) => ips.push(b.to_vec()),
            _ => {}
        }
    }
    DEV_HOSTS.iter().all(|h| dns.iter().any(|d| d == h))
        && DEV_IPS.iter().all(|ip| ips.iter().any(|b| b[..] == ip.octets()))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes a private key readable by its owner only (created 0600, then forced to 0600 in case the
/// file already existed with wider permissions).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn write_public(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A rustls server configuration from a PEM certificate chain (server certificate first) and a PEM
/// private key, both files. Fails with the file name when either cannot be used.
pub fn server_config(cert_file: &Path, key_file: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert_file)
        .with_context(|| format!("reading the certificate chain {}", cert_file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert_file.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", cert_file.display());
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .with_context(|| format!("{} is not a PEM private key", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "{} does not match the certificate in {}",
                key_file.display(),
                cert_file.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener that accepts TCP connections and hands axum only those whose TLS handshake
/// succeeded. Handshakes run on their own tasks, so a slow or silent peer delays nobody else.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<tokio::net::TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener` with `config`.
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a TCP connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    break;
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task only ends once this listener is gone; never resolve.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Serves `router` over HTTPS on `listener` until Ctrl-C or SIGTERM, then shuts down like
/// [`crate::app::serve_until_shutdown`] (handlers still see the peer's address as
/// `ConnectInfo<SocketAddr>`).
pub async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: axum::Router,
    lifecycle: Arc<openciam_http::Lifecycle>,
    timing: crate::app::ShutdownTiming,
) -> anyhow::Result<()> {
    use axum::serve::ListenerExt as _;
    let listener = TlsListener::new(listener, config)?.tap_io(|_| ());
    let plan = crate::app::shutdown_plan(lifecycle, timing);
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(plan.stop_accepting);
    crate::app::finish(async move { server.await }, plan.deadline, timing).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-11-27 12:00 UTC)
    }

    #[test]
    fn the_ca_is_kept_and_the_server_certificate_reissued_when_missing_or_expiring() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_dev_certificates(dir.path(), now()).unwrap();
        let ca = std::fs::read(&first.ca_cert).unwrap();
        let leaf = std::fs::read(&first.server_cert).unwrap();
        #[cfg(unix)]
        for key in [dir.path().join("ca.key"), first.server_key.clone()] {
            let mode =
                std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
            assert_eq!(mode & 0o777, 0o600, "{}", key.display());
        }

        let again = ensure_dev_certificates(dir.path(), now()).unwrap();
        assert!(
            std::fs::read(&again.server_cert).unwrap() == leaf,
            "a good leaf is kept"
        );
        assert_eq!(again.server_spki_sha256, first.server_spki_sha256);

        std::fs::remove_file(&first.server_cert).unwrap();
        let reissued = ensure_dev_certificates(dir.path(), now()).unwrap();
        assert_eq!(std::fs::read(&reissued.ca_cert).unwrap(), ca, "the CA is kept");
        assert_ne!(std::fs::read(&reissued.server_cert).unwrap(), leaf);
        let leaf = std::fs::read(&reissued.server_cert).unwrap();

        let later = now() + time::Duration::days(LEAF_DAYS - 1);
        let renewed = ensure_dev_certificates(dir.path(), later).unwrap();
        assert_eq!(std::fs::read(&renewed.ca_cert).unwrap(), ca, "the CA is kept");
        assert_ne!(
            std::fs::read(&renewed.server_cert).unwrap(),
            leaf,
            "an expiring leaf is re-issued"
        );
        server_config(&renewed.server_cert, &renewed.server_key).unwrap();
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let certs = ensure_dev_certificates(dir.path(), now()).unwrap();
        let err = server_config(&certs.server_cert, &dir.path().join("ca.key")).unwrap_err();
        assert!(format!("{err:#}").contains("does not match"), "{err:#}");
    }
}
