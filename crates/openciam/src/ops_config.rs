//! The operations sections of the configuration: `[log]` and `[admin]` (with `[http]
//! admin_listen`, the listener for `/metrics` and the admin REST API).

use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines (the default; `openciam dev`).
    #[default]
    Text,
    /// One JSON object per line, for log collectors (production).
    Json,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` (default) or `json`. `--log-json` forces JSON. The filter comes from OPENCIAM_LOG.
    pub format: LogFormat,
}

/// `[admin]`: the admin REST API's bearer token. Without one, every `/admin/v1/` call is
/// refused with 403 (`/metrics` still answers).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// The token (at least 32 characters; e.g. `openssl rand -base64 32`).
    pub token: Option<SecretString>,
    /// A file holding the token (preferred: keeps it out of the configuration).
    pub token_file: Option<String>,
}

/// Shortest admin token accepted.
pub const MIN_TOKEN_LEN: usize = 32;

impl AdminSection {
    /// The configured token, read and checked (`None` when none is configured).
    pub fn resolve(&self) -> anyhow::Result<Option<SecretString>> {
        let token = match &self.token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading [admin] token_file {path}"))?;
                Some(SecretString::from(text.trim().to_owned()))
            }
            None => self.token.clone(),
        };
        let Some(token) = token.filter(|t| !t.expose_secret().is_empty()) else {
            return Ok(None);
        };
        check_token(token.expose_secret())?;
        Ok(Some(token))
    }
}

/// Refuses a short token, or one with characters a header cannot carry.
pub fn check_token(token: &str) -> anyhow::Result<()> {
    if token.len() < MIN_TOKEN_LEN || !token.chars().all(|c| c.is_ascii_graphic()) {
        anyhow::bail!(
            "the admin token must be at least {MIN_TOKEN_LEN} printable ASCII characters without spaces (e.g. `openssl rand -base64 32`)"
        );
    }
    Ok(())
}
