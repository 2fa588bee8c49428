//! One-time enrollment tokens.
//!
//! A token is what a field tech carries from the administrator to the box. It holds
//! a random id and secret (the coordinator stores only a hash of the secret), the
//! CA fingerprint the gateway must pin, the site, and the expiry. It is printable
//! text so it survives e-mail and chat.

use super::CaFingerprint;
use crate::names::Site;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "tdm1-";

/// Why token text could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("an enrollment token starts with {PREFIX:?}; this one does not")]
    Prefix,
    #[error("the token is damaged (not base64url): check it was copied whole")]
    Encoding,
    #[error("the token is damaged (bad contents): check it was copied whole")]
    Contents,
    #[error("the system random generator failed")]
    Random,
}

/// A decoded enrollment token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollToken {
    pub token_id: [u8; 16],
    pub secret: [u8; 32],
    pub ca_fingerprint: CaFingerprint,
    pub site: Site,
    /// Unix seconds.
    pub expires_at: u64,
}

impl EnrollToken {
    /// A fresh token with id and secret drawn from `rng`. The caller passes the
    /// randomness in (the OS's `ring::rand::SystemRandom` in a real coordinator)
    /// so this core never reaches for a global source.
    pub fn generate(
        site: Site,
        ca_fingerprint: CaFingerprint,
        expires_at: u64,
        rng: &dyn SecureRandom,
    ) -> Result<Self, TokenError> {
        let mut token_id = [0u8; 16];
        let mut secret = [0u8; 32];
        rng.fill(&mut token_id).map_err(|_| TokenError::Random)?;
        rng.fill(&mut secret).map_err(|_| TokenError::Random)?;
        Ok(Self {
            token_id,
            secret,
            ca_fingerprint,
            site,
            expires_at,
        })
    }

    /// SHA-256 of the secret: what the coordinator stores.
    pub fn secret_hash(&self) -> [u8; 32] {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.secret);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    /// The printable form.
    pub fn encode(&self) -> String {
        // Serialising fixed-size fields and a validated name cannot fail.
        let bytes = postcard::to_stdvec(self).unwrap_or_default();
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Reads the printable form, tolerating surrounding whitespace.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let body = text.trim().strip_prefix(PREFIX).ok_or(TokenError::Prefix)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Encoding)?;
        postcard::from_bytes(&bytes).map_err(|_| TokenError::Contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_errors() {
        let rng = ring::rand::SystemRandom::new();
        let t = EnrollToken::generate(
            Site::new("bj-01").unwrap(),
            CaFingerprint([7; 32]),
            99,
            &rng,
        )
        .unwrap();
        let text = t.encode();
        assert!(text.starts_with(PREFIX));
        assert_eq!(EnrollToken::parse(&format!(" {text}\n")).unwrap(), t);
        assert_eq!(EnrollToken::parse("hello"), Err(TokenError::Prefix));
        assert_eq!(EnrollToken::parse("tdm1-***"), Err(TokenError::Encoding));
        assert_eq!(EnrollToken::parse("tdm1-AAAA"), Err(TokenError::Contents));
        let truncated = &text[..text.len() - 4];
        assert!(EnrollToken::parse(truncated).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}") {
            let _ = EnrollToken::parse(&s);
            let _ = EnrollToken::parse(&format!("{PREFIX}{s}"));
        }
    }
}
