//! What the core reports to metrics, through the `metrics` facade (no I/O here: the binary
//! installs a Prometheus recorder; without one every call is a no-op). The names are listed in
//! the README's "Operations" section.
//!
//! Flow completions and lockouts are counted from the audit events ([`record_audit_event`]), so
//! the numbers and the audit log always agree.

use crate::audit::event;
use crate::ids::TenantId;
use crate::model::FlowKind;

/// Flows started, by `flow` and `tenant`.
pub const FLOWS_STARTED: &str = "openciam_flows_started_total";
/// Flows finished, by `flow`, `outcome` (`success` or `failure`) and `tenant`.
pub const FLOWS_COMPLETED: &str = "openciam_flows_completed_total";
/// Accounts locked by smart lockout, by `tenant`.
pub const LOCKOUTS: &str = "openciam_lockouts_total";
/// Audit events written, by `event`.
pub const AUDIT_EVENTS: &str = "openciam_audit_events_total";
/// Password hashes waiting for a slot in the hashing pool.
pub const HASH_QUEUE_DEPTH: &str = "openciam_password_hash_queue_depth";
/// Password hashes being computed now.
pub const HASH_IN_PROGRESS: &str = "openciam_password_hash_in_progress";

/// A flow was started.
pub fn flow_started(kind: FlowKind, tenant: TenantId) {
    metrics::counter!(FLOWS_STARTED, "flow" => kind.as_str(), "tenant" => tenant.to_string()).increment(1);
}

/// An audit event was written: counts it, and the flow completion or lockout it stands for.
pub fn record_audit_event(name: &'static str, tenant: Option<TenantId>) {
    metrics::counter!(AUDIT_EVENTS, "event" => name).increment(1);
    let tenant = tenant.map(|t| t.to_string()).unwrap_or_default();
    let completed = match name {
        event::SIGNIN_PASSWORD_SUCCESS | event::SIGNIN_CODE_SUCCESS => Some((FlowKind::SignIn, "success")),
        event::SIGNIN_PASSWORD_FAILURE | event::SIGNIN_CODE_FAILURE => Some((FlowKind::SignIn, "failure")),
        event::SIGNUP_COMPLETED => Some((FlowKind::SignUp, "success")),
        event::PASSWORD_RESET_COMPLETED => Some((FlowKind::ResetPassword, "success")),
        _ => None,
    };
    if let Some((kind, outcome)) = completed {
        metrics::counter!(FLOWS_COMPLETED, "flow" => kind.as_str(), "outcome" => outcome, "tenant" => tenant)
            .increment(1);
    } else if name == event::ACCOUNT_LOCKED {
        metrics::counter!(LOCKOUTS, "tenant" => tenant).increment(1);
    }
}

/// The hashing pool's state: `waiting` for a slot, `running` now.
pub fn hash_pool(waiting: usize, running: usize) {
    metrics::gauge!(HASH_QUEUE_DEPTH).set(waiting as f64);
    metrics::gauge!(HASH_IN_PROGRESS).set(running as f64);
}

/// Mail deliveries, by `result` (`sent` or `failed`).
pub const MAILS: &str = "openciam_mails_total";
/// Text-message deliveries, by `result` (`sent` or `failed`).
pub const SMS: &str = "openciam_sms_total";

fn result_label<T, E>(result: &Result<T, E>) -> &'static str {
    if result.is_ok() { "sent" } else { "failed" }
}

/// A [`Mailer`](crate::mail::Mailer) that counts its deliveries ([`MAILS`]).
pub struct CountingMailer(pub std::sync::Arc<dyn crate::mail::Mailer>);

#[async_trait::async_trait]
impl crate::mail::Mailer for CountingMailer {
    async fn send(
        &self,
        tenant: &crate::mail::MailTenant,
        mail: &crate::mail::OutboundEmail,
    ) -> Result<(), crate::mail::MailError> {
        let result = self.0.send(tenant, mail).await;
        metrics::counter!(MAILS, "result" => result_label(&result)).increment(1);
        result
    }
}

/// An [`SmsSender`](crate::sms::SmsSender) that counts its deliveries ([`SMS`]).
pub struct CountingSms(pub std::sync::Arc<dyn crate::sms::SmsSender>);

#[async_trait::async_trait]
impl crate::sms::SmsSender for CountingSms {
    async fn send(
        &self,
        tenant: &crate::mail::MailTenant,
        sms: &crate::sms::OutboundSms,
    ) -> Result<(), crate::sms::SmsError> {
        let result = self.0.send(tenant, sms).await;
        metrics::counter!(SMS, "result" => result_label(&result)).increment(1);
        result
    }
}
