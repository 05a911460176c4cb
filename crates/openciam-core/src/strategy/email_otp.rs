//! E-mail one-time codes: 8 digits from a CSPRNG, stored only as an HMAC under a key derived from
//! the master key, valid `code_ttl` (shorter than the continuation token), at most `max_attempts`
//! tries. The try counter is incremented atomically in the store *before* the comparison, and the
//! comparison is constant-time, so parallel guesses cannot exceed the limit. A resend replaces the
//! code (the old one stops working); resends are spaced by `resend_interval` and capped per flow
//! and per address.
//!
//! The code is mailed before its hash is stored: when the mail cannot be sent, nothing changes
//! (the previous code stays valid and the flow does not advance). Under enumeration protection
//! ([`Delivery`]) the mail goes through the outbox instead, and for an address with no account a
//! code is still generated and stored, with the same limits, but never sent to anyone: a code
//! sent to it is wrong, exactly as a wrong code for a real account.

use crate::audit::{AuditLog, Entry, event};
use crate::clock::Clock;
use crate::error::{CodeProblem, FlowError, FlowResult};
use crate::ids::{FlowId, TenantId};
use crate::mail::outbox::Outbox;
use crate::mail::{MailError, MailPurpose, MailTenant, Mailer, OutboundEmail};
use crate::model::{OtpAttempt, OtpRecord};
use crate::phone::PhoneNumber;
use crate::ports::Store;
use crate::sms::{NoSmsProvider, OutboundSms, SmsSender};
use rand::Rng as _;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq as _;

/// Code rules.
#[derive(Debug, Clone, Copy)]
pub struct OtpConfig {
    /// Digits per code.
    pub code_length: u32,
    /// How long a code lives (default 10 minutes).
    pub code_ttl: Duration,
    /// Wrong tries before the code is burnt (default 5).
    pub max_attempts: i64,
    /// Minimum spacing of codes in one flow (default 60 s; 0 in tests).
    pub resend_interval: Duration,
    /// Codes per flow (default 10).
    pub max_per_flow: u32,
    /// Codes per address per hour, across flows (default 20).
    pub max_per_address_per_hour: i64,
}

impl Default for OtpConfig {
    fn default() -> Self {
        Self {
            code_length: 8,
            code_ttl: Duration::from_secs(600),
            max_attempts: 5,
            resend_interval: Duration::from_secs(60),
            max_per_flow: 10,
            max_per_address_per_hour: 20,
        }
    }
}

/// What the flow remembers about codes sent (kept in its state).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SendHistory {
    /// Codes sent in this flow.
    pub sent: u32,
    /// When the last one was sent (Unix seconds).
    pub last_sent_at: Option<i64>,
}

/// Where a code goes.
#[derive(Debug, Clone)]
pub struct CodeTarget<'a> {
    /// Tenant.
    pub tenant: TenantId,
    /// Tenant name (mail sender and product per tenant).
    pub tenant_name: &'a str,
    /// The flow.
    pub flow: FlowId,
    /// Address as typed.
    pub to: &'a str,
    /// Normalised address.
    pub normalized: &'a str,
    /// Why.
    pub purpose: MailPurpose,
}

/// How a new code is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Mail it now; a relay failure is `MailUnavailable` and nothing changes.
    Direct,
    /// Record its mail in the outbox (enumeration protection: the relay's latency and failures
    /// must not show).
    Outbox,
    /// Record this message instead of the code in the outbox: nobody learns the code (a sign-up
    /// for an address that has an account tells the owner).
    Notice(OutboundEmail),
    /// Send nothing: nobody learns the code (an address with no account).
    Nothing,
}

/// How one code travels.
enum Route {
    /// By e-mail.
    Mail(Delivery),
    /// By SMS (through [`EmailOtp::with_sms`]'s sender).
    Sms,
}

/// The one-time code strategy: e-mailed codes, and the same codes by SMS for the second factor.
pub struct EmailOtp {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mailer: Arc<dyn Mailer>,
    sms: Arc<dyn SmsSender>,
    outbox: Arc<Outbox>,
    key: [u8; 32],
    config: OtpConfig,
}

impl EmailOtp {
    /// Creates the strategy; `key` is the HMAC key (derived from the master key).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        mailer: Arc<dyn Mailer>,
        outbox: Arc<Outbox>,
        key: [u8; 32],
        config: OtpConfig,
    ) -> Self {
        Self {
            store,
            clock,
            mailer,
            sms: Arc::new(NoSmsProvider),
            outbox,
            key,
            config,
        }
    }

    /// Sends SMS codes through `sender` (without it, every SMS is refused: 503).
    #[must_use]
    pub fn with_sms(mut self, sender: Arc<dyn SmsSender>) -> Self {
        self.sms = sender;
        self
    }

    /// Digits per code.
    pub fn code_length(&self) -> u32 {
        self.config.code_length
    }

    /// The resend interval, seconds.
    pub fn interval_secs(&self) -> u64 {
        self.config.resend_interval.as_secs()
    }

    fn hash(&self, flow: FlowId, code: &str) -> Vec<u8> {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.key);
        let message = format!("{flow}:{code}");
        aws_lc_rs::hmac::sign(&key, message.as_bytes()).as_ref().to_vec()
    }

    fn generate(&self) -> String {
        let mut rng = rand::rng();
        (0..self.config.code_length)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect()
    }

    /// Sends a new code (invalidating the previous one) and returns the updated history.
    /// Refused with `TooManyCodes` when too soon or over a cap; `MailUnavailable` when the mail
    /// could not be sent (then nothing changed).
    pub async fn send(&self, target: &CodeTarget<'_>, history: SendHistory) -> FlowResult<SendHistory> {
        self.send_via(target, history, Delivery::Direct).await
    }

    /// [`EmailOtp::send`], delivering as `delivery` says. Every delivery applies the same spacing
    /// and caps and stores a new code, so the answers cannot tell them apart.
    pub async fn send_via(
        &self,
        target: &CodeTarget<'_>,
        history: SendHistory,
        delivery: Delivery,
    ) -> FlowResult<SendHistory> {
        self.issue(target, history, Route::Mail(delivery)).await
    }

    /// Sends a new code by SMS to `target.to` (an E.164 number), under exactly the rules of an
    /// e-mailed code (spacing, per-flow and per-target caps, expiry, tries). A provider failure
    /// is `SmsUnavailable` and nothing changes.
    pub async fn send_sms(&self, target: &CodeTarget<'_>, history: SendHistory) -> FlowResult<SendHistory> {
        self.issue(target, history, Route::Sms).await
    }

    async fn issue(
        &self,
        target: &CodeTarget<'_>,
        history: SendHistory,
        route: Route,
    ) -> FlowResult<SendHistory> {
        let now = self.clock.unix();
        let interval = i64::try_from(self.config.resend_interval.as_secs()).unwrap_or(60);
        if let Some(last) = history.last_sent_at
            && now < last + interval
        {
            let wait = u64::try_from(last + interval - now).unwrap_or(1);
            return Err(FlowError::TooManyCodes {
                retry_after: Some(wait),
            });
        }
        if history.sent >= self.config.max_per_flow {
            return Err(FlowError::TooManyCodes { retry_after: None });
        }
        let phone = match &route {
            Route::Sms => {
                Some(PhoneNumber::parse(target.to).map_err(|why| FlowError::invalid_phone(target.to, why))?)
            }
            Route::Mail(_) => None,
        };
        let reserved = self
            .store
            .reserve_code_send(
                target.tenant,
                target.normalized,
                now,
                now - 3600,
                self.config.max_per_address_per_hour,
            )
            .await?;
        if !reserved {
            return Err(FlowError::TooManyCodes {
                retry_after: Some(3600),
            });
        }
        let code = self.generate();
        let minutes = u32::try_from(self.config.code_ttl.as_secs().div_ceil(60)).unwrap_or(10);
        let tenant = MailTenant {
            name: target.tenant_name.to_owned(),
        };
        let via = match (&route, phone) {
            (Route::Sms, Some(to)) => {
                let sms = OutboundSms {
                    to,
                    code: code.clone(),
                    purpose: target.purpose,
                    expires_in_minutes: minutes,
                };
                self.sms.send(&tenant, &sms).await?;
                "sms"
            }
            (Route::Sms, None) => return Err(FlowError::Internal(anyhow::anyhow!("SMS without a number"))),
            (Route::Mail(delivery), _) => {
                let mail = OutboundEmail::Otp {
                    to: target.to.to_owned(),
                    code: code.clone(),
                    purpose: target.purpose,
                    expires_in_minutes: minutes,
                };
                let via = match delivery {
                    Delivery::Direct => "direct",
                    Delivery::Outbox => "outbox",
                    Delivery::Notice(_) => "notice",
                    Delivery::Nothing => "none",
                };
                match delivery {
                    Delivery::Direct => self.mailer.send(&tenant, &mail).await.map_err(|e| match e {
                        MailError::Unavailable(e) | MailError::Rejected(e) => FlowError::MailUnavailable(e),
                    })?,
                    Delivery::Outbox => self.outbox.enqueue(&tenant, &mail).await?,
                    Delivery::Notice(notice) => self.outbox.enqueue(&tenant, notice).await?,
                    Delivery::Nothing => {}
                }
                via
            }
        };
        let record = OtpRecord {
            flow_id: target.flow,
            code_hash: self.hash(target.flow, &code),
            address: target.normalized.to_owned(),
            created_at: now,
            expires_at: now + i64::try_from(self.config.code_ttl.as_secs()).unwrap_or(600),
        };
        self.store.put_otp(&record).await?;
        let sent = Entry::new(event::CODE_SENT)
            .tenant(target.tenant)
            .username(target.normalized)
            .detail("purpose", target.purpose.as_str())
            .detail("delivery", via);
        AuditLog::new(self.store.clone(), self.clock.clone())
            .record(sent)
            .await;
        Ok(SendHistory {
            sent: history.sent + 1,
            last_sent_at: Some(now),
        })
    }

    /// Checks a code for a flow and consumes it on success.
    pub async fn verify(&self, flow: FlowId, code: &str) -> FlowResult<()> {
        let now = self.clock.unix();
        let attempt = self
            .store
            .attempt_otp(flow, now, self.config.max_attempts)
            .await?;
        let stored = match attempt {
            OtpAttempt::Check { code_hash, .. } => code_hash,
            OtpAttempt::Exhausted => return Err(FlowError::InvalidCode(CodeProblem::Burnt)),
            OtpAttempt::Expired => return Err(FlowError::InvalidCode(CodeProblem::Expired)),
            OtpAttempt::NoCode | OtpAttempt::Used => return Err(FlowError::InvalidCode(CodeProblem::NoCode)),
        };
        let candidate = self.hash(flow, code.trim());
        if !bool::from(candidate.ct_eq(&stored)) {
            return Err(FlowError::InvalidCode(CodeProblem::Wrong));
        }
        if !self.store.consume_otp(flow, &stored, now).await? {
            return Err(FlowError::InvalidCode(CodeProblem::NoCode));
        }
        Ok(())
    }
}
