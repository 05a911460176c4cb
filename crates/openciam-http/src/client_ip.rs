//! The client's IP, as the rate limits and the audit log see it.
//!
//! Without a trusted proxy the client is the peer of the TCP connection, and headers such as
//! `X-Forwarded-For` are ignored: any client can send them. Behind reverse proxies, the operator
//! names the header they set ([`TrustedProxy`]). Each proxy appends the address it received the
//! request from to the right of that header, so only the right-most entries were written by
//! trusted proxies: with `hops` proxies the client is the entry `hops` places from the right. An
//! entry further left was sent by the client and is never used. When the header is missing,
//! too short or unparsable, the peer address (the nearest proxy) is used.

use axum::http::HeaderMap;
use axum::http::HeaderName;
use axum::http::header::InvalidHeaderName;
use std::net::{IpAddr, SocketAddr};

/// A header set by the reverse proxies in front of openciam (`[http] trusted_proxy_header`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxy {
    header: HeaderName,
    hops: usize,
}

impl TrustedProxy {
    /// `header` (e.g. `x-forwarded-for`, `x-real-ip`) as set by `hops` proxies (at least 1).
    pub fn new(header: &str, hops: usize) -> Result<Self, InvalidHeaderName> {
        Ok(Self {
            header: HeaderName::try_from(header.to_ascii_lowercase())?,
            hops: hops.max(1),
        })
    }

    /// The client address the proxies recorded, if the header holds one where expected. Every
    /// occurrence of the header counts, in order, as one comma-separated list.
    fn client(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let mut entries: Vec<&str> = Vec::new();
        for value in headers.get_all(&self.header) {
            entries.extend(value.to_str().ok()?.split(','));
        }
        let entry = entries.iter().rev().nth(self.hops - 1)?;
        parse_entry(entry.trim())
    }
}

/// `192.0.2.7`, `2001:db8::1`, `192.0.2.7:5000` or `[2001:db8::1]:5000`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The client IP of a request from `peer` with `headers`.
pub(crate) fn client_ip(
    proxy: Option<&TrustedProxy>,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Option<IpAddr> {
    proxy.and_then(|p| p.client(headers)).or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: &'static str, values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_static(v));
        }
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_a_trusted_proxy_the_peer_is_the_client() {
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(client_ip(None, &h, ip("127.0.0.1")), ip("127.0.0.1"));
    }

    #[test]
    fn the_right_most_entries_are_the_proxies() {
        let one = TrustedProxy::new("X-Forwarded-For", 1).unwrap();
        let two = TrustedProxy::new("x-forwarded-for", 2).unwrap();
        let h = headers("x-forwarded-for", &["198.51.100.1, 203.0.113.9", "192.0.2.44"]);
        assert_eq!(client_ip(Some(&one), &h, ip("10.0.0.1")), ip("192.0.2.44"));
        assert_eq!(client_ip(Some(&two), &h, ip("10.0.0.1")), ip("203.0.113.9"));
        let three = TrustedProxy::new("x-forwarded-for", 3).unwrap();
        let short = headers("x-forwarded-for", &["192.0.2.44"]);
        assert_eq!(client_ip(Some(&three), &short, ip("10.0.0.1")), ip("10.0.0.1"));
    }

    #[test]
    fn entries_with_ports_and_bad_entries() {
        let p = TrustedProxy::new("x-real-ip", 1).unwrap();
        let peer = ip("10.0.0.1");
        assert_eq!(
            client_ip(Some(&p), &headers("x-real-ip", &["[2001:db8::1]:443"]), peer),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(Some(&p), &headers("x-real-ip", &["192.0.2.1:80"]), peer),
            ip("192.0.2.1")
        );
        assert_eq!(
            client_ip(Some(&p), &headers("x-real-ip", &["unknown"]), peer),
            peer
        );
        assert_eq!(client_ip(Some(&p), &HeaderMap::new(), peer), peer);
        assert!(TrustedProxy::new("bad header", 1).is_err());
    }
}
