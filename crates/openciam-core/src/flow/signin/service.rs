//! The sign-in service: one method per endpoint.

use super::state::SignInState;
use crate::audit::{Entry, event};
use crate::directory::{ClientContext, Directory, GrantedScopes};
use crate::error::{CodeProblem, FlowError, FlowResult};
use crate::flow::challenge::{ChallengeTypes, Method, Negotiated, negotiate_sign_in};
use crate::flow::continuation::{
    ContinuationTokens, Endpoint, IssuedToken, LoadedFlow, NewFlow, Step, Usage,
};
use crate::flow::phantom::{self, Phantom};
use crate::flow::second_factor::{CodeSent, SecondFactorService, TokenOutcome};
use crate::flow::signup::mask_email;
use crate::mail::MailPurpose;
use crate::model::{AuthMethodKind, FlowKind, User};
use crate::ports::Store;
use crate::secret::Password;
use crate::security::lockout::SmartLockout;
use crate::strategy::email_otp::{CodeTarget, Delivery, EmailOtp, SendHistory};
use crate::strategy::password::{PasswordHasher, needs_rehash};
use crate::username::Username;
use std::sync::Arc;

/// What `initiate` answers.
#[derive(Debug)]
pub enum InitiateOutcome {
    /// Continue at `challenge` with this token.
    Continue(IssuedToken),
    /// The client cannot do what this app needs: web fallback.
    Redirect(String),
}

/// What `challenge` answers.
#[derive(Debug)]
pub enum ChallengeOutcome {
    /// Ask for the password; the token is for the password grant.
    Password(IssuedToken),
    /// A code was sent; the token is for the oob grant (first factor; `mfa_oob` for the second)
    /// and resends.
    Oob {
        /// The token.
        token: IssuedToken,
        /// `email` (first factor, or an e-mail second factor) or `sms`.
        channel: AuthMethodKind,
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

impl From<CodeSent> for ChallengeOutcome {
    fn from(c: CodeSent) -> Self {
        Self::Oob {
            token: c.token,
            channel: c.channel,
            target_label: c.target_label,
            code_length: c.code_length,
            interval: c.interval,
        }
    }
}

/// Every flow kind whose tokens may reach sign-in endpoints in the second factor.
const SECOND_FACTOR_KINDS: [FlowKind; 3] = [FlowKind::SignIn, FlowKind::SignUp, FlowKind::ResetPassword];

/// Sign-in.
pub struct SignInService {
    tokens: ContinuationTokens,
    store: Arc<dyn Store>,
    directory: Directory,
    passwords: Arc<PasswordHasher>,
    otp: Arc<EmailOtp>,
    lockout: Arc<SmartLockout>,
    second: Arc<SecondFactorService>,
}

impl SignInService {
    /// Creates the service.
    pub fn new(
        tokens: ContinuationTokens,
        store: Arc<dyn Store>,
        passwords: Arc<PasswordHasher>,
        otp: Arc<EmailOtp>,
        lockout: Arc<SmartLockout>,
        second: Arc<SecondFactorService>,
    ) -> Self {
        let directory = Directory::new(store.clone());
        Self {
            tokens,
            store,
            directory,
            passwords,
            otp,
            lockout,
            second,
        }
    }

    /// `oauth2/v2.0/initiate`.
    pub async fn initiate(
        &self,
        ctx: &ClientContext,
        username: &str,
        challenge_types: &[String],
        capabilities: Vec<String>,
    ) -> FlowResult<InitiateOutcome> {
        let username = Username::parse(username).ok_or(FlowError::InvalidUsername)?;
        let types = ChallengeTypes::parse(challenge_types)?;
        let user = self
            .store
            .user_by_username(ctx.tenant.id, username.normalized())
            .await?;
        // Enumeration protection: an unknown address goes on as a user of this app would.
        let (user_id, has_password, phantom) = match &user {
            Some(user) => (Some(user.id), user.password_hash.is_some(), None),
            None if ctx.tenant.security.enumeration_protection => (None, true, Some(Phantom::of(&username))),
            None => return Err(FlowError::UserNotFound),
        };
        let method = match negotiate_sign_in(&ctx.app.method, has_password, &types) {
            Negotiated::Use(m) => m,
            Negotiated::Redirect(reason) => return Ok(InitiateOutcome::Redirect(reason)),
        };
        // A client that will not be able to do the second factor is sent to the browser now:
        // older Android builds read any 200 from `/token` as tokens (spec §4.3, §6.4).
        if let Some(user) = &user
            && let Some(reason) = self.second.redirect_at_initiate(ctx, user, &capabilities).await?
        {
            return Ok(InitiateOutcome::Redirect(reason));
        }
        let token = self
            .tokens
            .start(
                ctx,
                NewFlow {
                    kind: FlowKind::SignIn,
                    user_id,
                    state: phantom::mark(phantom.as_ref(), SignInState::Initiated { method }.to_json()),
                    challenge_types: types.to_strings(),
                    capabilities,
                    first_step: Step::SignInChallenge,
                },
            )
            .await?;
        Ok(InitiateOutcome::Continue(token))
    }

    async fn flow_user(&self, ctx: &ClientContext, loaded: &LoadedFlow) -> FlowResult<Option<User>> {
        match loaded.flow.user_id {
            Some(id) => Ok(self.store.user_by_id(ctx.tenant.id, id).await?),
            None => Ok(None),
        }
    }

    /// `oauth2/v2.0/challenge`: asks for the password, or mails a code (first time or resend);
    /// with a second-factor token, sends a code through the method `id` (or the default one).
    pub async fn challenge(
        &self,
        ctx: &ClientContext,
        token: &str,
        challenge_types: &[String],
        id: Option<&str>,
    ) -> FlowResult<ChallengeOutcome> {
        let loaded = self
            .tokens
            .load(
                ctx,
                &SECOND_FACTOR_KINDS,
                token,
                &Usage::at(Endpoint::SignInChallenge),
            )
            .await?;
        if loaded.step.is_second_factor() {
            return Ok(self.second.challenge(ctx, loaded, id).await?.into());
        }
        let types = ChallengeTypes::parse_or_stored(challenge_types, &loaded.flow.challenge_types)?;
        let phantom = Phantom::of_state(&loaded.flow.state);
        let (to, normalized, has_password, delivery) = match (self.flow_user(ctx, &loaded).await?, &phantom) {
            (Some(u), _) => {
                let delivery = if ctx.tenant.security.enumeration_protection {
                    Delivery::Outbox
                } else {
                    Delivery::Direct
                };
                (
                    u.username,
                    u.username_normalized,
                    u.password_hash.is_some(),
                    delivery,
                )
            }
            // A code for an unknown address is stored but sent to nobody.
            (None, Some(p)) => (p.username.clone(), p.normalized.clone(), true, Delivery::Nothing),
            (None, None) => return Err(FlowError::UserNotFound),
        };
        let method = match negotiate_sign_in(&ctx.app.method, has_password, &types) {
            Negotiated::Use(m) => m,
            Negotiated::Redirect(reason) => return Ok(ChallengeOutcome::Redirect(reason)),
        };
        let state = SignInState::from_json(&loaded.flow.state);
        if method == Method::Password {
            let next = self
                .tokens
                .advance(
                    &loaded,
                    &phantom::mark(phantom.as_ref(), SignInState::PasswordChallenged.to_json()),
                    None,
                    Some(Step::SignInPassword),
                )
                .await?
                .ok_or_else(no_token)?;
            return Ok(ChallengeOutcome::Password(next));
        }
        let history = match state {
            Some(SignInState::CodeSent { codes }) => codes,
            _ => SendHistory::default(),
        };
        let target = CodeTarget {
            tenant: ctx.tenant.id,
            tenant_name: &ctx.tenant.name,
            flow: loaded.flow.id,
            to: &to,
            normalized: &normalized,
            purpose: MailPurpose::Signin,
        };
        let codes = self.otp.send_via(&target, history, delivery).await?;
        let json = phantom::mark(phantom.as_ref(), SignInState::CodeSent { codes }.to_json());
        let token = self.tokens.code_sent(&loaded, &json, Step::SignInOob).await?;
        Ok(ChallengeOutcome::Oob {
            token,
            channel: AuthMethodKind::Email,
            target_label: mask_email(&to),
            code_length: self.otp.code_length(),
            interval: self.otp.interval_secs(),
        })
    }

    /// `oauth2/v2.0/token` with `grant_type=password`. A wrong password leaves the token valid.
    /// The token is checked before the password's presence, so a token sent with the wrong grant
    /// is diagnosed as such.
    pub async fn token_password(
        &self,
        ctx: &ClientContext,
        token: &str,
        password: Option<&Password>,
        scope: &[String],
    ) -> FlowResult<TokenOutcome> {
        let usage = Usage::with_grant(Endpoint::Token, "password");
        let loaded = self.tokens.load(ctx, &[FlowKind::SignIn], token, &usage).await?;
        let password = password.ok_or(FlowError::MissingParameter("password"))?;
        let scopes = self.directory.scopes(ctx, scope).await?;
        let user = self.flow_user(ctx, &loaded).await?;
        // Under enumeration protection an unknown address locks like an account does.
        let phantom = match (&user, Phantom::of_state(&loaded.flow.state)) {
            (None, Some(p)) => Some(self.lockout.phantom_id(ctx.tenant.id, &p.normalized)),
            _ => None,
        };
        // Smart lockout: while locked, answer at once (no hash, nothing counted, token kept).
        let prior = match phantom {
            Some(id) => self.lockout.check(ctx.tenant.id, id).await?,
            None => self.lockout.before_password(user.as_ref()).await?,
        };
        // A user deleted mid-flow still costs one hash, so timing reveals nothing.
        let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
        if !self.passwords.verify(password, hash).await? {
            let settings = &ctx.tenant.security.lockout;
            return Err(match phantom {
                Some(id) => {
                    self.lockout
                        .wrong_phantom_password(ctx.tenant.id, id, password, settings)
                        .await
                }
                None => {
                    self.lockout
                        .wrong_password(user.as_ref(), password, settings)
                        .await
                }
            });
        }
        let user = user.ok_or(FlowError::InvalidPassword)?;
        let tokens = self.complete(ctx, &loaded, &user, &scopes, None).await?;
        self.lockout.signed_in(&user, prior).await;
        self.upgrade_hash(&user, password).await;
        Ok(tokens)
    }

    /// After a successful password sign-in, replaces a hash that is not argon2id at today's
    /// parameters (an imported bcrypt, scrypt or PBKDF2 hash, or an older tuning). Best effort:
    /// the user is signed in whatever happens here, and the next sign-in tries again.
    async fn upgrade_hash(&self, user: &User, password: &Password) {
        let Some(old) = user.password_hash.as_deref() else {
            return;
        };
        if !needs_rehash(old) {
            return;
        }
        let new = match self.passwords.hash(password).await {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(user = %user.id, error = %e, "password hash upgrade skipped: hashing failed");
                return;
            }
        };
        // Compare-and-set on the old hash: a password changed meanwhile is never overwritten.
        match self
            .store
            .rehash_password(user.tenant_id, user.id, old, &new)
            .await
        {
            Ok(true) => tracing::info!(user = %user.id, "password hash upgraded to argon2id"),
            Ok(false) => tracing::debug!(user = %user.id, "password changed meanwhile; no upgrade"),
            Err(e) => {
                tracing::warn!(user = %user.id, error = %e, "password hash upgrade skipped: store failed");
            }
        }
    }

    /// `oauth2/v2.0/token` with `grant_type=oob` or `mfa_oob`: a first-factor code, or the
    /// second factor's, as the token says (spec §5.7.1). A wrong code leaves the token valid.
    pub async fn token_oob(
        &self,
        ctx: &ClientContext,
        token: &str,
        grant: &str,
        code: Option<&str>,
        scope: &[String],
    ) -> FlowResult<TokenOutcome> {
        let usage = Usage::with_grant(Endpoint::Token, grant);
        let loaded = self.tokens.load(ctx, &SECOND_FACTOR_KINDS, token, &usage).await?;
        let code = code.ok_or(FlowError::MissingParameter("oob"))?;
        let scopes = self.directory.scopes(ctx, scope).await?;
        if loaded.step.is_second_factor() {
            let tokens = self.second.token(ctx, loaded, code, &scopes).await?;
            return Ok(TokenOutcome::Tokens(tokens));
        }
        let verified = self.otp.verify(loaded.flow.id, code).await;
        let user = self.flow_user(ctx, &loaded).await?;
        if let (Err(e), Some(u)) = (&verified, &user) {
            self.audit_code_failure(u, e).await;
        }
        verified?;
        let user = user.ok_or(FlowError::UserNotFound)?;
        let verified = user.username_normalized.clone();
        let tokens = self
            .complete(ctx, &loaded, &user, &scopes, Some(&verified))
            .await?;
        let entry = Entry::new(event::SIGNIN_CODE_SUCCESS).user(&user);
        self.lockout.audit().record(entry).await;
        Ok(tokens)
    }

    async fn audit_code_failure(&self, user: &User, e: &FlowError) {
        let reason = match e {
            FlowError::InvalidCode(CodeProblem::Wrong) => "wrong_code",
            FlowError::InvalidCode(CodeProblem::Burnt) => "code_burnt",
            FlowError::InvalidCode(CodeProblem::Expired) => "code_expired",
            FlowError::InvalidCode(CodeProblem::NoCode) => "no_code",
            _ => "error",
        };
        let entry = Entry::new(event::SIGNIN_CODE_FAILURE)
            .user(user)
            .detail("reason", reason);
        self.lockout.audit().record(entry).await;
    }

    /// The first factor is proven: tokens, or the second factor's next step.
    async fn complete(
        &self,
        ctx: &ClientContext,
        loaded: &LoadedFlow,
        user: &User,
        scopes: &GrantedScopes,
        verified: Option<&str>,
    ) -> FlowResult<TokenOutcome> {
        let done = SignInState::Completed.to_json();
        self.second
            .after_first_factor(ctx, loaded, user, scopes, &done, verified)
            .await
    }
}

fn no_token() -> FlowError {
    FlowError::Internal(anyhow::anyhow!("advance issued no token"))
}
