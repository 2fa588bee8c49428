//! Time as the routing engine sees it: a millisecond timestamp passed in by the
//! caller, and weekly time windows for shift-based group membership.
//!
//! The engine never reads a clock itself, so the coordinator, a gateway running
//! alone and the simulator all drive the very same code deterministically.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC), as supplied by whoever drives the engine.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Milliseconds elapsed from `earlier` to `self`, zero if `earlier` is later
    /// (a clock that steps backwards must not produce negative waits).
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// This instant plus `ms` milliseconds, saturating instead of wrapping.
    pub fn plus(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
}

const MS_PER_MINUTE: u64 = 60_000;
const MINUTES_PER_DAY: u64 = 24 * 60;
/// 1970-01-01 was a Thursday; with Monday = 0 that is day 3 of the week.
const EPOCH_WEEKDAY: u64 = 3;

/// A weekly window (a shift): on the listed days, from `start_minute` (inclusive)
/// to `end_minute` (exclusive) of the local day. A window with `end_minute <=
/// start_minute` runs past midnight into the next day, as night shifts do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// Bit 0 = Monday … bit 6 = Sunday: the days on which the window *starts*.
    pub days: u8,
    /// Minute of the local day at which the window opens (0..1440).
    pub start_minute: u16,
    /// Minute of the local day at which the window closes (0..=1440).
    pub end_minute: u16,
}

impl TimeWindow {
    /// All days of the week.
    pub const EVERY_DAY: u8 = 0x7f;

    /// Whether `now` (shifted into local time by `utc_offset_minutes`) falls in the window.
    pub fn contains(&self, now: Timestamp, utc_offset_minutes: i16) -> bool {
        let local_minutes = local_minutes(now, utc_offset_minutes);
        let day = local_minutes / MINUTES_PER_DAY;
        let minute = local_minutes % MINUTES_PER_DAY;
        let start = u64::from(self.start_minute);
        let end = u64::from(self.end_minute);
        if end > start {
            self.starts_on(day) && minute >= start && minute < end
        } else {
            // Overnight: either today's window is running, or yesterday's has not ended.
            (self.starts_on(day) && minute >= start)
                || (day > 0 && self.starts_on(day - 1) && minute < end)
        }
    }

    /// The first instant strictly after `now` at which `contains` may change value.
    /// Used to schedule a re-match when a shift opens or closes.
    pub fn next_boundary(&self, now: Timestamp, utc_offset_minutes: i16) -> Timestamp {
        let local = local_minutes(now, utc_offset_minutes);
        let day_start = local - local % MINUTES_PER_DAY;
        let edges = [u64::from(self.start_minute), u64::from(self.end_minute)];
        // Check today and the next 8 days; some edge always exists within that span.
        let next_minute = (0..=8u64)
            .flat_map(|d| {
                edges
                    .iter()
                    .map(move |e| day_start + d * MINUTES_PER_DAY + e)
            })
            .filter(|m| *m > local)
            .min()
            .unwrap_or(local + MINUTES_PER_DAY);
        let offset_ms = i64::from(utc_offset_minutes) * MS_PER_MINUTE as i64;
        let utc_ms = (next_minute * MS_PER_MINUTE) as i64 - offset_ms;
        Timestamp(utc_ms.max(0) as u64)
    }

    fn starts_on(&self, epoch_day: u64) -> bool {
        let weekday = (epoch_day + EPOCH_WEEKDAY) % 7;
        self.days & (1 << weekday) != 0
    }
}

fn local_minutes(now: Timestamp, utc_offset_minutes: i16) -> u64 {
    let shifted = now.0 as i64 + i64::from(utc_offset_minutes) * MS_PER_MINUTE as i64;
    shifted.max(0) as u64 / MS_PER_MINUTE
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;
    const DAY: u64 = 24 * HOUR;
    // Monday 2024-01-01 00:00 UTC.
    const MONDAY: u64 = 1_704_067_200_000;

    #[test]
    fn weekday_window_follows_days_and_hours() {
        let w = TimeWindow {
            days: 0b1,
            start_minute: 9 * 60,
            end_minute: 17 * 60,
        };
        assert!(w.contains(Timestamp(MONDAY + 9 * HOUR), 0));
        assert!(!w.contains(Timestamp(MONDAY + 17 * HOUR), 0));
        assert!(!w.contains(Timestamp(MONDAY + 8 * HOUR), 0));
        assert!(
            !w.contains(Timestamp(MONDAY + DAY + 10 * HOUR), 0),
            "Tuesday is off"
        );
        // UTC+8: 01:00 UTC Monday is 09:00 local.
        assert!(w.contains(Timestamp(MONDAY + HOUR), 480));
    }

    #[test]
    fn overnight_window_spans_midnight() {
        let w = TimeWindow {
            days: 0b1,
            start_minute: 22 * 60,
            end_minute: 6 * 60,
        };
        assert!(w.contains(Timestamp(MONDAY + 23 * HOUR), 0));
        assert!(w.contains(Timestamp(MONDAY + DAY + 5 * HOUR), 0));
        assert!(
            !w.contains(Timestamp(MONDAY + DAY + 23 * HOUR), 0),
            "Tuesday night is off"
        );
    }

    #[test]
    fn next_boundary_is_the_next_edge() {
        let w = TimeWindow {
            days: TimeWindow::EVERY_DAY,
            start_minute: 9 * 60,
            end_minute: 17 * 60,
        };
        assert_eq!(
            w.next_boundary(Timestamp(MONDAY + 8 * HOUR), 0),
            Timestamp(MONDAY + 9 * HOUR)
        );
        assert_eq!(
            w.next_boundary(Timestamp(MONDAY + 9 * HOUR), 0),
            Timestamp(MONDAY + 17 * HOUR)
        );
        assert_eq!(
            w.next_boundary(Timestamp(MONDAY + 18 * HOUR), 0),
            Timestamp(MONDAY + DAY + 9 * HOUR)
        );
    }
}
