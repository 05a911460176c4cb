//! The stored password hashes openciam can verify: its own argon2id, and the formats of other
//! systems that `openciam user import` brings in, so imported users keep their passwords until
//! their next sign-in re-hashes them ([`super::needs_rehash`]).
//!
//! Accepted, exactly (`B64` = standard base64 alphabet without padding, as PHC strings use):
//!
//! | scheme | form |
//! |---|---|
//! | argon2 | PHC `$argon2id$`, `$argon2i$` or `$argon2d$` `[v=16 or 19$]m=…,t=…,p=…[,keyid=…][,data=…]$salt$hash` |
//! | bcrypt | `$2a$`, `$2b$` or `$2y$` + two-digit cost + `$` + 53 characters (bcrypt's own base64) |
//! | scrypt | PHC `$scrypt$ln=…,r=…,p=…$salt$hash` (as the `scrypt` crate and passlib write it) |
//! | PBKDF2 | PHC `$pbkdf2-sha256$i=…[,l=…]$salt$hash` and `$pbkdf2-sha512$…` (as the `pbkdf2` crate writes them) |
//! | PBKDF2 | passlib `$pbkdf2-sha256$rounds$salt$hash` and `$pbkdf2-sha512$…`: passlib's adapted base64 (`.` for `+`) |
//! | PBKDF2 | Django `pbkdf2_sha256$iterations$salt$hash`: the salt's text is the salt, the hash padded base64 |
//!
//! Salts and hashes are B64 of the raw bytes unless the row says otherwise. Not accepted: `$2x$`
//! (crypt_blowfish's bug-compatible variant), PBKDF2-SHA1, SHA-crypt (`$5$`, `$6$`), MD5-crypt,
//! and hashes made with a secret key or pepper.
//!
//! Every verification runs on the request path, so parameters that would make one verification
//! cost more than a few seconds or a quarter of a gibibyte are refused ([`HashFormatError::TooCostly`]),
//! at import and again at verification.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use scrypt::Scrypt;
use sha2::{Sha256, Sha512};
use std::str::FromStr as _;
use subtle::ConstantTimeEq as _;

/// Largest memory one verification may take (argon2's `m`, scrypt's 128·N·r), in KiB: 256 MiB.
const MAX_MEMORY_KIB: u64 = 256 * 1024;
/// Largest argon2 `t` (passes over that memory).
const MAX_ARGON2_PASSES: u32 = 10;
/// Largest argon2 `p` or scrypt `p`.
const MAX_PARALLELISM: u32 = 16;
/// bcrypt costs accepted (2^cost rounds; 16 is several seconds).
const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=16;
/// Largest PBKDF2 iteration count (several times today's recommendations).
const MAX_PBKDF2_ROUNDS: u32 = 5_000_000;
/// PBKDF2 output lengths accepted, in bytes.
const PBKDF2_LENGTHS: std::ops::RangeInclusive<usize> = 16..=64;

/// The family of a recognised stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashScheme {
    /// argon2id, argon2i or argon2d.
    Argon2,
    /// bcrypt (`$2a$`, `$2b$`, `$2y$`).
    Bcrypt,
    /// scrypt.
    Scrypt,
    /// PBKDF2 with HMAC-SHA-256 or HMAC-SHA-512.
    Pbkdf2,
}

/// Why a stored hash cannot be verified. Messages never quote the hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashFormatError {
    /// No accepted form starts like this.
    #[error(
        "not a recognised password hash (accepted: PHC argon2id/argon2i/argon2d, bcrypt $2a$/$2b$/$2y$, \
         PHC scrypt, PBKDF2-SHA256/512 in PHC or passlib form, Django pbkdf2_sha256)"
    )]
    Unrecognised,
    /// Recognised by its prefix but not well formed.
    #[error("malformed {scheme} hash: {reason}")]
    Malformed {
        /// The scheme named by the prefix.
        scheme: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Well formed, but verifying it would cost too much.
    #[error("{scheme} hash too costly to verify at sign-in: {reason}")]
    TooCostly {
        /// The scheme named by the prefix.
        scheme: &'static str,
        /// Which parameter is over its limit.
        reason: String,
    },
}

/// Checks that `hash` is in an accepted form within the cost limits (what an import checks).
pub fn recognise(hash: &str) -> Result<HashScheme, HashFormatError> {
    parse(hash).map(|parsed| parsed.scheme())
}

/// Whether `password` matches `hash`. An unrecognised or malformed hash matches nothing.
/// CPU-bound: call on the blocking pool.
pub(super) fn verify(password: &[u8], hash: &str) -> bool {
    match parse(hash) {
        // Each verifier takes its parameters from the hash, so old parameters keep working.
        Ok(Parsed::Argon2(h)) => Argon2::default().verify_password(password, &h).is_ok(),
        Ok(Parsed::Scrypt(h)) => Scrypt.verify_password(password, &h).is_ok(),
        // Truncates at 72 bytes, as every bcrypt that wrote these hashes did.
        Ok(Parsed::Bcrypt(h)) => bcrypt::verify(password, h).unwrap_or(false),
        Ok(Parsed::Pbkdf2(h)) => h.verify(password),
        Err(_) => false,
    }
}

enum Parsed<'a> {
    Argon2(PasswordHash<'a>),
    Bcrypt(&'a str),
    Scrypt(PasswordHash<'a>),
    Pbkdf2(Pbkdf2Hash),
}

impl Parsed<'_> {
    fn scheme(&self) -> HashScheme {
        match self {
            Self::Argon2(_) => HashScheme::Argon2,
            Self::Bcrypt(_) => HashScheme::Bcrypt,
            Self::Scrypt(_) => HashScheme::Scrypt,
            Self::Pbkdf2(_) => HashScheme::Pbkdf2,
        }
    }
}

fn parse(hash: &str) -> Result<Parsed<'_>, HashFormatError> {
    if let Some(rest) = hash.strip_prefix("pbkdf2_sha256$") {
        return django(rest);
    }
    let id = hash
        .strip_prefix('$')
        .and_then(|rest| rest.split('$').next())
        .ok_or(HashFormatError::Unrecognised)?;
    match id {
        "argon2id" | "argon2i" | "argon2d" => argon2(hash),
        "2a" | "2b" | "2y" => bcrypt(hash),
        "scrypt" => scrypt(hash),
        "pbkdf2-sha256" => pbkdf2(hash, Digest::Sha256),
        "pbkdf2-sha512" => pbkdf2(hash, Digest::Sha512),
        _ => Err(HashFormatError::Unrecognised),
    }
}

fn malformed(scheme: &'static str, reason: impl ToString) -> HashFormatError {
    HashFormatError::Malformed {
        scheme,
        reason: reason.to_string(),
    }
}

fn too_costly(scheme: &'static str, reason: String) -> HashFormatError {
    HashFormatError::TooCostly { scheme, reason }
}

/// A PHC string that has both a salt and a hash.
fn phc<'a>(scheme: &'static str, hash: &'a str) -> Result<PasswordHash<'a>, HashFormatError> {
    let parsed = PasswordHash::new(hash).map_err(|e| malformed(scheme, e))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(malformed(scheme, "salt or hash missing"));
    }
    Ok(parsed)
}

fn argon2(hash: &str) -> Result<Parsed<'_>, HashFormatError> {
    const S: &str = "argon2";
    let parsed = phc(S, hash)?;
    if let Some(version) = parsed.version {
        argon2::Version::try_from(version).map_err(|e| malformed(S, e))?;
    }
    let params = argon2::Params::try_from(&parsed).map_err(|e| malformed(S, e))?;
    if u64::from(params.m_cost()) > MAX_MEMORY_KIB {
        return Err(too_costly(S, format!("m over {MAX_MEMORY_KIB} KiB")));
    }
    if params.t_cost() > MAX_ARGON2_PASSES || params.p_cost() > MAX_PARALLELISM {
        return Err(too_costly(
            S,
            format!("t over {MAX_ARGON2_PASSES} or p over {MAX_PARALLELISM}"),
        ));
    }
    Ok(Parsed::Argon2(parsed))
}

fn bcrypt(hash: &str) -> Result<Parsed<'_>, HashFormatError> {
    const S: &str = "bcrypt";
    let parts = bcrypt::HashParts::from_str(hash).map_err(|e| malformed(S, e))?;
    if !BCRYPT_COSTS.contains(&parts.get_cost()) {
        return Err(too_costly(
            S,
            format!("cost outside {}..={}", BCRYPT_COSTS.start(), BCRYPT_COSTS.end()),
        ));
    }
    Ok(Parsed::Bcrypt(hash))
}

fn scrypt(hash: &str) -> Result<Parsed<'_>, HashFormatError> {
    const S: &str = "scrypt";
    let parsed = phc(S, hash)?;
    let params = scrypt::Params::try_from(&parsed).map_err(|e| malformed(S, e))?;
    // 128·N·r bytes, in KiB: N·r/8. ln < 64 is checked by the crate.
    let memory_kib = (1u128 << params.log_n()) * u128::from(params.r()) / 8;
    if memory_kib > u128::from(MAX_MEMORY_KIB) {
        return Err(too_costly(S, format!("128·N·r over {MAX_MEMORY_KIB} KiB")));
    }
    if params.p() > MAX_PARALLELISM {
        return Err(too_costly(S, format!("p over {MAX_PARALLELISM}")));
    }
    Ok(Parsed::Scrypt(parsed))
}

#[derive(Debug, Clone, Copy)]
enum Digest {
    Sha256,
    Sha512,
}

impl Digest {
    fn scheme(self) -> &'static str {
        match self {
            Self::Sha256 => "pbkdf2-sha256",
            Self::Sha512 => "pbkdf2-sha512",
        }
    }
}

/// A PBKDF2 hash in any accepted form, decoded.
struct Pbkdf2Hash {
    digest: Digest,
    rounds: u32,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

impl Pbkdf2Hash {
    /// Checks the decoded fields; errors name `s`, the form's own name for its scheme.
    fn new(
        s: &'static str,
        digest: Digest,
        rounds: u32,
        salt: Vec<u8>,
        expected: Vec<u8>,
    ) -> Result<Self, HashFormatError> {
        if salt.is_empty() {
            return Err(malformed(s, "empty salt"));
        }
        if !PBKDF2_LENGTHS.contains(&expected.len()) {
            return Err(malformed(s, "hash length outside 16..=64 bytes"));
        }
        if rounds == 0 {
            return Err(malformed(s, "zero iterations"));
        }
        if rounds > MAX_PBKDF2_ROUNDS {
            return Err(too_costly(s, format!("iterations over {MAX_PBKDF2_ROUNDS}")));
        }
        Ok(Self {
            digest,
            rounds,
            salt,
            expected,
        })
    }

    fn verify(&self, password: &[u8]) -> bool {
        let mut computed = vec![0u8; self.expected.len()];
        match self.digest {
            Digest::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, &self.salt, self.rounds, &mut computed),
            Digest::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, &self.salt, self.rounds, &mut computed),
        }
        computed.ct_eq(&self.expected).into()
    }
}

/// `$pbkdf2-sha…$` in PHC form (`i=…[,l=…]`, B64) or passlib form (bare rounds, adapted base64).
fn pbkdf2(hash: &str, digest: Digest) -> Result<Parsed<'_>, HashFormatError> {
    let s = digest.scheme();
    let fields: Vec<&str> = hash.split('$').collect();
    let [_, _, params, salt, expected] = fields[..] else {
        return Err(malformed(s, "expected $id$parameters$salt$hash"));
    };
    let passlib = !params.is_empty() && params.bytes().all(|b| b.is_ascii_digit());
    let (rounds, length) = if passlib {
        (params.parse().map_err(|e| malformed(s, e))?, None)
    } else {
        phc_pbkdf2_params(s, params)?
    };
    let decode = |field: &str| {
        let field = if passlib {
            field.replace('.', "+")
        } else {
            field.to_owned()
        };
        STANDARD_NO_PAD
            .decode(field)
            .map_err(|e| malformed(s, format!("bad base64: {e}")))
    };
    let (salt, expected) = (decode(salt)?, decode(expected)?);
    if length.is_some_and(|l| l != expected.len()) {
        return Err(malformed(s, "l= differs from the hash's length"));
    }
    Pbkdf2Hash::new(s, digest, rounds, salt, expected).map(Parsed::Pbkdf2)
}

/// `i=…` (required) and `l=…` (optional), in either order.
fn phc_pbkdf2_params(s: &'static str, params: &str) -> Result<(u32, Option<usize>), HashFormatError> {
    let (mut rounds, mut length) = (None, None);
    for pair in params.split(',') {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| malformed(s, "bad parameters"))?;
        let number = || {
            value
                .parse::<u32>()
                .map_err(|e| malformed(s, format!("{name}: {e}")))
        };
        match name {
            "i" if rounds.is_none() => rounds = Some(number()?),
            "l" if length.is_none() => length = Some(number()? as usize),
            _ => return Err(malformed(s, format!("unexpected parameter {name:?}"))),
        }
    }
    let rounds = rounds.ok_or_else(|| malformed(s, "i= missing"))?;
    Ok((rounds, length))
}

/// Django's `pbkdf2_sha256$iterations$salt$hash` (after the prefix): the salt is used as text.
fn django(rest: &str) -> Result<Parsed<'_>, HashFormatError> {
    const S: &str = "pbkdf2_sha256";
    let fields: Vec<&str> = rest.split('$').collect();
    let [rounds, salt, expected] = fields[..] else {
        return Err(malformed(S, "expected pbkdf2_sha256$iterations$salt$hash"));
    };
    let rounds = rounds.parse().map_err(|e| malformed(S, e))?;
    let expected = STANDARD
        .decode(expected)
        .map_err(|e| malformed(S, format!("bad base64: {e}")))?;
    let salt = salt.as_bytes().to_vec();
    Pbkdf2Hash::new(S, Digest::Sha256, rounds, salt, expected).map(Parsed::Pbkdf2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, SaltString};

    /// Produced by independent tools (pyca `bcrypt` 5.0, passlib 1.7.4, argon2-cffi 25.1, and
    /// Python's `hashlib.scrypt` / `hashlib.pbkdf2_hmac` written out in PHC or Django form), each
    /// with the password beside it.
    const FOREIGN: &[(&str, &str)] = &[
        (
            "bcrypt-2b pw",
            "$2b$05$ciQngegaapEMRP8vKRRyiOggXEniWkVUuQaXnStrWmnu/3EnptHS6",
        ),
        (
            "bcrypt-2a pw",
            "$2a$05$y26M2XATRoREXDaSnNrxP.3OeuDjEWWISjqtjvMrHOMnhSOMqRjUy",
        ),
        (
            "bcrypt-2y pw",
            "$2y$05$.yYaT33AyVwkgMpQOgUc1uflCYqE.RVXcrfWSw1nKfppj0vdlYq3O",
        ),
        (
            "pässwörd ✓",
            "$2b$04$m3XGyZoetlVtAAbk7JhC1eemPYELYMO1Sc3APo93lAsnPTsHhX46K",
        ),
        (
            "argon2id pw",
            "$argon2id$v=19$m=1024,t=1,p=2$tlCuQ99Vw/jcFJym/N8wBw$RSZBPq6/oIhRJinsrdnkbJH57+ZYcYYELx9yiqjsKmQ",
        ),
        (
            "argon2i pw",
            "$argon2i$v=19$m=512,t=2,p=1$rXDnBwCxeUSNCnk3hyDVow$eV/bDTXxdJuk1qjj6HidogOfLe/zpkvagn90HqHht5s",
        ),
        (
            "argon2d pw",
            "$argon2d$v=19$m=512,t=2,p=1$W/O9MEAwvZ1lXbbVjyRo8A$2cbnqDAaIpIN9/kVYOmKMxwmmPYJrgqBVXkYmtIDV2U",
        ),
        (
            "scrypt pw",
            "$scrypt$ln=10,r=8,p=1$Vs/rLJhLOP6cpVxhOu1EMQ$kYL+oKKI/fFn8Hqfi/XWlZ4mqtbecfUWdUYMb8nSx80",
        ),
        (
            "scrypt passlib pw",
            "$scrypt$ln=10,r=8,p=1$oxTiXAuh9N47RyglBECo1Q$3b9J7Yv9/McsgtiMqVRSEmnbQRE6y6N1hFcoboQaLfM",
        ),
        (
            "pbkdf2-sha256 pw",
            "$pbkdf2-sha256$i=1000,l=32$Sdqhlbhq8+1qbovjz+vm0w$vTjSp2yQIq/Ty/im701E81jQl+QfvKW5eBp4jrxWNcg",
        ),
        (
            "pbkdf2-sha512 pw",
            "$pbkdf2-sha512$i=1000,l=64$gg8BhfJ2pzUHpZplX/RztA$7SbUTcQtF9fjqg7AG1vzPvkaPUuMGypU3s4Pbk8dwTdrOJ7GrFABmfuwk4i7wu0WWbajxY/0UzeEVLPCYBMqSg",
        ),
        (
            "passlib sha256 pw",
            "$pbkdf2-sha256$1000$A4AQwnjvXcuZ8z5nTEnp/Q$yY9DgbxTdNwlzCeABnoMALSf843CZ.fyZmJVoHMdjjc",
        ),
        (
            "passlib sha512 pw",
            "$pbkdf2-sha512$1000$nxNCiHGudc6ZUwpB6P1fiw$vwdj1yWayQc02D7ZTa34OrlRbaNKi1vftcCM7EyKp2JqFfUHvDctLVZ3nu1TM6P1a3tdTy.t/XnWXRoMxm1Wag",
        ),
        (
            "pässwörd ✓",
            "$pbkdf2-sha256$1000$751z7p0zRmiNESKEEIKw1g$xIpXPE525bkttvD0jpe6ER4Nd9iM.B8GG7/qoW8k0hI",
        ),
        (
            "django pw",
            "pbkdf2_sha256$1000$Dj4ngoSa1t$RnNuN6U0codNrrYhBj9NPCNeLrVNC1dQ3Ntu78mkXec=",
        ),
    ];

    #[test]
    fn independent_vectors_verify_and_only_with_their_password() {
        for (password, hash) in FOREIGN {
            assert!(recognise(hash).is_ok(), "{hash}");
            assert!(verify(password.as_bytes(), hash), "{hash}");
            assert!(!verify(b"wrong", hash), "{hash}");
            assert!(!verify(format!("{password} ").as_bytes(), hash), "{hash}");
        }
    }

    #[test]
    fn schemes_are_named() {
        let scheme = |i: usize| recognise(FOREIGN[i].1).unwrap();
        assert_eq!(scheme(0), HashScheme::Bcrypt);
        assert_eq!(scheme(4), HashScheme::Argon2);
        assert_eq!(scheme(7), HashScheme::Scrypt);
        assert_eq!(scheme(9), HashScheme::Pbkdf2);
        assert_eq!(scheme(11), HashScheme::Pbkdf2);
        assert_eq!(scheme(14), HashScheme::Pbkdf2);
    }

    /// Hashes written by the crates themselves, as other Rust systems would have stored them.
    #[test]
    fn crate_written_hashes_verify() {
        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        let pw = b"crate pw";
        let scrypt_params = scrypt::Params::new(10, 8, 1, 32).unwrap();
        let argon2i = Argon2::new(
            argon2::Algorithm::Argon2i,
            argon2::Version::V0x13,
            argon2::Params::new(64, 1, 1, None).unwrap(),
        );
        let pbkdf2_params = pbkdf2::Params {
            rounds: 1000,
            output_length: 32,
        };
        let sha512_params = pbkdf2::Params {
            output_length: 64,
            ..pbkdf2_params
        };
        let pbkdf2_sha512 = pbkdf2::Algorithm::Pbkdf2Sha512.ident();
        let written = [
            argon2i.hash_password(pw, &salt).unwrap().to_string(),
            Scrypt
                .hash_password_customized(pw, None, None, scrypt_params, &salt)
                .unwrap()
                .to_string(),
            pbkdf2::Pbkdf2
                .hash_password_customized(pw, None, None, pbkdf2_params, &salt)
                .unwrap()
                .to_string(),
            pbkdf2::Pbkdf2
                .hash_password_customized(pw, Some(pbkdf2_sha512), None, sha512_params, &salt)
                .unwrap()
                .to_string(),
            bcrypt::hash_with_salt(pw, 4, *b"sixteen byte sal")
                .unwrap()
                .to_string(),
        ];
        assert!(written[2].starts_with("$pbkdf2-sha256$i=1000,l=32$"));
        assert!(written[3].starts_with("$pbkdf2-sha512$i=1000,l=64$"));
        for hash in &written {
            assert!(verify(pw, hash), "{hash}");
            assert!(!verify(b"crate pv", hash), "{hash}");
        }
    }

    #[test]
    fn unknown_forms_are_unrecognised() {
        for hash in [
            "",
            "plaintext",
            "$1$saltsalt$abcdefghijklmnopqrstuv",
            "$5$rounds=5000$salt$hash",
            "$6$salt$hash",
            "$2x$05$ciQngegaapEMRP8vKRRyiOggXEniWkVUuQaXnStrWmnu/3EnptHS6",
            "$pbkdf2$1000$c2FsdA$aGFzaA",
            "$argon2x$v=19$m=512,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
            "pbkdf2_sha1$1000$salt$aGFzaA==",
            "{SSHA}abcdef",
        ] {
            assert_eq!(recognise(hash), Err(HashFormatError::Unrecognised), "{hash}");
            assert!(!verify(b"", hash));
        }
    }

    #[test]
    fn malformed_hashes_are_refused_with_their_scheme() {
        for (hash, scheme) in [
            ("$2b$05$short", "bcrypt"),
            (
                "$2b$xx$ciQngegaapEMRP8vKRRyiOggXEniWkVUuQaXnStrWmnu/3EnptHS6",
                "bcrypt",
            ),
            ("$argon2id$v=19$m=1024,t=1,p=2$tlCuQ99Vw/jcFJym/N8wBw", "argon2"),
            (
                "$argon2id$v=18$m=1024,t=1,p=2$tlCuQ99Vw/jcFJym/N8wBw$aGFzaGhhc2hoYXNo",
                "argon2",
            ),
            ("$scrypt$ln=10,r=8,p=1,x=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", "scrypt"),
            ("$pbkdf2-sha256$i=1000$c2FsdA", "pbkdf2-sha256"),
            (
                "$pbkdf2-sha256$i=1000,l=16$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo",
                "pbkdf2-sha256",
            ),
            (
                "$pbkdf2-sha256$r=1000$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
                "pbkdf2-sha256",
            ),
            ("$pbkdf2-sha512$0$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "pbkdf2-sha512"),
            (
                "$pbkdf2-sha512$1000$c2F*dA$aGFzaGhhc2hoYXNoaGFzaA",
                "pbkdf2-sha512",
            ),
            ("$pbkdf2-sha256$1000$c2FsdA$aGFzaA", "pbkdf2-sha256"),
            (
                "pbkdf2_sha256$1000$$RnNuN6U0codNrrYhBj9NPCNeLrVNC1dQ3Ntu78mkXec=",
                "pbkdf2_sha256",
            ),
            (
                "pbkdf2_sha256$many$salt$RnNuN6U0codNrrYhBj9NPCNeLrVNC1dQ3Ntu78mkXec=",
                "pbkdf2_sha256",
            ),
        ] {
            match recognise(hash) {
                Err(HashFormatError::Malformed { scheme: s, .. }) => assert_eq!(s, scheme, "{hash}"),
                other => panic!("{hash}: {other:?}"),
            }
            assert!(!verify(b"", hash));
        }
    }

    #[test]
    fn costly_parameters_are_refused() {
        for hash in [
            "$2b$17$ciQngegaapEMRP8vKRRyiOggXEniWkVUuQaXnStrWmnu/3EnptHS6",
            "$argon2id$v=19$m=524288,t=1,p=1$tlCuQ99Vw/jcFJym/N8wBw$RSZBPq6/oIhRJinsrdnkbJH57+ZYcYYELx9yiqjsKmQ",
            "$argon2id$v=19$m=1024,t=11,p=1$tlCuQ99Vw/jcFJym/N8wBw$RSZBPq6/oIhRJinsrdnkbJH57+ZYcYYELx9yiqjsKmQ",
            "$scrypt$ln=19,r=8,p=1$Vs/rLJhLOP6cpVxhOu1EMQ$kYL+oKKI/fFn8Hqfi/XWlZ4mqtbecfUWdUYMb8nSx80",
            "$scrypt$ln=10,r=8,p=17$Vs/rLJhLOP6cpVxhOu1EMQ$kYL+oKKI/fFn8Hqfi/XWlZ4mqtbecfUWdUYMb8nSx80",
            "$pbkdf2-sha256$5000001$A4AQwnjvXcuZ8z5nTEnp/Q$yY9DgbxTdNwlzCeABnoMALSf843CZ.fyZmJVoHMdjjc",
        ] {
            assert!(
                matches!(recognise(hash), Err(HashFormatError::TooCostly { .. })),
                "{hash}"
            );
            assert!(!verify(b"", hash), "never computed");
        }
        let limit =
            "$scrypt$ln=18,r=8,p=1$Vs/rLJhLOP6cpVxhOu1EMQ$kYL+oKKI/fFn8Hqfi/XWlZ4mqtbecfUWdUYMb8nSx80";
        assert_eq!(recognise(limit), Ok(HashScheme::Scrypt), "256 MiB is allowed");
    }

    #[test]
    fn errors_never_quote_the_hash() {
        let hash = "$pbkdf2-sha256$i=1000,l=16$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo";
        let message = recognise(hash).unwrap_err().to_string();
        assert!(!message.contains("c2FsdA"), "{message}");
    }
}
