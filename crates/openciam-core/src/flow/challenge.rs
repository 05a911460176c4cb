//! The client's `challenge_type` list (spec §4.1): parsed once, compared case-insensitively.

use crate::error::{FlowError, FlowResult};

/// A challenge type a client can list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeType {
    /// One-time code.
    Oob,
    /// Password.
    Password,
    /// Browser fallback.
    Redirect,
}

impl ChallengeType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oob => "oob",
            Self::Password => "password",
            Self::Redirect => "redirect",
        }
    }
}

/// A validated list: known values only, `redirect` included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeTypes(Vec<ChallengeType>);

impl ChallengeTypes {
    /// Validates a list as sent. Empty → the parameter is missing; an unknown value →
    /// `invalid_request`; no `redirect` → `unsupported_challenge_type` (spec §7.1).
    pub fn parse(items: &[String]) -> FlowResult<Self> {
        if items.is_empty() {
            return Err(FlowError::MissingParameter("challenge_type"));
        }
        let mut out = Vec::new();
        for item in items {
            let t = match item.to_ascii_lowercase().as_str() {
                "oob" => ChallengeType::Oob,
                "password" => ChallengeType::Password,
                "redirect" => ChallengeType::Redirect,
                _ => return Err(FlowError::UnknownChallengeType(item.clone())),
            };
            if !out.contains(&t) {
                out.push(t);
            }
        }
        if !out.contains(&ChallengeType::Redirect) {
            return Err(FlowError::RedirectMissing);
        }
        Ok(Self(out))
    }

    /// Parses the list a later step sent, falling back to the flow's stored list when the client
    /// sent none (the parameter is optional at `challenge`, spec §5.2, §5.5).
    pub fn parse_or_stored(items: &[String], stored: &[String]) -> FlowResult<Self> {
        if items.is_empty() {
            Self::parse(stored)
        } else {
            Self::parse(items)
        }
    }

    /// Whether the list has `t`.
    pub fn has(&self, t: ChallengeType) -> bool {
        self.0.contains(&t)
    }

    /// Wire names, for storing in the flow.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|t| t.as_str().to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Vec<String> {
        s.split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn values_are_case_insensitive() {
        let t = ChallengeTypes::parse(&list("OOB Password REDIRECT")).unwrap();
        assert!(t.has(ChallengeType::Oob) && t.has(ChallengeType::Password));
    }

    #[test]
    fn redirect_is_required() {
        assert!(matches!(
            ChallengeTypes::parse(&list("password oob")),
            Err(FlowError::RedirectMissing)
        ));
    }

    #[test]
    fn unknown_values_are_named() {
        match ChallengeTypes::parse(&list("password sms redirect")) {
            Err(FlowError::UnknownChallengeType(v)) => assert_eq!(v, "sms"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_is_missing() {
        assert!(matches!(
            ChallengeTypes::parse(&[]),
            Err(FlowError::MissingParameter("challenge_type"))
        ));
    }
}
