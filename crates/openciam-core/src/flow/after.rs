//! Sign-in after another flow (spec §3.6, §5.7.5): `/token` with `grant_type=continuation_token`
//! redeems the final token of a sign-up or password reset, once.

use crate::directory::{ClientContext, Directory};
use crate::error::{FlowError, FlowResult};
use crate::flow::continuation::{ContinuationTokens, Endpoint, Usage};
use crate::flow::second_factor::{SecondFactorService, SecondFactorState, TokenOutcome};
use crate::model::FlowKind;
use crate::ports::Store;
use crate::username::Username;
use std::sync::Arc;

/// Redeems final continuation tokens.
pub struct AfterFlowService {
    tokens: ContinuationTokens,
    store: Arc<dyn Store>,
    directory: Directory,
    second: Arc<SecondFactorService>,
}

impl AfterFlowService {
    /// Creates the service.
    pub fn new(tokens: ContinuationTokens, store: Arc<dyn Store>, second: Arc<SecondFactorService>) -> Self {
        let directory = Directory::new(store.clone());
        Self {
            tokens,
            store,
            directory,
            second,
        }
    }

    /// `oauth2/v2.0/token` with `grant_type=continuation_token`. When `username` is given it must
    /// be the flow's user. After a sign-up or reset the app's second-factor policy applies (the
    /// address the flow verified may be registered without a new code); after a registration
    /// (`register/v1.0/continue`) the second factor is already done.
    pub async fn redeem(
        &self,
        ctx: &ClientContext,
        token: &str,
        username: Option<&str>,
        scope: &[String],
    ) -> FlowResult<TokenOutcome> {
        let usage = Usage::with_grant(Endpoint::Token, "continuation_token");
        let kinds = [FlowKind::SignUp, FlowKind::ResetPassword, FlowKind::SignIn];
        let loaded = self.tokens.load(ctx, &kinds, token, &usage).await?;
        let scopes = self.directory.scopes(ctx, scope).await?;
        let user_id = loaded.flow.user_id.ok_or(FlowError::UserNotFound)?;
        let user = self
            .store
            .user_by_id(ctx.tenant.id, user_id)
            .await?
            .ok_or(FlowError::UserNotFound)?;
        if let Some(given) = username {
            let same = Username::parse(given).is_some_and(|u| u.normalized() == user.username_normalized);
            if !same {
                return Err(FlowError::UsernameMismatch);
            }
        }
        let satisfied =
            SecondFactorState::from_json(&loaded.flow.state) == Some(SecondFactorState::Satisfied);
        // Sign-up and reset proved the address with a code; a registration proved its method.
        let verified = (!satisfied).then(|| user.username_normalized.clone());
        self.second
            .after_first_factor(
                ctx,
                &loaded,
                &user,
                &scopes,
                &loaded.flow.state,
                verified.as_deref(),
            )
            .await
    }
}
