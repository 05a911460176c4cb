//! `[mail]` configuration, as deserialised from TOML/env, and its start-up validation.
//!
//! Everything here is read and checked once, by [`crate::build`] or [`MailConfig::validate`]: a bad
//! sender address, an unreadable CA, password or template file, or a template missing a required
//! placeholder stops the start with a message naming the setting. Nothing is read per request.

use anyhow::{Context as _, bail};
use lettre::message::Mailbox;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Sender used by the dev backend when `from` is not set.
pub const DEV_DEFAULT_FROM: &str = "openciam <no-reply@openciam.localhost>";
/// Product name used when none is configured.
pub const DEFAULT_PRODUCT_NAME: &str = "openciam";
/// Longest product name accepted (it goes into subjects).
const MAX_PRODUCT_NAME: usize = 100;

/// `[mail]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// Where mail goes: `smtp` (a relay) or `dev` (kept in memory, readable at `/_dev/mailbox`).
    /// Default `dev`; the binary refuses `dev` outside `openciam dev`.
    #[serde(default)]
    pub backend: MailBackend,
    /// The SMTP relay; required when `backend = "smtp"`.
    pub smtp: Option<SmtpConfig>,
    /// Default sender, e.g. `"Contoso <no-reply@contoso.com>"`. Required for `smtp`; the dev
    /// backend defaults to [`DEV_DEFAULT_FROM`].
    pub from: Option<String>,
    /// Name shown in subjects and bodies. Default `openciam`.
    pub product_name: Option<String>,
    /// Files replacing the embedded templates.
    #[serde(default)]
    pub templates: TemplatesConfig,
    /// Per-tenant sender and product name, keyed by tenant short name.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantMailConfig>,
}

/// `mail.backend`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailBackend {
    /// Deliver through an SMTP relay.
    Smtp,
    /// Keep messages in memory for `/_dev/mailbox` (development only).
    #[default]
    Dev,
}

/// `[mail.smtp]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Relay host name or IP address; also the name its TLS certificate must carry.
    pub host: String,
    /// Port; default 25 for `none`, 587 for `starttls`, 465 for `tls`.
    pub port: Option<u16>,
    /// Transport security. Default `starttls` (required: no fallback to plain text).
    #[serde(default)]
    pub tls: SmtpTls,
    /// Extra trusted CA certificates (PEM), added to the built-in Mozilla roots. For a relay with
    /// a private or self-signed certificate.
    pub ca_file: Option<PathBuf>,
    /// User name for SMTP AUTH; no authentication when absent.
    pub username: Option<String>,
    /// Password for SMTP AUTH.
    pub password: Option<SecretString>,
    /// File holding the password (trailing whitespace is trimmed); instead of `password`.
    pub password_file: Option<PathBuf>,
    /// Bound on sending one message, and on each step of the SMTP dialogue. Default 10.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
}

fn default_timeout_seconds() -> u64 {
    10
}

/// `mail.smtp.tls`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text. Credentials are then only accepted for a loopback relay.
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed.
    #[default]
    Starttls,
    /// TLS from the first byte ("implicit TLS", SMTPS).
    Tls,
}

impl SmtpConfig {
    /// The configured port, or the usual one for the TLS mode.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }

    /// Reads `password` or `password_file`. `None` when neither is set.
    pub(crate) fn password(&self) -> anyhow::Result<Option<SecretString>> {
        match (&self.password, &self.password_file) {
            (Some(_), Some(_)) => bail!("mail.smtp: set either password or password_file, not both"),
            (Some(p), None) => Ok(Some(p.clone())),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading mail.smtp.password_file {}", path.display()))?;
                Ok(Some(SecretString::from(text.trim_end().to_owned())))
            }
            (None, None) => Ok(None),
        }
    }

    /// Checks what can be checked without connecting.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        if self.host.trim().is_empty() {
            bail!("mail.smtp.host is empty");
        }
        if self.timeout_seconds == 0 {
            bail!("mail.smtp.timeout_seconds must be at least 1");
        }
        let password = self.password()?;
        if password.as_ref().is_some_and(|p| p.expose_secret().is_empty()) {
            bail!("mail.smtp: the password is empty");
        }
        match (&self.username, &password) {
            (Some(_), None) => bail!("mail.smtp.username is set but no password or password_file"),
            (None, Some(_)) => bail!("mail.smtp: a password is set but no username"),
            _ => {}
        }
        // Why: AUTH over plain text hands the relay password to anyone on the path.
        if self.username.is_some() && self.tls == SmtpTls::None && !is_loopback(&self.host) {
            bail!("mail.smtp: refusing to send credentials without TLS; set tls = \"starttls\" or \"tls\"");
        }
        Ok(())
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `[mail.templates]`: override files per template. Keys are the template names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatesConfig {
    /// Sign-up verification code.
    pub signup_code: Option<TemplateFiles>,
    /// Sign-in code.
    pub signin_code: Option<TemplateFiles>,
    /// Password-reset code.
    pub reset_code: Option<TemplateFiles>,
    /// "Your password was changed."
    pub password_changed: Option<TemplateFiles>,
    /// "Someone tried to sign up with your address."
    pub signup_attempt: Option<TemplateFiles>,
    /// The message `openciam mail test` sends.
    pub test: Option<TemplateFiles>,
}

/// `[mail.templates.<name>]`: any part left out keeps the embedded one.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateFiles {
    /// Subject line (one line; a trailing newline is ignored).
    pub subject: Option<PathBuf>,
    /// Plain-text body.
    pub text: Option<PathBuf>,
    /// HTML body.
    pub html: Option<PathBuf>,
}

/// `[mail.tenants.<name>]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantMailConfig {
    /// Sender for this tenant's mail.
    pub from: Option<String>,
    /// Product name for this tenant's mail.
    pub product_name: Option<String>,
}

impl MailConfig {
    /// Validates everything without connecting anywhere: sender addresses, product names, SMTP
    /// settings and secrets, template files. What `openciam config check` should call.
    pub fn validate(&self) -> anyhow::Result<()> {
        crate::render::Renderer::from_config(self)?;
        if self.backend == MailBackend::Smtp {
            let smtp = self
                .smtp
                .as_ref()
                .context("mail.backend = \"smtp\" needs a [mail.smtp] section")?;
            smtp.validate()?;
            crate::smtp::tls_parameters(smtp)?;
        }
        Ok(())
    }

    /// The default sender as configured, or the dev default.
    pub(crate) fn default_from(&self) -> anyhow::Result<&str> {
        match (&self.from, self.backend) {
            (Some(from), _) => Ok(from),
            (None, MailBackend::Dev) => Ok(DEV_DEFAULT_FROM),
            (None, MailBackend::Smtp) => {
                bail!("mail.from is required with the smtp backend, e.g. \"Contoso <no-reply@contoso.com>\"")
            }
        }
    }
}

/// Parses a sender such as `Contoso <no-reply@contoso.com>` or `no-reply@contoso.com`.
pub(crate) fn parse_sender(value: &str, setting: &str) -> anyhow::Result<Mailbox> {
    if value.chars().any(char::is_control) {
        bail!("{setting}: control characters are not allowed");
    }
    value
        .parse::<Mailbox>()
        .map_err(|e| anyhow::anyhow!("{setting} = {value:?} is not a valid sender address: {e}"))
}

/// Checks a product name: non-empty, one line, reasonably short.
pub(crate) fn check_product_name(value: &str, setting: &str) -> anyhow::Result<String> {
    let value = value.trim();
    if value.is_empty() {
        bail!("{setting} is empty");
    }
    if value.chars().any(char::is_control) {
        bail!("{setting}: control characters are not allowed");
    }
    if value.chars().count() > MAX_PRODUCT_NAME {
        bail!("{setting} is longer than {MAX_PRODUCT_NAME} characters");
    }
    Ok(value.to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn smtp(extra: &str) -> SmtpConfig {
        let toml = format!("host = \"smtp.example.com\"\n{extra}");
        serde_toml(&toml)
    }

    /// Parses TOML the way the binary does (figment).
    pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, Box<figment::Error>> {
        use figment::providers::Format as _;
        figment::Figment::from(figment::providers::Toml::string(s))
            .extract()
            .map_err(Box::new)
    }

    fn serde_toml<T: serde::de::DeserializeOwned>(s: &str) -> T {
        from_toml(s).unwrap()
    }

    #[test]
    fn ports_default_by_tls_mode() {
        assert_eq!(smtp("").effective_port(), 587);
        assert_eq!(smtp("tls = \"tls\"").effective_port(), 465);
        assert_eq!(smtp("tls = \"none\"").effective_port(), 25);
        assert_eq!(smtp("tls = \"none\"\nport = 2525").effective_port(), 2525);
    }

    #[test]
    fn credentials_need_tls_unless_loopback() {
        let remote = smtp("tls = \"none\"\nusername = \"u\"\npassword = \"p\"");
        assert!(remote.validate().is_err());
        let mut local = smtp("tls = \"none\"\nusername = \"u\"\npassword = \"p\"");
        local.host = "127.0.0.1".into();
        local.validate().unwrap();
    }

    #[test]
    fn username_and_password_come_together() {
        assert!(smtp("username = \"u\"").validate().is_err());
        assert!(smtp("password = \"p\"").validate().is_err());
        assert!(smtp("username = \"u\"\npassword = \"\"").validate().is_err());
        smtp("username = \"u\"\npassword = \"p\"").validate().unwrap();
    }

    #[test]
    fn password_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let mut c = smtp("username = \"u\"");
        c.password_file = Some(path);
        c.validate().unwrap();
        assert_eq!(c.password().unwrap().unwrap().expose_secret(), "s3cret");
        c.password = Some(SecretString::from("x"));
        assert!(c.validate().is_err(), "both password and password_file");
    }

    #[test]
    fn senders_are_checked() {
        parse_sender("Contoso <no-reply@contoso.com>", "mail.from").unwrap();
        parse_sender("no-reply@contoso.com", "mail.from").unwrap();
        parse_sender(DEV_DEFAULT_FROM, "mail.from").unwrap();
        assert!(parse_sender("not an address", "mail.from").is_err());
        assert!(parse_sender("a@b.com\r\nBcc: x@y.com", "mail.from").is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<MailConfig, _> = from_toml("backend = \"dev\"\nfrom_ = \"x\"");
        assert!(r.is_err());
    }
}
