//! Serialization of ids that can exceed 2^53 (call and offer ids: a gateway's
//! call id is its clock in ms shifted left 16 bits). JavaScript numbers are
//! doubles, so such an id sent as a JSON number reaches a browser rounded and
//! names another call. Human-readable formats (JSON: the HTTP API, the event
//! stream, the admin socket) therefore carry them as decimal strings; compact
//! formats (postcard: the link between nodes, stored records) keep the plain
//! integer, so the wire format does not change.

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// The largest integer a double holds exactly: 2^53 (`Number.MAX_SAFE_INTEGER`
/// is 2^53 - 1; 2^53 itself is still exact).
pub const MAX_EXACT_IN_DOUBLE: u64 = 1 << 53;

/// Writes `id` as a string in human-readable formats, as an integer otherwise.
pub fn serialize<S: Serializer>(id: u64, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.collect_str(&id)
    } else {
        serializer.serialize_u64(id)
    }
}

/// Reads an id: a decimal string, or in human-readable formats also a number
/// up to 2^53 (a larger number may have been rounded by the sender, so it is
/// refused rather than taken to name some other call).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    if deserializer.is_human_readable() {
        deserializer.deserialize_any(IdVisitor { text: true })
    } else {
        deserializer.deserialize_u64(IdVisitor { text: false })
    }
}

/// `text`: the input is human-readable, where a number may have passed
/// through a double.
struct IdVisitor {
    text: bool,
}

impl Visitor<'_> for IdVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an id as a decimal string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if self.text && v > MAX_EXACT_IN_DOUBLE {
            return Err(E::custom(format!(
                "id {v} is above 2^53: send it as a string, \"{v}\""
            )));
        }
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            .and_then(|v| self.visit_u64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        // `u64::from_str` takes a leading '+'; an id is digits only.
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::invalid_value(de::Unexpected::Str(v), &self));
        }
        v.parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

#[cfg(test)]
mod tests {
    use crate::routing::{CallId, OfferId};

    const WIDE: u64 = (1 << 53) + 1;

    #[test]
    fn json_carries_wide_ids_as_strings_and_postcard_as_integers() {
        let json = serde_json::to_string(&CallId(WIDE)).unwrap();
        assert_eq!(json, "\"9007199254740993\"");
        assert_eq!(serde_json::from_str::<CallId>(&json).unwrap(), CallId(WIDE));
        let bytes = postcard::to_stdvec(&CallId(WIDE)).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(&WIDE).unwrap());
        assert_eq!(
            postcard::from_bytes::<CallId>(&bytes).unwrap(),
            CallId(WIDE)
        );
        let max = postcard::to_stdvec(&OfferId(u64::MAX)).unwrap();
        assert_eq!(
            postcard::from_bytes::<OfferId>(&max).unwrap(),
            OfferId(u64::MAX)
        );
    }

    #[test]
    fn json_numbers_are_taken_only_while_exact() {
        assert_eq!(serde_json::from_str::<CallId>("42").unwrap(), CallId(42));
        assert_eq!(
            serde_json::from_str::<CallId>("9007199254740992").unwrap(),
            CallId(1 << 53)
        );
        let err = serde_json::from_str::<CallId>("9007199254740993").unwrap_err();
        assert!(err.to_string().contains("send it as a string"), "{err}");
        for bad in [
            "-1",
            "\"\"",
            "\"+5\"",
            "\"12a\"",
            "\"18446744073709551616\"",
            "1.5",
        ] {
            assert!(serde_json::from_str::<CallId>(bad).is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::from_str::<Option<CallId>>("null").unwrap(),
            None
        );
    }
}
