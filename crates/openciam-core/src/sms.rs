//! The SMS port: what the core asks to be texted. Adapters deliver it (`openciam-sms`'s HTTPS
//! webhook) or keep it (the dev mailbox's SMS outbox, `channel: "sms"` in `/_dev/mailbox`).
//!
//! Like mail, an SMS is sent only after the flow state it belongs to is committed, and a
//! delivery failure answers 503 `temporarily_unavailable` with nothing advanced
//! ([`FlowError::SmsUnavailable`](crate::FlowError::SmsUnavailable)).

use crate::mail::{MailPurpose, MailTenant};
use crate::phone::PhoneNumber;
use async_trait::async_trait;

/// A text message the core wants delivered.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundSms {
    /// Recipient.
    pub to: PhoneNumber,
    /// The one-time code.
    pub code: String,
    /// What the code is for.
    pub purpose: MailPurpose,
    /// Minutes until it expires.
    pub expires_in_minutes: u32,
}

impl std::fmt::Debug for OutboundSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the code.
        write!(f, "Sms({:?}, {:?}, [redacted])", self.to, self.purpose)
    }
}

impl OutboundSms {
    /// The message text (plain ASCII, one GSM-7 segment).
    pub fn text(&self) -> String {
        format!(
            "{} is your verification code. It expires in {} minutes. Do not share it.",
            self.code, self.expires_in_minutes
        )
    }
}

/// Delivery failures (both answer 503: the user can do nothing about either but retry or pick
/// another method).
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// Transient: the provider is down, timed out, or answered 5xx/429.
    #[error("SMS could not be sent right now")]
    Unavailable(#[source] anyhow::Error),
    /// Permanent: the provider refused the message (4xx), or no provider is configured.
    #[error("SMS was rejected")]
    Rejected(#[source] anyhow::Error),
}

/// Sends text messages.
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Delivers one message for `tenant`.
    async fn send(&self, tenant: &MailTenant, sms: &OutboundSms) -> Result<(), SmsError>;
}

/// The sender of a server without an `[sms]` provider: every message is refused, so an SMS
/// method answers 503 instead of pretending a code went out.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSmsProvider;

#[async_trait]
impl SmsSender for NoSmsProvider {
    async fn send(&self, _tenant: &MailTenant, _sms: &OutboundSms) -> Result<(), SmsError> {
        Err(SmsError::Rejected(anyhow::anyhow!(
            "no SMS provider is configured ([sms] provider)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_carries_the_code_and_debug_hides_it() {
        let sms = OutboundSms {
            to: PhoneNumber::parse("+15551234567").unwrap(),
            code: "12345678".into(),
            purpose: MailPurpose::Signin,
            expires_in_minutes: 10,
        };
        assert!(sms.text().starts_with("12345678 is your verification code"));
        assert!(sms.text().contains("10 minutes"));
        assert!(sms.text().is_ascii());
        assert!(!format!("{sms:?}").contains("12345678"));
    }

    #[tokio::test]
    async fn without_a_provider_nothing_is_sent() {
        let sms = OutboundSms {
            to: PhoneNumber::parse("+15551234567").unwrap(),
            code: "1".into(),
            purpose: MailPurpose::Signin,
            expires_in_minutes: 10,
        };
        let tenant = MailTenant { name: "demo".into() };
        assert!(matches!(
            NoSmsProvider.send(&tenant, &sms).await,
            Err(SmsError::Rejected(_))
        ));
    }
}
