//! The per-session secret a page's URL carries.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The operating system's random source failed.
    #[error("cannot draw a random page token: {0}")]
    Random(String),
    /// An operator-given secret is too short to guess-proof a page.
    #[error("page secret: expected at least {expected} characters, got {got}")]
    TooShort {
        /// The least accepted.
        expected: usize,
        /// What was given.
        got: usize,
    },
}

/// A page token: 128 random bits, URL-safe base64. Compared in constant
/// time so its bytes cannot be found one by one from response times.
#[derive(Clone)]
pub struct Token(Arc<str>);

/// The shortest operator-given secret accepted.
const MIN_SECRET: usize = 16;

impl Token {
    /// A fresh random token, for one session.
    pub fn random() -> Result<Self, TokenError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| TokenError::Random(e.to_string()))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(b).into()))
    }

    /// An operator-given token (from a config file or the environment), so
    /// that links survive a restart.
    pub fn given(secret: &str) -> Result<Self, TokenError> {
        let got = secret.chars().count();
        if got < MIN_SECRET {
            return Err(TokenError::TooShort {
                expected: MIN_SECRET,
                got,
            });
        }
        Ok(Self(secret.into()))
    }

    /// The token for `label` under this secret (HMAC-SHA256, first 128
    /// bits). One secret gives every agent a page link of their own,
    /// without the server keeping a list, and no agent's link opens
    /// another's page.
    pub fn derive(&self, label: &str) -> Self {
        // HMAC takes a key of any length; this cannot fail.
        let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(self.0.as_bytes()) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(label.as_bytes());
        let out = mac.finalize().into_bytes();
        Self(URL_SAFE_NO_PAD.encode(&out[..16]).into())
    }

    /// The token's text, for the URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this token (constant time in its contents).
    pub fn matches(&self, given: &str) -> bool {
        self.0.as_bytes().ct_eq(given.as_bytes()).into()
    }
}

impl fmt::Debug for Token {
    /// Never prints the secret (logs and panics must not leak it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_differ_and_match_only_themselves() {
        let a = Token::random().unwrap();
        let b = Token::random().unwrap();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 22);
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(""));
        assert!(!a.matches(&a.as_str()[..21]));
        assert_eq!(format!("{a:?}"), "Token(..)");
    }

    #[test]
    fn derived_tokens_are_stable_and_per_label() {
        let s = Token::given("0123456789abcdef-secret").unwrap();
        assert_eq!(s.derive("agent-1").as_str(), s.derive("agent-1").as_str());
        assert_ne!(s.derive("agent-1").as_str(), s.derive("agent-2").as_str());
        let other = Token::given("another-secret-of-16").unwrap();
        assert_ne!(
            s.derive("agent-1").as_str(),
            other.derive("agent-1").as_str()
        );
        assert!(matches!(
            Token::given("short"),
            Err(TokenError::TooShort {
                expected: 16,
                got: 5
            })
        ));
    }
}
