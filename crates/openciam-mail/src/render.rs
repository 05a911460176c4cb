//! Turns an [`OutboundEmail`] into a finished message (sender, subject, text, HTML) with the
//! tenant's branding. Shared by every backend, so the dev mailbox shows exactly what SMTP sends.

use crate::config::{DEFAULT_PRODUCT_NAME, MailConfig, check_product_name, parse_sender};
use crate::templates::{TemplateKind, TemplateSet, Values};
use lettre::message::Mailbox;
use openciam_core::mail::{MailPurpose, MailTenant, OutboundEmail};
use std::collections::HashMap;

/// Sender and product name of one tenant (or the default).
#[derive(Debug, Clone)]
pub(crate) struct Brand {
    pub(crate) from: Mailbox,
    pub(crate) product_name: String,
}

/// A rendered message, ready to deliver or keep.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub(crate) from: Mailbox,
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
    pub(crate) code: Option<String>,
    pub(crate) purpose: Option<MailPurpose>,
}

/// Templates plus branding; built once from the configuration.
#[derive(Debug)]
pub(crate) struct Renderer {
    templates: TemplateSet,
    default: Brand,
    tenants: HashMap<String, Brand>,
}

impl Renderer {
    /// Validates the branding and loads the templates.
    pub(crate) fn from_config(config: &MailConfig) -> anyhow::Result<Self> {
        let default = Brand {
            from: parse_sender(config.default_from()?, "mail.from")?,
            product_name: check_product_name(
                config.product_name.as_deref().unwrap_or(DEFAULT_PRODUCT_NAME),
                "mail.product_name",
            )?,
        };
        let mut tenants = HashMap::new();
        for (name, t) in &config.tenants {
            let from = match &t.from {
                Some(from) => parse_sender(from, &format!("mail.tenants.{name}.from"))?,
                None => default.from.clone(),
            };
            let product_name = match &t.product_name {
                Some(p) => check_product_name(p, &format!("mail.tenants.{name}.product_name"))?,
                None => default.product_name.clone(),
            };
            tenants.insert(name.clone(), Brand { from, product_name });
        }
        Ok(Self {
            templates: TemplateSet::load(&config.templates)?,
            default,
            tenants,
        })
    }

    fn brand(&self, tenant: &MailTenant) -> &Brand {
        self.tenants.get(&tenant.name).unwrap_or(&self.default)
    }

    /// Renders one of the core's messages.
    pub(crate) fn render(&self, tenant: &MailTenant, mail: &OutboundEmail) -> Rendered {
        match mail {
            OutboundEmail::Otp {
                to,
                code,
                purpose,
                expires_in_minutes,
            } => {
                let kind = match purpose {
                    MailPurpose::Signup => TemplateKind::SignupCode,
                    MailPurpose::Signin => TemplateKind::SigninCode,
                    MailPurpose::Resetpassword => TemplateKind::ResetCode,
                };
                let mut r = self.render_kind(tenant, kind, to, Some(code), Some(*expires_in_minutes));
                r.code = Some(code.clone());
                r.purpose = Some(*purpose);
                r
            }
            OutboundEmail::PasswordChanged { to } => {
                self.render_kind(tenant, TemplateKind::PasswordChanged, to, None, None)
            }
            OutboundEmail::SignupAttempt { to } => {
                self.render_kind(tenant, TemplateKind::SignupAttempt, to, None, None)
            }
        }
    }

    /// Renders the message `openciam mail test` sends.
    pub(crate) fn render_test(&self, tenant: &MailTenant, to: &str) -> Rendered {
        self.render_kind(tenant, TemplateKind::Test, to, None, None)
    }

    fn render_kind(
        &self,
        tenant: &MailTenant,
        kind: TemplateKind,
        to: &str,
        code: Option<&str>,
        expires_in_minutes: Option<u32>,
    ) -> Rendered {
        let brand = self.brand(tenant);
        let to = to.trim();
        let values = Values {
            code,
            product_name: &brand.product_name,
            expires_in_minutes,
            email: to,
        };
        let t = self.templates.get(kind);
        Rendered {
            from: brand.from.clone(),
            to: to.to_owned(),
            subject: t.subject.render(&values),
            text: t.text.render(&values),
            html: t.html.render(&values),
            code: None,
            purpose: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::from_toml;

    fn tenant(name: &str) -> MailTenant {
        MailTenant { name: name.into() }
    }

    fn otp(code: &str) -> OutboundEmail {
        OutboundEmail::Otp {
            to: " Alice@Example.com ".into(),
            code: code.into(),
            purpose: MailPurpose::Signup,
            expires_in_minutes: 10,
        }
    }

    #[test]
    fn tenants_get_their_own_branding() {
        let config: MailConfig = from_toml(
            r#"
            from = "Default <no-reply@default.test>"
            product_name = "Default"
            [tenants.contoso]
            from = "Contoso <hello@contoso.test>"
            product_name = "Contoso"
            [tenants.fabrikam]
            product_name = "Fabrikam"
            "#,
        )
        .unwrap();
        let r = Renderer::from_config(&config).unwrap();
        let c = r.render(&tenant("contoso"), &otp("111111"));
        assert_eq!(c.from.to_string(), "Contoso <hello@contoso.test>");
        assert_eq!(c.subject, "Your Contoso verification code");
        let f = r.render(&tenant("fabrikam"), &otp("111111"));
        assert_eq!(f.from.to_string(), "Default <no-reply@default.test>");
        assert!(f.text.contains("Fabrikam"));
        let other = r.render(&tenant("other"), &otp("111111"));
        assert_eq!(other.subject, "Your Default verification code");
    }

    #[test]
    fn code_and_purpose_are_kept() {
        let r = Renderer::from_config(&MailConfig::default()).unwrap();
        let m = r.render(&tenant("t"), &otp("424242"));
        assert_eq!(m.code.as_deref(), Some("424242"));
        assert_eq!(m.purpose, Some(MailPurpose::Signup));
        assert_eq!(m.to, "Alice@Example.com");
        assert!(m.text.contains("424242") && m.html.contains("424242"));
        assert!(m.text.contains("10 minutes"));
    }

    #[test]
    fn notices_name_the_address_escaped() {
        let r = Renderer::from_config(&MailConfig::default()).unwrap();
        let m = r.render(
            &tenant("t"),
            &OutboundEmail::SignupAttempt {
                to: "a<b>@x.com".into(),
            },
        );
        assert!(m.html.contains("a&lt;b&gt;@x.com"));
        assert!(m.text.contains("a<b>@x.com"));
        assert_eq!(m.code, None);
    }

    #[test]
    fn bad_branding_fails_the_start() {
        for toml in [
            "from = \"nope\"",
            "[tenants.x]\nfrom = \"also nope\"",
            "product_name = \"\"",
            "[tenants.x]\nproduct_name = \"a\\r\\nBcc: x@y.com\"",
            "backend = \"smtp\"",
        ] {
            let config: MailConfig = from_toml(toml).unwrap();
            assert!(Renderer::from_config(&config).is_err(), "{toml}");
        }
    }
}
