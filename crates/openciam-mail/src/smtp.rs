//! [`SmtpMailer`]: delivers through an SMTP relay with `lettre` (tokio, rustls).
//!
//! Failures are sorted for the HTTP layer (spec §7.1: mail that could not be sent → 503): anything
//! that may work on a retry (connection refused, timeout, TLS or network trouble, a 4xx reply) is
//! [`MailError::Unavailable`]; a 5xx reply or an address lettre cannot encode is
//! [`MailError::Rejected`]. One send is bounded by `timeout_seconds` as a whole.

use crate::config::{SmtpConfig, SmtpTls};
use crate::render::{Rendered, Renderer};
use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use openciam_core::mail::{MailError, MailTenant, Mailer, OutboundEmail};
use secrecy::ExposeSecret as _;
use std::sync::Arc;
use std::time::Duration;

/// Sends mail through the configured relay.
pub struct SmtpMailer {
    renderer: Arc<Renderer>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    timeout: Duration,
    relay: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the transport from validated settings. Does not connect.
    pub(crate) fn new(config: &SmtpConfig, renderer: Arc<Renderer>) -> anyhow::Result<Self> {
        config.validate()?;
        let timeout = Duration::from_secs(config.timeout_seconds);
        let port = config.effective_port();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.trim())
            .port(port)
            .timeout(Some(timeout));
        builder = match (config.tls, tls_parameters(config)?) {
            (SmtpTls::Starttls, Some(params)) => builder.tls(Tls::Required(params)),
            (SmtpTls::Tls, Some(params)) => builder.tls(Tls::Wrapper(params)),
            _ => builder.tls(Tls::None),
        };
        if let (Some(user), Some(password)) = (&config.username, config.password()?) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            renderer,
            transport: builder.build(),
            timeout,
            relay: format!("{}:{port}", config.host.trim()),
        })
    }

    /// Sends the `openciam mail test` message to `to` with the tenant's branding.
    pub async fn send_test(&self, tenant: &MailTenant, to: &str) -> Result<(), MailError> {
        self.deliver(self.renderer.render_test(tenant, to)).await
    }

    async fn deliver(&self, rendered: Rendered) -> Result<(), MailError> {
        let message = build_message(rendered).map_err(MailError::Rejected)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(e, &self.relay)),
            Err(_) => Err(MailError::Unavailable(anyhow!(
                "sending through {} took longer than {:?}",
                self.relay,
                self.timeout
            ))),
        }
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, tenant: &MailTenant, mail: &OutboundEmail) -> Result<(), MailError> {
        let result = self.deliver(self.renderer.render(tenant, mail)).await;
        match &result {
            Ok(()) => tracing::debug!(mail = ?mail, "mail handed to the relay"),
            Err(e) => tracing::debug!(mail = ?mail, error = %e, "mail not sent"),
        }
        result
    }
}

const CERT_BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// TLS settings for STARTTLS/TLS: the built-in Mozilla roots plus `ca_file`. `None` for `tls = "none"`.
pub(crate) fn tls_parameters(config: &SmtpConfig) -> anyhow::Result<Option<TlsParameters>> {
    if config.tls == SmtpTls::None {
        return Ok(None);
    }
    let mut builder = TlsParameters::builder(config.host.trim().to_owned());
    if let Some(path) = &config.ca_file {
        let pem =
            std::fs::read(path).with_context(|| format!("reading mail.smtp.ca_file {}", path.display()))?;
        // lettre accepts a file without any certificate block; an empty trust addition is a
        // misconfiguration, so say so at start-up.
        if !pem.windows(CERT_BEGIN.len()).any(|w| w == CERT_BEGIN) {
            anyhow::bail!("mail.smtp.ca_file {}: no PEM certificate in it", path.display());
        }
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| anyhow!("mail.smtp.ca_file {}: not a PEM certificate: {e}", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    let params = builder
        .build_rustls()
        .context("mail.smtp: building the TLS settings")?;
    Ok(Some(params))
}

/// A multipart/alternative (text, HTML) message. lettre encodes every header itself, and the
/// subject is already one line, so no value can add a header.
fn build_message(r: Rendered) -> anyhow::Result<Message> {
    let to: Mailbox =
        r.to.parse()
            .map_err(|e| anyhow!("recipient is not a deliverable address: {e}"))?;
    // Why the sender's domain: a Message-ID naming the host we run on leaks infrastructure, and
    // filters compare it with the From domain.
    let message_id = format!("<{}@{}>", uuid::Uuid::new_v4().simple(), r.from.email.domain());
    Message::builder()
        .message_id(Some(message_id))
        .from(r.from)
        .to(to)
        .subject(r.subject)
        .multipart(MultiPart::alternative_plain_html(r.text, r.html))
        .context("building the message")
}

fn classify(e: lettre::transport::smtp::Error, relay: &str) -> MailError {
    let permanent = e.is_permanent();
    let e = anyhow::Error::new(e).context(format!("SMTP relay {relay}"));
    if permanent {
        MailError::Rejected(e)
    } else {
        MailError::Unavailable(e)
    }
}
