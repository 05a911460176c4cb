//! OpenID discovery document and JWKS (spec §5.16).

use serde::Serialize;

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
#[derive(Debug, Clone, Serialize)]
pub struct OpenIdConfiguration {
    /// `{public_url}/{tenant GUID}/v2.0`.
    pub issuer: String,
    /// Not served natively; present because iOS requires the member.
    pub authorization_endpoint: String,
    /// `…/oauth2/v2.0/token`.
    pub token_endpoint: String,
    /// `…/discovery/v2.0/keys`.
    pub jwks_uri: String,
    /// `…/oauth2/v2.0/logout`.
    pub end_session_endpoint: String,
    /// OIDC response types.
    pub response_types_supported: Vec<&'static str>,
    /// `public`.
    pub subject_types_supported: Vec<&'static str>,
    /// `RS256`.
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    /// OIDC scopes.
    pub scopes_supported: Vec<&'static str>,
    /// Grant types of the token endpoint.
    pub grant_types_supported: Vec<&'static str>,
    /// The tenant GUID.
    pub tenant_id: String,
}
