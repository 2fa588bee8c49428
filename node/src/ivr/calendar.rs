//! Business-hours calendars: weekly opening hours, holidays and special open days,
//! evaluated at a Unix-millisecond timestamp passed in by the caller.
//!
//! Local time is a fixed offset from UTC in minutes rather than an IANA zone: a
//! branch gateway must evaluate its hours alone, on a small box, without a time-zone
//! database to keep up to date (China has no daylight saving time; sites that do
//! change their offset through a configuration push).

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

const MS_PER_MINUTE: i64 = 60_000;
const MINUTES_PER_DAY: i64 = 24 * 60;
const MS_PER_DAY: i64 = MINUTES_PER_DAY * MS_PER_MINUTE;
/// 1970-01-01 was a Thursday; with Monday = 0 that is day 3 of the week.
const EPOCH_WEEKDAY: i64 = 3;
/// The largest offset any place on Earth uses (UTC+14:00).
pub const MAX_UTC_OFFSET_MINUTES: i16 = 14 * 60;

/// Why a date or an hours range written by an administrator was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarParseError {
    /// A date was not `YYYY-MM-DD` or does not exist (e.g. 2026-02-30).
    #[error("bad date {0:?}: expected an existing date written YYYY-MM-DD")]
    BadDate(String),
    /// A range was not `HH:MM-HH:MM`, used an impossible time, or did not end after it started.
    #[error(
        "bad hours range {0:?}: expected HH:MM-HH:MM within one day, ending after it starts (24:00 allowed as the end)"
    )]
    BadRange(String),
}

/// A calendar day (proleptic Gregorian), written `YYYY-MM-DD` in configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CivilDate {
    epoch_day: i64,
}

impl CivilDate {
    /// The date with the given year, month (1–12) and day (1–31), if it exists.
    pub fn new(year: i32, month: u32, day: u32) -> Option<CivilDate> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(CivilDate {
            epoch_day: days_from_civil(i64::from(year), month, day),
        })
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn epoch_day(self) -> i64 {
        self.epoch_day
    }

    /// The date `epoch_day` days after 1970-01-01.
    pub fn from_epoch_day(epoch_day: i64) -> CivilDate {
        CivilDate { epoch_day }
    }

    /// Year, month (1–12) and day (1–31).
    pub fn ymd(self) -> (i64, u32, u32) {
        let (y, m, d) = civil_from_days(self.epoch_day);
        (y, m as u32, d as u32)
    }

    /// Day of the week, Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
    pub fn weekday(self) -> u32 {
        (self.epoch_day + 3).rem_euclid(7) as u32
    }
}

impl TryFrom<String> for CivilDate {
    type Error = CalendarParseError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bad = || CalendarParseError::BadDate(text.clone());
        let mut parts = text.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let year: i32 = parse_digits(y).ok_or_else(bad)?;
        let month: u32 = parse_digits(m).ok_or_else(bad)?;
        let day: u32 = parse_digits(d).ok_or_else(bad)?;
        CivilDate::new(year, month, day).ok_or_else(bad)
    }
}

impl From<CivilDate> for String {
    fn from(date: CivilDate) -> String {
        date.to_string()
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.epoch_day);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// Opening hours within one local day, `[start, end)` in minutes since midnight.
/// Written `"09:00-12:30"`; `24:00` may end a range so a day can run to midnight.
/// Hours past midnight belong to the next day's list, which keeps every range simple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HoursRange {
    start_minute: u16,
    end_minute: u16,
}

impl HoursRange {
    /// A range from `start_minute` to `end_minute` (exclusive) of the local day, if valid.
    pub fn new(start_minute: u16, end_minute: u16) -> Option<HoursRange> {
        (start_minute < end_minute && i64::from(end_minute) <= MINUTES_PER_DAY).then_some(
            HoursRange {
                start_minute,
                end_minute,
            },
        )
    }

    fn contains(self, minute_of_day: i64) -> bool {
        minute_of_day >= i64::from(self.start_minute) && minute_of_day < i64::from(self.end_minute)
    }
}

impl TryFrom<String> for HoursRange {
    type Error = CalendarParseError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bad = || CalendarParseError::BadRange(text.clone());
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let start = parse_clock(start.trim()).ok_or_else(bad)?;
        let end = parse_clock(end.trim()).ok_or_else(bad)?;
        HoursRange::new(start, end).ok_or_else(bad)
    }
}

impl From<HoursRange> for String {
    fn from(range: HoursRange) -> String {
        let (s, e) = (range.start_minute, range.end_minute);
        format!("{:02}:{:02}-{:02}:{:02}", s / 60, s % 60, e / 60, e % 60)
    }
}

/// Opening hours for each day of the week; a day left out is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeeklyHours {
    /// Monday.
    pub mon: Vec<HoursRange>,
    /// Tuesday.
    pub tue: Vec<HoursRange>,
    /// Wednesday.
    pub wed: Vec<HoursRange>,
    /// Thursday.
    pub thu: Vec<HoursRange>,
    /// Friday.
    pub fri: Vec<HoursRange>,
    /// Saturday.
    pub sat: Vec<HoursRange>,
    /// Sunday.
    pub sun: Vec<HoursRange>,
}

impl WeeklyHours {
    /// The ranges of a weekday, Monday = 0.
    fn day(&self, weekday: i64) -> &[HoursRange] {
        match weekday {
            0 => &self.mon,
            1 => &self.tue,
            2 => &self.wed,
            3 => &self.thu,
            4 => &self.fri,
            5 => &self.sat,
            _ => &self.sun,
        }
    }
}

/// A date that is open with its own hours whatever the weekly schedule says, such as
/// the weekend working days that make up for a long public holiday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecialDay {
    /// The local date.
    pub date: CivilDate,
    /// Opening hours that day.
    pub hours: Vec<HoursRange>,
}

/// When a site (or a queue's team) answers calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// Local time minus UTC, in minutes (Beijing: 480).
    #[serde(default)]
    pub utc_offset_minutes: i16,
    /// The usual week.
    #[serde(default)]
    pub weekly: WeeklyHours,
    /// Local dates closed all day.
    #[serde(default)]
    pub holidays: Vec<CivilDate>,
    /// Local dates open with their own hours (checked after holidays).
    #[serde(default)]
    pub special_days: Vec<SpecialDay>,
}

impl Calendar {
    /// Whether the calendar is open at `now_ms` (Unix milliseconds, UTC).
    pub fn is_open(&self, now_ms: u64) -> bool {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let local = now.saturating_add(i64::from(self.utc_offset_minutes) * MS_PER_MINUTE);
        let day = local.div_euclid(MS_PER_DAY);
        let minute = local.rem_euclid(MS_PER_DAY) / MS_PER_MINUTE;
        if self.holidays.iter().any(|h| h.epoch_day() == day) {
            return false;
        }
        let ranges = match self.special_days.iter().find(|s| s.date.epoch_day() == day) {
            Some(special) => &special.hours[..],
            None => self.weekly.day((day + EPOCH_WEEKDAY).rem_euclid(7)),
        };
        ranges.iter().any(|r| r.contains(minute))
    }
}

fn parse_digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (parse_digits(h)?, parse_digits(m)?);
    let valid = (h < 24 && m < 60) || (h == 24 && m == 0);
    valid.then_some(h * 60 + m)
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of a Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;
    const MINUTE: u64 = 60_000;
    // Monday 2024-01-01 00:00 UTC.
    const MONDAY: u64 = 1_704_067_200_000;

    fn range(text: &str) -> HoursRange {
        HoursRange::try_from(text.to_string()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn date(text: &str) -> CivilDate {
        CivilDate::try_from(text.to_string()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn weekdays_nine_to_six(offset: i16) -> Calendar {
        let day = vec![range("09:00-12:00"), range("13:00-18:00")];
        Calendar {
            utc_offset_minutes: offset,
            weekly: WeeklyHours {
                mon: day.clone(),
                tue: day.clone(),
                wed: day.clone(),
                thu: day.clone(),
                fri: day,
                ..WeeklyHours::default()
            },
            ..Calendar::default()
        }
    }

    #[test]
    fn dates_round_trip_and_reject_impossible_days() {
        assert_eq!(date("1970-01-01").epoch_day(), 0);
        assert_eq!(date("2024-01-01").epoch_day() as u64 * 24 * HOUR, MONDAY);
        assert_eq!(date("2024-02-29").to_string(), "2024-02-29");
        assert_eq!(date("1969-12-31").epoch_day(), -1);
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "2024-01-00",
            "x",
            "",
        ] {
            assert!(CivilDate::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_parse_and_reject_backwards_or_impossible_times() {
        assert_eq!(String::from(range("09:00-24:00")), "09:00-24:00");
        for bad in [
            "18:00-09:00",
            "09:00-09:00",
            "25:00-26:00",
            "9:00-10:00",
            "09:60-10:00",
        ] {
            assert!(HoursRange::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn weekly_hours_with_a_lunch_break() {
        let cal = weekdays_nine_to_six(0);
        assert!(!cal.is_open(MONDAY + 9 * HOUR - 1));
        assert!(cal.is_open(MONDAY + 9 * HOUR));
        assert!(!cal.is_open(MONDAY + 12 * HOUR + 30 * MINUTE), "lunch");
        assert!(cal.is_open(MONDAY + 17 * HOUR + 59 * MINUTE));
        assert!(!cal.is_open(MONDAY + 18 * HOUR));
        assert!(!cal.is_open(MONDAY + 5 * 24 * HOUR + 10 * HOUR), "Saturday");
    }

    #[test]
    fn utc_offset_moves_the_day_across_midnight() {
        // Beijing (UTC+8): Monday 09:00 local is Monday 01:00 UTC.
        let beijing = weekdays_nine_to_six(480);
        assert!(beijing.is_open(MONDAY + HOUR));
        // Sunday 23:30 UTC is Monday 07:30 in Beijing: closed, but it is Monday there.
        assert!(!beijing.is_open(MONDAY - 30 * MINUTE));
        // Friday 17:00 Beijing = Friday 09:00 UTC; Friday 11:00 UTC is Friday 19:00 Beijing.
        let friday = MONDAY + 4 * 24 * HOUR;
        assert!(beijing.is_open(friday + 9 * HOUR));
        assert!(!beijing.is_open(friday + 11 * HOUR));
        // A negative offset (UTC-5): Monday 03:00 UTC is still Sunday 22:00 locally.
        let mut new_york = weekdays_nine_to_six(-300);
        new_york.weekly.sun = vec![range("21:00-24:00")];
        assert!(new_york.is_open(MONDAY + 3 * HOUR));
        assert!(
            !new_york.is_open(MONDAY + 5 * HOUR),
            "Monday 00:00 local, closed"
        );
        assert!(new_york.is_open(MONDAY + 14 * HOUR), "Monday 09:00 local");
    }

    #[test]
    fn holidays_close_and_special_days_open() {
        let mut cal = weekdays_nine_to_six(480);
        cal.holidays.push(date("2024-01-01"));
        cal.special_days.push(SpecialDay {
            date: date("2024-01-06"),
            hours: vec![range("10:00-15:00")],
        });
        assert!(
            !cal.is_open(MONDAY + 3 * HOUR),
            "New Year's Day, 11:00 Beijing"
        );
        assert!(
            cal.is_open(MONDAY + 24 * HOUR + 3 * HOUR),
            "Tuesday is a working day"
        );
        let saturday = MONDAY + 5 * 24 * HOUR;
        assert!(
            cal.is_open(saturday + 3 * HOUR),
            "make-up Saturday, 11:00 Beijing"
        );
        assert!(
            !cal.is_open(saturday + 8 * HOUR),
            "16:00 Beijing, special hours over"
        );
        assert!(
            !cal.is_open(saturday + 7 * 24 * HOUR + 3 * HOUR),
            "a normal Saturday"
        );
    }

    #[test]
    fn extreme_timestamps_do_not_panic() {
        let cal = weekdays_nine_to_six(MAX_UTC_OFFSET_MINUTES);
        let _ = cal.is_open(u64::MAX);
        let _ = weekdays_nine_to_six(-MAX_UTC_OFFSET_MINUTES).is_open(0);
    }
}
