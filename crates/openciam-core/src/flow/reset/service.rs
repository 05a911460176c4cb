//! The password-reset service: one method per endpoint.

use super::state::ResetState;
use crate::audit::{AuditLog, Entry, event};
use crate::clock::Clock;
use crate::directory::ClientContext;
use crate::error::{FlowError, FlowResult, TokenProblem};
use crate::flow::challenge::{ChallengeTypes, Negotiated, negotiate_reset};
use crate::flow::continuation::{
    ContinuationTokens, Endpoint, IssuedToken, LoadedFlow, NewFlow, Step, Usage,
};
use crate::flow::phantom::{self, Phantom};
use crate::flow::signup::mask_email;
use crate::mail::outbox::Outbox;
use crate::mail::{MailPurpose, MailTenant, Mailer, OutboundEmail};
use crate::model::{FlowKind, User};
use crate::ports::Store;
use crate::secret::Password;
use crate::strategy::email_otp::{CodeTarget, Delivery, EmailOtp};
use crate::strategy::password::PasswordHasher;
use crate::strategy::password_policy::PasswordPolicy;
use crate::username::Username;
use std::sync::Arc;

/// What reset `start` answers.
#[derive(Debug)]
pub enum ResetStartOutcome {
    /// Continue at `challenge`.
    Continue(IssuedToken),
    /// Web fallback.
    Redirect(String),
}

/// What reset `challenge` answers.
#[derive(Debug)]
pub enum ResetChallengeOutcome {
    /// A code was mailed.
    Oob {
        /// For `continue` and resends.
        token: IssuedToken,
        /// Masked address.
        target_label: String,
        /// Digits.
        code_length: u32,
        /// Seconds before a resend is accepted.
        interval: u64,
    },
    /// Web fallback.
    Redirect(String),
}

/// Password reset.
pub struct ResetService {
    clock: Arc<dyn Clock>,
    tokens: ContinuationTokens,
    store: Arc<dyn Store>,
    passwords: Arc<PasswordHasher>,
    otp: Arc<EmailOtp>,
    mailer: Arc<dyn Mailer>,
    outbox: Arc<Outbox>,
}

fn state_of(loaded: &LoadedFlow) -> FlowResult<ResetState> {
    ResetState::from_json(&loaded.flow.state)
        .ok_or_else(|| FlowError::Internal(anyhow::anyhow!("unreadable reset state")))
}

impl ResetService {
    /// Creates the service.
    pub fn new(
        clock: Arc<dyn Clock>,
        tokens: ContinuationTokens,
        store: Arc<dyn Store>,
        passwords: Arc<PasswordHasher>,
        otp: Arc<EmailOtp>,
        mailer: Arc<dyn Mailer>,
        outbox: Arc<Outbox>,
    ) -> Self {
        Self {
            clock,
            tokens,
            store,
            passwords,
            otp,
            mailer,
            outbox,
        }
    }

    async fn user(&self, ctx: &ClientContext, loaded: &LoadedFlow) -> FlowResult<User> {
        let id = loaded.flow.user_id.ok_or(FlowError::UserNotFound)?;
        self.store
            .user_by_id(ctx.tenant.id, id)
            .await?
            .ok_or(FlowError::UserNotFound)
    }

    /// Mail for real accounts: through the outbox under enumeration protection, else now.
    fn delivery(&self, ctx: &ClientContext) -> Delivery {
        if ctx.tenant.security.enumeration_protection {
            Delivery::Outbox
        } else {
            Delivery::Direct
        }
    }

    /// `resetpassword/v1.0/start`.
    pub async fn start(
        &self,
        ctx: &ClientContext,
        username: &str,
        challenge_types: &[String],
        capabilities: Vec<String>,
    ) -> FlowResult<ResetStartOutcome> {
        let username = Username::parse(username).ok_or(FlowError::InvalidUsername)?;
        let types = ChallengeTypes::parse(challenge_types)?;
        if let Negotiated::Redirect(reason) = negotiate_reset(&types) {
            return Ok(ResetStartOutcome::Redirect(reason));
        }
        let user = self
            .store
            .user_by_username(ctx.tenant.id, username.normalized())
            .await?;
        // Enumeration protection: an unknown address, or an account without a password (which
        // has nothing to reset), goes on as an account with a password would, and is sent nothing.
        let protect = ctx.tenant.security.enumeration_protection;
        let (user_id, phantom) = match user {
            Some(user) if user.password_hash.is_some() => (Some(user.id), None),
            Some(_) if !protect => return Err(FlowError::NoPassword),
            None if !protect => return Err(FlowError::UserNotFound),
            Some(_) | None => (None, Some(Phantom::of(&username))),
        };
        let state = ResetState {
            codes: Default::default(),
            verified: false,
            done: false,
        };
        let token = self
            .tokens
            .start(
                ctx,
                NewFlow {
                    kind: FlowKind::ResetPassword,
                    user_id,
                    state: phantom::mark(phantom.as_ref(), state.to_json()),
                    challenge_types: types.to_strings(),
                    capabilities,
                    first_step: Step::ResetChallenge,
                },
            )
            .await?;
        Ok(ResetStartOutcome::Continue(token))
    }

    /// `resetpassword/v1.0/challenge`: mails a code (first time or resend).
    pub async fn challenge(
        &self,
        ctx: &ClientContext,
        token: &str,
        challenge_types: &[String],
    ) -> FlowResult<ResetChallengeOutcome> {
        let usage = Usage::at(Endpoint::ResetChallenge);
        let loaded = self
            .tokens
            .load(ctx, &[FlowKind::ResetPassword], token, &usage)
            .await?;
        let types = ChallengeTypes::parse_or_stored(challenge_types, &loaded.flow.challenge_types)?;
        if let Negotiated::Redirect(reason) = negotiate_reset(&types) {
            return Ok(ResetChallengeOutcome::Redirect(reason));
        }
        let phantom = Phantom::of_state(&loaded.flow.state);
        let (to, normalized, delivery) = match &phantom {
            // A code for an unknown address is stored but sent to nobody.
            Some(p) => (p.username.clone(), p.normalized.clone(), Delivery::Nothing),
            None => {
                let user = self.user(ctx, &loaded).await?;
                (user.username, user.username_normalized, self.delivery(ctx))
            }
        };
        let mut state = state_of(&loaded)?;
        let target = CodeTarget {
            tenant: ctx.tenant.id,
            tenant_name: &ctx.tenant.name,
            flow: loaded.flow.id,
            to: &to,
            normalized: &normalized,
            purpose: MailPurpose::Resetpassword,
        };
        state.codes = self.otp.send_via(&target, state.codes, delivery).await?;
        let json = phantom::mark(phantom.as_ref(), state.to_json());
        let token = self.tokens.code_sent(&loaded, &json, Step::ResetOob).await?;
        Ok(ResetChallengeOutcome::Oob {
            token,
            target_label: mask_email(&to),
            code_length: self.otp.code_length(),
            interval: self.otp.interval_secs(),
        })
    }

    /// `resetpassword/v1.0/continue` with `grant_type=oob`.
    pub async fn continue_(
        &self,
        ctx: &ClientContext,
        token: &str,
        grant_type: &str,
        code: Option<&str>,
    ) -> FlowResult<IssuedToken> {
        let usage = Usage::with_grant(Endpoint::ResetContinue, grant_type);
        let loaded = self
            .tokens
            .load(ctx, &[FlowKind::ResetPassword], token, &usage)
            .await?;
        let code = code.ok_or(FlowError::MissingParameter("oob"))?;
        self.otp.verify(loaded.flow.id, code).await?;
        if Phantom::of_state(&loaded.flow.state).is_some() {
            // Nobody was told this code; a lucky guess is still a wrong code.
            return Err(FlowError::InvalidCode(crate::error::CodeProblem::Wrong));
        }
        let mut state = state_of(&loaded)?;
        state.verified = true;
        self.tokens
            .advance(&loaded, &state.to_json(), None, Some(Step::ResetSubmit))
            .await?
            .ok_or_else(no_token)
    }

    /// `resetpassword/v1.0/submit`: checks the policy and resets, synchronously.
    pub async fn submit(
        &self,
        ctx: &ClientContext,
        token: &str,
        new_password: Option<&Password>,
    ) -> FlowResult<IssuedToken> {
        let loaded = self
            .tokens
            .load(
                ctx,
                &[FlowKind::ResetPassword],
                token,
                &Usage::at(Endpoint::ResetSubmit),
            )
            .await?;
        let password = new_password.ok_or(FlowError::MissingParameter("new_password"))?;
        PasswordPolicy::new(ctx.tenant.password_policy)
            .check(password.expose())
            .map_err(FlowError::PasswordPolicy)?;
        let user = self.user(ctx, &loaded).await?;
        if self
            .passwords
            .verify(password, user.password_hash.as_deref())
            .await?
        {
            return Err(FlowError::PasswordRecentlyUsed);
        }
        let hash = self.passwords.hash(password).await?;
        let mut state = state_of(&loaded)?;
        state.done = true;
        let now = self.clock.unix();
        let (issued, record) = self.tokens.mint_next(&loaded, Step::ResetPoll, now);
        let ok = self
            .store
            .advance_flow_resetting_password(
                loaded.flow.id,
                loaded.flow.generation,
                &state.to_json(),
                user.id,
                &hash,
                now,
                Some(&record),
            )
            .await?;
        if !ok {
            return Err(FlowError::TokenInvalid(TokenProblem::Superseded));
        }
        tracing::info!(user = %user.id, tenant = %ctx.tenant.name, "password reset; sessions revoked");
        self.after_reset(&user).await;
        let mail = OutboundEmail::PasswordChanged {
            to: user.username.clone(),
        };
        let tenant = MailTenant {
            name: ctx.tenant.name.clone(),
        };
        let sent = match self.delivery(ctx) {
            Delivery::Outbox => self
                .outbox
                .enqueue(&tenant, &mail)
                .await
                .map_err(anyhow::Error::from),
            _ => self
                .mailer
                .send(&tenant, &mail)
                .await
                .map_err(anyhow::Error::from),
        };
        if let Err(e) = sent {
            // The reset is done; a lost notice must not undo it or fail the request.
            tracing::warn!(error = %e, user = %user.id, "could not send the password-changed notice");
        }
        Ok(issued)
    }

    /// `resetpassword/v1.0/poll_completion`: the reset is done, so every poll succeeds with a final
    /// token for `/token`. Polling does not advance the flow, so the submit token keeps working.
    pub async fn poll(&self, ctx: &ClientContext, token: &str) -> FlowResult<IssuedToken> {
        let loaded = self
            .tokens
            .load(
                ctx,
                &[FlowKind::ResetPassword],
                token,
                &Usage::at(Endpoint::ResetPoll),
            )
            .await?;
        let state = state_of(&loaded)?;
        self.tokens
            .reissue(&loaded, &state.to_json(), Step::SignInAfterFlow)
            .await
    }
}

impl ResetService {
    /// A reset proves control of the mailbox, so it ends any smart lockout; and it is audited.
    /// Best effort: the new password is already stored.
    async fn after_reset(&self, user: &User) {
        if let Err(e) = self.store.clear_lockout(user.tenant_id, user.id).await {
            tracing::warn!(user = %user.id, error = %e, "clearing the lockout after a reset failed");
        }
        AuditLog::new(self.store.clone(), self.clock.clone())
            .record(Entry::new(event::PASSWORD_RESET_COMPLETED).user(user))
            .await;
    }
}

fn no_token() -> FlowError {
    FlowError::Internal(anyhow::anyhow!("advance issued no token"))
}
