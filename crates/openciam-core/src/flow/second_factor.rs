//! The second factor at the end of sign-in, sign-up and password reset (spec §3.3, §3.4, §5.6,
//! §5.8–5.10).
//!
//! ```mermaid
//! stateDiagram-v2
//!     FirstFactorDone --> Tokens: policy off (or already satisfied)
//!     FirstFactorDone --> MfaRequired: /token 400 mfa_required (user has a method)
//!     FirstFactorDone --> RegisterRequired: /token 400 registration_required (user has none)
//!     MfaRequired --> MfaRequired: oauth2 introspect (methods listed)
//!     MfaRequired --> MfaCodeSent: oauth2 challenge (id, or the default method)
//!     MfaCodeSent --> MfaCodeSent: challenge again (resend / other method)
//!     MfaCodeSent --> Tokens: /token mfa_oob (or oob)
//!     RegisterRequired --> RegisterChosen: register introspect
//!     RegisterChosen --> RegisterCodeSent: register challenge (code to the target)
//!     RegisterChosen --> RegisterPreverified: register challenge (target verified in this flow)
//!     RegisterCodeSent --> RegisterCodeSent: register challenge again (resend / other target)
//!     RegisterCodeSent --> Satisfied: register continue oob (method stored)
//!     RegisterPreverified --> Satisfied: register continue continuation_token (method stored)
//!     Satisfied --> Tokens: /token continuation_token
//! ```
//!
//! Codes follow the first-factor rules exactly ([`EmailOtp`]: expiry, tries, resend spacing,
//! per-flow and per-target caps); an SMS differs only in how the code travels.

use crate::audit::{AuditLog, Entry, event};
use crate::clock::Clock;
use crate::directory::{ClientContext, GrantedScopes};
use crate::error::{CodeProblem, FlowError, FlowResult};
use crate::flow::challenge::{SecondFactorNeed, negotiate_second_factor};
use crate::flow::continuation::{ContinuationTokens, Endpoint, IssuedToken, LoadedFlow, Step, Usage};
use crate::ids::AuthMethodId;
use crate::mail::MailPurpose;
use crate::mfa::MfaPolicy;
use crate::mfa::methods::{default_method, masked_target};
use crate::model::{AuthMethod, AuthMethodKind, FlowKind, User};
use crate::phone::PhoneNumber;
use crate::ports::{Store, StoreError};
use crate::security::limiter::Limiter;
use crate::strategy::email_otp::{CodeTarget, EmailOtp, SendHistory};
use crate::token::{TokenIssuer, TokenSet};
use crate::username::Username;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Every flow kind whose final `/token` call may need a second factor.
const ALL_KINDS: [FlowKind; 3] = [FlowKind::SignIn, FlowKind::SignUp, FlowKind::ResetPassword];

/// What a `/token` call that proved the first factor answers.
#[derive(Debug)]
pub enum TokenOutcome {
    /// Signed in.
    Tokens(TokenSet),
    /// 400 `invalid_grant` + `mfa_required`, with this token.
    MfaRequired(IssuedToken),
    /// 400 `invalid_grant` + `registration_required`, with this token.
    RegistrationRequired(IssuedToken),
    /// The client lacks the capability: web fallback.
    Redirect(String),
}

/// One method as introspect lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodView {
    /// Stable id (`email` / `sms` at register introspect).
    pub id: String,
    /// Channel.
    pub channel: AuthMethodKind,
    /// Masked target.
    pub login_hint: String,
}

/// A code sent by an MFA or registration challenge.
#[derive(Debug)]
pub struct CodeSent {
    /// The next token.
    pub token: IssuedToken,
    /// Channel.
    pub channel: AuthMethodKind,
    /// Masked target (MFA) or the target as typed (registration echoes it).
    pub target_label: String,
    /// Digits.
    pub code_length: u32,
    /// Seconds before a resend is accepted.
    pub interval: u64,
}

/// What `register/v1.0/challenge` answers.
#[derive(Debug)]
pub enum RegisterChallengeOutcome {
    /// A code was sent to the target.
    Oob(CodeSent),
    /// The target was verified earlier in this flow: no code needed.
    Preverified(IssuedToken),
}

/// Second-factor state, stored as the flow's JSON once the first factor is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SecondFactorState {
    /// `/token` answered `mfa_required`.
    MfaRequired,
    /// A code went to `method`.
    MfaCodeSent {
        /// The method challenged last (only its newest code counts).
        method: AuthMethodId,
        /// Codes sent in this flow.
        codes: SendHistory,
    },
    /// `/token` answered `registration_required`.
    RegisterRequired {
        /// Addresses proven earlier in this flow (normalised): registering one needs no code.
        verified: Vec<String>,
    },
    /// A registration code went to `target`.
    RegisterCodeSent {
        /// Channel.
        kind: AuthMethodKind,
        /// Normalised target.
        target: String,
        /// Codes sent in this flow.
        codes: SendHistory,
        /// As in `RegisterRequired`.
        verified: Vec<String>,
    },
    /// The target needs no code.
    RegisterPreverified {
        /// Channel.
        kind: AuthMethodKind,
        /// Normalised target.
        target: String,
    },
    /// A method was registered (and so proven) in this flow: only the tokens remain.
    Satisfied,
}

impl SecondFactorState {
    /// As stored.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// From the stored JSON; `None` for another flow state.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(v.clone()).ok()
    }
}

/// The second factor.
pub struct SecondFactorService {
    tokens: ContinuationTokens,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    otp: Arc<EmailOtp>,
    issuer: Arc<TokenIssuer>,
    audit: AuditLog,
    /// Counts text messages against the toll-fraud limits (per number, per country code).
    limits: Option<Limiter>,
}

impl SecondFactorService {
    /// Creates the service.
    pub fn new(
        tokens: ContinuationTokens,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        otp: Arc<EmailOtp>,
        issuer: Arc<TokenIssuer>,
    ) -> Self {
        let audit = AuditLog::new(store.clone(), clock.clone());
        Self {
            tokens,
            store,
            clock,
            otp,
            issuer,
            audit,
            limits: None,
        }
    }

    /// Counts every text message against `limits`' toll-fraud limits (`sms_number`,
    /// `sms_country`) before its code is issued: over a limit the challenge answers 429 and
    /// nothing changes.
    #[must_use]
    pub fn with_limits(mut self, limits: Limiter) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The user's methods that the policy allows, oldest first.
    async fn usable_methods(&self, policy: &MfaPolicy, user: &User) -> FlowResult<Vec<AuthMethod>> {
        let all = self.store.auth_methods(user.tenant_id, user.id).await?;
        Ok(all.into_iter().filter(|m| policy.allows(m.kind)).collect())
    }

    /// What the second factor needs for `user` with these capabilities.
    async fn need(
        &self,
        ctx: &ClientContext,
        user: &User,
        capabilities: &[String],
    ) -> FlowResult<SecondFactorNeed> {
        let policy = MfaPolicy::effective(&ctx.tenant, &ctx.app);
        if !policy.requires_second_factor() {
            return Ok(SecondFactorNeed::None);
        }
        let methods = self.usable_methods(&policy, user).await?;
        Ok(negotiate_second_factor(&policy, methods.len(), capabilities))
    }

    /// At `initiate`: the redirect reason when the client will not be able to complete this
    /// user's sign-in natively (it lacks `mfa_required` or `registration_required`). Older
    /// Android builds read any 200 from `/token` as tokens, so sign-in decides here.
    pub async fn redirect_at_initiate(
        &self,
        ctx: &ClientContext,
        user: &User,
        capabilities: &[String],
    ) -> FlowResult<Option<String>> {
        Ok(match self.need(ctx, user, capabilities).await? {
            SecondFactorNeed::Redirect(reason) => Some(reason),
            _ => None,
        })
    }

    /// A first factor was proven at `/token` (or a sign-up / reset is being redeemed): either the
    /// tokens (the flow ends, its state becoming `done_state`), or the second factor's next step.
    /// `verified` is the address the flow proved with a code, if any (registering it as the
    /// second factor then needs no new code).
    pub async fn after_first_factor(
        &self,
        ctx: &ClientContext,
        loaded: &LoadedFlow,
        user: &User,
        scopes: &GrantedScopes,
        done_state: &serde_json::Value,
        verified: Option<&str>,
    ) -> FlowResult<TokenOutcome> {
        if user.disabled {
            return Err(FlowError::UserDisabled);
        }
        let satisfied =
            SecondFactorState::from_json(&loaded.flow.state) == Some(SecondFactorState::Satisfied);
        let need = if satisfied {
            SecondFactorNeed::None
        } else {
            self.need(ctx, user, &loaded.flow.capabilities).await?
        };
        match need {
            SecondFactorNeed::None => {
                self.tokens.advance(loaded, done_state, None, None).await?;
                Ok(TokenOutcome::Tokens(
                    self.issuer.sign_in(ctx, user, scopes).await?,
                ))
            }
            SecondFactorNeed::Redirect(reason) => Ok(TokenOutcome::Redirect(reason)),
            SecondFactorNeed::Mfa => {
                let token = self
                    .tokens
                    .advance(
                        loaded,
                        &SecondFactorState::MfaRequired.to_json(),
                        None,
                        Some(Step::MfaRequired),
                    )
                    .await?
                    .ok_or_else(no_token)?;
                Ok(TokenOutcome::MfaRequired(token))
            }
            SecondFactorNeed::Register => {
                let state = SecondFactorState::RegisterRequired {
                    verified: verified.map(|v| vec![v.to_owned()]).unwrap_or_default(),
                };
                let token = self
                    .tokens
                    .advance(loaded, &state.to_json(), None, Some(Step::RegisterIntrospect))
                    .await?
                    .ok_or_else(no_token)?;
                Ok(TokenOutcome::RegistrationRequired(token))
            }
        }
    }

    async fn flow_user(&self, ctx: &ClientContext, loaded: &LoadedFlow) -> FlowResult<User> {
        let id = loaded.flow.user_id.ok_or(FlowError::UserNotFound)?;
        self.store
            .user_by_id(ctx.tenant.id, id)
            .await?
            .ok_or(FlowError::UserNotFound)
    }

    /// `oauth2/v2.0/introspect`: the user's methods. The presented token stays valid (Android
    /// may challenge the default method with it afterwards).
    pub async fn introspect(
        &self,
        ctx: &ClientContext,
        token: &str,
    ) -> FlowResult<(IssuedToken, Vec<MethodView>)> {
        let loaded = self
            .tokens
            .load(ctx, &ALL_KINDS, token, &Usage::at(Endpoint::SignInIntrospect))
            .await?;
        let user = self.flow_user(ctx, &loaded).await?;
        let policy = MfaPolicy::effective(&ctx.tenant, &ctx.app);
        let methods = self.usable_methods(&policy, &user).await?;
        if methods.is_empty() {
            // Removed meanwhile (e.g. `openciam user mfa reset`): nothing to offer; start over.
            return Err(FlowError::NoAuthMethod);
        }
        let views = methods
            .iter()
            .map(|m| MethodView {
                id: m.id.to_string(),
                channel: m.kind,
                login_hint: masked_target(m),
            })
            .collect();
        let next = self
            .tokens
            .reissue(&loaded, &loaded.flow.state, Step::MfaChallenge)
            .await?;
        Ok((next, views))
    }

    /// `oauth2/v2.0/challenge` with a second-factor token: sends a code through the method `id`
    /// (or, without `id`, the default method: the one last used to sign in, else the first
    /// registered; none → `introspect_required`).
    pub async fn challenge(
        &self,
        ctx: &ClientContext,
        loaded: LoadedFlow,
        id: Option<&str>,
    ) -> FlowResult<CodeSent> {
        let user = self.flow_user(ctx, &loaded).await?;
        let policy = MfaPolicy::effective(&ctx.tenant, &ctx.app);
        let methods = self.usable_methods(&policy, &user).await?;
        let method = match id.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => methods
                .iter()
                .find(|m| m.id.to_string().eq_ignore_ascii_case(id))
                .ok_or_else(|| FlowError::UnknownAuthMethod(id.to_owned()))?,
            None if loaded.step == Step::MfaChallenge => return Err(FlowError::MissingParameter("id")),
            None => default_method(&methods).ok_or(FlowError::IntrospectRequired)?,
        };
        let history = match SecondFactorState::from_json(&loaded.flow.state) {
            Some(SecondFactorState::MfaCodeSent { codes, .. }) => codes,
            _ => SendHistory::default(),
        };
        let codes = self
            .send(ctx, &loaded, method.kind, &method.target, history)
            .await?;
        let state = SecondFactorState::MfaCodeSent {
            method: method.id,
            codes,
        };
        let token = self
            .tokens
            .code_sent(&loaded, &state.to_json(), Step::MfaOob)
            .await?;
        Ok(CodeSent {
            token,
            channel: method.kind,
            target_label: masked_target(method),
            code_length: self.otp.code_length(),
            interval: self.otp.interval_secs(),
        })
    }

    /// Sends a code through `kind` to `target` under the first-factor code rules.
    async fn send(
        &self,
        ctx: &ClientContext,
        loaded: &LoadedFlow,
        kind: AuthMethodKind,
        target: &str,
        history: SendHistory,
    ) -> FlowResult<SendHistory> {
        let code_target = CodeTarget {
            tenant: ctx.tenant.id,
            tenant_name: &ctx.tenant.name,
            flow: loaded.flow.id,
            to: target,
            normalized: target,
            purpose: MailPurpose::Signin,
        };
        match kind {
            AuthMethodKind::Email => self.otp.send(&code_target, history).await,
            AuthMethodKind::Sms => {
                if let Some(limits) = &self.limits {
                    let phone =
                        PhoneNumber::parse(target).map_err(|why| FlowError::invalid_phone(target, why))?;
                    limits.check_sms(ctx, &phone).await?;
                }
                self.otp.send_sms(&code_target, history).await
            }
        }
    }

    /// `/token` with `grant_type=mfa_oob` (or `oob`) and an MFA challenge token.
    pub async fn token(
        &self,
        ctx: &ClientContext,
        loaded: LoadedFlow,
        code: &str,
        scopes: &GrantedScopes,
    ) -> FlowResult<TokenSet> {
        let user = self.flow_user(ctx, &loaded).await?;
        let Some(SecondFactorState::MfaCodeSent { method, .. }) =
            SecondFactorState::from_json(&loaded.flow.state)
        else {
            return Err(FlowError::InvalidCode(CodeProblem::NoCode));
        };
        if let Err(e) = self.otp.verify(loaded.flow.id, code).await {
            let entry = Entry::new(event::MFA_FAILURE)
                .user(&user)
                .detail("reason", code_reason(&e));
            self.audit.record(entry).await;
            return Err(e);
        }
        if user.disabled {
            return Err(FlowError::UserDisabled);
        }
        self.tokens
            .advance(&loaded, &SecondFactorState::Satisfied.to_json(), None, None)
            .await?;
        let now = self.clock.unix();
        self.store
            .mark_auth_method_used(user.tenant_id, user.id, method, now)
            .await?;
        self.audit
            .record(
                Entry::new(event::MFA_SUCCESS)
                    .user(&user)
                    .detail("method_id", method.to_string()),
            )
            .await;
        self.issuer.sign_in(ctx, &user, scopes).await
    }

    /// `register/v1.0/introspect`: the channels the user may register.
    pub async fn register_introspect(
        &self,
        ctx: &ClientContext,
        token: &str,
    ) -> FlowResult<(IssuedToken, Vec<MethodView>)> {
        let loaded = self
            .tokens
            .load(ctx, &ALL_KINDS, token, &Usage::at(Endpoint::RegisterIntrospect))
            .await?;
        let user = self.flow_user(ctx, &loaded).await?;
        let policy = MfaPolicy::effective(&ctx.tenant, &ctx.app);
        let views: Vec<MethodView> = policy
            .methods
            .iter()
            .map(|&kind| MethodView {
                id: kind.as_str().to_owned(),
                channel: kind,
                login_hint: match kind {
                    AuthMethodKind::Email => crate::flow::signup::mask_email(&user.username),
                    AuthMethodKind::Sms => String::new(),
                },
            })
            .collect();
        if views.is_empty() {
            return Err(FlowError::NoAuthMethod);
        }
        let next = self
            .tokens
            .advance(&loaded, &loaded.flow.state, None, Some(Step::RegisterChallenge))
            .await?
            .ok_or_else(no_token)?;
        Ok((next, views))
    }

    /// `register/v1.0/challenge`: a code to the typed target, or `preverified` when this flow
    /// already proved it.
    pub async fn register_challenge(
        &self,
        ctx: &ClientContext,
        token: &str,
        challenge_type: &str,
        target: &str,
        channel: Option<&str>,
    ) -> FlowResult<RegisterChallengeOutcome> {
        let loaded = self
            .tokens
            .load(ctx, &ALL_KINDS, token, &Usage::at(Endpoint::RegisterChallenge))
            .await?;
        if !challenge_type.eq_ignore_ascii_case("oob") {
            return Err(FlowError::UnknownChallengeType(challenge_type.to_owned()));
        }
        let policy = MfaPolicy::effective(&ctx.tenant, &ctx.app);
        let (kind, normalized) = parse_target(target, channel)?;
        if !policy.allows(kind) {
            return Err(FlowError::InvalidChallengeTarget {
                target: target.to_owned(),
                reason: format!("this app does not allow {} as a second factor", kind.as_str()),
            });
        }
        let (history, verified) = match SecondFactorState::from_json(&loaded.flow.state) {
            Some(SecondFactorState::RegisterRequired { verified }) => (SendHistory::default(), verified),
            Some(SecondFactorState::RegisterCodeSent { codes, verified, .. }) => (codes, verified),
            _ => (SendHistory::default(), vec![]),
        };
        if verified.contains(&normalized) {
            let state = SecondFactorState::RegisterPreverified {
                kind,
                target: normalized,
            };
            let token = self
                .tokens
                .advance(&loaded, &state.to_json(), None, Some(Step::RegisterPreverified))
                .await?
                .ok_or_else(no_token)?;
            return Ok(RegisterChallengeOutcome::Preverified(token));
        }
        let codes = self.send(ctx, &loaded, kind, &normalized, history).await?;
        let state = SecondFactorState::RegisterCodeSent {
            kind,
            target: normalized.clone(),
            codes,
            verified,
        };
        let token = self
            .tokens
            .code_sent(&loaded, &state.to_json(), Step::RegisterOob)
            .await?;
        Ok(RegisterChallengeOutcome::Oob(CodeSent {
            token,
            channel: kind,
            target_label: normalized,
            code_length: self.otp.code_length(),
            interval: self.otp.interval_secs(),
        }))
    }

    /// `register/v1.0/continue`: checks the code (`oob`) or the preverified target
    /// (`continuation_token`), stores the method on the user, and answers the token for
    /// `/token` `grant_type=continuation_token`.
    pub async fn register_continue(
        &self,
        ctx: &ClientContext,
        token: &str,
        grant_type: &str,
        code: Option<&str>,
    ) -> FlowResult<IssuedToken> {
        let usage = Usage::with_grant(Endpoint::RegisterContinue, grant_type);
        let loaded = self.tokens.load(ctx, &ALL_KINDS, token, &usage).await?;
        let user = self.flow_user(ctx, &loaded).await?;
        let (kind, target) = match SecondFactorState::from_json(&loaded.flow.state) {
            Some(SecondFactorState::RegisterCodeSent { kind, target, .. })
                if loaded.step == Step::RegisterOob =>
            {
                let code = code.ok_or(FlowError::MissingParameter("oob"))?;
                self.otp.verify(loaded.flow.id, code).await?;
                (kind, target)
            }
            Some(SecondFactorState::RegisterPreverified { kind, target })
                if loaded.step == Step::RegisterPreverified =>
            {
                (kind, target)
            }
            _ => return Err(FlowError::InvalidCode(CodeProblem::NoCode)),
        };
        let now = self.clock.unix();
        let method = AuthMethod {
            id: AuthMethodId::new_random(),
            tenant_id: user.tenant_id,
            user_id: user.id,
            kind,
            target,
            created_at: now,
            last_used_at: Some(now),
        };
        match self.store.add_auth_method(&method).await {
            // Registered by a parallel request of this user: the method exists, which is the point.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.audit
            .record(
                Entry::new(event::MFA_METHOD_REGISTERED)
                    .user(&user)
                    .detail("channel", kind.as_str())
                    .detail("method_id", method.id.to_string()),
            )
            .await;
        self.tokens
            .advance(
                &loaded,
                &SecondFactorState::Satisfied.to_json(),
                None,
                Some(Step::SignInAfterFlow),
            )
            .await?
            .ok_or_else(no_token)
    }
}

/// The channel and normalised form of a typed registration target. Without a channel, an `@`
/// means e-mail and anything else a phone number.
fn parse_target(target: &str, channel: Option<&str>) -> FlowResult<(AuthMethodKind, String)> {
    let kind = match channel.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => AuthMethodKind::parse(c).ok_or_else(|| FlowError::InvalidChallengeTarget {
            target: target.to_owned(),
            reason: format!("unknown challenge_channel '{c}'; use email or sms"),
        })?,
        None if target.contains('@') => AuthMethodKind::Email,
        None => AuthMethodKind::Sms,
    };
    let normalized = match kind {
        AuthMethodKind::Email => Username::parse(target)
            .map(|u| u.normalized().to_owned())
            .ok_or_else(|| FlowError::InvalidChallengeTarget {
                target: target.to_owned(),
                reason: "not an e-mail address".into(),
            })?,
        AuthMethodKind::Sms => crate::phone::PhoneNumber::parse(target)
            .map_err(|why| FlowError::invalid_phone(target, why))?
            .e164()
            .to_owned(),
    };
    Ok((kind, normalized))
}

fn code_reason(e: &FlowError) -> &'static str {
    match e {
        FlowError::InvalidCode(CodeProblem::Wrong) => "wrong_code",
        FlowError::InvalidCode(CodeProblem::Burnt) => "code_burnt",
        FlowError::InvalidCode(CodeProblem::Expired) => "code_expired",
        FlowError::InvalidCode(CodeProblem::NoCode) => "no_code",
        _ => "error",
    }
}

fn no_token() -> FlowError {
    FlowError::Internal(anyhow::anyhow!("advance issued no token"))
}
