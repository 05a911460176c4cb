//! `[sms]` configuration and its start-up validation: a bad URL, an unreadable secret or CA file
//! stops the start with a message naming the setting. Nothing is read per request.

use anyhow::{Context as _, bail};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use std::path::PathBuf;

/// Where the webhook is: what [`WebhookConfig::parsed_url`] makes of `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Host name or IP address (IPv6 without brackets): what TCP connects to and TLS verifies.
    pub(crate) host: String,
    /// Port (default 443 / 80).
    pub(crate) port: u16,
    /// `host[:port]` as written: the `Host` header.
    pub(crate) authority: String,
    /// Path and query.
    pub(crate) path: String,
    /// `https`.
    pub(crate) tls: bool,
}

/// `[sms]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// `none` (default: SMS methods answer 503) or `webhook`.
    #[serde(default)]
    pub provider: SmsProvider,
    /// The webhook; required when `provider = "webhook"`.
    pub webhook: Option<WebhookConfig>,
}

/// `sms.provider`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    /// No SMS: every message is refused (503).
    #[default]
    None,
    /// POST each message as JSON to `[sms.webhook] url`.
    Webhook,
}

/// `[sms.webhook]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `https://…` endpoint the messages are POSTed to. Plain `http://` is accepted only for a
    /// loopback host (a relay on the same machine).
    pub url: String,
    /// Header carrying the secret. Default `Authorization`.
    #[serde(default = "default_auth_header")]
    pub auth_header: String,
    /// The header's whole value, e.g. `"Bearer 5f1…"`. No header is sent when neither this nor
    /// `secret_file` is set.
    pub secret: Option<SecretString>,
    /// File holding the header value (trailing whitespace is trimmed); instead of `secret`.
    pub secret_file: Option<PathBuf>,
    /// Extra trusted CA certificates (PEM), added to the built-in Mozilla roots: for an endpoint
    /// with a private CA.
    pub extra_ca_file: Option<PathBuf>,
    /// Bound on one delivery, request and response. Default 10.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Bound on connecting (TCP and TLS). Default 5.
    #[serde(default = "default_connect_timeout_seconds")]
    pub connect_timeout_seconds: u64,
}

fn default_auth_header() -> String {
    "Authorization".to_owned()
}

fn default_timeout_seconds() -> u64 {
    10
}

fn default_connect_timeout_seconds() -> u64 {
    5
}

impl WebhookConfig {
    /// A configuration for `url` with every default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth_header: default_auth_header(),
            secret: None,
            secret_file: None,
            extra_ca_file: None,
            timeout_seconds: default_timeout_seconds(),
            connect_timeout_seconds: default_connect_timeout_seconds(),
        }
    }

    /// Reads `secret` or `secret_file`; `None` when neither is set.
    pub(crate) fn secret(&self) -> anyhow::Result<Option<SecretString>> {
        let secret = match (&self.secret, &self.secret_file) {
            (Some(_), Some(_)) => bail!("sms.webhook: set either secret or secret_file, not both"),
            (Some(s), None) => s.clone(),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading sms.webhook.secret_file {}", path.display()))?;
                SecretString::from(text.trim_end().to_owned())
            }
            (None, None) => return Ok(None),
        };
        let value = secret.expose_secret();
        if value.is_empty() {
            bail!("sms.webhook: the secret is empty");
        }
        if value.chars().any(char::is_control) {
            bail!("sms.webhook: the secret contains control characters");
        }
        Ok(Some(secret))
    }

    /// The checked URL.
    pub(crate) fn parsed_url(&self) -> anyhow::Result<Target> {
        let raw = self.url.trim();
        let uri: http::Uri = raw
            .parse()
            .with_context(|| format!("sms.webhook.url = {:?} is not a URL", self.url))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            bail!("sms.webhook.url = {:?} is not an absolute http(s) URL", self.url);
        };
        if authority.as_str().contains('@') {
            bail!("sms.webhook.url: put credentials in secret, not in the URL");
        }
        let host = authority.host().to_owned();
        if host.is_empty() {
            bail!("sms.webhook.url = {:?} has no host", self.url);
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let loopback = bare.eq_ignore_ascii_case("localhost")
            || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let tls = match scheme {
            "https" => true,
            // Why: the body carries the code and the secret header; only a same-machine relay
            // may see it unencrypted.
            "http" if loopback => false,
            _ => bail!("sms.webhook.url must be https:// (http:// only for a loopback host)"),
        };
        Ok(Target {
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            authority: authority.as_str().to_owned(),
            host: bare,
            tls,
        })
    }

    /// Checks what can be checked without connecting.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.parsed_url()?;
        if self.timeout_seconds == 0 || self.connect_timeout_seconds == 0 {
            bail!("sms.webhook: timeout_seconds and connect_timeout_seconds must be at least 1");
        }
        http::HeaderName::from_bytes(self.auth_header.trim().as_bytes()).with_context(|| {
            format!(
                "sms.webhook.auth_header = {:?} is not a header name",
                self.auth_header
            )
        })?;
        self.secret()?;
        Ok(())
    }
}

impl SmsConfig {
    /// Validates without connecting (what `openciam config check` calls).
    pub fn validate(&self) -> anyhow::Result<()> {
        crate::build(self).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, Box<figment::Error>> {
        use figment::providers::Format as _;
        figment::Figment::from(figment::providers::Toml::string(s))
            .extract()
            .map_err(Box::new)
    }

    #[test]
    fn defaults_to_no_provider() {
        let c: SmsConfig = from_toml("").unwrap();
        assert_eq!(c.provider, SmsProvider::None);
        c.validate().unwrap();
        let c: SmsConfig = from_toml("provider = \"webhook\"").unwrap();
        assert!(c.validate().is_err(), "webhook without [sms.webhook]");
    }

    #[test]
    fn webhook_settings() {
        let c: SmsConfig = from_toml(
            "provider = \"webhook\"\n[webhook]\nurl = \"https://sms.example.com/send\"\nsecret = \"Bearer abc\"\ntimeout_seconds = 3",
        )
        .unwrap();
        let w = c.webhook.as_ref().unwrap();
        assert_eq!(w.auth_header, "Authorization");
        assert_eq!(w.timeout_seconds, 3);
        assert_eq!(w.connect_timeout_seconds, 5);
        c.validate().unwrap();
    }

    #[test]
    fn bad_settings_are_refused() {
        for bad in [
            "http://sms.example.com/send",
            "ftp://sms.example.com/",
            "not a url",
            "https://user:pw@sms.example.com/",
        ] {
            assert!(WebhookConfig::new(bad).validate().is_err(), "{bad}");
        }
        WebhookConfig::new("http://127.0.0.1:9/send").validate().unwrap();
        WebhookConfig::new("http://localhost:9/send").validate().unwrap();
        let t = WebhookConfig::new("https://sms.example.com/v1/send?x=1")
            .parsed_url()
            .unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str(), t.tls),
            ("sms.example.com", 443, "/v1/send?x=1", true)
        );
        let t = WebhookConfig::new("http://[::1]:8080").parsed_url().unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str(), t.tls),
            ("::1", 8080, "/", false)
        );
        assert_eq!(t.authority, "[::1]:8080");
        let mut c = WebhookConfig::new("https://sms.example.com/");
        c.timeout_seconds = 0;
        assert!(c.validate().is_err());
        let mut c = WebhookConfig::new("https://sms.example.com/");
        c.auth_header = "Bad Header".into();
        assert!(c.validate().is_err());
        let mut c = WebhookConfig::new("https://sms.example.com/");
        c.secret = Some(SecretString::from("a\r\nX-Injected: 1"));
        assert!(c.validate().is_err());
        let mut c = WebhookConfig::new("https://sms.example.com/");
        c.extra_ca_file = Some("/nonexistent/ca.pem".into());
        assert!(crate::WebhookSms::new(&c).is_err());
        let r: Result<SmsConfig, _> = from_toml("provider = \"carrier-pigeon\"");
        assert!(r.is_err());
        let r: Result<SmsConfig, _> =
            from_toml("provider = \"webhook\"\n[webhook]\nurl = \"https://x.example\"\nsecrets = \"x\"");
        assert!(r.is_err(), "unknown keys are refused");
    }

    #[test]
    fn secret_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "Bearer s3cret\n").unwrap();
        let mut c = WebhookConfig::new("https://sms.example.com/");
        c.secret_file = Some(path);
        assert_eq!(c.secret().unwrap().unwrap().expose_secret(), "Bearer s3cret");
        c.secret = Some(SecretString::from("x"));
        assert!(c.validate().is_err(), "both secret and secret_file");
    }
}
