//! Mail adapters for `openciam-core`'s [`Mailer`] port.
//!
//! * [`SmtpMailer`] delivers through an SMTP relay (`lettre`, rustls; plain, STARTTLS or implicit
//!   TLS; an extra trusted CA; optional AUTH; bounded by a timeout).
//! * [`DevMailbox`] keeps messages in memory for `openciam dev` and implements [`MailboxReader`]
//!   for `/_dev/mailbox`.
//!
//! Both render the same templates (embedded, overridable by files) with per-tenant sender and
//! product name. The binary calls [`build`] once at start-up; all configuration errors surface
//! there.

mod config;
mod dev_mailbox;
mod render;
mod smtp;
mod templates;

pub use config::{
    DEFAULT_PRODUCT_NAME, DEV_DEFAULT_FROM, MailBackend, MailConfig, SmtpConfig, SmtpTls, TemplateFiles,
    TemplatesConfig, TenantMailConfig,
};
pub use dev_mailbox::{DevMailbox, MAX_ADDRESSES, PER_ADDRESS, normalize_address};
pub use smtp::SmtpMailer;

use openciam_core::clock::Clock;
use openciam_core::mail::{MailError, MailTenant, MailboxReader, Mailer};
use openciam_core::sms::SmsSender;
use render::Renderer;
use std::sync::Arc;

/// The configured mail backend, built by [`build`].
#[derive(Clone)]
pub struct MailSetup {
    mailer: Arc<dyn Mailer>,
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Smtp(Arc<SmtpMailer>),
    Dev(Arc<DevMailbox>),
}

impl std::fmt::Debug for MailSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSetup")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl MailSetup {
    /// What the core's services send through.
    pub fn mailer(&self) -> Arc<dyn Mailer> {
        self.mailer.clone()
    }

    /// The dev mailbox, when `backend = "dev"`: mount `/_dev/mailbox` with it.
    pub fn dev_mailbox(&self) -> Option<Arc<DevMailbox>> {
        match &self.backend {
            Backend::Dev(mailbox) => Some(mailbox.clone()),
            Backend::Smtp(_) => None,
        }
    }

    /// The dev mailbox as the port's reader, when `backend = "dev"`.
    pub fn mailbox_reader(&self) -> Option<Arc<dyn MailboxReader>> {
        self.dev_mailbox().map(|m| m as Arc<dyn MailboxReader>)
    }

    /// The dev SMS outbox (the dev mailbox, `channel: "sms"`), when `backend = "dev"`.
    pub fn sms_outbox(&self) -> Option<Arc<dyn SmsSender>> {
        self.dev_mailbox().map(|m| m as Arc<dyn SmsSender>)
    }

    /// Which backend this is.
    pub fn backend(&self) -> MailBackend {
        match self.backend {
            Backend::Smtp(_) => MailBackend::Smtp,
            Backend::Dev(_) => MailBackend::Dev,
        }
    }

    /// Sends the `openciam mail test` message to `to`, branded for `tenant` (an unknown tenant name
    /// gets the defaults).
    pub async fn send_test(&self, tenant: &MailTenant, to: &str) -> Result<(), MailError> {
        match &self.backend {
            Backend::Smtp(smtp) => smtp.send_test(tenant, to).await,
            Backend::Dev(dev) => {
                dev.send_test(tenant, to);
                Ok(())
            }
        }
    }
}

/// Validates `config` (templates, senders, SMTP settings, secrets, CA file) and builds the backend.
/// Does not connect to the relay: use [`MailSetup::send_test`] for that. `clock` stamps dev mailbox
/// messages (`sent_at`, the `since` filter).
pub fn build(config: &MailConfig, clock: Arc<dyn Clock>) -> anyhow::Result<MailSetup> {
    let renderer = Arc::new(Renderer::from_config(config)?);
    let backend = match config.backend {
        MailBackend::Dev => Backend::Dev(Arc::new(DevMailbox::new(renderer, clock))),
        MailBackend::Smtp => {
            let smtp = config
                .smtp
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("mail.backend = \"smtp\" needs a [mail.smtp] section"))?;
            Backend::Smtp(Arc::new(SmtpMailer::new(smtp, renderer)?))
        }
    };
    let mailer: Arc<dyn Mailer> = match &backend {
        Backend::Smtp(smtp) => smtp.clone(),
        Backend::Dev(dev) => dev.clone(),
    };
    Ok(MailSetup { mailer, backend })
}
