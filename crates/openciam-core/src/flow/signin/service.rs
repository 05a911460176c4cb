//! The sign-in service: one method per endpoint.

use super::state::SignInState;
use crate::directory::{ClientContext, Directory};
use crate::error::{FlowError, FlowResult};
use crate::flow::challenge::{ChallengeType, ChallengeTypes};
use crate::flow::continuation::{ContinuationTokens, Endpoint, IssuedToken, NewFlow, Step, Usage};
use crate::model::{FlowKind, SignInMethod};
use crate::ports::Store;
use crate::secret::Password;
use crate::strategy::password::PasswordHasher;
use crate::token::{TokenIssuer, TokenSet};
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
    /// Web fallback.
    Redirect(String),
}

/// Sign-in.
pub struct SignInService {
    tokens: ContinuationTokens,
    store: Arc<dyn Store>,
    directory: Directory,
    passwords: Arc<PasswordHasher>,
    issuer: Arc<TokenIssuer>,
}

impl SignInService {
    /// Creates the service.
    pub fn new(
        tokens: ContinuationTokens,
        store: Arc<dyn Store>,
        passwords: Arc<PasswordHasher>,
        issuer: Arc<TokenIssuer>,
    ) -> Self {
        let directory = Directory::new(store.clone());
        Self {
            tokens,
            store,
            directory,
            passwords,
            issuer,
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
            .await?
            .ok_or(FlowError::UserNotFound)?;
        if ctx.app.method != SignInMethod::EmailPassword {
            return Ok(InitiateOutcome::Redirect(
                "This app signs users in with an e-mail code, which this server does not offer natively yet."
                    .into(),
            ));
        }
        if !types.has(ChallengeType::Password) || user.password_hash.is_none() {
            return Ok(InitiateOutcome::Redirect(
                "This app signs users in with a password, and the client did not list the 'password' challenge type."
                    .into(),
            ));
        }
        let token = self
            .tokens
            .start(
                ctx,
                NewFlow {
                    kind: FlowKind::SignIn,
                    user_id: Some(user.id),
                    state: SignInState::Initiated.to_json(),
                    challenge_types: types.to_strings(),
                    capabilities,
                    first_step: Step::SignInChallenge,
                },
            )
            .await?;
        Ok(InitiateOutcome::Continue(token))
    }

    /// `oauth2/v2.0/challenge`.
    pub async fn challenge(
        &self,
        ctx: &ClientContext,
        token: &str,
        challenge_types: &[String],
    ) -> FlowResult<ChallengeOutcome> {
        let loaded = self
            .tokens
            .load(
                ctx,
                &[FlowKind::SignIn],
                token,
                &Usage::at(Endpoint::SignInChallenge),
            )
            .await?;
        let types = ChallengeTypes::parse_or_stored(challenge_types, &loaded.flow.challenge_types)?;
        if !types.has(ChallengeType::Password) {
            return Ok(ChallengeOutcome::Redirect(
                "This app signs users in with a password, and the client did not list the 'password' challenge type."
                    .into(),
            ));
        }
        let next = self
            .tokens
            .advance(
                &loaded,
                &SignInState::PasswordChallenged.to_json(),
                None,
                Some(Step::SignInPassword),
            )
            .await?
            .ok_or_else(|| FlowError::Internal(anyhow::anyhow!("advance issued no token")))?;
        Ok(ChallengeOutcome::Password(next))
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
    ) -> FlowResult<TokenSet> {
        let usage = Usage::with_grant(Endpoint::Token, "password");
        let loaded = self.tokens.load(ctx, &[FlowKind::SignIn], token, &usage).await?;
        let password = password.ok_or(FlowError::MissingParameter("password"))?;
        let scopes = self.directory.scopes(ctx, scope).await?;
        let user = match loaded.flow.user_id {
            Some(id) => self.store.user_by_id(ctx.tenant.id, id).await?,
            None => None,
        };
        // A user deleted mid-flow still costs one hash, so timing reveals nothing.
        let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
        if !self.passwords.verify(password, hash).await? {
            return Err(FlowError::InvalidPassword);
        }
        let user = user.ok_or(FlowError::InvalidPassword)?;
        if user.disabled {
            return Err(FlowError::UserDisabled);
        }
        self.tokens
            .advance(&loaded, &SignInState::Completed.to_json(), None, None)
            .await?;
        self.issuer.sign_in(ctx, &user, &scopes).await
    }
}
