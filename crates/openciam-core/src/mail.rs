//! The mail port: what the core asks to be sent, and how the dev mailbox is read. Adapters
//! (`openciam-mail`) render templates and deliver (SMTP) or keep (dev mailbox) the messages.
//!
//! Mail is sent only after the flow state it belongs to is committed.

use async_trait::async_trait;

pub mod outbox;

/// Why a code was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailPurpose {
    /// Sign-up e-mail verification.
    Signup,
    /// E-mail code sign-in.
    Signin,
    /// Self-service password reset.
    Resetpassword,
}

impl MailPurpose {
    /// Wire/query name: `signup`, `signin`, `resetpassword`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Signin => "signin",
            Self::Resetpassword => "resetpassword",
        }
    }

    /// Inverse of [`MailPurpose::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "signup" => Some(Self::Signup),
            "signin" => Some(Self::Signin),
            "resetpassword" => Some(Self::Resetpassword),
            _ => None,
        }
    }
}

/// A message the core wants delivered. Values are raw; adapters escape them for HTML and headers.
#[derive(Clone, PartialEq, Eq)]
pub enum OutboundEmail {
    /// A one-time code.
    Otp {
        /// Recipient, as the user typed it.
        to: String,
        /// The code.
        code: String,
        /// What it is for.
        purpose: MailPurpose,
        /// Minutes until it expires.
        expires_in_minutes: u32,
    },
    /// "Your password was changed."
    PasswordChanged {
        /// Recipient.
        to: String,
    },
    /// "Someone tried to sign up with your address."
    SignupAttempt {
        /// Recipient.
        to: String,
    },
}

impl std::fmt::Debug for OutboundEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the code.
        match self {
            Self::Otp { purpose, .. } => write!(f, "Otp({purpose:?}, [redacted])"),
            Self::PasswordChanged { .. } => f.write_str("PasswordChanged"),
            Self::SignupAttempt { .. } => f.write_str("SignupAttempt"),
        }
    }
}

impl OutboundEmail {
    /// The recipient.
    pub fn to(&self) -> &str {
        match self {
            Self::Otp { to, .. } | Self::PasswordChanged { to } | Self::SignupAttempt { to } => to,
        }
    }
}

/// Whose mail it is: adapters pick the sender and product name per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTenant {
    /// Tenant short name.
    pub name: String,
}

/// Delivery failures.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Transient: the relay is down, timed out or refused temporarily. The request answers 503.
    #[error("mail could not be sent right now")]
    Unavailable(#[source] anyhow::Error),
    /// Permanent: e.g. the relay rejected the recipient.
    #[error("mail was rejected")]
    Rejected(#[source] anyhow::Error),
}

/// Sends mail.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Renders and delivers one message.
    async fn send(&self, tenant: &MailTenant, mail: &OutboundEmail) -> Result<(), MailError>;
}

/// How a kept message was "sent".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// E-mail.
    #[default]
    Email,
    /// Text message.
    Sms,
}

impl Channel {
    /// Wire/query name: `email`, `sms`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    /// Inverse of [`Channel::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

/// A message kept by the dev mailbox (mail, and the SMS outbox).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredMessage {
    /// `email` or `sms`.
    pub channel: Channel,
    /// Recipient as addressed (an SMS: E.164).
    pub to: String,
    /// Subject (an SMS: empty).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// The code, for code messages.
    pub code: Option<String>,
    /// The code's purpose.
    pub purpose: Option<MailPurpose>,
    /// Unix milliseconds.
    pub sent_at: i64,
}

/// Filter for reading the dev mailbox.
#[derive(Debug, Clone, Default)]
pub struct MailboxFilter {
    /// Recipient, matched in normalised form (a phone number as E.164).
    pub to: Option<String>,
    /// Channel.
    pub channel: Option<Channel>,
    /// Purpose.
    pub purpose: Option<MailPurpose>,
    /// Only messages sent at or after this time (Unix ms).
    pub since_ms: Option<i64>,
}

/// Read access to the dev mailbox (only in `openciam dev`).
pub trait MailboxReader: Send + Sync {
    /// Matching messages, newest first.
    fn messages(&self, filter: &MailboxFilter) -> Vec<StoredMessage>;
}
