//! SMS adapters for `openciam-core`'s [`SmsSender`] port, chosen by `[sms] provider`:
//!
//! * `none` (default): [`NoSmsProvider`] refuses every message, so an SMS method answers 503
//!   instead of pretending a code went out.
//! * `webhook`: [`WebhookSms`] POSTs each message as JSON to an HTTPS endpoint the operator runs
//!   (or a provider's HTTP API behind a small relay). The body is documented in
//!   `docs/deployment.md` and in [`WebhookBody`].
//!
//! `openciam dev` does not read `[sms]`: its text messages go to the dev mailbox
//! (`openciam-mail`'s `DevMailbox`, `channel: "sms"`).

mod config;
mod webhook;

pub use config::{SmsConfig, SmsProvider, WebhookConfig};
pub use webhook::{WebhookBody, WebhookSms};

use openciam_core::sms::{NoSmsProvider, SmsSender};
use std::sync::Arc;

/// Validates `config` (URL, secret, CA file, timeouts) and builds the configured sender. Does
/// not connect anywhere.
pub fn build(config: &SmsConfig) -> anyhow::Result<Arc<dyn SmsSender>> {
    match config.provider {
        SmsProvider::None => Ok(Arc::new(NoSmsProvider)),
        SmsProvider::Webhook => {
            let webhook = config.webhook.as_ref().ok_or_else(|| {
                anyhow::anyhow!("sms.provider = \"webhook\" needs an [sms.webhook] section with a url")
            })?;
            Ok(Arc::new(WebhookSms::new(webhook)?))
        }
    }
}
