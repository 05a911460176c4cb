//! The sign-up service: one method per endpoint.

use super::attributes;
use super::state::SignUpState;
use crate::audit::{AuditLog, Entry, event};
use crate::clock::Clock;
use crate::directory::ClientContext;
use crate::error::{FlowError, FlowResult};
use crate::flow::challenge::{ChallengeType, ChallengeTypes, Negotiated, negotiate_sign_up};
use crate::flow::continuation::{
    ContinuationTokens, Endpoint, IssuedToken, LoadedFlow, NewFlow, Step, Usage,
};
use crate::ids::UserId;
use crate::mail::{MailPurpose, OutboundEmail};
use crate::model::{AttributeSpec, FlowKind, SignInMethod, User};
use crate::ports::Store;
use crate::secret::Password;
use crate::strategy::email_otp::{CodeTarget, Delivery, EmailOtp, SendHistory};
use crate::strategy::password::PasswordHasher;
use crate::strategy::password_policy::PasswordPolicy;
use crate::username::Username;
use serde_json::Map;
use std::sync::Arc;

/// What `start` answers.
#[derive(Debug)]
pub enum StartOutcome {
    /// Continue at `challenge`.
    Continue(IssuedToken),
    /// Web fallback.
    Redirect(String),
}

/// What sign-up `challenge` answers.
#[derive(Debug)]
pub enum SignUpChallengeOutcome {
    /// A code was mailed.
    Oob {
        /// For `continue` (oob) and resends.
        token: IssuedToken,
        /// Masked address.
        target_label: String,
        /// Digits.
        code_length: u32,
        /// Seconds before a resend is accepted.
        interval: u64,
    },
    /// The e-mail is verified; a password is needed.
    Password(IssuedToken),
    /// Web fallback.
    Redirect(String),
}

/// What `continue` answers.
#[derive(Debug)]
pub enum ContinueOutcome {
    /// The account exists; the token is for `/token` with `grant_type=continuation_token`.
    Completed(IssuedToken),
    /// 400 `credential_required`: call `challenge` with this token.
    CredentialRequired(IssuedToken),
    /// 400 `attributes_required`.
    AttributesRequired {
        /// For `continue` with `grant_type=attributes`.
        token: IssuedToken,
        /// What is missing.
        required: Vec<AttributeSpec>,
    },
}

/// What a `continue` call carries.
#[derive(Debug, Clone, Default)]
pub struct ContinueInput {
    /// `grant_type`, as sent.
    pub grant_type: String,
    /// `oob`.
    pub code: Option<String>,
    /// `password`.
    pub password: Option<Password>,
    /// `attributes` (JSON text).
    pub attributes: Option<String>,
}

/// Sign-up.
pub struct SignUpService {
    clock: Arc<dyn Clock>,
    tokens: ContinuationTokens,
    store: Arc<dyn Store>,
    passwords: Arc<PasswordHasher>,
    otp: Arc<EmailOtp>,
}

fn needs_password(ctx: &ClientContext) -> bool {
    ctx.app.method == SignInMethod::EmailPassword
}

fn state_of(loaded: &LoadedFlow) -> FlowResult<SignUpState> {
    SignUpState::from_json(&loaded.flow.state)
        .ok_or_else(|| FlowError::Internal(anyhow::anyhow!("unreadable sign-up state")))
}

/// `j***e@c*****o.com`: enough to recognise one's address, not to learn someone else's.
pub fn mask_email(email: &str) -> String {
    fn mask(part: &str) -> String {
        let chars: Vec<char> = part.chars().collect();
        match chars.len() {
            0 => String::new(),
            1 | 2 => format!("{}*", chars[0]),
            n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
        }
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return mask(email);
    };
    let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
    let tld = if tld.is_empty() {
        String::new()
    } else {
        format!(".{tld}")
    };
    format!("{}@{}{tld}", mask(local), mask(host))
}

impl SignUpService {
    /// Creates the service.
    pub fn new(
        clock: Arc<dyn Clock>,
        tokens: ContinuationTokens,
        store: Arc<dyn Store>,
        passwords: Arc<PasswordHasher>,
        otp: Arc<EmailOtp>,
    ) -> Self {
        Self {
            clock,
            tokens,
            store,
            passwords,
            otp,
        }
    }

    async fn hash_new_password(&self, ctx: &ClientContext, password: &Password) -> FlowResult<String> {
        PasswordPolicy::new(ctx.tenant.password_policy)
            .check(password.expose())
            .map_err(FlowError::PasswordPolicy)?;
        self.passwords.hash(password).await
    }

    /// `signup/v1.0/start`.
    pub async fn start(
        &self,
        ctx: &ClientContext,
        username: &str,
        challenge_types: &[String],
        password: Option<&Password>,
        attributes_json: Option<&str>,
        capabilities: Vec<String>,
    ) -> FlowResult<StartOutcome> {
        let username = Username::parse(username).ok_or(FlowError::InvalidUsername)?;
        let types = ChallengeTypes::parse(challenge_types)?;
        if let Negotiated::Redirect(reason) = negotiate_sign_up(&ctx.app.method, &types) {
            return Ok(StartOutcome::Redirect(reason));
        }
        // Enumeration protection: an address with an account goes on; its `challenge` tells the
        // owner instead of sending a code.
        if !ctx.tenant.security.enumeration_protection
            && self
                .store
                .user_by_username(ctx.tenant.id, username.normalized())
                .await?
                .is_some()
        {
            return Err(FlowError::UserAlreadyExists);
        }
        let attributes = match attributes_json {
            Some(raw) => attributes::validate(&ctx.app.signup_attributes, &attributes::parse(raw)?)?,
            None => Map::new(),
        };
        let password_hash = match password {
            Some(p) if needs_password(ctx) => Some(self.hash_new_password(ctx, p).await?),
            _ => None,
        };
        let state = SignUpState {
            email: username.display().to_owned(),
            email_normalized: username.normalized().to_owned(),
            password_hash,
            attributes,
            verified: false,
            codes: SendHistory::default(),
        };
        let token = self
            .tokens
            .start(
                ctx,
                NewFlow {
                    kind: FlowKind::SignUp,
                    user_id: None,
                    state: state.to_json(),
                    challenge_types: types.to_strings(),
                    capabilities,
                    first_step: Step::SignUpChallenge,
                },
            )
            .await?;
        Ok(StartOutcome::Continue(token))
    }

    /// `signup/v1.0/challenge`: mails a code (first time or resend), or asks for the password.
    pub async fn challenge(
        &self,
        ctx: &ClientContext,
        token: &str,
        challenge_types: &[String],
    ) -> FlowResult<SignUpChallengeOutcome> {
        let loaded = self
            .tokens
            .load(
                ctx,
                &[FlowKind::SignUp],
                token,
                &Usage::at(Endpoint::SignUpChallenge),
            )
            .await?;
        let types = ChallengeTypes::parse_or_stored(challenge_types, &loaded.flow.challenge_types)?;
        let mut state = state_of(&loaded)?;
        if state.verified {
            if !types.has(ChallengeType::Password) {
                return Ok(SignUpChallengeOutcome::Redirect(
                    "A password is needed, and the client did not list the 'password' challenge type.".into(),
                ));
            }
            let next = self
                .tokens
                .advance(&loaded, &state.to_json(), None, Some(Step::SignUpPassword))
                .await?;
            return Ok(SignUpChallengeOutcome::Password(next.ok_or_else(no_token)?));
        }
        if !types.has(ChallengeType::Oob) {
            return Ok(SignUpChallengeOutcome::Redirect(
                "The e-mail address must be verified with a code, and the client did not list the 'oob' challenge type."
                    .into(),
            ));
        }
        let target = CodeTarget {
            tenant: ctx.tenant.id,
            tenant_name: &ctx.tenant.name,
            flow: loaded.flow.id,
            to: &state.email,
            normalized: &state.email_normalized,
            purpose: MailPurpose::Signup,
        };
        let delivery = self.delivery(ctx, &state).await?;
        state.codes = self.otp.send_via(&target, state.codes, delivery).await?;
        let token = self
            .tokens
            .code_sent(&loaded, &state.to_json(), Step::SignUpOob)
            .await?;
        Ok(SignUpChallengeOutcome::Oob {
            token,
            target_label: mask_email(&state.email),
            code_length: self.otp.code_length(),
            interval: self.otp.interval_secs(),
        })
    }

    /// How the code is delivered: now, or (enumeration protection) through the outbox — and
    /// for an address that has an account, not at all: its owner is told someone tried instead.
    async fn delivery(&self, ctx: &ClientContext, state: &SignUpState) -> FlowResult<Delivery> {
        if !ctx.tenant.security.enumeration_protection {
            return Ok(Delivery::Direct);
        }
        let taken = self
            .store
            .user_by_username(ctx.tenant.id, &state.email_normalized)
            .await?;
        Ok(match taken {
            Some(user) => Delivery::Notice(OutboundEmail::SignupAttempt { to: user.username }),
            None => Delivery::Outbox,
        })
    }

    /// `signup/v1.0/continue` with `grant_type` `oob`, `password` or `attributes`.
    pub async fn continue_(
        &self,
        ctx: &ClientContext,
        token: &str,
        input: ContinueInput,
    ) -> FlowResult<ContinueOutcome> {
        let grant = input.grant_type.to_ascii_lowercase();
        let usage = Usage::with_grant(Endpoint::SignUpContinue, &grant);
        let loaded = self.tokens.load(ctx, &[FlowKind::SignUp], token, &usage).await?;
        let mut state = state_of(&loaded)?;
        // Optional attributes are accepted with any grant, until the account exists.
        let incoming = input.attributes.as_deref().map(attributes::parse).transpose()?;
        match grant.as_str() {
            "oob" => {
                let code = input.code.ok_or(FlowError::MissingParameter("oob"))?;
                self.otp.verify(loaded.flow.id, &code).await?;
                state.verified = true;
            }
            "password" => {
                let password = input.password.ok_or(FlowError::MissingParameter("password"))?;
                state.password_hash = Some(self.hash_new_password(ctx, &password).await?);
            }
            _ => {
                if incoming.is_none() {
                    return Err(FlowError::MissingParameter("attributes"));
                }
            }
        }
        if let Some(incoming) = incoming {
            let accepted = attributes::validate(&ctx.app.signup_attributes, &incoming)?;
            state.attributes.extend(accepted);
        }
        self.next_requirement(ctx, &loaded, state).await
    }

    async fn next_requirement(
        &self,
        ctx: &ClientContext,
        loaded: &LoadedFlow,
        state: SignUpState,
    ) -> FlowResult<ContinueOutcome> {
        let json = state.to_json();
        if needs_password(ctx) && state.password_hash.is_none() {
            let next = self
                .tokens
                .advance(loaded, &json, None, Some(Step::SignUpChallenge))
                .await?;
            return Ok(ContinueOutcome::CredentialRequired(next.ok_or_else(no_token)?));
        }
        let missing: Vec<AttributeSpec> = attributes::missing(&ctx.app.signup_attributes, &state.attributes)
            .into_iter()
            .cloned()
            .collect();
        if !missing.is_empty() {
            let next = self
                .tokens
                .advance(loaded, &json, None, Some(Step::SignUpAttributes))
                .await?;
            return Ok(ContinueOutcome::AttributesRequired {
                token: next.ok_or_else(no_token)?,
                required: missing,
            });
        }
        let now = self.clock.unix();
        let user = User {
            id: UserId::new_random(),
            tenant_id: ctx.tenant.id,
            username: state.email.clone(),
            username_normalized: state.email_normalized.clone(),
            password_hash: state.password_hash.clone(),
            disabled: false,
            attributes: state.attributes.clone(),
            created_at: now,
            updated_at: now,
        };
        let token = self
            .tokens
            .advance_creating_user(loaded, &json, &user, Step::SignInAfterFlow)
            .await?;
        tracing::info!(user = %user.id, tenant = %ctx.tenant.name, "account created by sign-up");
        AuditLog::new(self.store.clone(), self.clock.clone())
            .record(Entry::new(event::SIGNUP_COMPLETED).user(&user))
            .await;
        Ok(ContinueOutcome::Completed(token))
    }
}

fn no_token() -> FlowError {
    FlowError::Internal(anyhow::anyhow!("advance issued no token"))
}

#[cfg(test)]
mod tests {
    use super::mask_email;

    #[test]
    fn masks_keep_first_and_last_characters() {
        assert_eq!(mask_email("jane@contoso.com"), "j**e@c*****o.com");
        assert_eq!(mask_email("a@b.io"), "a*@b*.io");
    }
}
