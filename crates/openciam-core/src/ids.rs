//! Identifier newtypes, so a user id can never be passed where a flow id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new random id.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(TenantId, "A tenant's GUID (the `tid` claim).");
uuid_id!(UserId, "A user's object id (the `oid` claim).");
uuid_id!(FlowId, "One sign-up, sign-in or reset flow.");
uuid_id!(
    AuthMethodId,
    "A strong-auth method registered on a user (the stable `id` of introspect responses)."
);
uuid_id!(
    FamilyId,
    "A refresh-token family: every token rotated from one sign-in."
);

/// An application (client) id. Entra's are GUIDs; we store them lower-case hyphenated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientId(String);

impl ClientId {
    /// Parses a client id: a GUID in any case, with or without braces.
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw.trim())
            .ok()
            .map(|u| Self(u.hyphenated().to_string()))
    }

    /// A client id from a GUID.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id.hyphenated().to_string())
    }

    /// A new random client id.
    pub fn new_random() -> Self {
        Self::from_uuid(Uuid::new_v4())
    }

    /// The canonical string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_canonicalised() {
        let a = ClientId::parse("11111111-1111-1111-1111-11111111111A").unwrap();
        assert_eq!(a.as_str(), "11111111-1111-1111-1111-11111111111a");
        assert!(ClientId::parse("not-a-guid").is_none());
    }
}
