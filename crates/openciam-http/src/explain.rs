//! Plain-words explanations of error answers, for the dev console and `/_dev/flows`.
//!
//! The error description already says what was wrong; the trace knows more — which call issued
//! the continuation token that was sent, which grant type was used — so it can name the common
//! developer mistakes outright. The table is keyed by `error`, `suberror`, first error code and
//! endpoint, with optional conditions on the grant type and on the call that issued the token;
//! the first matching row wins.

/// What the trace knows about one error answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorFacts<'a> {
    /// `error`.
    pub(crate) error: &'a str,
    /// `suberror`.
    pub(crate) suberror: Option<&'a str>,
    /// First element of `error_codes`.
    pub(crate) code: Option<u64>,
    /// Route template of the call.
    pub(crate) endpoint: &'a str,
    /// `grant_type` sent.
    pub(crate) grant_type: Option<&'a str>,
    /// The call that issued the continuation token sent: route template and status.
    pub(crate) token_from: Option<(&'a str, u16)>,
    /// A continuation token was sent that no traced response issued.
    pub(crate) token_unknown: bool,
}

/// One row of the table. `None` matches anything; endpoints match by suffix.
struct Rule {
    error: Option<&'static str>,
    suberror: Option<&'static str>,
    code: Option<u64>,
    endpoint: Option<&'static str>,
    grant: Option<&'static str>,
    token_from: Option<&'static str>,
    text: &'static str,
}

const ANY: Rule = Rule {
    error: None,
    suberror: None,
    code: None,
    endpoint: None,
    grant: None,
    token_from: None,
    text: "",
};

const TOKEN: &str = "/oauth2/v2.0/token";

/// The table, most specific rows first.
const RULES: &[Rule] = &[
    // A continuation token used for the wrong step.
    Rule {
        code: Some(55200),
        endpoint: Some(TOKEN),
        grant: Some("password"),
        token_from: Some("/signup/v1.0/continue"),
        text: "The sign-up is already complete, and its last continuation_token signs the new user in by itself. Send it to oauth2/v2.0/token with grant_type=continuation_token (plus scope); no password is needed, and grant_type=password only takes the token from a sign-in password challenge.",
        ..ANY
    },
    Rule {
        code: Some(55200),
        endpoint: Some(TOKEN),
        grant: Some("password"),
        token_from: Some("/resetpassword/v1.0/poll_completion"),
        text: "The password reset is complete, and its last continuation_token signs the user in by itself. Send it to oauth2/v2.0/token with grant_type=continuation_token (plus scope); grant_type=password only takes the token from a sign-in password challenge.",
        ..ANY
    },
    Rule {
        code: Some(55200),
        endpoint: Some(TOKEN),
        token_from: Some("/oauth2/v2.0/initiate"),
        text: "The challenge step was skipped. The token from oauth2/v2.0/initiate goes to oauth2/v2.0/challenge first (with challenge_type, e.g. 'password redirect'); that answer carries the token the token endpoint accepts.",
        ..ANY
    },
    Rule {
        code: Some(55200),
        endpoint: Some(TOKEN),
        grant: Some("continuation_token"),
        token_from: Some("/oauth2/v2.0/challenge"),
        text: "grant_type=continuation_token only redeems the token that ends a sign-up or a password reset. A token from a sign-in challenge is redeemed with what the challenge asked for: grant_type=password with the password, or grant_type=oob with the code.",
        ..ANY
    },
    Rule {
        code: Some(55200),
        endpoint: Some("/signup/v1.0/continue"),
        token_from: Some("/signup/v1.0/start"),
        text: "The challenge step was skipped. The token from signup/v1.0/start goes to signup/v1.0/challenge first; its answer says what to collect (a code or a password) and carries the token that signup/v1.0/continue accepts.",
        ..ANY
    },
    Rule {
        code: Some(55200),
        endpoint: Some("/resetpassword/v1.0/submit"),
        token_from: Some("/resetpassword/v1.0/challenge"),
        text: "The code step was skipped. After resetpassword/v1.0/challenge, send the e-mailed code to resetpassword/v1.0/continue (grant_type=oob); its answer carries the token that resetpassword/v1.0/submit accepts with new_password.",
        ..ANY
    },
    Rule {
        code: Some(55200),
        text: "This continuation_token cannot be used for this call. Every token is good for one next step only: send the newest token you received, to the endpoint the error description names, from the same app (client_id) and tenant that started the flow.",
        ..ANY
    },
    Rule {
        error: Some("expired_token"),
        text: "The flow took too long and its tokens expired. Start it again from its first call (oauth2/v2.0/initiate, signup/v1.0/start or resetpassword/v1.0/start) and let the user finish it without a long pause.",
        ..ANY
    },
    // Codes and passwords.
    Rule {
        suberror: Some("invalid_oob_value"),
        text: "The one-time code does not match. Send, as 'oob', the code from the newest message to this address (it is in the dev mailbox), with the same continuation_token. A new code replaces all earlier ones; after too many wrong codes ask for a new one by calling challenge again.",
        ..ANY
    },
    Rule {
        code: Some(50126),
        text: "The password is wrong for this account. Let the user try again: send the right password with the same continuation_token. Many wrong passwords in a row lock the account for a while.",
        ..ANY
    },
    Rule {
        code: Some(50053),
        text: "Too many wrong passwords: the account is locked for now. Wait for the time the description gives, or reset the password, which unlocks it at once.",
        ..ANY
    },
    Rule {
        code: Some(50057),
        text: "An administrator disabled this account, so it gets no tokens. Enable it again with `openciam user enable` if that was not meant.",
        ..ANY
    },
    Rule {
        code: Some(399246),
        text: "The new password does not meet the tenant's password policy (the suberror says which rule). Ask the user for another password and send it with the same continuation_token; the flow is still alive.",
        ..ANY
    },
    Rule {
        suberror: Some("attribute_validation_failed"),
        text: "Some attribute values were refused; invalid_attributes lists them. Correct those values and send them again with the same continuation_token.",
        ..ANY
    },
    // Next steps that are not mistakes.
    Rule {
        error: Some("credential_required"),
        text: "Not a mistake: the account needs a password next. Call signup/v1.0/challenge with this new continuation_token (challenge_type 'password redirect'), then signup/v1.0/continue with grant_type=password.",
        ..ANY
    },
    Rule {
        error: Some("attributes_required"),
        text: "Not a mistake: the app's user flow needs more profile attributes; required_attributes lists them. Send them as a JSON object in 'attributes' to signup/v1.0/continue with grant_type=attributes and this new continuation_token.",
        ..ANY
    },
    // Who the user is.
    Rule {
        error: Some("user_not_found"),
        endpoint: Some("/resetpassword/v1.0/start"),
        text: "No account has this username in this tenant, so there is no password to reset. Check the address and the tenant in the URL, or sign the user up first.",
        ..ANY
    },
    Rule {
        error: Some("user_not_found"),
        text: "No account has this username in this tenant. Sign the user up first (signup/v1.0/start), or check the address and the tenant in the URL.",
        ..ANY
    },
    Rule {
        error: Some("user_already_exists"),
        text: "This username is already registered in this tenant. Offer the user to sign in (oauth2/v2.0/initiate) or to reset the password instead of signing up again.",
        ..ANY
    },
    Rule {
        code: Some(500222),
        text: "This account signs in with e-mailed codes and has no password, so there is nothing to reset. Sign the user in with a code (challenge_type 'oob redirect') instead.",
        ..ANY
    },
    // The app and what it can do.
    Rule {
        error: Some("unsupported_challenge_type"),
        text: "challenge_type must always include 'redirect': it tells the server the app can fall back to the browser when the user needs a method the app cannot show. Send for example challenge_type='oob password redirect'.",
        ..ANY
    },
    Rule {
        error: Some("redirect"),
        text: "Not an error, but the flow cannot go on natively: the user needs a method the app did not offer in challenge_type (or the account can only use another one), so the server answered challenge_type=redirect. Offer that method (oob, password) in challenge_type, or continue with the browser sign-in.",
        ..ANY
    },
    Rule {
        error: Some("unauthorized_client"),
        text: "This client_id is not an app of this tenant. Use the client id the dev server printed at start-up, check the tenant in the URL, or register the app with `openciam app create`.",
        ..ANY
    },
    Rule {
        suberror: Some("nativeauthapi_disabled"),
        text: "The app exists but may not use native authentication. It must be a public client with native authentication enabled; create it that way with `openciam app create`.",
        ..ANY
    },
    Rule {
        code: Some(90002),
        text: "The first segment of the path is not a tenant this server knows. Use the tenant's name (e.g. /demo/…), its domain or its GUID as the authority's last segment.",
        ..ANY
    },
    // Request shape.
    Rule {
        error: Some("unsupported_grant_type"),
        endpoint: Some(TOKEN),
        text: "oauth2/v2.0/token takes grant_type password, oob, continuation_token or refresh_token — the one that matches the step that issued your token.",
        ..ANY
    },
    Rule {
        error: Some("unsupported_grant_type"),
        text: "This endpoint does not take that grant_type: signup and resetpassword continue take oob, password or attributes, matching what the challenge asked for.",
        ..ANY
    },
    Rule {
        code: Some(900561),
        text: "Nothing answers at this path with this method. Native-auth calls are POSTs under /{tenant}/: oauth2/v2.0/{initiate,challenge,token}, signup/v1.0/{start,challenge,continue} and resetpassword/v1.0/{start,challenge,continue,submit,poll_completion}. Check the version segment and the spelling.",
        ..ANY
    },
    Rule {
        code: Some(900144),
        text: "A required form field is missing or empty, or the body is not a form; the description names which. Every call is an application/x-www-form-urlencoded POST and carries client_id.",
        ..ANY
    },
    Rule {
        code: Some(90100),
        text: "A field has a value the server cannot use; the description names it. username is the user's e-mail address, client_id the app's GUID, challenge_type a space-separated list of oob, password and redirect.",
        ..ANY
    },
    Rule {
        error: Some("invalid_request"),
        code: Some(90015),
        text: "A field was sent twice. Send each form field once; two values could disagree, so the server refuses to pick one.",
        ..ANY
    },
    Rule {
        code: Some(90011),
        text: "A field or the whole body is longer than the server accepts; the description gives the limit. Send the value exactly as the user typed it or as the server returned it.",
        ..ANY
    },
    Rule {
        error: Some("invalid_scope"),
        text: "A scope was refused. Ask for OIDC scopes (openid, profile, offline_access) plus the scopes of one API app of this tenant, e.g. 'openid offline_access api://demo/read'.",
        ..ANY
    },
    // Tokens after sign-in.
    Rule {
        code: Some(70000),
        text: "This refresh token is not one the server issued to this app in this tenant (or it was copied wrongly). Sign the user in again.",
        ..ANY
    },
    Rule {
        code: Some(700082),
        text: "The session behind this refresh token has expired. Sign the user in again; refreshing cannot stretch a session past its lifetime.",
        ..ANY
    },
    Rule {
        code: Some(50173),
        text: "The session was revoked (an old refresh token was used again, the password changed, or an administrator revoked it). Always keep and send the newest refresh token; now sign the user in again.",
        ..ANY
    },
    // Limits and outages.
    Rule {
        code: Some(701014),
        text: "Codes are being requested too often. Wait before asking for another one; the code already sent stays valid, so let the user enter it.",
        ..ANY
    },
    Rule {
        code: Some(90055),
        text: "A rate limit was reached; nothing was changed. Wait for the Retry-After header's seconds and send the same request again. In tests, start the dev server with --limits test.",
        ..ANY
    },
    Rule {
        error: Some("temporarily_unavailable"),
        text: "The server could not do this right now (load, or the mail relay). Nothing changed; retry after the Retry-After delay with the same continuation_token.",
        ..ANY
    },
    Rule {
        error: Some("server_error"),
        text: "The server failed; this is not the app's fault. The dev server's log has the cause under this trace_id.",
        ..ANY
    },
];

fn matches(rule: &Rule, f: &ErrorFacts<'_>) -> bool {
    let opt = |want: Option<&str>, got: Option<&str>| want.is_none_or(|w| got == Some(w));
    rule.error.is_none_or(|e| e == f.error)
        && opt(rule.suberror, f.suberror)
        && rule.code.is_none_or(|c| f.code == Some(c))
        && rule.endpoint.is_none_or(|e| f.endpoint.ends_with(e))
        && opt(rule.grant, f.grant_type)
        && rule
            .token_from
            .is_none_or(|t| f.token_from.is_some_and(|(from, _)| from.ends_with(t)))
}

/// The explanation of one error answer.
pub(crate) fn explain(f: &ErrorFacts<'_>) -> String {
    let mut text = RULES.iter().find(|r| matches(r, f)).map_or_else(
        || {
            format!(
                "The server refused this call with '{}'; the error description says what to change.",
                f.error
            )
        },
        |r| r.text.to_owned(),
    );
    let wrong_token = f.code == Some(55200) || f.error == "expired_token";
    match f.token_from {
        Some((from, status)) if wrong_token => {
            let from = from.trim_start_matches("/{tenant}/");
            let grant = f
                .grant_type
                .map(|g| format!(" with grant_type={g}"))
                .unwrap_or_default();
            let to = f.endpoint.trim_start_matches("/{tenant}/");
            text.push_str(&format!(
                " (The token sent came from {from}, which answered {status}; it was sent to {to}{grant}.)"
            ));
        }
        _ if wrong_token && f.token_unknown => text.push_str(
            " (No answer recorded by this dev server issued the token sent: it was copied wrongly, or comes from before a restart or from another server.)",
        ),
        _ => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(error: &'a str, code: u64, endpoint: &'a str) -> ErrorFacts<'a> {
        ErrorFacts {
            error,
            suberror: None,
            code: Some(code),
            endpoint,
            grant_type: None,
            token_from: None,
            token_unknown: false,
        }
    }

    #[test]
    fn a_sign_up_token_sent_with_the_password_grant_is_named() {
        let f = ErrorFacts {
            grant_type: Some("password"),
            token_from: Some(("/{tenant}/signup/v1.0/continue", 200)),
            ..facts("invalid_request", 55200, "/{tenant}/oauth2/v2.0/token")
        };
        let text = explain(&f);
        assert!(text.contains("grant_type=continuation_token"), "{text}");
        assert!(text.contains("came from signup/v1.0/continue"), "{text}");
    }

    #[test]
    fn generic_rows_and_the_fallback() {
        let text = explain(&facts("user_not_found", 50034, "/{tenant}/oauth2/v2.0/initiate"));
        assert!(text.contains("Sign the user up first"), "{text}");
        let text = explain(&facts("something_new", 1, "/x"));
        assert!(text.contains("'something_new'"), "{text}");
    }
}
