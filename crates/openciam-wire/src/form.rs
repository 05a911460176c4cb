//! Form-body parsing with the leniency every MSAL client needs (spec §2.1).
//!
//! * `+` and `%20` both decode to a space (`form_urlencoded` does both).
//! * Unknown parameters are ignored: only the names an endpoint asks for are looked at.
//! * A parameter the endpoint reads that arrives twice is an error, because the two values could
//!   disagree and silently picking one hides client bugs.
//! * Multi-valued parameters are split on spaces and commas.

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

    /// The single value of `name`, or `None` when absent. Empty values count as absent.
    pub fn optional(&self, name: &'static str) -> Result<Option<&str>, FormError> {
        let mut found = self.pairs.iter().filter(|(k, _)| k == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(FormError::Duplicate(name));
        }
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
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
    fn flags_accept_one_and_true() {
        for body in [&b"c=1"[..], b"c=true", b"c=TRUE"] {
            assert!(Form::parse(body).flag("c").unwrap());
        }
        assert!(!Form::parse(b"c=0").flag("c").unwrap());
        assert!(!Form::parse(b"").flag("c").unwrap());
    }
}
