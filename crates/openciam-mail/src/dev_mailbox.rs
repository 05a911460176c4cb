//! [`DevMailbox`]: keeps rendered messages in memory for `openciam dev` (`/_dev/mailbox`).
//!
//! It is the dev SMS outbox too: as an [`SmsSender`] it keeps each text message under the
//! number's E.164 form, with `channel: "sms"` (mail has `channel: "email"`).
//!
//! Retention is per normalised address: each address keeps its latest [`PER_ADDRESS`] messages, so a
//! load test writing to many addresses cannot push out the one a person is waiting on. The number of
//! addresses is capped at [`MAX_ADDRESSES`]; past it, the address written to least recently is
//! dropped whole. The lock is a std `Mutex`, held only for in-memory work, never across an await.

use crate::render::{Rendered, Renderer};
use async_trait::async_trait;
use openciam_core::clock::Clock;
use openciam_core::mail::{
    Channel, MailError, MailTenant, MailboxFilter, MailboxReader, Mailer, OutboundEmail, StoredMessage,
};
use openciam_core::phone::PhoneNumber;
use openciam_core::sms::{OutboundSms, SmsError, SmsSender};
use openciam_core::username::Username;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Messages kept per address.
pub const PER_ADDRESS: usize = 20;
/// Addresses kept.
pub const MAX_ADDRESSES: usize = 10_000;

/// The in-memory mailbox of the dev backend.
pub struct DevMailbox {
    renderer: Arc<Renderer>,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for DevMailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevMailbox").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    by_address: HashMap<String, Slot>,
    /// Last write's sequence number → address, to find the least recently written address.
    by_last_write: BTreeMap<u64, String>,
}

struct Slot {
    last_seq: u64,
    /// Newest first.
    messages: VecDeque<Entry>,
}

struct Entry {
    seq: u64,
    message: StoredMessage,
}

/// The comparison key of an address: as the core normalises usernames, a phone number's E.164
/// form, or trimmed lower case for anything else (the dev mailbox must never lose a message).
/// A number whose `+` was lost to URL decoding (`?to=+1555…` decodes to a space) still matches.
pub fn normalize_address(address: &str) -> String {
    if let Some(u) = Username::parse(address) {
        return u.normalized().to_owned();
    }
    let trimmed = address.trim();
    let phone = if trimmed.starts_with('+') {
        PhoneNumber::parse(trimmed).ok()
    } else if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit() || c == ' ') {
        PhoneNumber::parse(&format!("+{trimmed}")).ok()
    } else {
        None
    };
    match phone {
        Some(p) => p.e164().to_owned(),
        None => trimmed.to_lowercase(),
    }
}

impl DevMailbox {
    pub(crate) fn new(renderer: Arc<Renderer>, clock: Arc<dyn Clock>) -> Self {
        Self {
            renderer,
            clock,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The newest matching code, for `GET /_dev/mailbox/latest-code`. `None` when there is none.
    pub fn latest_code(&self, filter: &MailboxFilter) -> Option<String> {
        self.messages(filter).into_iter().find_map(|m| m.code)
    }

    /// Keeps the `openciam mail test` message.
    pub fn send_test(&self, tenant: &MailTenant, to: &str) {
        self.keep(self.renderer.render_test(tenant, to));
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that matters
        // for a dev tool; keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keep(&self, r: Rendered) {
        let key = normalize_address(&r.to);
        let message = StoredMessage {
            channel: Channel::Email,
            to: r.to,
            subject: r.subject,
            text: r.text,
            code: r.code,
            purpose: r.purpose,
            sent_at: self.clock.now().unix_timestamp_nanos().div_euclid(1_000_000) as i64,
        };
        self.lock().insert(key, message);
    }

    fn keep_sms(&self, sms: &OutboundSms) {
        let message = StoredMessage {
            channel: Channel::Sms,
            to: sms.to.e164().to_owned(),
            subject: String::new(),
            text: sms.text(),
            code: Some(sms.code.clone()),
            purpose: Some(sms.purpose),
            sent_at: self.clock.now().unix_timestamp_nanos().div_euclid(1_000_000) as i64,
        };
        self.lock().insert(sms.to.e164().to_owned(), message);
    }
}

impl Inner {
    fn insert(&mut self, key: String, message: StoredMessage) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if !self.by_address.contains_key(&key)
            && self.by_address.len() >= MAX_ADDRESSES
            && let Some((_, oldest)) = self.by_last_write.pop_first()
        {
            self.by_address.remove(&oldest);
        }
        let slot = self.by_address.entry(key.clone()).or_insert_with(|| Slot {
            last_seq: seq,
            messages: VecDeque::new(),
        });
        self.by_last_write.remove(&slot.last_seq);
        slot.last_seq = seq;
        slot.messages.push_front(Entry { seq, message });
        slot.messages.truncate(PER_ADDRESS);
        self.by_last_write.insert(seq, key);
    }
}

fn matches(filter: &MailboxFilter, m: &StoredMessage) -> bool {
    filter.purpose.is_none_or(|p| m.purpose == Some(p))
        && filter.channel.is_none_or(|c| m.channel == c)
        && filter.since_ms.is_none_or(|since| m.sent_at >= since)
}

impl MailboxReader for DevMailbox {
    fn messages(&self, filter: &MailboxFilter) -> Vec<StoredMessage> {
        let inner = self.lock();
        let mut found: Vec<&Entry> = match &filter.to {
            Some(to) => inner
                .by_address
                .get(&normalize_address(to))
                .map(|s| s.messages.iter().collect()),
            None => Some(
                inner
                    .by_address
                    .values()
                    .flat_map(|s| s.messages.iter())
                    .collect(),
            ),
        }
        .unwrap_or_default();
        found.retain(|e| matches(filter, &e.message));
        found.sort_unstable_by_key(|e| std::cmp::Reverse(e.seq));
        found.into_iter().map(|e| e.message.clone()).collect()
    }
}

#[async_trait]
impl Mailer for DevMailbox {
    async fn send(&self, tenant: &MailTenant, mail: &OutboundEmail) -> Result<(), MailError> {
        self.keep(self.renderer.render(tenant, mail));
        tracing::debug!(mail = ?mail, "mail kept in the dev mailbox");
        Ok(())
    }
}

#[async_trait]
impl SmsSender for DevMailbox {
    async fn send(&self, _tenant: &MailTenant, sms: &OutboundSms) -> Result<(), SmsError> {
        self.keep_sms(sms);
        tracing::debug!(sms = ?sms, "SMS kept in the dev outbox");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MailConfig;
    use openciam_core::clock::FakeClock;
    use openciam_core::mail::MailPurpose;

    fn mailbox() -> (DevMailbox, Arc<FakeClock>) {
        let clock = Arc::new(FakeClock::default());
        let renderer = Arc::new(Renderer::from_config(&MailConfig::default()).unwrap());
        (DevMailbox::new(renderer, clock.clone()), clock)
    }

    fn tenant() -> MailTenant {
        MailTenant { name: "demo".into() }
    }

    async fn send_code(mb: &DevMailbox, to: &str, code: &str, purpose: MailPurpose) {
        let mail = OutboundEmail::Otp {
            to: to.into(),
            code: code.into(),
            purpose,
            expires_in_minutes: 10,
        };
        Mailer::send(mb, &tenant(), &mail).await.unwrap();
    }

    fn to(addr: &str) -> MailboxFilter {
        MailboxFilter {
            to: Some(addr.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn newest_first_and_matched_in_normalised_form() {
        let (mb, _) = mailbox();
        send_code(&mb, "Ren\u{e9}e@Example.COM", "111111", MailPurpose::Signup).await;
        send_code(&mb, "rene\u{301}e@example.com", "222222", MailPurpose::Signin).await;
        let all = mb.messages(&to("  RENE\u{301}E@example.com "));
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].code.as_deref(), Some("222222"));
        assert_eq!(all[1].code.as_deref(), Some("111111"));
        assert_eq!(all[1].to, "Ren\u{e9}e@Example.COM", "kept as addressed");
        assert_eq!(
            mb.latest_code(&to("renée@example.com")).as_deref(),
            Some("222222")
        );
        assert!(mb.latest_code(&to("someone@else.com")).is_none());
    }

    #[tokio::test]
    async fn each_address_keeps_its_latest_twenty() {
        let (mb, _) = mailbox();
        send_code(&mb, "quiet@example.com", "000000", MailPurpose::Signup).await;
        for i in 0..(PER_ADDRESS + 15) {
            send_code(&mb, "busy@example.com", &format!("{i:06}"), MailPurpose::Signin).await;
        }
        let busy = mb.messages(&to("busy@example.com"));
        assert_eq!(busy.len(), PER_ADDRESS);
        assert_eq!(busy[0].code.as_deref(), Some("000034"));
        assert_eq!(busy[PER_ADDRESS - 1].code.as_deref(), Some("000015"));
        assert_eq!(
            mb.latest_code(&to("quiet@example.com")).as_deref(),
            Some("000000")
        );
        assert_eq!(mb.messages(&MailboxFilter::default()).len(), PER_ADDRESS + 1);
    }

    #[tokio::test]
    async fn filters_by_purpose_and_time() {
        let (mb, clock) = mailbox();
        send_code(&mb, "a@example.com", "111111", MailPurpose::Signup).await;
        clock.advance(60);
        let since = clock.now().unix_timestamp() * 1000;
        send_code(&mb, "a@example.com", "222222", MailPurpose::Resetpassword).await;
        send_code(&mb, "b@example.com", "333333", MailPurpose::Signup).await;

        let signup = MailboxFilter {
            purpose: Some(MailPurpose::Signup),
            ..to("a@example.com")
        };
        assert_eq!(mb.latest_code(&signup).as_deref(), Some("111111"));
        let recent = MailboxFilter {
            since_ms: Some(since),
            ..to("a@example.com")
        };
        let codes: Vec<_> = mb.messages(&recent).into_iter().filter_map(|m| m.code).collect();
        assert_eq!(codes, ["222222"]);
        let all_signups = MailboxFilter {
            purpose: Some(MailPurpose::Signup),
            ..Default::default()
        };
        let codes: Vec<_> = mb
            .messages(&all_signups)
            .into_iter()
            .filter_map(|m| m.code)
            .collect();
        assert_eq!(codes, ["333333", "111111"], "newest first across addresses");
    }

    #[tokio::test]
    async fn notices_have_no_code() {
        let (mb, _) = mailbox();
        send_code(&mb, "a@example.com", "111111", MailPurpose::Resetpassword).await;
        Mailer::send(
            &mb,
            &tenant(),
            &OutboundEmail::PasswordChanged {
                to: "a@example.com".into(),
            },
        )
        .await
        .unwrap();
        let all = mb.messages(&to("a@example.com"));
        assert_eq!(all[0].code, None);
        assert_eq!(all[0].purpose, None);
        assert!(all[0].subject.contains("password was changed"));
        assert_eq!(mb.latest_code(&to("a@example.com")).as_deref(), Some("111111"));
    }

    #[test]
    fn least_recently_written_address_goes_first_when_full() {
        let mut inner = Inner::default();
        let msg = |to: &str| StoredMessage {
            channel: Channel::Email,
            to: to.into(),
            subject: String::new(),
            text: String::new(),
            code: None,
            purpose: None,
            sent_at: 0,
        };
        for i in 0..MAX_ADDRESSES {
            inner.insert(format!("u{i}@x.com"), msg("x"));
        }
        inner.insert("u0@x.com".into(), msg("x")); // u0 is now the most recent
        inner.insert("new@x.com".into(), msg("x"));
        assert_eq!(inner.by_address.len(), MAX_ADDRESSES);
        assert!(inner.by_address.contains_key("u0@x.com"));
        assert!(!inner.by_address.contains_key("u1@x.com"));
        assert_eq!(inner.by_last_write.len(), MAX_ADDRESSES);
    }

    #[tokio::test]
    async fn sms_are_kept_by_number_with_their_channel() {
        let (mb, _) = mailbox();
        send_code(&mb, "a@example.com", "111111", MailPurpose::Signin).await;
        let sms = OutboundSms {
            to: PhoneNumber::parse("+1 555 123 4567").unwrap(),
            code: "22222222".into(),
            purpose: MailPurpose::Signin,
            expires_in_minutes: 10,
        };
        SmsSender::send(&mb, &tenant(), &sms).await.unwrap();
        for query in ["+15551234567", " 15551234567", "+1 (555) 123-4567"] {
            let got = mb.messages(&to(query));
            assert_eq!(got.len(), 1, "{query:?}");
            assert_eq!(got[0].channel, Channel::Sms);
            assert_eq!(got[0].to, "+15551234567");
            assert_eq!(got[0].code.as_deref(), Some("22222222"));
            assert!(got[0].text.contains("22222222"));
        }
        let sms_only = MailboxFilter {
            channel: Some(Channel::Sms),
            ..Default::default()
        };
        let all = mb.messages(&sms_only);
        assert_eq!(all.len(), 1);
        let email_only = MailboxFilter {
            channel: Some(Channel::Email),
            ..Default::default()
        };
        let mails = mb.messages(&email_only);
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].channel, Channel::Email);
        let json = serde_json::to_value(&all[0]).unwrap();
        assert_eq!(json["channel"], "sms");
        assert_eq!(serde_json::to_value(&mails[0]).unwrap()["channel"], "email");
    }
}
