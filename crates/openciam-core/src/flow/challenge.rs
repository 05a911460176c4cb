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

/// What the second factor needs once the first is proven (spec §3.3, §3.4, §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactorNeed {
    /// Nothing: issue the tokens.
    None,
    /// `mfa_required`: the user has a usable method and the client can do MFA.
    Mfa,
    /// `registration_required`: the user has no usable method and the client can register one.
    Register,
    /// The client lacks the capability (or no method is allowed at all): web fallback.
    Redirect(String),
}

/// The second-factor half of the negotiation: the app's policy × the user's usable methods ×
/// the capabilities the client advertised when the flow started.
pub fn negotiate_second_factor(
    policy: &crate::mfa::MfaPolicy,
    usable_methods: usize,
    capabilities: &[String],
) -> SecondFactorNeed {
    if !policy.requires_second_factor() {
        return SecondFactorNeed::None;
    }
    let has = |c: &str| capabilities.iter().any(|x| x.eq_ignore_ascii_case(c));
    if usable_methods > 0 {
        if has("mfa_required") {
            SecondFactorNeed::Mfa
        } else {
            SecondFactorNeed::Redirect(
                "This app requires a second factor, and the client did not advertise the 'mfa_required' capability."
                    .into(),
            )
        }
    } else if policy.methods.is_empty() {
        SecondFactorNeed::Redirect(
            "This app requires a second factor but allows no method that can be registered natively.".into(),
        )
    } else if has("registration_required") {
        SecondFactorNeed::Register
    } else {
        SecondFactorNeed::Redirect(
            "This app requires a second factor the user has not registered yet, and the client did not advertise the 'registration_required' capability."
                .into(),
        )
    }
}

#[cfg(test)]
mod second_factor_tests {
    use super::*;
    use crate::mfa::MfaPolicy;

    #[test]
    fn policy_methods_and_capabilities() {
        let caps = |s: &str| {
            s.split(' ')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let off = MfaPolicy::default();
        let on = MfaPolicy::parse_compact("required:email").unwrap();
        let nothing = MfaPolicy::parse_compact("required")
            .map(|p| MfaPolicy { methods: vec![], ..p })
            .unwrap();
        assert_eq!(
            negotiate_second_factor(&off, 1, &caps("")),
            SecondFactorNeed::None
        );
        assert_eq!(
            negotiate_second_factor(&on, 1, &caps("MFA_required")),
            SecondFactorNeed::Mfa
        );
        assert_eq!(
            negotiate_second_factor(&on, 0, &caps("mfa_required registration_required")),
            SecondFactorNeed::Register
        );
        assert!(
            matches!(negotiate_second_factor(&on, 1, &caps("registration_required")), SecondFactorNeed::Redirect(r) if r.contains("mfa_required"))
        );
        assert!(
            matches!(negotiate_second_factor(&on, 0, &caps("mfa_required")), SecondFactorNeed::Redirect(r) if r.contains("registration_required"))
        );
        assert!(matches!(
            negotiate_second_factor(&nothing, 0, &caps("registration_required")),
            SecondFactorNeed::Redirect(_)
        ));
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
