//! Sign-in after another flow (spec §3.6, §5.7.5): `/token` with `grant_type=continuation_token`
//! redeems the final token of a sign-up or password reset, once.

use crate::directory::{ClientContext, Directory};
use crate::error::{FlowError, FlowResult};
use crate::flow::continuation::{ContinuationTokens, Endpoint, Usage};
use crate::model::FlowKind;
use crate::ports::Store;
use crate::token::{TokenIssuer, TokenSet};
use crate::username::Username;
use std::sync::Arc;

/// Redeems final continuation tokens.
pub struct AfterFlowService {
    tokens: ContinuationTokens,
    store: Arc<dyn Store>,
    directory: Directory,
    issuer: Arc<TokenIssuer>,
}

impl AfterFlowService {
    /// Creates the service.
    pub fn new(tokens: ContinuationTokens, store: Arc<dyn Store>, issuer: Arc<TokenIssuer>) -> Self {
        let directory = Directory::new(store.clone());
        Self {
            tokens,
            store,
            directory,
            issuer,
        }
    }

    /// `oauth2/v2.0/token` with `grant_type=continuation_token`. When `username` is given it must
    /// be the flow's user.
    pub async fn redeem(
        &self,
        ctx: &ClientContext,
        token: &str,
        username: Option<&str>,
        scope: &[String],
    ) -> FlowResult<TokenSet> {
        let usage = Usage::with_grant(Endpoint::Token, "continuation_token");
        let loaded = self
            .tokens
            .load(ctx, &[FlowKind::SignUp, FlowKind::ResetPassword], token, &usage)
            .await?;
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
        if user.disabled {
            return Err(FlowError::UserDisabled);
        }
        self.tokens
            .advance(&loaded, &loaded.flow.state, None, None)
            .await?;
        self.issuer.sign_in(ctx, &user, &scopes).await
    }
}
