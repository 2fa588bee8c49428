//! What a gateway can drive, as reported to the coordinator in its hello.

use serde::{Deserialize, Serialize};
use tandem_hal::board::{BoardConfig, PortKind};

/// The kind of one line an administrator sees in the node list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineKind {
    Fxo,
    Fxs,
    E1 { timeslots: u8 },
}

/// One line, analog port or E1 span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineInfo {
    pub id: String,
    pub kind: LineKind,
}

/// One headset seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatInfo {
    pub id: String,
    pub sample_rate: u32,
}

/// A gateway's line and seat inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub board: String,
    pub arch: String,
    pub lines: Vec<LineInfo>,
    pub seats: Vec<SeatInfo>,
}

impl Inventory {
    /// Lines that carry PSTN calls: FXO ports plus E1 voice timeslots (FXS
    /// ports face phones, not the network); the denominator of trunk occupancy.
    pub fn trunk_lines(&self) -> u32 {
        self.lines
            .iter()
            .map(|l| match l.kind {
                LineKind::Fxo => 1,
                LineKind::Fxs => 0,
                LineKind::E1 { timeslots } => u32::from(timeslots),
            })
            .sum()
    }

    /// The inventory of the board the gateway runs on.
    pub fn from_board(board: &BoardConfig) -> Self {
        let ports = board.ports.iter().map(|p| LineInfo {
            id: p.id.clone(),
            kind: match p.kind {
                PortKind::Fxo => LineKind::Fxo,
                PortKind::Fxs => LineKind::Fxs,
            },
        });
        let spans = board.spans.iter().map(|s| LineInfo {
            id: s.id.clone(),
            kind: LineKind::E1 {
                timeslots: s.timeslots,
            },
        });
        Inventory {
            board: board.name.clone(),
            arch: board.arch.clone(),
            lines: ports.chain(spans).collect(),
            seats: board
                .seats
                .iter()
                .map(|s| SeatInfo {
                    id: s.id.clone(),
                    sample_rate: s.sample_rate,
                })
                .collect(),
        }
    }

    /// A one-line summary for listings: "4 FXO, 2 FXS, 1 E1 (30 ts), 2 seats".
    pub fn summary(&self) -> String {
        let count =
            |pred: fn(&LineKind) -> bool| self.lines.iter().filter(|l| pred(&l.kind)).count();
        let fxo = count(|k| matches!(k, LineKind::Fxo));
        let fxs = count(|k| matches!(k, LineKind::Fxs));
        let timeslots: u32 = self
            .lines
            .iter()
            .filter_map(|l| match l.kind {
                LineKind::E1 { timeslots } => Some(u32::from(timeslots)),
                _ => None,
            })
            .sum();
        let e1 = count(|k| matches!(k, LineKind::E1 { .. }));
        format!(
            "{fxo} FXO, {fxs} FXS, {e1} E1 ({timeslots} ts), {} seats",
            self.seats.len()
        )
    }
}
