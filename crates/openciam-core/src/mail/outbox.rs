//! The mail outbox, used by tenants in enumeration-protection mode: a request records its mail
//! (durably, in the database, so any node can deliver it) and answers at once; a background
//! worker delivers it. So the relay's latency and failures never show in the response, and a
//! request for an existing account looks the same as one for an unknown address (which mails
//! nothing at all).
//!
//! Invariants:
//! - Stored messages are sealed (AES-256-GCM) under a key derived from the master key and bound
//!   to the message id: a code in the outbox is as safe as a private signing key at rest.
//! - A worker claims messages with a lease ([`crate::ports::OutboxStore::claim_mail`]), so
//!   several nodes can run workers on one database; a worker that dies mid-send loses its claim
//!   when the lease ends and another sends the message (at least once).
//! - A failed delivery is retried with exponential backoff and given up (logged as an error)
//!   after [`OutboxConfig::max_attempts`] tries, or at once when the relay rejects the message.
//! - The worker is woken in-process by every enqueue, and polls otherwise (retries, other nodes'
//!   messages, messages left by a node that stopped).

use super::{MailError, MailPurpose, MailTenant, Mailer, OutboundEmail};
use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::error::{FlowError, FlowResult};
use crate::ports::{OutboxMail, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Outbox timing.
#[derive(Debug, Clone, Copy)]
pub struct OutboxConfig {
    /// How often an idle worker looks for due messages (default 5 s).
    pub poll_interval: Duration,
    /// How long a claim lasts before another worker may take the message (default 120 s; longer
    /// than an SMTP send with its timeouts).
    pub lease: Duration,
    /// Deliveries tried before a message is given up (default 10).
    pub max_attempts: i64,
    /// Wait after the first failure; doubles with each further one (default 5 s).
    pub first_backoff: Duration,
    /// Longest wait between tries (default 10 minutes).
    pub max_backoff: Duration,
    /// Messages claimed at once (default 20).
    pub batch: i64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            lease: Duration::from_secs(120),
            max_attempts: 10,
            first_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(600),
            batch: 20,
        }
    }
}

impl OutboxConfig {
    /// Seconds to wait after the `failures`-th failed delivery (1-based).
    pub fn backoff_secs(&self, failures: i64) -> i64 {
        let first = i64::try_from(self.first_backoff.as_secs()).unwrap_or(5).max(1);
        let max = i64::try_from(self.max_backoff.as_secs())
            .unwrap_or(600)
            .max(first);
        let doublings = u32::try_from((failures - 1).clamp(0, 30)).unwrap_or(30);
        first.saturating_mul(1_i64 << doublings).min(max)
    }
}

/// The stored form of an [`OutboundEmail`] (sealed as JSON).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Payload {
    Otp {
        to: String,
        code: String,
        purpose: MailPurpose,
        expires_in_minutes: u32,
    },
    PasswordChanged {
        to: String,
    },
    SignupAttempt {
        to: String,
    },
}

impl From<&OutboundEmail> for Payload {
    fn from(mail: &OutboundEmail) -> Self {
        match mail.clone() {
            OutboundEmail::Otp {
                to,
                code,
                purpose,
                expires_in_minutes,
            } => Self::Otp {
                to,
                code,
                purpose,
                expires_in_minutes,
            },
            OutboundEmail::PasswordChanged { to } => Self::PasswordChanged { to },
            OutboundEmail::SignupAttempt { to } => Self::SignupAttempt { to },
        }
    }
}

impl From<Payload> for OutboundEmail {
    fn from(p: Payload) -> Self {
        match p {
            Payload::Otp {
                to,
                code,
                purpose,
                expires_in_minutes,
            } => Self::Otp {
                to,
                code,
                purpose,
                expires_in_minutes,
            },
            Payload::PasswordChanged { to } => Self::PasswordChanged { to },
            Payload::SignupAttempt { to } => Self::SignupAttempt { to },
        }
    }
}

/// The outbox and its delivery worker.
pub struct Outbox {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mailer: Arc<dyn Mailer>,
    key: MasterKey,
    config: OutboxConfig,
    wake: Notify,
    delivered: AtomicU64,
    failures: AtomicU64,
}

impl Outbox {
    /// Creates the outbox; its sealing key is derived from `master`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        mailer: Arc<dyn Mailer>,
        master: &MasterKey,
        config: OutboxConfig,
    ) -> anyhow::Result<Self> {
        let key = MasterKey::from_bytes(&master.derive("mail-outbox"))?;
        Ok(Self {
            store,
            clock,
            mailer,
            key,
            config,
            wake: Notify::new(),
            delivered: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    /// Records `mail` for delivery and wakes this node's worker. Fails only when the database
    /// does (the same for every recipient).
    pub async fn enqueue(&self, tenant: &MailTenant, mail: &OutboundEmail) -> FlowResult<()> {
        let id = uuid::Uuid::new_v4().to_string();
        let plain = serde_json::to_vec(&Payload::from(mail)).map_err(|e| FlowError::Internal(e.into()))?;
        let record = OutboxMail {
            sealed: self.key.seal(id.as_bytes(), &plain),
            id,
            tenant_name: tenant.name.clone(),
            attempts: 0,
            created_at: self.clock.unix(),
        };
        self.store.enqueue_mail(&record).await?;
        tracing::debug!(mail = ?mail, "mail recorded in the outbox");
        self.wake();
        Ok(())
    }

    /// Makes the worker look for due messages now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Messages this process delivered.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::SeqCst)
    }

    /// Failed delivery attempts in this process.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }

    /// Runs the worker for as long as the process does.
    pub async fn run(self: Arc<Self>) {
        loop {
            if self.run_once().await > 0 {
                continue;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// Claims the messages due now and tries each once. Returns how many were claimed.
    pub async fn run_once(&self) -> usize {
        let now = self.clock.unix();
        let lease = uuid::Uuid::new_v4().to_string();
        let lease_secs = i64::try_from(self.config.lease.as_secs()).unwrap_or(120);
        let claimed = match self
            .store
            .claim_mail(now, now + lease_secs, &lease, self.config.batch)
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "mail outbox: claiming due messages failed; retrying later");
                return 0;
            }
        };
        let count = claimed.len();
        for mail in claimed {
            self.deliver(mail, &lease).await;
        }
        count
    }

    async fn deliver(&self, mail: OutboxMail, lease: &str) {
        let message = match self.open(&mail) {
            Ok(message) => message,
            Err(e) => {
                tracing::error!(id = %mail.id, error = %e, "mail outbox: message cannot be read (another master key?); dropped");
                self.forget(&mail, lease).await;
                return;
            }
        };
        let tenant = MailTenant {
            name: mail.tenant_name.clone(),
        };
        match self.mailer.send(&tenant, &message).await {
            Ok(()) => {
                self.forget(&mail, lease).await;
                self.delivered.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::SeqCst);
                self.failed(&mail, lease, &message, &e).await;
            }
        }
    }

    async fn failed(&self, mail: &OutboxMail, lease: &str, message: &OutboundEmail, error: &MailError) {
        let failures = mail.attempts + 1;
        let permanent = matches!(error, MailError::Rejected(_));
        if permanent || failures >= self.config.max_attempts {
            tracing::error!(
                id = %mail.id, mail = ?message, attempts = failures, error = ?error,
                "mail outbox: giving up on a message"
            );
            self.forget(mail, lease).await;
            return;
        }
        let next = self.clock.unix() + self.config.backoff_secs(failures);
        tracing::warn!(id = %mail.id, mail = ?message, attempts = failures, error = %error, "mail outbox: delivery failed; will retry");
        if let Err(e) = self.store.retry_mail(&mail.id, lease, next).await {
            tracing::warn!(id = %mail.id, error = %e, "mail outbox: could not schedule the retry; the lease will expire");
        }
    }

    async fn forget(&self, mail: &OutboxMail, lease: &str) {
        if let Err(e) = self.store.delete_mail(&mail.id, lease).await {
            tracing::warn!(id = %mail.id, error = %e, "mail outbox: could not delete a handled message");
        }
    }

    fn open(&self, mail: &OutboxMail) -> anyhow::Result<OutboundEmail> {
        let plain = self.key.open(mail.id.as_bytes(), &mail.sealed)?;
        let payload: Payload = serde_json::from_slice(&plain)?;
        Ok(payload.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = OutboxConfig::default();
        let waits: Vec<i64> = (1..=9).map(|n| c.backoff_secs(n)).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(c.backoff_secs(1000), 600);
    }

    #[test]
    fn payload_round_trips_every_message() {
        let mails = [
            OutboundEmail::Otp {
                to: "a@b.c".into(),
                code: "12345678".into(),
                purpose: MailPurpose::Resetpassword,
                expires_in_minutes: 10,
            },
            OutboundEmail::PasswordChanged { to: "a@b.c".into() },
            OutboundEmail::SignupAttempt { to: "a@b.c".into() },
        ];
        for mail in mails {
            let json = serde_json::to_vec(&Payload::from(&mail)).unwrap();
            let back: OutboundEmail = serde_json::from_slice::<Payload>(&json).unwrap().into();
            assert!(back == mail, "{mail:?}");
        }
    }
}
