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

/// How a flow authenticates, once negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The user's password.
    Password,
    /// An e-mailed code.
    Oob,
}

/// The one decision of spec §4.1 / §6.4: continue with a method, or fall back to the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Negotiated {
    /// Continue natively.
    Use(Method),
    /// The client cannot do what is needed: answer the redirect response, with the reason.
    Redirect(String),
}

fn redirect(needed: &str, why: &str) -> Negotiated {
    Negotiated::Redirect(format!(
        "{why}, and the client did not list the '{needed}' challenge type."
    ))
}

/// Sign-in: a password app signs its users in with their password (a user without one, e.g.
/// created by a code-only app, gets a code); a code-only app always uses a code.
pub fn negotiate_sign_in(
    app: &crate::model::SignInMethod,
    user_has_password: bool,
    types: &ChallengeTypes,
) -> Negotiated {
    use crate::model::SignInMethod as M;
    let wanted = match app {
        M::EmailPassword if user_has_password => Method::Password,
        M::EmailPassword | M::EmailOtp => Method::Oob,
    };
    match wanted {
        Method::Password if types.has(ChallengeType::Password) => Negotiated::Use(Method::Password),
        Method::Password => redirect("password", "This app signs users in with a password"),
        Method::Oob if types.has(ChallengeType::Oob) => Negotiated::Use(Method::Oob),
        Method::Oob => redirect("oob", "This user signs in with an e-mailed code"),
    }
}

/// Sign-up: every sign-up verifies the address with a code; a password app also needs a password.
pub fn negotiate_sign_up(app: &crate::model::SignInMethod, types: &ChallengeTypes) -> Negotiated {
    if !types.has(ChallengeType::Oob) {
        return redirect("oob", "Sign-up verifies the e-mail address with a code");
    }
    if *app == crate::model::SignInMethod::EmailPassword && !types.has(ChallengeType::Password) {
        return redirect("password", "This app signs users up with a password");
    }
    Negotiated::Use(Method::Oob)
}

/// Password reset: always proves the address with a code.
pub fn negotiate_reset(types: &ChallengeTypes) -> Negotiated {
    if types.has(ChallengeType::Oob) {
        Negotiated::Use(Method::Oob)
    } else {
        redirect("oob", "Password reset verifies the e-mail address with a code")
    }
}

#[cfg(test)]
mod negotiation_tests {
    use super::*;
    use crate::model::SignInMethod::{EmailOtp, EmailPassword};

    fn t(s: &str) -> ChallengeTypes {
        ChallengeTypes::parse(&s.split(' ').map(str::to_owned).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn every_combination() {
        use Method::{Oob, Password};
        let redirect = |n: &Negotiated| matches!(n, Negotiated::Redirect(_));
        // (app, user has password, client list) → sign-in
        let cases = [
            (EmailPassword, true, "password redirect", Some(Password)),
            (EmailPassword, true, "oob password redirect", Some(Password)),
            (EmailPassword, true, "oob redirect", None),
            (EmailPassword, false, "oob redirect", Some(Oob)),
            (EmailPassword, false, "password redirect", None),
            (EmailOtp, true, "oob redirect", Some(Oob)),
            (EmailOtp, false, "oob password redirect", Some(Oob)),
            (EmailOtp, false, "password redirect", None),
        ];
        for (app, has_pw, list, want) in cases {
            let got = negotiate_sign_in(&app, has_pw, &t(list));
            match want {
                Some(m) => assert_eq!(got, Negotiated::Use(m), "{app:?} {has_pw} {list}"),
                None => assert!(redirect(&got), "{app:?} {has_pw} {list}"),
            }
        }
        // sign-up
        assert_eq!(
            negotiate_sign_up(&EmailPassword, &t("oob password redirect")),
            Negotiated::Use(Oob)
        );
        assert!(redirect(&negotiate_sign_up(&EmailPassword, &t("oob redirect"))));
        assert!(redirect(&negotiate_sign_up(
            &EmailPassword,
            &t("password redirect")
        )));
        assert_eq!(
            negotiate_sign_up(&EmailOtp, &t("oob redirect")),
            Negotiated::Use(Oob)
        );
        assert!(redirect(&negotiate_sign_up(&EmailOtp, &t("password redirect"))));
        // reset: a password app's client that lists only oob can still reset
        assert_eq!(negotiate_reset(&t("oob redirect")), Negotiated::Use(Oob));
        assert!(redirect(&negotiate_reset(&t("password redirect"))));
    }
}
