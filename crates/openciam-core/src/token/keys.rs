//! Signing keys. RSA-2048 keys are generated on first start, stored with the private half
//! encrypted under the master key, and parsed once into an `aws-lc-rs` key pair that signs every
//! token (jsonwebtoken's `encode` would re-parse the DER key on every signature).
//!
//! Rotation (`openciam keys rotate`) adds a key that is published in the JWKS at once but signs
//! only from its `activate_at`, so relying parties have fetched it before the first token signed
//! with it arrives ([`JWKS_MAX_AGE`] is far below the default one-hour delay). At that moment the
//! keys before it are retired: they stop signing but stay published until the longest token
//! lifetime has passed, so every token they signed can still be verified until it expires.
//! Which key signs and which are published is decided from the clock on every use, so
//! activation needs no restart and no reload.
//!
//! Algorithm allow-list: openciam signs with RS256 only ([`ALLOWED_ALGORITHMS`]). A stored key
//! record naming any other algorithm (`none`, `HS256`, …) is refused when keys are loaded, and
//! the JWKS and discovery advertise RS256 only. openciam never parses a JWT it receives (refresh
//! tokens are opaque), so there is no verification path that could accept another algorithm.

use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::model::SigningKeyRecord;
use crate::ports::Store;
use anyhow::Context as _;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, RSAKeyParameters,
    RSAKeyType,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// A parsed signing key.
pub struct SigningKey {
    kid: String,
    pair: KeyPair,
    jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 DER private key.
    pub fn from_pkcs8(der: &[u8]) -> anyhow::Result<Self> {
        let pair = KeyPair::from_pkcs8(der).map_err(|e| anyhow::anyhow!("bad RSA key: {e}"))?;
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let n = URL_SAFE_NO_PAD.encode(trim_leading_zeros(&public.n));
        let e = URL_SAFE_NO_PAD.encode(trim_leading_zeros(&public.e));
        // RFC 7638 thumbprint: SHA-256 over the required members in lexical order.
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_id: Some(kid.clone()),
                key_algorithm: Some(KeyAlgorithm::RS256),
                ..Default::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n,
                e,
            }),
        };
        Ok(Self { kid, pair, jwk })
    }

    /// Generates a new RSA-2048 key; returns it with its PKCS#8 DER.
    pub fn generate() -> anyhow::Result<(Self, Vec<u8>)> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| anyhow::anyhow!("RSA keygen: {e}"))?;
        let der = pair
            .as_der()
            .map_err(|e| anyhow::anyhow!("RSA export: {e}"))?
            .as_ref()
            .to_vec();
        Ok((Self::from_pkcs8(&der)?, der))
    }

    /// Key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Public JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `message` with RS256.
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
            .map_err(|e| anyhow::anyhow!("RSA sign: {e}"))?;
        Ok(sig)
    }
}

fn trim_leading_zeros(b: &[u8]) -> &[u8] {
    let first = b
        .iter()
        .position(|&x| x != 0)
        .unwrap_or(b.len().saturating_sub(1));
    &b[first..]
}

/// The only signing algorithm openciam issues, publishes or loads keys for.
pub const ALLOWED_ALGORITHMS: &[&str] = &["RS256"];

/// Seconds relying parties may cache the JWKS (`Cache-Control: max-age`). Kept well below the
/// default activation delay of a rotated key (one hour) so caches learn a new key before it signs.
pub const JWKS_MAX_AGE: u64 = 300;

/// One loaded key with its schedule.
#[derive(Debug, Clone)]
struct KeyEntry {
    key: Arc<SigningKey>,
    created_at: i64,
    activate_at: i64,
    retired_at: Option<i64>,
}

/// Every stored key with its schedule: which one signs and which are published is a function of
/// the time asked about.
#[derive(Debug, Clone)]
pub struct KeyRing {
    entries: Vec<KeyEntry>,
}

/// Where one key stands at a given time (for `openciam keys list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    /// Key id.
    pub kid: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Signing starts (or started) at this time.
    pub activate_at: i64,
    /// Signing stops (or stopped) at this time.
    pub retired_at: Option<i64>,
    /// The JWKS stops listing the key at this time (retirement plus the longest token lifetime).
    pub unpublish_at: Option<i64>,
    /// Listed in the JWKS now.
    pub published: bool,
    /// Signs new tokens now.
    pub signing: bool,
}

impl KeyRing {
    /// Loads the keys from the store, creating the first one when there is none. Two processes
    /// starting on an empty database race through [`crate::ports::KeyStore::insert_first_signing_key`],
    /// which stores at most one of their keys; both then use the stored one.
    pub async fn load_or_create(
        store: &dyn Store,
        master: &MasterKey,
        clock: &dyn Clock,
    ) -> anyhow::Result<Self> {
        let mut records = store.signing_keys().await.context("reading signing keys")?;
        if records.is_empty() {
            let record = new_key_record(master, clock.unix(), Duration::ZERO).await?;
            let inserted = store
                .insert_first_signing_key(&record)
                .await
                .context("storing the first signing key")?;
            if !inserted {
                tracing::info!("another node created the first signing key; using it");
            }
            records = store.signing_keys().await.context("reading signing keys")?;
        }
        Self::from_records(&records, master, clock.unix())
    }

    /// Reads every key from the store again (another node or `keys rotate` may have added one).
    pub async fn reload(store: &dyn Store, master: &MasterKey, now: i64) -> anyhow::Result<Self> {
        let records = store.signing_keys().await.context("reading signing keys")?;
        Self::from_records(&records, master, now)
    }

    /// Builds the ring from stored records. Fails when a record names an algorithm outside
    /// [`ALLOWED_ALGORITHMS`], cannot be decrypted, or when no key signs at `now`.
    pub fn from_records(records: &[SigningKeyRecord], master: &MasterKey, now: i64) -> anyhow::Result<Self> {
        let mut entries = Vec::with_capacity(records.len());
        for r in records {
            if !ALLOWED_ALGORITHMS.contains(&r.alg.as_str()) {
                anyhow::bail!(
                    "signing key {} is stored with algorithm {:?}; openciam signs and publishes only {:?}, \
                     so the key is refused (remove the record or replace it with `openciam keys rotate`)",
                    r.kid,
                    r.alg,
                    ALLOWED_ALGORITHMS
                );
            }
            let der = master
                .open(r.kid.as_bytes(), &r.private_key_enc)
                .with_context(|| {
                    format!("decrypting signing key {} with the configured master key", r.kid)
                })?;
            entries.push(KeyEntry {
                key: Arc::new(SigningKey::from_pkcs8(&der)?),
                created_at: r.created_at,
                activate_at: r.activate_at,
                retired_at: r.retired_at,
            });
        }
        let ring = Self { entries };
        ring.signing_key(now)?;
        Ok(ring)
    }

    /// The key that signs at `now`: the most recently activated key that is not retired.
    pub fn signing_key(&self, now: i64) -> anyhow::Result<Arc<SigningKey>> {
        self.entries
            .iter()
            .filter(|e| signs_at(e.activate_at, e.retired_at, now))
            .max_by_key(|e| (e.activate_at, e.created_at))
            .map(|e| e.key.clone())
            .context("no signing key is active now")
    }

    /// The JWKS at `now`: every key not yet retired (pending ones included) and every retired key
    /// for `retain` after its retirement (the longest lifetime of a token it may have signed).
    pub fn jwks(&self, now: i64, retain: Duration) -> JwkSet {
        let retain = secs(retain);
        JwkSet {
            keys: self
                .entries
                .iter()
                .filter(|e| published_at(e.retired_at, now, retain))
                .map(|e| e.key.jwk().clone())
                .collect(),
        }
    }
}

/// Where every stored key stands at `now`, newest first (for `openciam keys list`). Works on the
/// records alone: no key is decrypted. `retain` is the longest token lifetime.
pub fn key_status(records: &[SigningKeyRecord], now: i64, retain: Duration) -> Vec<KeyStatus> {
    let retain = secs(retain);
    let signing = records
        .iter()
        .filter(|r| signs_at(r.activate_at, r.retired_at, now))
        .max_by_key(|r| (r.activate_at, r.created_at))
        .map(|r| r.kid.clone());
    let mut out: Vec<KeyStatus> = records
        .iter()
        .map(|r| KeyStatus {
            kid: r.kid.clone(),
            created_at: r.created_at,
            activate_at: r.activate_at,
            retired_at: r.retired_at,
            unpublish_at: r.retired_at.map(|t| t.saturating_add(retain)),
            published: published_at(r.retired_at, now, retain),
            signing: signing.as_deref() == Some(r.kid.as_str()),
        })
        .collect();
    out.sort_by(|a, b| (b.created_at, &b.kid).cmp(&(a.created_at, &a.kid)));
    out
}

/// A key signs from its activation until its retirement.
fn signs_at(activate_at: i64, retired_at: Option<i64>, now: i64) -> bool {
    activate_at <= now && retired_at.is_none_or(|r| now < r)
}

/// A key is published until `retain` after its retirement (pending keys included).
fn published_at(retired_at: Option<i64>, now: i64, retain: i64) -> bool {
    retired_at.is_none_or(|r| now < r.saturating_add(retain))
}

/// Generates a key and its record: created at `now`, signing from `now + activate_after`.
async fn new_key_record(
    master: &MasterKey,
    now: i64,
    activate_after: Duration,
) -> anyhow::Result<SigningKeyRecord> {
    let (key, der) = tokio::task::spawn_blocking(SigningKey::generate).await??;
    Ok(SigningKeyRecord {
        kid: key.kid().to_owned(),
        alg: ALLOWED_ALGORITHMS[0].into(),
        private_key_enc: master.seal(key.kid().as_bytes(), &der),
        created_at: now,
        activate_at: now.saturating_add(secs(activate_after)),
        retired_at: None,
    })
}

/// `openciam keys rotate`: stores a new key that is published at once and signs from
/// `now + activate_after`, when every earlier key is retired. Returns the new record.
pub async fn rotate(
    store: &dyn Store,
    master: &MasterKey,
    clock: &dyn Clock,
    activate_after: Duration,
) -> anyhow::Result<SigningKeyRecord> {
    let record = new_key_record(master, clock.unix(), activate_after).await?;
    store
        .rotate_signing_key(&record)
        .await
        .context("storing the new signing key")?;
    Ok(record)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_published_jwk() {
        let (key, _) = SigningKey::generate().unwrap();
        let msg = b"header.payload";
        let sig = key.sign(msg).unwrap();
        let AlgorithmParameters::RSA(rsa) = &key.jwk().algorithm else {
            panic!("not RSA")
        };
        let n = URL_SAFE_NO_PAD.decode(&rsa.n).unwrap();
        let e = URL_SAFE_NO_PAD.decode(&rsa.e).unwrap();
        let public = RsaPublicKeyComponents { n, e };
        public
            .verify(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256, msg, &sig)
            .unwrap();
    }

    fn record(master: &MasterKey, activate_at: i64, retired_at: Option<i64>) -> SigningKeyRecord {
        let (key, der) = SigningKey::generate().unwrap();
        SigningKeyRecord {
            kid: key.kid().to_owned(),
            alg: "RS256".into(),
            private_key_enc: master.seal(key.kid().as_bytes(), &der),
            created_at: activate_at,
            activate_at,
            retired_at,
        }
    }

    fn master() -> MasterKey {
        MasterKey::from_base64(&MasterKey::generate_base64()).unwrap()
    }

    fn kids(set: &JwkSet) -> Vec<String> {
        set.keys.iter().filter_map(|k| k.common.key_id.clone()).collect()
    }

    #[test]
    fn signing_and_publishing_follow_the_schedule() {
        let master = master();
        let old = record(&master, 0, Some(1000));
        let new = record(&master, 1000, None);
        let ring = KeyRing::from_records(&[new.clone(), old.clone()], &master, 0).unwrap();
        let retain = Duration::from_secs(3600);
        assert_eq!(ring.signing_key(999).unwrap().kid(), old.kid);
        assert_eq!(ring.signing_key(1000).unwrap().kid(), new.kid);
        assert_eq!(
            kids(&ring.jwks(0, retain)),
            vec![new.kid.clone(), old.kid.clone()]
        );
        assert_eq!(
            kids(&ring.jwks(4599, retain)),
            vec![new.kid.clone(), old.kid.clone()]
        );
        assert_eq!(kids(&ring.jwks(4600, retain)), vec![new.kid.clone()]);
        let status = key_status(&[old.clone(), new.clone()], 1000, retain);
        assert_eq!(status[0].kid, new.kid);
        assert!(status[0].signing && status[0].published);
        assert!(!status[1].signing && status[1].published);
        assert_eq!(status[1].unpublish_at, Some(4600));
    }

    #[test]
    fn only_rs256_key_records_load() {
        let master = master();
        for alg in ["none", "HS256", "RS384", "ES256", "rs256", ""] {
            let mut bad = record(&master, 0, None);
            bad.alg = alg.into();
            let err = KeyRing::from_records(&[bad], &master, 0).unwrap_err();
            assert!(err.to_string().contains("refused"), "{alg}: {err}");
        }
        assert_eq!(ALLOWED_ALGORITHMS, &["RS256"]);
    }

    #[test]
    fn a_ring_without_a_key_signing_now_is_refused() {
        let master = master();
        let pending = record(&master, 100, None);
        assert!(KeyRing::from_records(&[pending], &master, 99).is_err());
    }
}
