//! A user's strong-auth methods as clients see them: masked targets (`login_hint`,
//! `challenge_target_label`) and which method a challenge without `id` uses.

use crate::flow::signup::mask_email;
use crate::model::{AuthMethod, AuthMethodKind};

/// The masked target shown to clients: `j***e@c*****o.com`, `+1 *******67`.
pub fn masked_target(method: &AuthMethod) -> String {
    match method.kind {
        AuthMethodKind::Email => mask_email(&method.target),
        AuthMethodKind::Sms => mask_phone(&method.target),
    }
}

/// `+15551234567` → `+1 *******67`: the country prefix (one to three digits, as far as can be
/// told without a numbering plan, so one digit) and the last two digits.
pub fn mask_phone(e164: &str) -> String {
    let digits: Vec<char> = e164.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 4 {
        return "*".repeat(digits.len().max(1));
    }
    let n = digits.len();
    let tail: String = digits[n - 2..].iter().collect();
    format!("+{} {}{tail}", digits[0], "*".repeat(n - 3))
}

/// The method a challenge without `id` uses (Android's "default method"): the one used most
/// recently to complete a sign-in, else the first registered. `methods` is oldest first.
pub fn default_method(methods: &[AuthMethod]) -> Option<&AuthMethod> {
    methods
        .iter()
        .filter(|m| m.last_used_at.is_some())
        .max_by_key(|m| m.last_used_at)
        .or_else(|| methods.first())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AuthMethodId, TenantId, UserId};

    fn method(kind: AuthMethodKind, target: &str, created: i64, used: Option<i64>) -> AuthMethod {
        AuthMethod {
            id: AuthMethodId::new_random(),
            tenant_id: TenantId::new_random(),
            user_id: UserId::new_random(),
            kind,
            target: target.into(),
            created_at: created,
            last_used_at: used,
        }
    }

    #[test]
    fn phones_keep_country_digit_and_last_two() {
        assert_eq!(mask_phone("+15551234567"), "+1 ********67");
        assert_eq!(mask_phone("+12"), "**");
    }

    #[test]
    fn default_is_last_used_else_first() {
        let a = method(AuthMethodKind::Email, "a@x.com", 1, None);
        let b = method(AuthMethodKind::Sms, "+15551234567", 2, None);
        assert_eq!(default_method(&[a.clone(), b.clone()]).unwrap().id, a.id);
        let b_used = method(AuthMethodKind::Sms, "+15551234567", 2, Some(10));
        let a_used = AuthMethod {
            last_used_at: Some(5),
            ..a.clone()
        };
        assert_eq!(default_method(&[a_used, b_used.clone()]).unwrap().id, b_used.id);
        assert!(default_method(&[]).is_none());
        assert_eq!(masked_target(&a), "a*@x*.com");
    }
}
