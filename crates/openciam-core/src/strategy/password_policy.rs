//! The password policy: which new passwords a tenant accepts at sign-up and reset.
//!
//! Two profiles, chosen per tenant:
//!
//! - **`entra`**, for fidelity with Entra External ID, so that an app tested against openciam sees
//!   the same rejections it will see in production: 8 to 256 characters, at least 3 of the 4
//!   character classes (lowercase, uppercase, digit, symbol or other), no common password. The
//!   default of the `dev` command.
//! - **`nist`**, after NIST SP 800-63B §5.1.1.2: a configurable minimum of at least 8, a maximum
//!   of 256 (NIST asks that at least 64 be allowed), no common password, and *no* composition
//!   rules, because they push users to predictable patterns (`Password1!`) rather than strong
//!   passwords. The default of `serve`.
//!
//! Checks run in a fixed order and the first failure is reported, so a client always sees the
//! same suberror for the same input: too short, too long, invalid (control characters), banned,
//! too weak (Entra only). Lengths count Unicode scalar values (`char`s), not bytes, as NIST asks;
//! the caller passes the same string it will hash.
//!
//! The banned list (`data/banned-passwords.txt`, source and licence beside it) is matched exactly
//! after lowercasing the password; there is no stripping of digits or l33t decoding, so the rule
//! is easy to state to users. It holds only entries of 8 or more characters: shorter ones could
//! never be reached, since no profile accepts fewer than 8 characters, and [`PasswordPolicy::new`]
//! keeps it that way even for a hand-built profile.
//!
//! The list is parsed once into a process-wide `HashSet` behind a `LazyLock`. It is constant data
//! compiled into the binary, the same for every tenant, so a static costs nothing in testability,
//! and it keeps [`PasswordPolicy`] a small `Copy` value that each tenant can hold without `Arc`
//! plumbing. [`PasswordPolicy::new`] forces the parse, so it happens at start-up rather than on
//! the first sign-up.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::LazyLock;
use zeroize::Zeroizing;

/// The smallest minimum length any profile may have: NIST SP 800-63B's floor and Entra's fixed
/// minimum, in characters.
pub const MIN_LENGTH_FLOOR: usize = 8;

/// The longest password any profile accepts, in characters (Entra's limit).
pub const MAX_LENGTH: usize = 256;

/// Character classes the `entra` profile asks for, out of 4.
const ENTRA_REQUIRED_CLASSES: usize = 3;

const BANNED_LIST: &str = include_str!("../../data/banned-passwords.txt");

static BANNED: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    BANNED_LIST
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

/// A tenant's password profile. Deserialized (and validated) from a [`PasswordPolicyConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PasswordPolicyConfig", into = "PasswordPolicyConfig")]
pub enum PolicyProfile {
    /// Entra External ID's rules: 8–256 characters, 3 of 4 character classes, banned list.
    Entra,
    /// NIST SP 800-63B: `min_length`–256 characters, banned list, no composition rules.
    Nist {
        /// Fewest characters accepted; at least [`MIN_LENGTH_FLOOR`].
        min_length: usize,
    },
}

impl PolicyProfile {
    /// The profile of the `dev` command: Entra's, so apps see production's rejections.
    pub const DEV_DEFAULT: Self = Self::Entra;

    /// The profile of `serve` when the config names none: NIST with the minimum of 8.
    pub const SERVE_DEFAULT: Self = Self::Nist {
        min_length: MIN_LENGTH_FLOOR,
    };
}

/// Which profile a [`PasswordPolicyConfig`] names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileName {
    /// `entra`.
    Entra,
    /// `nist` (the default).
    #[default]
    Nist,
}

/// The `password_policy` config section: `profile = "entra" | "nist"`, plus `min_length` for
/// `nist`. Turned into a [`PolicyProfile`] by [`PasswordPolicyConfig::validate`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicyConfig {
    /// `entra` or `nist`; default `nist`.
    pub profile: ProfileName,
    /// `nist` only: fewest characters accepted, from 8 to 256; default 8. Rejected with `entra`,
    /// whose minimum is fixed at 8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
}

/// Why a [`PasswordPolicyConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyConfigError {
    /// `min_length` below NIST's floor.
    #[error("password_policy.min_length must be at least {MIN_LENGTH_FLOOR} (NIST SP 800-63B), not {0}")]
    MinLengthTooSmall(usize),
    /// `min_length` above the maximum length, which would refuse every password.
    #[error(
        "password_policy.min_length must be at most {MAX_LENGTH}, the longest password accepted, not {0}"
    )]
    MinLengthTooLarge(usize),
    /// `min_length` given with the `entra` profile.
    #[error("password_policy.min_length applies to profile \"nist\" only; \"entra\" is fixed at 8")]
    MinLengthWithEntra,
}

impl PasswordPolicyConfig {
    /// Checks the section and returns the profile it names.
    pub fn validate(self) -> Result<PolicyProfile, PolicyConfigError> {
        match (self.profile, self.min_length) {
            (ProfileName::Entra, None) => Ok(PolicyProfile::Entra),
            (ProfileName::Entra, Some(_)) => Err(PolicyConfigError::MinLengthWithEntra),
            (ProfileName::Nist, None) => Ok(PolicyProfile::SERVE_DEFAULT),
            (ProfileName::Nist, Some(n)) if n < MIN_LENGTH_FLOOR => {
                Err(PolicyConfigError::MinLengthTooSmall(n))
            }
            (ProfileName::Nist, Some(n)) if n > MAX_LENGTH => Err(PolicyConfigError::MinLengthTooLarge(n)),
            (ProfileName::Nist, Some(n)) => Ok(PolicyProfile::Nist { min_length: n }),
        }
    }
}

impl TryFrom<PasswordPolicyConfig> for PolicyProfile {
    type Error = PolicyConfigError;

    fn try_from(config: PasswordPolicyConfig) -> Result<Self, Self::Error> {
        config.validate()
    }
}

impl From<PolicyProfile> for PasswordPolicyConfig {
    fn from(profile: PolicyProfile) -> Self {
        match profile {
            PolicyProfile::Entra => Self {
                profile: ProfileName::Entra,
                min_length: None,
            },
            PolicyProfile::Nist { min_length } => Self {
                profile: ProfileName::Nist,
                min_length: Some(min_length),
            },
        }
    }
}

/// Why a password was refused: the first failing check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Fewer characters than the profile's minimum.
    #[error("the password is too short")]
    TooShort,
    /// More than [`MAX_LENGTH`] characters.
    #[error("the password is too long")]
    TooLong,
    /// Contains a control character (CR, LF, TAB, NUL, …).
    #[error("the password contains characters that are not allowed")]
    Invalid,
    /// A common password, from the banned list.
    #[error("the password is too common")]
    Banned,
    /// Too few character classes (`entra` profile only).
    #[error("the password needs at least 3 of: lowercase, uppercase, digits, symbols")]
    TooWeak,
}

impl PolicyViolation {
    /// Entra's `suberror` for this violation.
    pub fn suberror(&self) -> &'static str {
        match self {
            Self::TooShort => "password_too_short",
            Self::TooLong => "password_too_long",
            Self::Invalid => "password_is_invalid",
            Self::Banned => "password_banned",
            Self::TooWeak => "password_too_weak",
        }
    }
}

/// A tenant's password policy, checked on every new password (sign-up, reset, admin set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    profile: PolicyProfile,
    min_length: usize,
}

impl PasswordPolicy {
    /// The policy of `profile`. A hand-built `Nist` minimum outside 8..=256 is clamped into that
    /// range (config goes through [`PasswordPolicyConfig::validate`], which refuses it instead),
    /// so no policy ever accepts fewer than 8 characters. Parses the banned list on first use.
    pub fn new(profile: PolicyProfile) -> Self {
        LazyLock::force(&BANNED);
        let min_length = match profile {
            PolicyProfile::Entra => MIN_LENGTH_FLOOR,
            PolicyProfile::Nist { min_length } => min_length.clamp(MIN_LENGTH_FLOOR, MAX_LENGTH),
        };
        Self { profile, min_length }
    }

    /// The profile this policy enforces.
    pub fn profile(&self) -> PolicyProfile {
        self.profile
    }

    /// Checks a new password; the first failing check wins, in the order of [`PolicyViolation`].
    pub fn check(&self, password: &str) -> Result<(), PolicyViolation> {
        let length = password.chars().count();
        if length < self.min_length {
            return Err(PolicyViolation::TooShort);
        }
        if length > MAX_LENGTH {
            return Err(PolicyViolation::TooLong);
        }
        if password.chars().any(char::is_control) {
            return Err(PolicyViolation::Invalid);
        }
        if is_banned(password) {
            return Err(PolicyViolation::Banned);
        }
        if self.profile == PolicyProfile::Entra && character_classes(password) < ENTRA_REQUIRED_CLASSES {
            return Err(PolicyViolation::TooWeak);
        }
        Ok(())
    }
}

/// Exact match of the lowercased password against the list (which is lowercase). The lowercased
/// copy is a secret too, so it is wiped when dropped.
fn is_banned(password: &str) -> bool {
    let lowercase = Zeroizing::new(password.to_lowercase());
    BANNED.contains(lowercase.as_str())
}

/// How many of the 4 classes occur: lowercase, uppercase (both Unicode-aware), ASCII digit, and
/// anything else (symbols, spaces, uncased letters such as CJK, other digits).
fn character_classes(password: &str) -> usize {
    let (mut lower, mut upper, mut digit, mut other) = (false, false, false, false);
    for c in password.chars() {
        if c.is_lowercase() {
            lower = true;
        } else if c.is_uppercase() {
            upper = true;
        } else if c.is_ascii_digit() {
            digit = true;
        } else {
            other = true;
        }
    }
    [lower, upper, digit, other]
        .into_iter()
        .filter(|&present| present)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use PolicyViolation::*;

    fn entra() -> PasswordPolicy {
        PasswordPolicy::new(PolicyProfile::Entra)
    }

    fn nist(min_length: usize) -> PasswordPolicy {
        PasswordPolicy::new(PolicyProfile::Nist { min_length })
    }

    fn parse(json: &str) -> Result<PolicyProfile, String> {
        serde_json::from_str::<PolicyProfile>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_good_passwords() {
        assert_eq!(entra().check("Tr0ub4dor&3"), Ok(()));
        assert_eq!(nist(8).check("correct horse battery staple"), Ok(()));
        assert_eq!(nist(8).check("correcthorsebatterystaple"), Ok(()));
    }

    #[test]
    fn each_violation() {
        assert_eq!(entra().check("Ab1!xyz"), Err(TooShort));
        assert_eq!(entra().check(&"Ab1!".repeat(65)), Err(TooLong));
        assert_eq!(entra().check("Abcdef1!\n"), Err(Invalid));
        assert_eq!(entra().check("P@ssw0rd"), Err(Banned));
        assert_eq!(entra().check("abcdefghij1"), Err(TooWeak));
    }

    #[test]
    fn suberrors_are_entra_wire_names() {
        assert_eq!(TooShort.suberror(), "password_too_short");
        assert_eq!(TooLong.suberror(), "password_too_long");
        assert_eq!(Invalid.suberror(), "password_is_invalid");
        assert_eq!(Banned.suberror(), "password_banned");
        assert_eq!(TooWeak.suberror(), "password_too_weak");
    }

    #[test]
    fn first_failing_check_wins() {
        // Short, and also weak: short wins. `12345` is common too, but too short to be listed.
        assert_eq!(entra().check("12345"), Err(TooShort));
        assert_eq!(entra().check("ab\0"), Err(TooShort));
        // Too long, and all control characters: too long wins.
        assert_eq!(entra().check(&"\0".repeat(300)), Err(TooLong));
        // Control character, and weak: invalid wins.
        assert_eq!(entra().check("abcdefgh\t"), Err(Invalid));
        // Banned, and weak (lowercase + digit): banned wins.
        assert_eq!(entra().check("password1"), Err(Banned));
    }

    #[test]
    fn boundaries_are_inclusive() {
        assert_eq!(entra().check("Abcdef1!"), Ok(()));
        let max = format!("Ab1!{}", "x".repeat(MAX_LENGTH - 4));
        assert_eq!(entra().check(&max), Ok(()));
        assert_eq!(entra().check(&format!("{max}x")), Err(TooLong));
    }

    #[test]
    fn banned_list_is_case_insensitive() {
        for password in ["password1", "PASSWORD1", "PaSsWoRd1"] {
            assert_eq!(nist(8).check(password), Err(Banned), "{password}");
            assert_eq!(entra().check(password), Err(Banned), "{password}");
        }
        // Exact match only: nothing is stripped before the lookup.
        assert_eq!(nist(8).check("password1 is mine"), Ok(()));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(nist(8).check(&"é".repeat(7)), Err(TooShort)); // 14 bytes
        assert_eq!(nist(8).check(&"é".repeat(8)), Ok(()));
        assert_eq!(nist(8).check(&"€".repeat(MAX_LENGTH)), Ok(())); // 768 bytes
        assert_eq!(nist(8).check(&"€".repeat(MAX_LENGTH + 1)), Err(TooLong));
        assert_eq!(nist(8).check("🔑🔑🔑🔑🔑🔑🔑"), Err(TooShort));
    }

    #[test]
    fn control_characters_are_invalid() {
        for c in ['\r', '\n', '\t', '\0', '\u{1b}', '\u{7f}', '\u{85}'] {
            let password = format!("Abcdef1!{c}x");
            assert_eq!(entra().check(&password), Err(Invalid), "{c:?}");
            assert_eq!(nist(8).check(&password), Err(Invalid), "{c:?}");
        }
        // A space is not a control character.
        assert_eq!(entra().check("Abc def 1"), Ok(()));
    }

    #[test]
    fn entra_wants_three_of_four_classes() {
        for password in ["Mxkqwvt7", "Abcdefg!", "abcdef1!", "ABCDEF1!", "Ab1!Ab1!"] {
            assert_eq!(entra().check(password), Ok(()), "{password}");
        }
        for password in ["Abcdefgh", "mxkqwvt7", "ABCDEFG!", "1234!@#$%^", "zzzzzzzzzz"] {
            assert_eq!(entra().check(password), Err(TooWeak), "{password}");
        }
        // Non-ASCII letters have case; uncased letters count as "other".
        assert_eq!(entra().check("Éléphant1"), Ok(()));
        assert_eq!(entra().check("abcdefg密码"), Err(TooWeak));
        assert_eq!(entra().check("Abcdefg密码"), Ok(()));
    }

    #[test]
    fn nist_has_no_composition_rule() {
        assert_eq!(nist(8).check("zzzzzzzzzz"), Ok(()));
        assert_eq!(nist(8).check("12398745603"), Ok(()));
    }

    #[test]
    fn nist_minimum_is_configurable() {
        assert_eq!(nist(12).check("Abcdefgh1!x"), Err(TooShort));
        assert_eq!(nist(12).check("Abcdefgh1!xy"), Ok(()));
    }

    #[test]
    fn hand_built_profile_is_clamped() {
        assert_eq!(nist(4).check("Abc1!zz"), Err(TooShort));
        assert_eq!(nist(1000).check(&"Ab1!".repeat(64)), Ok(()));
    }

    #[test]
    fn config_defaults_and_profiles() {
        assert_eq!(parse("{}"), Ok(PolicyProfile::SERVE_DEFAULT));
        assert_eq!(
            parse(r#"{"profile":"nist"}"#),
            Ok(PolicyProfile::Nist { min_length: 8 })
        );
        assert_eq!(parse(r#"{"profile":"entra"}"#), Ok(PolicyProfile::Entra));
        assert_eq!(
            parse(r#"{"profile":"nist","min_length":12}"#),
            Ok(PolicyProfile::Nist { min_length: 12 })
        );
        assert_eq!(
            parse(r#"{"min_length":256}"#),
            Ok(PolicyProfile::Nist { min_length: 256 })
        );
        assert_eq!(PolicyProfile::DEV_DEFAULT, PolicyProfile::Entra);
    }

    #[test]
    fn config_validation() {
        let err = parse(r#"{"profile":"nist","min_length":7}"#).unwrap_err();
        assert!(err.contains("at least 8"), "{err}");
        let err = parse(r#"{"profile":"nist","min_length":257}"#).unwrap_err();
        assert!(err.contains("at most 256"), "{err}");
        let err = parse(r#"{"profile":"entra","min_length":12}"#).unwrap_err();
        assert!(err.contains("\"nist\" only"), "{err}");
        let err = parse(r#"{"profile":"nist","min_lenght":12}"#).unwrap_err();
        assert!(err.contains("unknown field"), "{err}");
        let err = parse(r#"{"profile":"strict"}"#).unwrap_err();
        assert!(err.contains("unknown variant"), "{err}");
    }

    #[test]
    fn config_round_trips() {
        for profile in [PolicyProfile::Entra, PolicyProfile::Nist { min_length: 10 }] {
            let json = serde_json::to_string(&profile).unwrap();
            assert_eq!(parse(&json), Ok(profile), "{json}");
        }
        assert_eq!(
            serde_json::to_string(&PolicyProfile::Entra).unwrap(),
            r#"{"profile":"entra"}"#
        );
    }

    #[test]
    fn banned_list_is_well_formed() {
        let lines: Vec<&str> = BANNED_LIST.lines().collect();
        assert!((3_000..=20_000).contains(&lines.len()), "{} entries", lines.len());
        for line in &lines {
            assert!(!line.trim().is_empty(), "blank line");
            assert_eq!(*line, line.trim(), "whitespace around {line:?}");
            assert_eq!(*line, line.to_lowercase(), "not lowercase: {line:?}");
            // Shorter entries could never be reached: every profile rejects them as too short.
            assert!(line.chars().count() >= MIN_LENGTH_FLOOR, "too short: {line:?}");
            assert!(
                !line.chars().any(char::is_control),
                "control character in {line:?}"
            );
        }
        assert_eq!(BANNED.len(), lines.len(), "duplicates in the list");
    }
}
