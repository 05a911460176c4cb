//! Who is calling: the facts about the current HTTP request that security controls need (client
//! IP for rate limits, user agent and correlation id for the audit log). The HTTP layer runs each
//! request inside [`RequestMeta::scope`]; the core reads [`RequestMeta::current`], which is the
//! default (nothing known) outside a request, e.g. in CLI commands.

use std::future::Future;
use std::net::IpAddr;

/// Facts about the request being served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    /// The client's IP: the peer address, or the configured trusted proxy header's value.
    pub ip: Option<IpAddr>,
    /// `User-Agent`, truncated and stripped of control characters.
    pub user_agent: Option<String>,
    /// The request's correlation id (`client-request-id`).
    pub correlation_id: Option<String>,
}

tokio::task_local! {
    static CURRENT: RequestMeta;
}

impl RequestMeta {
    /// Runs `fut` with `self` as the current request.
    pub async fn scope<F: Future>(self, fut: F) -> F::Output {
        CURRENT.scope(self, fut).await
    }

    /// The current request's facts (default outside a request).
    pub fn current() -> Self {
        CURRENT.try_with(Clone::clone).unwrap_or_default()
    }
}

/// Longest user agent kept.
pub const MAX_USER_AGENT: usize = 256;

/// A header value made safe for logs and the audit table: control characters dropped, at most
/// [`MAX_USER_AGENT`] bytes (cut at a character boundary).
pub fn clean_user_agent(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_USER_AGENT {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn current_inside_and_outside_a_scope() {
        assert_eq!(RequestMeta::current(), RequestMeta::default());
        let meta = RequestMeta {
            ip: "192.0.2.7".parse().ok(),
            user_agent: Some("ua".into()),
            correlation_id: Some("c".into()),
        };
        let seen = meta.clone().scope(async { RequestMeta::current() }).await;
        assert_eq!(seen, meta);
    }

    #[test]
    fn user_agent_is_cleaned() {
        assert_eq!(clean_user_agent("a\r\nb\tc"), "abc");
        assert_eq!(clean_user_agent(&"é".repeat(200)).len(), 256);
    }
}
