//! [`PhoneNumber`]: a phone number a user typed as an SMS target, validated and normalised to
//! E.164 (`+` country code and national number, digits only) with the `phonenumber` crate
//! (Google's libphonenumber metadata).
//!
//! Only international input is accepted: a leading `+` and the country code (spaces, dots,
//! dashes and parentheses are allowed between digits). The number must be a valid number of its
//! country's numbering plan; extensions are refused (an SMS cannot reach one). The North
//! American range `+1 555 XXX XXXX` is accepted as well although it is not a valid plan number:
//! area code 555 is not assigned to any place, and documentation and tests use it as the
//! phone-number equivalent of `example.com` (`+15551234567` in the dev outbox).

use std::fmt;

/// The longest input considered (formatting included); longer input is refused unparsed.
pub const MAX_INPUT_CHARS: usize = 40;

/// A valid phone number in E.164 form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
}

/// Why a phone number was refused (every reason maps to `invalid_request` `[901001]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPhoneNumber {
    /// Empty, too long, or not in international form (`+` and country code).
    #[error("not a phone number in international form (+ country code, number)")]
    Malformed,
    /// Parsed, but not a number of its country's numbering plan.
    #[error("not a valid number of its country's numbering plan")]
    NotValid,
    /// Has an extension, which an SMS cannot reach.
    #[error("extensions cannot receive SMS")]
    Extension,
}

impl PhoneNumber {
    /// Validates `input` and normalises it to E.164.
    pub fn parse(input: &str) -> Result<Self, InvalidPhoneNumber> {
        let trimmed = input.trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > MAX_INPUT_CHARS
            || !trimmed.starts_with('+')
            || trimmed.chars().any(char::is_control)
        {
            return Err(InvalidPhoneNumber::Malformed);
        }
        let number = phonenumber::parse(None, trimmed).map_err(|_| InvalidPhoneNumber::Malformed)?;
        if number.extension().is_some() {
            return Err(InvalidPhoneNumber::Extension);
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        let country_code = number.code().value();
        if !(number.is_valid() || is_fictional_nanp(&e164)) {
            return Err(InvalidPhoneNumber::NotValid);
        }
        Ok(Self { e164, country_code })
    }

    /// The number in E.164 form, e.g. `+15551234567`.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The country calling code, e.g. `1` or `44` (the toll-fraud limit per country prefix counts
    /// by it).
    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The number with all but its last two digits hidden, as shown to a user choosing a method
    /// (`login_hint`), e.g. `+1 ********67`.
    pub fn masked(&self) -> String {
        let cc = self.country_code.to_string();
        let national = self.e164.get(1 + cc.len()..).unwrap_or_default();
        let shown = national.len().saturating_sub(2);
        let tail = national.get(shown..).unwrap_or_default();
        format!("+{cc} {}{tail}", "*".repeat(shown))
    }
}

/// `+1 555 XXX XXXX`: the unassigned North American area code used for examples and tests.
fn is_fictional_nanp(e164: &str) -> bool {
    e164.len() == 12 && e164.starts_with("+1555")
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Logs get the masked form only.
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl std::str::FromStr for PhoneNumber {
    type Err = InvalidPhoneNumber;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_international_input_to_e164() {
        for (input, e164, cc) in [
            ("+1 (201) 555-0123", "+12015550123", 1),
            ("  +44 20 7946 0123 ", "+442079460123", 44),
            ("+49 151 12345678", "+4915112345678", 49),
            ("+33 6.12.34.56.78", "+33612345678", 33),
            ("+15551234567", "+15551234567", 1),
            ("+1 555-123-4567", "+15551234567", 1),
        ] {
            let n = PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.e164(), e164, "{input}");
            assert_eq!(n.country_code(), cc, "{input}");
            assert_eq!(n.to_string(), e164);
            assert_eq!(input.parse::<PhoneNumber>().unwrap(), n);
        }
    }

    #[test]
    fn refuses_bad_targets() {
        use InvalidPhoneNumber::*;
        for (input, why) in [
            ("", Malformed),
            ("   ", Malformed),
            ("2015550123", Malformed),
            ("0044 20 7946 0123", Malformed),
            ("+", Malformed),
            ("+999 123456", Malformed),
            ("user@example.com", Malformed),
            ("+1 201\n555 0123", Malformed),
            ("+1 201\u{0}555 0123", Malformed),
            ("+1 201 555 0123 0123 0123 0123 0123 0123 0123", Malformed),
            ("+1 555 0100", NotValid),
            ("+44 20 7946", NotValid),
            ("+1555123456", NotValid),
            ("+1 201 555 0123 ext 5", Extension),
        ] {
            assert_eq!(PhoneNumber::parse(input), Err(why), "{input:?}");
        }
    }

    #[test]
    fn masks_all_but_the_last_two_digits() {
        let n = PhoneNumber::parse("+1 201 555 0142").unwrap();
        assert_eq!(n.masked(), "+1 ********42");
        assert_eq!(format!("{n:?}"), "PhoneNumber(+1 ********42)");
        let n = PhoneNumber::parse("+44 20 7946 0123").unwrap();
        assert_eq!(n.masked(), "+44 ********23");
    }
}
