//! Signing keys. RSA-2048 keys are generated on first start, stored with the private half
//! encrypted under the master key, and parsed once into an `aws-lc-rs` key pair that signs every
//! token (jsonwebtoken's `encode` would re-parse the DER key on every signature).
//!
//! The JWKS publishes every key that is not past retirement, through jsonwebtoken's JWK types.

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

/// The keys in force: the one that signs, and every one that verifies.
#[derive(Debug, Clone)]
pub struct KeyRing {
    /// Signs new tokens.
    pub active: Arc<SigningKey>,
    /// Published in the JWKS.
    pub published: JwkSet,
}

impl KeyRing {
    /// Loads the keys from the store, generating and storing the first one when there is none.
    pub async fn load_or_create(
        store: &dyn Store,
        master: &MasterKey,
        clock: &dyn Clock,
    ) -> anyhow::Result<Self> {
        let mut records = store.signing_keys().await.context("reading signing keys")?;
        if records.is_empty() {
            let (key, der) = tokio::task::spawn_blocking(SigningKey::generate).await??;
            let now = clock.unix();
            let record = SigningKeyRecord {
                kid: key.kid().to_owned(),
                alg: "RS256".into(),
                private_key_enc: master.seal(key.kid().as_bytes(), &der),
                created_at: now,
                activate_at: now,
                retired_at: None,
            };
            // Another process may have created one at the same moment; re-read either way.
            if let Err(e) = store.insert_signing_key(&record).await {
                tracing::warn!(error = %e, "inserting the first signing key failed; re-reading keys");
            }
            records = store.signing_keys().await.context("reading signing keys")?;
        }
        Self::from_records(&records, master, clock.unix())
    }

    /// Builds the ring from stored records: the newest active, unretired key signs.
    pub fn from_records(records: &[SigningKeyRecord], master: &MasterKey, now: i64) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for r in records {
            let der = master
                .open(r.kid.as_bytes(), &r.private_key_enc)
                .with_context(|| {
                    format!("decrypting signing key {} with the configured master key", r.kid)
                })?;
            keys.push((r, Arc::new(SigningKey::from_pkcs8(&der)?)));
        }
        let active = keys
            .iter()
            .filter(|(r, _)| r.activate_at <= now && r.retired_at.is_none())
            .max_by_key(|(r, _)| r.activate_at)
            .map(|(_, k)| k.clone())
            .context("no active signing key")?;
        let published = JwkSet {
            keys: keys.iter().map(|(_, k)| k.jwk().clone()).collect(),
        };
        Ok(Self { active, published })
    }
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
}
