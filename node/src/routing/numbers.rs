//! Phone-number patterns and a lookup table keyed by them, shared by the blacklist
//! and the VIP list so both resolve "exact number beats longest prefix" identically.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::config::ConfigError;

/// Longest number the patterns accept (E.164 allows 15 digits; leave room for
/// national prefixes and extensions).
const MAX_DIGITS: usize = 24;

/// A caller number to match: one exact number, or every number starting with a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NumberPattern {
    /// Exactly this number.
    Exact(String),
    /// Any number beginning with these digits.
    Prefix(String),
}

impl NumberPattern {
    fn digits(&self) -> &str {
        match self {
            NumberPattern::Exact(d) | NumberPattern::Prefix(d) => d,
        }
    }

    /// Accepts digits with an optional leading `+`, 1 to 24 digits long.
    pub(crate) fn validate(&self, field: &str) -> Result<(), ConfigError> {
        let d = self.digits();
        let body = d.strip_prefix('+').unwrap_or(d);
        let reason = if body.is_empty() {
            Some("empty number pattern".to_string())
        } else if body.len() > MAX_DIGITS {
            Some(format!("number pattern longer than {MAX_DIGITS} digits"))
        } else if !body.bytes().all(|b| b.is_ascii_digit()) {
            Some(format!(
                "{d:?} is not a number (digits and an optional leading +)"
            ))
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ConfigError::BadPattern {
                field: field.to_string(),
                reason,
            }),
            None => Ok(()),
        }
    }
}

/// Maps number patterns to values. Lookup costs at most one hash probe per digit of
/// the caller's number, however many patterns there are.
#[derive(Debug, Clone)]
pub struct NumberTable<T> {
    exact: HashMap<String, T>,
    prefix: HashMap<String, T>,
}

impl<T> Default for NumberTable<T> {
    fn default() -> Self {
        NumberTable {
            exact: HashMap::new(),
            prefix: HashMap::new(),
        }
    }
}

impl<T> NumberTable<T> {
    /// Builds the table; a later duplicate pattern replaces an earlier one.
    pub fn new(entries: impl IntoIterator<Item = (NumberPattern, T)>) -> Self {
        let mut table = NumberTable::default();
        for (pattern, value) in entries {
            match pattern {
                NumberPattern::Exact(d) => table.exact.insert(d, value),
                NumberPattern::Prefix(d) => table.prefix.insert(d, value),
            };
        }
        table
    }

    /// The value for `number`: an exact match, else the longest matching prefix.
    pub fn lookup(&self, number: &str) -> Option<&T> {
        if let Some(v) = self.exact.get(number) {
            return Some(v);
        }
        if self.prefix.is_empty() {
            return None;
        }
        (1..=number.len())
            .rev()
            .filter(|&len| number.is_char_boundary(len))
            .find_map(|len| self.prefix.get(&number[..len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_beats_longest_prefix_beats_shorter_prefix() {
        let t = NumberTable::new([
            (NumberPattern::Prefix("+86".into()), 1),
            (NumberPattern::Prefix("+86138".into()), 2),
            (NumberPattern::Exact("+8613800000000".into()), 3),
        ]);
        assert_eq!(t.lookup("+8613800000000"), Some(&3));
        assert_eq!(t.lookup("+8613800000001"), Some(&2));
        assert_eq!(t.lookup("+8610"), Some(&1));
        assert_eq!(t.lookup("+1555"), None);
        assert_eq!(t.lookup(""), None);
    }

    #[test]
    fn patterns_must_be_numbers() {
        assert!(NumberPattern::Prefix("+86".into()).validate("f").is_ok());
        for bad in ["", "+", "12a", "1".repeat(25).as_str()] {
            let err = NumberPattern::Exact(bad.into()).validate("blacklist[0].pattern");
            assert!(
                matches!(&err, Err(ConfigError::BadPattern { field, .. }) if field == "blacklist[0].pattern"),
                "{bad:?}: {err:?}"
            );
        }
    }
}
