//! Form-body parsing with the leniency every MSAL client needs (spec §2.1).
//!
//! * `+` and `%20` both decode to a space (`form_urlencoded` does both).
//! * Unknown parameters are ignored: only the names an endpoint asks for are looked at.
//! * A parameter the endpoint reads that arrives twice is an error, because the two values could
//!   disagree and silently picking one hides client bugs.
//! * Multi-valued parameters are split on spaces and commas.
//! * A few parameters have a byte limit ([`limit`]); a longer value is refused by name before any
//!   work is done with it. The limits sit above what the protocol checks need, so they never
//!   pre-empt a protocol error: a 300-character password still reaches the password policy and is
//!   `password_too_long` there.

/// A parsed `application/x-www-form-urlencoded` body, in arrival order.
#[derive(Debug, Default, Clone)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

/// Why a parameter could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// The parameter is absent or empty.
    Missing(&'static str),
    /// The parameter appears more than once.
    Duplicate(&'static str),
    /// The value is longer than the parameter's limit.
    TooLong {
        /// The parameter.
        name: &'static str,
        /// Its limit in bytes.
        limit: usize,
    },
}

/// Limits in bytes, per parameter (issue 6). Passwords get 1,024 bytes so that every password of
/// up to 256 characters (the policy maximum, at most 4 bytes each) reaches the policy check.
const LIMITS: [(&str, usize); 8] = [
    ("password", 1024),
    ("new_password", 1024),
    ("username", 320),
    ("continuation_token", 4096),
    ("oob", 64),
    ("scope", 2048),
    ("claims", 8192),
    ("refresh_token", 4096),
];

/// The byte limit of parameter `name`, if it has one.
pub fn limit(name: &str) -> Option<usize> {
    LIMITS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

impl Form {
    /// Parses a form body. Never fails: undecodable percent escapes are kept literally, as
    /// browsers do, and invalid UTF-8 becomes U+FFFD.
    pub fn parse(body: &[u8]) -> Self {
        let pairs = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self { pairs }
    }

    /// Checks every limited parameter present, whether or not the endpoint reads it (`claims`
    /// is accepted and ignored, but not at any size). The first offender in arrival order is named.
    pub fn check_limits(&self) -> Result<(), FormError> {
        for (k, v) in &self.pairs {
            if let Some(&(name, limit)) = LIMITS.iter().find(|(n, _)| n == k)
                && v.len() > limit
            {
                return Err(FormError::TooLong { name, limit });
            }
        }
        Ok(())
    }

    /// The single value of `name`, or `None` when absent. Empty values count as absent.
    pub fn optional(&self, name: &'static str) -> Result<Option<&str>, FormError> {
        let mut found = self.pairs.iter().filter(|(k, _)| k == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(FormError::Duplicate(name));
        }
        let value = first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
        if let (Some(v), Some(limit)) = (value, limit(name))
            && v.len() > limit
        {
            return Err(FormError::TooLong { name, limit });
        }
        Ok(value)
    }

    /// The single, non-empty value of `name`.
    pub fn required(&self, name: &'static str) -> Result<&str, FormError> {
        self.optional(name)?.ok_or(FormError::Missing(name))
    }

    /// The union of the space/comma separated lists given under any of `names`
    /// (e.g. `capabilities` and `capability`, spec §2.1). Each name may appear once.
    pub fn list(&self, names: &[&'static str]) -> Result<Vec<String>, FormError> {
        let mut out: Vec<String> = Vec::new();
        for name in names {
            if let Some(v) = self.optional(name)? {
                for item in split_list(v) {
                    if !out.contains(&item) {
                        out.push(item);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Whether the flag `name` is set to `1` or `true` (any case), as `client_info` is.
    pub fn flag(&self, name: &'static str) -> Result<bool, FormError> {
        Ok(self.optional(name)?.is_some_and(|v| {
            let v = v.trim();
            v == "1" || v.eq_ignore_ascii_case("true")
        }))
    }
}

/// Splits a multi-valued parameter on whitespace and commas, dropping empty items.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_and_percent_twenty_both_decode_to_space() {
        let f = Form::parse(b"a=x+y&b=x%20y");
        assert_eq!(f.required("a").unwrap(), "x y");
        assert_eq!(f.required("b").unwrap(), "x y");
    }

    #[test]
    fn duplicates_are_refused_only_when_read() {
        let f = Form::parse(b"a=1&a=2&b=3");
        assert_eq!(f.optional("a"), Err(FormError::Duplicate("a")));
        assert_eq!(f.required("b").unwrap(), "3");
    }

    #[test]
    fn empty_counts_as_missing() {
        let f = Form::parse(b"a=");
        assert_eq!(f.required("a"), Err(FormError::Missing("a")));
    }

    #[test]
    fn lists_split_on_spaces_and_commas_and_merge_names() {
        let f = Form::parse(b"capabilities=mfa_required+registration_required&capability=x,mfa_required");
        assert_eq!(
            f.list(&["capabilities", "capability"]).unwrap(),
            vec!["mfa_required", "registration_required", "x"]
        );
    }

    #[test]
    fn limits_are_bytes_and_inclusive() {
        let at = format!("oob={}&password={}", "1".repeat(64), "\u{e9}".repeat(512));
        let f = Form::parse(at.as_bytes());
        assert_eq!(f.check_limits(), Ok(()));
        assert_eq!(f.required("oob").unwrap().len(), 64);
        assert_eq!(f.required("password").unwrap().len(), 1024);
        let over = Form::parse(format!("oob={}", "1".repeat(65)).as_bytes());
        let err = FormError::TooLong {
            name: "oob",
            limit: 64,
        };
        assert_eq!(over.check_limits(), Err(err.clone()));
        assert_eq!(over.optional("oob"), Err(err));
    }

    #[test]
    fn unread_limited_parameters_are_checked_too() {
        let f = Form::parse(format!("a=1&claims={}", "x".repeat(8193)).as_bytes());
        assert_eq!(
            f.check_limits(),
            Err(FormError::TooLong {
                name: "claims",
                limit: 8192
            })
        );
        assert_eq!(Form::parse(b"other=1").check_limits(), Ok(()));
    }

    #[test]
    fn flags_accept_one_and_true() {
        for body in [&b"c=1"[..], b"c=true", b"c=TRUE"] {
            assert!(Form::parse(body).flag("c").unwrap());
        }
        assert!(!Form::parse(b"c=0").flag("c").unwrap());
        assert!(!Form::parse(b"").flag("c").unwrap());
    }
}
