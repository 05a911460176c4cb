//! Small cryptographic helpers: random tokens, token hashing, and the master key that encrypts
//! private keys at rest (AES-256-GCM, nonce prepended).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 256 bits of CSPRNG output, base64url without padding (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // ThreadRng is a CSPRNG (ChaCha12) seeded and periodically reseeded from the OS.
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token, the only form in which tokens are stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The key that encrypts private keys at rest, and from which other keys (the one-time-code HMAC
/// key) are derived. 32 bytes.
pub struct MasterKey {
    aead: LessSafeKey,
    raw: zeroize::Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Errors of the master key.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// Not 32 bytes of base64.
    #[error("the master key must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)")]
    Malformed,
    /// Decryption failed: wrong master key or corrupted data.
    #[error("cannot decrypt with this master key (wrong key, or the data is corrupted)")]
    Decrypt,
}

impl MasterKey {
    /// From base64 (standard or URL-safe) text of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let text = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| MasterKeyError::Malformed)?;
        Self::from_bytes(&bytes)
    }

    /// From raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MasterKeyError> {
        if bytes.len() != 32 {
            return Err(MasterKeyError::Malformed);
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| MasterKeyError::Malformed)?;
        let mut raw = zeroize::Zeroizing::new([0u8; 32]);
        raw.copy_from_slice(bytes);
        Ok(Self {
            aead: LessSafeKey::new(key),
            raw,
        })
    }

    /// A 32-byte key for `purpose`, derived with HMAC-SHA256 so that each use has its own key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, self.raw.as_slice());
        let tag = aws_lc_rs::hmac::sign(&key, format!("openciam derive\0{purpose}").as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// A new random key, base64 (for `openciam dev` and operators).
    pub fn generate_base64() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Encrypts `plain`, binding it to `context` (e.g. the key id).
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = plain.to_vec();
        // Sealing with a fresh nonce cannot fail for inputs this small.
        let _ = self.aead.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context),
            &mut buf,
        );
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        out
    }

    /// Decrypts what [`MasterKey::seal`] produced with the same `context`.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        if sealed.len() < NONCE_LEN {
            return Err(MasterKeyError::Decrypt);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| MasterKeyError::Decrypt)?;
        let mut buf = rest.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(context), &mut buf)
            .map_err(|_| MasterKeyError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits() {
        let t = random_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, random_token());
    }

    #[test]
    fn seal_round_trips_and_binds_context() {
        let k = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
        let sealed = k.seal(b"kid1", b"secret");
        assert_eq!(k.open(b"kid1", &sealed).unwrap(), b"secret");
        assert!(k.open(b"kid2", &sealed).is_err());
        let other = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
        assert!(other.open(b"kid1", &sealed).is_err());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    }
}
