//! Usernames (e-mail addresses) and their normalised form.
//!
//! Two spellings of one address must be one user: the normalised form is Unicode NFC, then
//! lower-case, with an internationalised domain converted to punycode. The address as typed is kept
//! for display (`preferred_username`). Uniqueness is on the normalised form, per tenant.

use unicode_normalization::UnicodeNormalization;

/// Longest address accepted (RFC 5321 path limit, as spec'd for `username`).
pub const MAX_LEN: usize = 320;

/// A validated username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    display: String,
    normalized: String,
}

impl Username {
    /// Validates and normalises an e-mail address. `None` when it is not one.
    pub fn parse(raw: &str) -> Option<Self> {
        let display = raw.trim();
        if display.is_empty() || display.len() > MAX_LEN {
            return None;
        }
        if display.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return None;
        }
        let (local, domain) = display.rsplit_once('@')?;
        if local.is_empty() || domain.is_empty() || local.contains('@') {
            return None;
        }
        let local: String = local.nfc().collect::<String>().to_lowercase();
        let domain: String = domain.nfc().collect::<String>().to_lowercase();
        let domain = idna::domain_to_ascii(&domain).ok()?;
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return None;
        }
        Some(Self {
            display: display.to_owned(),
            normalized: format!("{local}@{domain}"),
        })
    }

    /// As typed (trimmed).
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The comparison key.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_composition_do_not_matter() {
        let a = Username::parse("Ren\u{e9}e@Example.COM").unwrap();
        let b = Username::parse("rene\u{301}e@example.com").unwrap();
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.display(), "Ren\u{e9}e@Example.COM");
    }

    #[test]
    fn idn_domains_become_punycode() {
        let u = Username::parse("anna@b\u{fc}cher.de").unwrap();
        assert_eq!(u.normalized(), "anna@xn--bcher-kva.de");
    }

    #[test]
    fn non_addresses_are_refused() {
        for bad in [
            "",
            "alice",
            "@x.com",
            "a@",
            "a b@x.com",
            "a@localhost",
            "a\r\n@x.com",
        ] {
            assert!(Username::parse(bad).is_none(), "{bad:?}");
        }
    }
}
