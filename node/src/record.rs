//! Stored records: postcard with a leading version byte, so a newer build can read
//! (or knowingly refuse) what an older one wrote.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a stored record could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("empty record")]
    Empty,
    #[error("record version {found}, this build reads {expected}")]
    Version { found: u8, expected: u8 },
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// Encodes `value` as record version `version`.
pub fn encode<T: Serialize>(version: u8, value: &T) -> Vec<u8> {
    let mut out = vec![version];
    // Writing to a Vec cannot fail for the plain data types we store.
    let _ = postcard::to_io(value, &mut out);
    out
}

/// Decodes a record written at `expected` version.
pub fn decode<T: DeserializeOwned>(expected: u8, bytes: &[u8]) -> Result<T, RecordError> {
    let (&found, body) = bytes.split_first().ok_or(RecordError::Empty)?;
    if found != expected {
        return Err(RecordError::Version { found, expected });
    }
    postcard::from_bytes(body).map_err(|e| RecordError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let bytes = encode(3, &("a".to_owned(), 7u32));
        assert_eq!(decode::<(String, u32)>(3, &bytes), Ok(("a".to_owned(), 7)));
        assert_eq!(
            decode::<(String, u32)>(4, &bytes),
            Err(RecordError::Version {
                found: 3,
                expected: 4
            })
        );
        assert_eq!(decode::<u32>(1, &[]), Err(RecordError::Empty));
        assert!(matches!(
            decode::<String>(1, &[1, 200]),
            Err(RecordError::Corrupt(_))
        ));
    }
}
