//! Validated names for nodes and sites.
//!
//! Node ids end up in certificate subjects, log spans, file names and URLs, so they
//! are restricted to lowercase DNS-label characters; validating once at the edge
//! means every other layer can use them without escaping.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} {value:?} is longer than {max} characters")]
    TooLong {
        what: &'static str,
        value: String,
        max: usize,
    },
    #[error(
        "{what} {value:?} may only hold lowercase letters, digits and '-', and must not start or end with '-'"
    )]
    BadCharacters { what: &'static str, value: String },
}

const MAX_NAME: usize = 48;

fn validate(what: &'static str, value: &str) -> Result<(), NameError> {
    if value.is_empty() {
        return Err(NameError::Empty { what });
    }
    if value.len() > MAX_NAME {
        return Err(NameError::TooLong {
            what,
            value: value.to_owned(),
            max: MAX_NAME,
        });
    }
    let allowed = value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !allowed || value.starts_with('-') || value.ends_with('-') {
        return Err(NameError::BadCharacters {
            what,
            value: value.to_owned(),
        });
    }
    Ok(())
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, NameError> {
                let value = value.into();
                validate($what, &value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(value: String) -> Result<Self, NameError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_name!(
    /// A gateway's identity, assigned by the coordinator at enrollment and carried
    /// in the node certificate's subject.
    NodeId,
    "node id"
);

validated_name!(
    /// A branch office or other location ("bj-01", "home"); the unit administrators
    /// and reports group nodes by.
    Site,
    "site"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_refuses() {
        assert!(Site::new("bj-01").is_ok());
        assert_eq!(Site::new(""), Err(NameError::Empty { what: "site" }));
        assert!(matches!(
            Site::new("BJ"),
            Err(NameError::BadCharacters { .. })
        ));
        assert!(matches!(
            NodeId::new("-a"),
            Err(NameError::BadCharacters { .. })
        ));
        assert!(matches!(
            NodeId::new("a".repeat(49)),
            Err(NameError::TooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn postcard_never_yields_an_invalid_name(s in ".{0,60}") {
            let bytes = postcard::to_stdvec(&s).unwrap();
            let decoded = postcard::from_bytes::<NodeId>(&bytes);
            prop_assert_eq!(decoded.is_ok(), NodeId::new(s).is_ok());
        }
    }
}
