//! The continuation-token engine every flow uses (spec §6.3, "openciam decision").
//!
//! Invariants:
//! * A token is 256 random bits; only its SHA-256 is stored, bound to tenant, client, flow kind and
//!   *step* (what it may be used for).
//! * A token is valid until it expires or its flow **advances**. Each flow has a generation; a
//!   token is issued at the current generation, and advancing bumps it (compare-and-swap), so every
//!   earlier token of the flow dies at once. Errors do not advance: the presented token stays valid.
//! * A resend issues another token at the *same* generation, so both stay valid.
//! * The whole flow expires `flow_ttl` after it started, whatever was resent.

use crate::clock::Clock;
use crate::crypto::{random_token, token_hash};
use crate::directory::ClientContext;
use crate::error::{FlowError, FlowResult, TokenProblem};
use crate::ids::{FlowId, UserId};
use crate::model::{ContinuationRecord, FlowKind, FlowRecord};
use crate::ports::Store;
use crate::secret::ContinuationToken;
use std::sync::Arc;
use std::time::Duration;

/// Where a request presents a token: the endpoint, and the grant for `/token` and `/continue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `oauth2/v2.0/challenge`.
    SignInChallenge,
    /// `oauth2/v2.0/token`.
    Token,
    /// `signup/v1.0/challenge`.
    SignUpChallenge,
    /// `signup/v1.0/continue`.
    SignUpContinue,
    /// `resetpassword/v1.0/challenge`.
    ResetChallenge,
    /// `resetpassword/v1.0/continue`.
    ResetContinue,
    /// `resetpassword/v1.0/submit`.
    ResetSubmit,
    /// `resetpassword/v1.0/poll_completion`.
    ResetPoll,
    /// `oauth2/v2.0/introspect`.
    SignInIntrospect,
    /// `register/v1.0/introspect`.
    RegisterIntrospect,
    /// `register/v1.0/challenge`.
    RegisterChallenge,
    /// `register/v1.0/continue`.
    RegisterContinue,
}

impl Endpoint {
    /// The path, as a developer would write it.
    pub fn path(self) -> &'static str {
        match self {
            Self::SignInChallenge => "oauth2/v2.0/challenge",
            Self::Token => "oauth2/v2.0/token",
            Self::SignUpChallenge => "signup/v1.0/challenge",
            Self::SignUpContinue => "signup/v1.0/continue",
            Self::ResetChallenge => "resetpassword/v1.0/challenge",
            Self::ResetContinue => "resetpassword/v1.0/continue",
            Self::ResetSubmit => "resetpassword/v1.0/submit",
            Self::ResetPoll => "resetpassword/v1.0/poll_completion",
            Self::SignInIntrospect => "oauth2/v2.0/introspect",
            Self::RegisterIntrospect => "register/v1.0/introspect",
            Self::RegisterChallenge => "register/v1.0/challenge",
            Self::RegisterContinue => "register/v1.0/continue",
        }
    }
}

/// One use of a token: endpoint plus grant (lower-case) where the endpoint takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Endpoint.
    pub endpoint: Endpoint,
    /// `grant_type`, lower-case.
    pub grant: Option<String>,
}

impl Usage {
    /// A use without a grant.
    pub fn at(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            grant: None,
        }
    }

    /// A use with a grant.
    pub fn with_grant(endpoint: Endpoint, grant: &str) -> Self {
        Self {
            endpoint,
            grant: Some(grant.to_ascii_lowercase()),
        }
    }

    fn describe(&self) -> String {
        match &self.grant {
            Some(g) => format!("{} with grant_type={g}", self.endpoint.path()),
            None => self.endpoint.path().to_owned(),
        }
    }
}

/// What a token may be used for. Stored by name; one variant per row of spec §6.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// From `initiate`: for `oauth2/v2.0/challenge`.
    SignInChallenge,
    /// From a password challenge: for the password grant.
    SignInPassword,
    /// From a first-factor oob challenge: for the oob grant and a resend.
    SignInOob,
    /// From `signup/start` or `credential_required`: for `signup/challenge`.
    SignUpChallenge,
    /// From an oob sign-up challenge: for `continue` (oob) and a resend.
    SignUpOob,
    /// From a password sign-up challenge: for `continue` (password).
    SignUpPassword,
    /// From `attributes_required`: for `continue` (attributes).
    SignUpAttributes,
    /// From `continue` 200 / reset `succeeded`: redeemed once at `/token`.
    SignInAfterFlow,
    /// From reset `start`: for reset `challenge`.
    ResetChallenge,
    /// From reset `challenge`: for reset `continue` and a resend.
    ResetOob,
    /// From reset `continue`: for `submit`.
    ResetSubmit,
    /// From `submit`: for `poll_completion`, any number of times.
    ResetPoll,
    /// From `/token` `mfa_required`: for `oauth2/v2.0/introspect` and `oauth2/v2.0/challenge`
    /// (with or without `id`).
    MfaRequired,
    /// From `oauth2/v2.0/introspect`: for `oauth2/v2.0/challenge` with `id`.
    MfaChallenge,
    /// From an MFA challenge: for `/token` (`mfa_oob` or `oob`) and another challenge (resend,
    /// other method).
    MfaOob,
    /// From `/token` `registration_required`: for `register/v1.0/introspect`.
    RegisterIntrospect,
    /// From `register/v1.0/introspect`: for `register/v1.0/challenge`.
    RegisterChallenge,
    /// From a register `oob` challenge: for `register/v1.0/continue` (`oob`) and another
    /// challenge (resend, other target).
    RegisterOob,
    /// From a register `preverified` challenge: for `register/v1.0/continue`
    /// (`continuation_token`).
    RegisterPreverified,
}

impl Step {
    const ALL: [Step; 19] = [
        Self::SignInChallenge,
        Self::SignInPassword,
        Self::SignInOob,
        Self::SignUpChallenge,
        Self::SignUpOob,
        Self::SignUpPassword,
        Self::SignUpAttributes,
        Self::SignInAfterFlow,
        Self::ResetChallenge,
        Self::ResetOob,
        Self::ResetSubmit,
        Self::ResetPoll,
        Self::MfaRequired,
        Self::MfaChallenge,
        Self::MfaOob,
        Self::RegisterIntrospect,
        Self::RegisterChallenge,
        Self::RegisterOob,
        Self::RegisterPreverified,
    ];

    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignInChallenge => "sign_in_challenge",
            Self::SignInPassword => "sign_in_password",
            Self::SignInOob => "sign_in_oob",
            Self::SignUpChallenge => "sign_up_challenge",
            Self::SignUpOob => "sign_up_oob",
            Self::SignUpPassword => "sign_up_password",
            Self::SignUpAttributes => "sign_up_attributes",
            Self::SignInAfterFlow => "sign_in_after_flow",
            Self::ResetChallenge => "reset_challenge",
            Self::ResetOob => "reset_oob",
            Self::ResetSubmit => "reset_submit",
            Self::ResetPoll => "reset_poll",
            Self::MfaRequired => "mfa_required",
            Self::MfaChallenge => "mfa_challenge",
            Self::MfaOob => "mfa_oob",
            Self::RegisterIntrospect => "register_introspect",
            Self::RegisterChallenge => "register_challenge",
            Self::RegisterOob => "register_oob",
            Self::RegisterPreverified => "register_preverified",
        }
    }

    /// Inverse of [`Step::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.as_str() == s)
    }

    /// Where this step's tokens belong, in words for error descriptions.
    pub fn belongs(self) -> &'static str {
        match self {
            Self::SignInChallenge => "oauth2/v2.0/challenge",
            Self::SignInPassword => "oauth2/v2.0/token with grant_type=password",
            Self::SignInOob => {
                "oauth2/v2.0/token with grant_type=oob (or oauth2/v2.0/challenge to resend the code)"
            }
            Self::SignUpChallenge => "signup/v1.0/challenge",
            Self::SignUpOob => {
                "signup/v1.0/continue with grant_type=oob (or signup/v1.0/challenge to resend the code)"
            }
            Self::SignUpPassword => "signup/v1.0/continue with grant_type=password",
            Self::SignUpAttributes => "signup/v1.0/continue with grant_type=attributes",
            Self::SignInAfterFlow => "oauth2/v2.0/token with grant_type=continuation_token",
            Self::ResetChallenge => "resetpassword/v1.0/challenge",
            Self::ResetOob => {
                "resetpassword/v1.0/continue with grant_type=oob (or resetpassword/v1.0/challenge to resend the code)"
            }
            Self::ResetSubmit => "resetpassword/v1.0/submit",
            Self::ResetPoll => "resetpassword/v1.0/poll_completion",
            Self::MfaRequired => "oauth2/v2.0/introspect (or oauth2/v2.0/challenge)",
            Self::MfaChallenge => "oauth2/v2.0/challenge with id",
            Self::MfaOob => {
                "oauth2/v2.0/token with grant_type=mfa_oob (or oauth2/v2.0/challenge to resend the code)"
            }
            Self::RegisterIntrospect => "register/v1.0/introspect",
            Self::RegisterChallenge => "register/v1.0/challenge",
            Self::RegisterOob => {
                "register/v1.0/continue with grant_type=oob (or register/v1.0/challenge to resend the code)"
            }
            Self::RegisterPreverified => "register/v1.0/continue with grant_type=continuation_token",
        }
    }

    /// Whether a token of this step belongs to the second factor (MFA or registration).
    pub fn is_second_factor(self) -> bool {
        matches!(
            self,
            Self::MfaRequired
                | Self::MfaChallenge
                | Self::MfaOob
                | Self::RegisterIntrospect
                | Self::RegisterChallenge
                | Self::RegisterOob
                | Self::RegisterPreverified
        )
    }

    /// Whether a token of this step may be used this way.
    pub fn accepts(self, usage: &Usage) -> bool {
        use Endpoint as E;
        let grant = usage.grant.as_deref();
        match self {
            Self::SignInChallenge => usage.endpoint == E::SignInChallenge,
            Self::SignInPassword => usage.endpoint == E::Token && grant == Some("password"),
            // Decided by the token, not the grant name (spec §5.7.1): `mfa_oob` with a first-factor
            // code token is that code.
            Self::SignInOob => {
                usage.endpoint == E::SignInChallenge
                    || (usage.endpoint == E::Token && matches!(grant, Some("oob" | "mfa_oob")))
            }
            Self::SignUpChallenge => usage.endpoint == E::SignUpChallenge,
            Self::SignUpOob => {
                usage.endpoint == E::SignUpChallenge
                    || (usage.endpoint == E::SignUpContinue && grant == Some("oob"))
            }
            Self::SignUpPassword => usage.endpoint == E::SignUpContinue && grant == Some("password"),
            Self::SignUpAttributes => usage.endpoint == E::SignUpContinue && grant == Some("attributes"),
            Self::SignInAfterFlow => usage.endpoint == E::Token && grant == Some("continuation_token"),
            Self::ResetChallenge => usage.endpoint == E::ResetChallenge,
            Self::ResetOob => {
                usage.endpoint == E::ResetChallenge
                    || (usage.endpoint == E::ResetContinue && grant == Some("oob"))
            }
            Self::ResetSubmit => usage.endpoint == E::ResetSubmit,
            Self::ResetPoll => usage.endpoint == E::ResetPoll,
            Self::MfaRequired => matches!(usage.endpoint, E::SignInIntrospect | E::SignInChallenge),
            Self::MfaChallenge => usage.endpoint == E::SignInChallenge,
            // The second factor arrives as `mfa_oob` or, from older Android builds, `oob`.
            Self::MfaOob => {
                usage.endpoint == E::SignInChallenge
                    || (usage.endpoint == E::Token && matches!(grant, Some("oob" | "mfa_oob")))
            }
            Self::RegisterIntrospect => usage.endpoint == E::RegisterIntrospect,
            Self::RegisterChallenge => usage.endpoint == E::RegisterChallenge,
            Self::RegisterOob => {
                usage.endpoint == E::RegisterChallenge
                    || (usage.endpoint == E::RegisterContinue && grant == Some("oob"))
            }
            Self::RegisterPreverified => {
                usage.endpoint == E::RegisterContinue && grant == Some("continuation_token")
            }
        }
    }
}

/// A freshly issued token (the only time its clear value exists server-side).
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The value to send to the client.
    pub token: ContinuationToken,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// A flow loaded through one of its tokens.
#[derive(Debug, Clone)]
pub struct LoadedFlow {
    /// The flow.
    pub flow: FlowRecord,
    /// The presented token's record.
    pub token: ContinuationRecord,
    /// The presented token's step.
    pub step: Step,
}

/// Lifetimes of tokens and flows.
#[derive(Debug, Clone, Copy)]
pub struct ContinuationConfig {
    /// One token's lifetime (default 600 s).
    pub token_ttl: Duration,
    /// A whole flow's lifetime (default 60 min).
    pub flow_ttl: Duration,
}

impl Default for ContinuationConfig {
    fn default() -> Self {
        Self {
            token_ttl: Duration::from_secs(600),
            flow_ttl: Duration::from_secs(3600),
        }
    }
}

/// The engine.
#[derive(Clone)]
pub struct ContinuationTokens {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: ContinuationConfig,
}

/// What a new flow starts with.
#[derive(Debug, Clone)]
pub struct NewFlow {
    /// Kind.
    pub kind: FlowKind,
    /// The user, when known at start.
    pub user_id: Option<UserId>,
    /// Initial state.
    pub state: serde_json::Value,
    /// The client's challenge types.
    pub challenge_types: Vec<String>,
    /// The client's capabilities.
    pub capabilities: Vec<String>,
    /// The first token's step.
    pub first_step: Step,
}

impl ContinuationTokens {
    /// Creates the engine.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ContinuationConfig) -> Self {
        Self { store, clock, config }
    }

    /// Starts a flow and issues its first token.
    pub async fn start(&self, ctx: &ClientContext, new: NewFlow) -> FlowResult<IssuedToken> {
        let now = self.clock.unix();
        let flow = FlowRecord {
            id: FlowId::new_random(),
            tenant_id: ctx.tenant.id,
            client_id: ctx.app.client_id.clone(),
            kind: new.kind,
            user_id: new.user_id,
            state: new.state,
            generation: 0,
            challenge_types: new.challenge_types,
            capabilities: new.capabilities,
            created_at: now,
            expires_at: now + secs(self.config.flow_ttl),
        };
        let (issued, record) = self.mint(&flow, 0, new.first_step, now);
        self.store.create_flow(&flow, &record).await?;
        crate::observe::flow_started(flow.kind, flow.tenant_id);
        Ok(issued)
    }

    /// Loads the flow behind `token` and checks that it may be used here by this client, for a
    /// flow of one of `kinds`.
    pub async fn load(
        &self,
        ctx: &ClientContext,
        kinds: &[FlowKind],
        token: &str,
        usage: &Usage,
    ) -> FlowResult<LoadedFlow> {
        let invalid = |p| Err(FlowError::TokenInvalid(p));
        if token.len() != 43 {
            return invalid(TokenProblem::Unrecognised);
        }
        let Some((record, flow)) = self.store.token_with_flow(&token_hash(token)).await? else {
            return invalid(TokenProblem::Unrecognised);
        };
        if flow.tenant_id != ctx.tenant.id {
            return invalid(TokenProblem::OtherTenant);
        }
        if flow.client_id != ctx.app.client_id {
            return invalid(TokenProblem::OtherClient);
        }
        let step = Step::parse(&record.step)
            .ok_or(TokenProblem::Unrecognised)
            .map_err(FlowError::TokenInvalid)?;
        if !kinds.contains(&flow.kind) || !step.accepts(usage) {
            return invalid(TokenProblem::WrongUse {
                belongs: step.belongs(),
                used: usage.describe(),
            });
        }
        if record.generation != flow.generation {
            return invalid(TokenProblem::Superseded);
        }
        let now = self.clock.unix();
        if now >= record.expires_at || now >= flow.expires_at {
            return Err(FlowError::TokenExpired);
        }
        Ok(LoadedFlow {
            flow,
            token: record,
            step,
        })
    }

    /// Advances the flow (killing every earlier token) and issues a token for `next`, or none
    /// when the flow is finished. Fails with `Superseded` when a concurrent request advanced first.
    pub async fn advance(
        &self,
        loaded: &LoadedFlow,
        state: &serde_json::Value,
        user_id: Option<UserId>,
        next: Option<Step>,
    ) -> FlowResult<Option<IssuedToken>> {
        let now = self.clock.unix();
        let generation = loaded.flow.generation + 1;
        let minted = next.map(|step| self.mint(&loaded.flow, generation, step, now));
        let ok = self
            .store
            .advance_flow(
                loaded.flow.id,
                loaded.flow.generation,
                state,
                user_id,
                minted.as_ref().map(|(_, r)| r),
            )
            .await?;
        if !ok {
            return Err(FlowError::TokenInvalid(TokenProblem::Superseded));
        }
        Ok(minted.map(|(issued, _)| issued))
    }

    /// Completes a flow that creates its user (sign-up): advances and inserts `user` in one
    /// transaction. A taken username is `UserAlreadyExists`, with nothing written.
    pub async fn advance_creating_user(
        &self,
        loaded: &LoadedFlow,
        state: &serde_json::Value,
        user: &crate::model::User,
        next: Step,
    ) -> FlowResult<IssuedToken> {
        let now = self.clock.unix();
        let (issued, record) = self.mint(&loaded.flow, loaded.flow.generation + 1, next, now);
        let ok = self
            .store
            .advance_flow_creating_user(loaded.flow.id, loaded.flow.generation, state, user, Some(&record))
            .await
            .map_err(|e| match e {
                crate::ports::StoreError::Conflict(_) => FlowError::UserAlreadyExists,
                other => other.into(),
            })?;
        if !ok {
            return Err(FlowError::TokenInvalid(TokenProblem::Superseded));
        }
        Ok(issued)
    }

    /// Issues another token at the flow's current generation (a resend), storing `state`: the
    /// presented token stays valid too.
    pub async fn reissue(
        &self,
        loaded: &LoadedFlow,
        state: &serde_json::Value,
        step: Step,
    ) -> FlowResult<IssuedToken> {
        let now = self.clock.unix();
        let (issued, record) = self.mint(&loaded.flow, loaded.flow.generation, step, now);
        if !self.store.add_token(&record, state).await? {
            return Err(FlowError::TokenInvalid(TokenProblem::Superseded));
        }
        Ok(issued)
    }

    /// After a code was sent: a resend (the presented token is already at `step`) reissues at the
    /// same generation, so both tokens stay valid; a first send advances the flow to `step`.
    pub async fn code_sent(
        &self,
        loaded: &LoadedFlow,
        state: &serde_json::Value,
        step: Step,
    ) -> FlowResult<IssuedToken> {
        if loaded.step == step {
            return self.reissue(loaded, state, step).await;
        }
        self.advance(loaded, state, None, Some(step))
            .await?
            .ok_or_else(|| FlowError::Internal(anyhow::anyhow!("advance issued no token")))
    }

    /// A token for the flow's *next* generation, for store operations that advance the flow as
    /// part of a larger transaction.
    pub fn mint_next(&self, loaded: &LoadedFlow, step: Step, now: i64) -> (IssuedToken, ContinuationRecord) {
        self.mint(&loaded.flow, loaded.flow.generation + 1, step, now)
    }

    fn mint(
        &self,
        flow: &FlowRecord,
        generation: i64,
        step: Step,
        now: i64,
    ) -> (IssuedToken, ContinuationRecord) {
        let token = random_token();
        // A token never outlives its flow.
        let expires_at = (now + secs(self.config.token_ttl)).min(flow.expires_at);
        let record = ContinuationRecord {
            token_hash: token_hash(&token),
            flow_id: flow.id,
            step: step.as_str().to_owned(),
            generation,
            issued_at: now,
            expires_at,
        };
        let expires_in = u64::try_from(expires_at - now).unwrap_or(0);
        (
            IssuedToken {
                token: ContinuationToken::new(token),
                expires_in,
            },
            record,
        )
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_round_trip() {
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Some(step));
        }
    }

    #[test]
    fn sign_up_final_token_is_for_the_continuation_grant_only() {
        let s = Step::SignInAfterFlow;
        assert!(s.accepts(&Usage::with_grant(Endpoint::Token, "continuation_token")));
        assert!(s.accepts(&Usage::with_grant(Endpoint::Token, "CONTINUATION_TOKEN")));
        assert!(!s.accepts(&Usage::with_grant(Endpoint::Token, "password")));
        assert!(!s.accepts(&Usage::at(Endpoint::SignInChallenge)));
    }

    #[test]
    fn oob_tokens_allow_resend_and_redeem() {
        assert!(Step::SignUpOob.accepts(&Usage::at(Endpoint::SignUpChallenge)));
        assert!(Step::SignUpOob.accepts(&Usage::with_grant(Endpoint::SignUpContinue, "oob")));
        assert!(!Step::SignUpOob.accepts(&Usage::with_grant(Endpoint::SignUpContinue, "password")));
    }
}
