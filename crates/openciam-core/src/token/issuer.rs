//! Issuing tokens after a successful flow, and the refresh grant with rotation and reuse detection.
//!
//! Refresh tokens are opaque, stored hashed, and rotated on every use. Presenting a token that was
//! already rotated means it leaked or was replayed: the whole family is revoked (`[50173]`), unless
//! it was rotated within `refresh_reuse_grace` — for operators whose users open several tabs that
//! refresh at once.
//!
//! Rotation slides a token's expiry forward, so a session refreshed often enough would never end.
//! Every family therefore also has an absolute lifetime (`refresh_absolute_ttl`, counted from the
//! sign-in): past it the refresh grant answers expired, and no rotated token expires later than it.

use crate::clock::Clock;
use crate::crypto::{MasterKey, random_token, token_hash};
use crate::directory::{ClientContext, Directory, GrantedScopes};
use crate::error::{FlowError, FlowResult};
use crate::ids::{FamilyId, UserId};
use crate::model::{RefreshRecord, User};
use crate::ports::{RotateOutcome, Store};
use crate::secret::RefreshToken;
use crate::token::claims::{AccessTokenClaims, IdTokenClaims};
use crate::token::keys::{KeyRing, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Lifetimes and the issuer base.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// Base URL clients reach us at; `iss` is `{public_url}/{tid}/v2.0`.
    pub public_url: String,
    /// Access and ID token lifetime (default 1 h).
    pub access_ttl: Duration,
    /// Refresh token lifetime (default 30 days, renewed by each rotation).
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a refresh-token family, counted from the sign-in and not renewed
    /// by rotation (default 90 days; OWASP ASVS 10.4.8).
    pub refresh_absolute_ttl: Duration,
    /// How long a rotated refresh token may still be presented without revoking its family
    /// (default 0).
    pub refresh_reuse_grace: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_absolute_ttl: Duration::from_secs(90 * 24 * 3600),
            refresh_reuse_grace: Duration::ZERO,
        }
    }
}

/// Everything a token response carries.
#[derive(Debug, Clone)]
pub struct TokenSet {
    /// JWT.
    pub access_token: String,
    /// JWT.
    pub id_token: String,
    /// Opaque.
    pub refresh_token: RefreshToken,
    /// Access token lifetime, seconds.
    pub expires_in: u64,
    /// Refresh token lifetime, seconds.
    pub refresh_expires_in: u64,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// base64url `{"uid":…,"utid":…}`.
    pub client_info: String,
}

/// The token service.
pub struct TokenIssuer {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    directory: Directory,
    keys: RwLock<Arc<KeyRing>>,
    config: TokenConfig,
}

impl TokenIssuer {
    /// Creates the service around a loaded key ring.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: KeyRing, config: TokenConfig) -> Self {
        let directory = Directory::new(store.clone());
        Self {
            store,
            clock,
            directory,
            keys: RwLock::new(Arc::new(keys)),
            config,
        }
    }

    /// Replaces the key ring (after a reload or rotation).
    pub fn set_keys(&self, keys: KeyRing) {
        if let Ok(mut guard) = self.keys.write() {
            *guard = Arc::new(keys);
        }
    }

    fn ring(&self) -> FlowResult<Arc<KeyRing>> {
        self.keys
            .read()
            .map(|g| g.clone())
            .map_err(|_| FlowError::Internal(anyhow::anyhow!("key ring poisoned")))
    }

    /// The keys published now: pending and active ones, and retired ones for one token
    /// lifetime after their retirement.
    pub fn jwks(&self) -> FlowResult<JwkSet> {
        Ok(self.ring()?.jwks(self.clock.unix(), self.config.access_ttl))
    }

    /// Reads the keys from the store again, so keys added by `keys rotate` or another node are
    /// published (and, once active, used) by this one. On failure the current keys stay.
    pub async fn reload_keys(&self, master: &MasterKey) -> anyhow::Result<()> {
        let ring = KeyRing::reload(self.store.as_ref(), master, self.clock.unix()).await?;
        self.set_keys(ring);
        Ok(())
    }

    /// `{public_url}/{tid}/v2.0`.
    pub fn issuer(&self, tenant_id: &str) -> String {
        format!(
            "{}/{}/v2.0",
            self.config.public_url.trim_end_matches('/'),
            tenant_id
        )
    }

    /// The configured public URL.
    pub fn public_url(&self) -> &str {
        self.config.public_url.trim_end_matches('/')
    }

    /// Issues tokens at the end of a flow, starting a new refresh-token family.
    pub async fn sign_in(
        &self,
        ctx: &ClientContext,
        user: &User,
        scopes: &GrantedScopes,
    ) -> FlowResult<TokenSet> {
        let now = self.clock.unix();
        let (refresh, record) =
            self.new_refresh(ctx, user.id, FamilyId::new_random(), &scopes.granted, now, now);
        self.store.create_family(&record).await?;
        self.assemble(ctx, user, scopes, refresh, &record, now)
    }

    /// The refresh grant. `requested` are the scopes sent with the request; when they name no
    /// resource, the scopes granted at sign-in are used again.
    pub async fn refresh(
        &self,
        ctx: &ClientContext,
        presented: &str,
        requested: &[String],
    ) -> FlowResult<TokenSet> {
        let now = self.clock.unix();
        let hash = token_hash(presented);
        let record = self
            .store
            .refresh_by_hash(&hash)
            .await?
            .ok_or(FlowError::RefreshTokenInvalid)?;
        if record.tenant_id != ctx.tenant.id || record.client_id != ctx.app.client_id {
            return Err(FlowError::RefreshTokenInvalid);
        }
        if record.revoked_at.is_some() {
            return Err(FlowError::RefreshTokenRevoked);
        }
        // Checked before the token's own expiry: a token capped at the family's end expires for
        // this reason, and the answer should say so.
        if now >= self.family_ends_at(record.family_created_at) {
            return Err(FlowError::RefreshSessionMaxAge);
        }
        if now >= record.expires_at {
            return Err(FlowError::RefreshTokenExpired);
        }
        let grace_since = self.grace_since(now);
        if record
            .rotated_at
            .is_some_and(|rotated| grace_since.is_none_or(|since| rotated < since))
        {
            return self.reuse_detected(&record, now).await;
        }
        let user = self
            .store
            .user_by_id(ctx.tenant.id, record.user_id)
            .await?
            .ok_or(FlowError::RefreshTokenRevoked)?;
        if user.disabled {
            return Err(FlowError::UserDisabled);
        }
        let wants_resource = requested
            .iter()
            .any(|s| !crate::directory::OIDC_SCOPES.contains(&s.as_str()));
        let scopes = self
            .directory
            .scopes(ctx, if wants_resource { requested } else { &record.scopes })
            .await?;
        let (refresh, next) = self.new_refresh(
            ctx,
            user.id,
            record.family_id,
            &record.scopes,
            record.family_created_at,
            now,
        );
        match self.store.rotate_refresh(&hash, now, grace_since, &next).await? {
            RotateOutcome::Rotated => self.assemble(ctx, &user, &scopes, refresh, &next, now),
            RotateOutcome::AlreadyRotated => self.reuse_detected(&record, now).await,
        }
    }

    fn grace_since(&self, now: i64) -> Option<i64> {
        let grace = i64::try_from(self.config.refresh_reuse_grace.as_secs()).unwrap_or(0);
        (grace > 0).then(|| now - grace)
    }

    async fn reuse_detected(&self, record: &RefreshRecord, now: i64) -> FlowResult<TokenSet> {
        tracing::warn!(family = %record.family_id, user = %record.user_id, "refresh token reuse detected; revoking the family");
        self.store.revoke_family(record.family_id, now, "reuse").await?;
        Err(FlowError::RefreshTokenRevoked)
    }

    /// When a family started at `family_created_at` stops being refreshable.
    fn family_ends_at(&self, family_created_at: i64) -> i64 {
        family_created_at.saturating_add(secs(self.config.refresh_absolute_ttl))
    }

    /// A new token of `family`; it expires after `refresh_ttl`, but never after the family ends.
    fn new_refresh(
        &self,
        ctx: &ClientContext,
        user: UserId,
        family: FamilyId,
        scopes: &[String],
        family_created_at: i64,
        now: i64,
    ) -> (RefreshToken, RefreshRecord) {
        let token = random_token();
        let record = RefreshRecord {
            token_hash: token_hash(&token),
            family_id: family,
            tenant_id: ctx.tenant.id,
            client_id: ctx.app.client_id.clone(),
            user_id: user,
            scopes: scopes.to_vec(),
            issued_at: now,
            expires_at: (now + secs(self.config.refresh_ttl)).min(self.family_ends_at(family_created_at)),
            rotated_at: None,
            revoked_at: None,
            family_created_at,
        };
        (RefreshToken::new(token), record)
    }

    fn assemble(
        &self,
        ctx: &ClientContext,
        user: &User,
        scopes: &GrantedScopes,
        refresh: RefreshToken,
        refresh_record: &RefreshRecord,
        now: i64,
    ) -> FlowResult<TokenSet> {
        let ttl = secs(self.config.access_ttl);
        let tid = ctx.tenant.id.to_string();
        let oid = user.id.to_string();
        let client = ctx.app.client_id.to_string();
        let sub = pairwise_subject(&tid, &client, &oid);
        let iss = self.issuer(&tid);
        let id = IdTokenClaims {
            ver: "2.0".into(),
            iss: iss.clone(),
            aud: client.clone(),
            sub: sub.clone(),
            oid: oid.clone(),
            tid: tid.clone(),
            preferred_username: user.username.clone(),
            uti: random_token(),
            email: user.username.clone(),
            name: user
                .attributes
                .get("displayName")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            iat: now,
            nbf: now,
            exp: now + ttl,
        };
        let access = AccessTokenClaims {
            ver: "2.0".into(),
            iss,
            aud: scopes
                .resource
                .as_ref()
                .map_or_else(|| client.clone(), |r| r.to_string()),
            sub,
            oid: oid.clone(),
            tid: tid.clone(),
            azp: client,
            scp: (!scopes.resource_scopes.is_empty()).then(|| scopes.resource_scopes.join(" ")),
            uti: random_token(),
            iat: now,
            nbf: now,
            exp: now + ttl,
        };
        let ring = self.ring()?;
        let client_info = URL_SAFE_NO_PAD.encode(serde_json::json!({"uid": oid, "utid": tid}).to_string());
        let key = ring.signing_key(now).map_err(FlowError::Internal)?;
        Ok(TokenSet {
            access_token: sign_jwt(&key, &access)?,
            id_token: sign_jwt(&key, &id)?,
            refresh_token: refresh,
            expires_in: u64::try_from(ttl).unwrap_or(3600),
            refresh_expires_in: u64::try_from(refresh_record.expires_at - now).unwrap_or(0),
            scope: scopes.granted.join(" "),
            client_info,
        })
    }
}

/// A subject that differs per app for the same user (as Entra's does), derived, not stored.
fn pairwise_subject(tid: &str, client: &str, oid: &str) -> String {
    let digest = Sha256::digest(format!("{tid}|{client}|{oid}").as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..24])
}

/// Compact JWS over `claims`, with jsonwebtoken's header type and our pre-parsed key. The
/// algorithm is fixed: RS256 is the only member of [`crate::token::keys::ALLOWED_ALGORITHMS`].
fn sign_jwt<T: Serialize>(key: &SigningKey, claims: &T) -> FlowResult<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid().to_owned());
    let head = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(internal)?);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(internal)?);
    let message = format!("{head}.{body}");
    let sig = key.sign(message.as_bytes()).map_err(FlowError::Internal)?;
    Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

fn internal(e: serde_json::Error) -> FlowError {
    FlowError::Internal(e.into())
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}
