//! The composition of core services over one store and clock: what the HTTP layer and the CLI
//! hold.

use crate::admin::AdminService;
use crate::audit::{AuditConfig, AuditLog};
use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::directory::Directory;
use crate::flow::after::AfterFlowService;
use crate::flow::continuation::{ContinuationConfig, ContinuationTokens};
use crate::flow::reset::ResetService;
use crate::flow::second_factor::SecondFactorService;
use crate::flow::signin::SignInService;
use crate::flow::signup::SignUpService;
use crate::mail::Mailer;
use crate::mail::outbox::{Outbox, OutboxConfig};
use crate::ports::Store;
use crate::security::limiter::Limiter;
use crate::security::lockout::SmartLockout;
use crate::security::rate_limit::LimitProfile;
use crate::sms::SmsSender;
use crate::strategy::email_otp::{EmailOtp, OtpConfig};
use crate::strategy::password::{HasherConfig, PasswordHasher};
use crate::token::keys::KeyRing;
use crate::token::{TokenConfig, TokenIssuer};
use std::sync::Arc;

/// Settings of the core.
#[derive(Debug, Clone, Default)]
pub struct CoreConfig {
    /// Continuation-token and flow lifetimes.
    pub continuation: ContinuationConfig,
    /// Token lifetimes and issuer.
    pub tokens: TokenConfig,
    /// Password-hash pool.
    pub hasher: HasherConfig,
    /// One-time codes.
    pub otp: OtpConfig,
    /// The mail outbox (enumeration-protection mode).
    pub outbox: OutboxConfig,
    /// Audit-log retention.
    pub audit: AuditConfig,
    /// Request-rate limits (the `serve` profile by default).
    pub limits: LimitProfile,
}

/// Every service, wired.
pub struct Services {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Tenants, apps, scopes.
    pub directory: Directory,
    /// Password hashing.
    pub passwords: Arc<PasswordHasher>,
    /// Tokens.
    pub issuer: Arc<TokenIssuer>,
    /// Sign-in.
    pub signin: SignInService,
    /// Sign-up.
    pub signup: SignUpService,
    /// Password reset.
    pub reset: ResetService,
    /// E-mail codes.
    pub otp: Arc<EmailOtp>,
    /// Outgoing mail.
    pub mailer: Arc<dyn Mailer>,
    /// Outgoing text messages (the dev outbox in `openciam dev`, the `[sms]` provider in
    /// `serve`).
    pub sms: Arc<dyn SmsSender>,
    /// Mail recorded for background delivery (enumeration-protection mode); run its worker with
    /// [`Outbox::run`].
    pub outbox: Arc<Outbox>,
    /// The second factor: MFA and strong-auth method registration.
    pub second_factor: Arc<SecondFactorService>,
    /// Sign-in after sign-up or reset.
    pub after_flow: AfterFlowService,
    /// Administration.
    pub admin: AdminService,
    /// The audit log (writes, queries, retention purge).
    pub audit: AuditLog,
    /// Request-rate limits.
    pub limits: Limiter,
}

impl Services {
    /// Wires the services; loads (or creates) the signing keys.
    pub async fn build(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        master: &MasterKey,
        mailer: Arc<dyn Mailer>,
        sms: Arc<dyn SmsSender>,
        config: CoreConfig,
    ) -> anyhow::Result<Self> {
        // Every delivery is counted (`openciam_mails_total`, `openciam_sms_total`).
        let mailer: Arc<dyn Mailer> = Arc::new(crate::observe::CountingMailer(mailer));
        let sms: Arc<dyn SmsSender> = Arc::new(crate::observe::CountingSms(sms));
        let keys = KeyRing::load_or_create(store.as_ref(), master, clock.as_ref()).await?;
        let passwords = Arc::new(PasswordHasher::new(config.hasher)?);
        let issuer = Arc::new(TokenIssuer::new(
            store.clone(),
            clock.clone(),
            keys,
            config.tokens,
        ));
        let tokens = ContinuationTokens::new(store.clone(), clock.clone(), config.continuation);
        let outbox = Arc::new(Outbox::new(
            store.clone(),
            clock.clone(),
            mailer.clone(),
            master,
            config.outbox,
        )?);
        let otp = Arc::new(
            EmailOtp::new(
                store.clone(),
                clock.clone(),
                mailer.clone(),
                outbox.clone(),
                master.derive("otp-hmac"),
                config.otp,
            )
            .with_sms(sms.clone()),
        );
        let second = Arc::new(
            SecondFactorService::new(
                tokens.clone(),
                store.clone(),
                clock.clone(),
                otp.clone(),
                issuer.clone(),
            )
            .with_limits(Limiter::new(store.clone(), clock.clone(), config.limits)),
        );
        let signin = SignInService::new(
            tokens.clone(),
            store.clone(),
            passwords.clone(),
            otp.clone(),
            Arc::new(SmartLockout::new(
                store.clone(),
                clock.clone(),
                master.derive("lockout"),
            )),
            second.clone(),
        );
        let signup = SignUpService::new(
            clock.clone(),
            tokens.clone(),
            store.clone(),
            passwords.clone(),
            otp.clone(),
        );
        let reset = ResetService::new(
            clock.clone(),
            tokens.clone(),
            store.clone(),
            passwords.clone(),
            otp.clone(),
            mailer.clone(),
            outbox.clone(),
        );
        Ok(Self {
            audit: AuditLog::with_config(store.clone(), clock.clone(), config.audit),
            limits: Limiter::new(store.clone(), clock.clone(), config.limits),
            directory: Directory::new(store.clone()),
            signin,
            signup,
            reset,
            otp,
            mailer,
            sms,
            outbox,
            after_flow: AfterFlowService::new(tokens, store.clone(), second.clone()),
            second_factor: second,
            admin: AdminService::new(store.clone(), passwords.clone(), clock.clone()),
            passwords,
            issuer,
            store,
            clock,
        })
    }

    /// Admin-only wiring for CLI commands: no signing keys needed.
    pub fn admin_only(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: HasherConfig,
    ) -> anyhow::Result<AdminService> {
        let passwords = Arc::new(PasswordHasher::new(hasher)?);
        Ok(AdminService::new(store, passwords, clock))
    }
}
