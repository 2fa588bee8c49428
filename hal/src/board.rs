//! Board descriptions: which lines, spans and seats a gateway box has.
//!
//! A field tech picks the file matching the hardware (`board-configs/*.toml`); the
//! gateway reads it at start-up and reports the resulting inventory to the
//! coordinator, so the inventory an administrator sees is the one the box drives.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// Errors reading a board file; each names the file and the problem so a field tech
/// can fix the file without reading source code.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("cannot read board file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("board file {path} is not valid TOML for a board: {message}")]
    Parse { path: String, message: String },
    #[error("board file {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Which driver family backs the board's ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Simulated exchange and phones: demo, tests, benchmarks.
    Sim,
    /// ALSA audio over a TDM bus plus SLIC/DAA chips on SPI.
    Alsa,
}

/// The kind of an analog port, seen from the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortKind {
    /// Faces the exchange: the gateway acts as a phone.
    Fxo,
    /// Faces an analog phone: the gateway acts as the exchange.
    Fxs,
}

/// One analog port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    pub id: String,
    pub kind: PortKind,
}

/// One E1 span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanConfig {
    pub id: String,
    /// Voice timeslots in use (30 with CAS, 31 with PRI).
    #[serde(default = "default_timeslots")]
    pub timeslots: u8,
}

fn default_timeslots() -> u8 {
    30
}

/// One headset seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatConfig {
    pub id: String,
    /// ALSA device name, or "sim".
    #[serde(default = "default_device")]
    pub device: String,
    /// 8000 (narrowband) or 16000 (wideband).
    #[serde(default = "default_seat_rate")]
    pub sample_rate: u32,
}

fn default_device() -> String {
    "sim".to_owned()
}

fn default_seat_rate() -> u32 {
    16_000
}

/// A whole board file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardConfig {
    pub name: String,
    /// CPU architecture the image is built for ("aarch64", "armv7", "x86_64", "any").
    pub arch: String,
    pub backend: Backend,
    #[serde(default)]
    pub ports: Vec<PortConfig>,
    #[serde(default)]
    pub spans: Vec<SpanConfig>,
    #[serde(default)]
    pub seats: Vec<SeatConfig>,
}

impl BoardConfig {
    /// Reads and validates a board file.
    pub fn load(path: &Path) -> Result<Self, BoardError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| BoardError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses and validates board TOML; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, BoardError> {
        let board: BoardConfig = toml::from_str(text).map_err(|e| BoardError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        board.validate(origin)?;
        Ok(board)
    }

    fn validate(&self, origin: &str) -> Result<(), BoardError> {
        let invalid = |message: String| BoardError::Invalid {
            path: origin.to_owned(),
            message,
        };
        let mut ids = HashSet::new();
        let all_ids = self
            .ports
            .iter()
            .map(|p| &p.id)
            .chain(self.spans.iter().map(|s| &s.id))
            .chain(self.seats.iter().map(|s| &s.id));
        for id in all_ids {
            if id.is_empty() {
                return Err(invalid("an id is empty".to_owned()));
            }
            if !ids.insert(id) {
                return Err(invalid(format!("id {id:?} is used twice")));
            }
        }
        if let Some(span) = self.spans.iter().find(|s| !(1..=31).contains(&s.timeslots)) {
            return Err(invalid(format!(
                "span {:?} has {} timeslots; an E1 carries 1 to 31",
                span.id, span.timeslots
            )));
        }
        if let Some(seat) = self
            .seats
            .iter()
            .find(|s| s.sample_rate != 8_000 && s.sample_rate != 16_000)
        {
            return Err(invalid(format!(
                "seat {:?} has sample_rate {}; use 8000 or 16000",
                seat.id, seat.sample_rate
            )));
        }
        Ok(())
    }

    /// Number of ports of one kind.
    pub fn count(&self, kind: PortKind) -> usize {
        self.ports.iter().filter(|p| p.kind == kind).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_board() {
        let board = BoardConfig::parse(
            r#"
            name = "t"
            arch = "aarch64"
            backend = "sim"
            ports = [{ id = "fxo1", kind = "fxo" }, { id = "fxs1", kind = "fxs" }]
            spans = [{ id = "e1a" }]
            seats = [{ id = "seat1", sample_rate = 8000 }]
            "#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(board.count(PortKind::Fxo), 1);
        assert_eq!(board.count(PortKind::Fxs), 1);
        assert_eq!(board.spans[0].timeslots, 30);
        assert_eq!(board.seats[0].device, "sim");
    }

    #[test]
    fn rejects_duplicate_ids_and_bad_values() {
        let dup = BoardConfig::parse(
            "name='t'\narch='any'\nbackend='sim'\nports=[{id='a',kind='fxo'},{id='a',kind='fxs'}]",
            "d.toml",
        );
        assert!(
            matches!(dup, Err(BoardError::Invalid { message, .. }) if message.contains("\"a\" is used twice"))
        );
        let span = BoardConfig::parse(
            "name='t'\narch='any'\nbackend='sim'\nspans=[{id='e',timeslots=40}]",
            "s.toml",
        );
        assert!(matches!(span, Err(BoardError::Invalid { .. })));
        let unknown = BoardConfig::parse("name='t'\narch='any'\nbackend='sim'\nfoo=1", "u.toml");
        assert!(matches!(unknown, Err(BoardError::Parse { .. })));
    }
}
