//! [`WebhookSms`]: POSTs each text message as JSON ([`WebhookBody`]) to an HTTPS endpoint.
//!
//! Each message is one HTTP/1.1 request on a fresh connection (hyper over tokio-rustls, the
//! aws-lc-rs provider the workspace already uses), trusting the Mozilla roots plus
//! `extra_ca_file`; text messages are rare enough that a pool would buy nothing. Answers are sorted for the HTTP layer (spec §7.1: a code that could not
//! be sent → 503, nothing advanced): connection, TLS and timeout failures, 429 and 5xx are
//! [`SmsError::Unavailable`] (a retry may work); any other non-2xx answer is
//! [`SmsError::Rejected`]. Redirects are not followed (the body carries a code and the secret).

use crate::config::{Target, WebhookConfig};
use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use http::{HeaderName, HeaderValue, StatusCode};
use hyper_util::rt::TokioIo;
use openciam_core::mail::{MailPurpose, MailTenant};
use openciam_core::sms::{OutboundSms, SmsError, SmsSender};
use rustls::pki_types::ServerName;
use secrecy::ExposeSecret as _;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The JSON body of one webhook call (`Content-Type: application/json`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WebhookBody {
    /// A fresh id per message (also sent as the `Idempotency-Key` header): a relay that retries
    /// can drop duplicates.
    pub id: String,
    /// Recipient in E.164 form, e.g. `+15551234567`.
    pub to: String,
    /// The message to send as is (ASCII, one SMS segment).
    pub text: String,
    /// The one-time code alone, for providers that template their own text.
    pub code: String,
    /// `signup`, `signin` or `resetpassword`.
    pub purpose: MailPurpose,
    /// Minutes until the code expires.
    pub expires_in_minutes: u32,
    /// The tenant's short name.
    pub tenant: String,
    /// The recipient's country calling code, e.g. `1` (for routing or pricing rules).
    pub country_code: u16,
}

/// Sends text messages through the configured webhook.
pub struct WebhookSms {
    target: Target,
    tls: tokio_rustls::TlsConnector,
    auth: Option<(HeaderName, HeaderValue)>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl std::fmt::Debug for WebhookSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSms")
            .field("host", &self.target.host)
            .field("port", &self.target.port)
            .finish_non_exhaustive()
    }
}

impl WebhookSms {
    /// Builds the sender from validated settings (reads the secret and CA files). Does not
    /// connect.
    pub fn new(config: &WebhookConfig) -> anyhow::Result<Self> {
        config.validate()?;
        let target = config.parsed_url()?;
        let auth = match config.secret()? {
            Some(secret) => {
                let name = HeaderName::from_bytes(config.auth_header.trim().as_bytes())
                    .context("sms.webhook.auth_header")?;
                let mut value = HeaderValue::from_str(secret.expose_secret())
                    .map_err(|_| anyhow!("sms.webhook: the secret is not a valid header value"))?;
                value.set_sensitive(true);
                Some((name, value))
            }
            None => None,
        };
        Ok(Self {
            target,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls_config(config)?)),
            auth,
            timeout: Duration::from_secs(config.timeout_seconds),
            connect_timeout: Duration::from_secs(config.connect_timeout_seconds),
        })
    }

    /// The body for `sms`.
    pub fn body(tenant: &MailTenant, sms: &OutboundSms) -> WebhookBody {
        WebhookBody {
            id: uuid::Uuid::new_v4().to_string(),
            to: sms.to.e164().to_owned(),
            text: sms.text(),
            code: sms.code.clone(),
            purpose: sms.purpose,
            expires_in_minutes: sms.expires_in_minutes,
            tenant: tenant.name.clone(),
            country_code: sms.to.country_code(),
        }
    }

    /// TCP (and TLS) to the webhook, bounded by `connect_timeout`.
    async fn connect(&self) -> anyhow::Result<Box<dyn Io>> {
        let connecting = async {
            let tcp = TcpStream::connect((self.target.host.as_str(), self.target.port))
                .await
                .context("connecting")?;
            if !self.target.tls {
                return Ok::<Box<dyn Io>, anyhow::Error>(Box::new(tcp));
            }
            let name = ServerName::try_from(self.target.host.clone()).context("the server name")?;
            let tls = self.tls.connect(name, tcp).await.context("the TLS handshake")?;
            Ok(Box::new(tls))
        };
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(Ok(io)) => Ok(io),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(anyhow!("connecting took longer than {:?}", self.connect_timeout)),
        }
    }

    /// One POST of `body`; the answer's status.
    async fn post(&self, body: &WebhookBody) -> anyhow::Result<StatusCode> {
        let json = serde_json::to_vec(body)?;
        let io = self.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(conn);
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(&self.target.path)
            .header(http::header::HOST, &self.target.authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("openciam/", env!("CARGO_PKG_VERSION")),
            )
            .header("idempotency-key", &body.id);
        if let Some((name, value)) = &self.auth {
            request = request.header(name.clone(), value.clone());
        }
        let request = request.body(http_body_util::Full::new(bytes::Bytes::from(json)))?;
        let response = sender
            .send_request(request)
            .await
            .context("sending the request")?;
        Ok(response.status())
    }
}

/// A connection the webhook request runs on: plain TCP (loopback) or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// rustls on aws-lc-rs: the Mozilla roots plus `extra_ca_file`.
fn tls_config(config: &WebhookConfig) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &config.extra_ca_file {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let pem = std::fs::read(path)
            .with_context(|| format!("reading sms.webhook.extra_ca_file {}", path.display()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("sms.webhook.extra_ca_file {}: not PEM: {e}", path.display()))?;
        if certs.is_empty() {
            anyhow::bail!(
                "sms.webhook.extra_ca_file {}: no PEM certificate in it",
                path.display()
            );
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| anyhow!("sms.webhook.extra_ca_file {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

#[async_trait]
impl SmsSender for WebhookSms {
    async fn send(&self, tenant: &MailTenant, sms: &OutboundSms) -> Result<(), SmsError> {
        let body = Self::body(tenant, sms);
        let host = &self.target.host;
        let outcome = match tokio::time::timeout(self.timeout, self.post(&body)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(anyhow!("no answer within {:?}", self.timeout)),
        };
        match outcome {
            Ok(status) if status.is_success() => {
                tracing::debug!(sms = ?sms, %status, "SMS handed to the webhook");
                Ok(())
            }
            Ok(status) => {
                let error = anyhow!("the SMS webhook at {host} answered {status}");
                if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                    Err(SmsError::Unavailable(error))
                } else {
                    Err(SmsError::Rejected(error))
                }
            }
            Err(e) => Err(SmsError::Unavailable(
                e.context(format!("the SMS webhook at {host} could not be reached")),
            )),
        }
    }
}
