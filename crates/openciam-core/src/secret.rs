//! Secret newtypes. Their `Debug` prints `[redacted]` so a secret can never reach a log by accident.

use zeroize::Zeroizing;

macro_rules! secret {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps the value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Zeroizing::new(value.into()))
            }

            /// The secret itself; call only where it is used.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret!(Password, "A password as typed by the user.");
secret!(
    ContinuationToken,
    "A continuation token as presented by the client."
);
secret!(RefreshToken, "An opaque refresh token.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let p = Password::new("hunter2");
        assert_eq!(format!("{p:?}"), "Password([redacted])");
    }
}
