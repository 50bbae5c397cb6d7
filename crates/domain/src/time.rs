//! Business time as the ledger writes it: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
//!
//! The domain never reads a clock; every instant arrives from the caller. The civil-date
//! arithmetic below is Howard Hinnant's `days_from_civil` / `civil_from_days`, which is exact
//! for the proleptic Gregorian calendar.

use schemars::gen::SchemaGenerator;
use schemars::schema::Schema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// The pattern every timestamp in a payload or envelope matches.
pub const TIMESTAMP_PATTERN: &str =
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$";

/// An instant in UTC with microsecond precision, between years 0001 and 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a timestamp string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The text is not exactly `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    #[error("timestamp {0:?} is not of the form YYYY-MM-DDTHH:MM:SS.ffffffZ")]
    Shape(String),
    /// The fields have the right shape but name no real instant (month 13, Feb 30, 24:00...).
    #[error("timestamp {0:?} names no real instant")]
    Range(String),
}

impl Timestamp {
    /// The earliest representable instant, `0001-01-01T00:00:00.000000Z`.
    pub const MIN: Timestamp = Timestamp(-62_135_596_800 * MICROS_PER_SECOND);
    /// The latest representable instant, `9999-12-31T23:59:59.999999Z`.
    pub const MAX: Timestamp = Timestamp(253_402_300_800 * MICROS_PER_SECOND - 1);

    /// Builds a timestamp from microseconds since 1970-01-01T00:00:00Z, if within years 1..=9999.
    pub fn from_micros(micros: i64) -> Option<Timestamp> {
        (Self::MIN.0..=Self::MAX.0)
            .contains(&micros)
            .then_some(Timestamp(micros))
    }

    /// Microseconds since 1970-01-01T00:00:00Z.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// Midnight UTC of a calendar date; `None` when the date does not exist.
    pub fn from_date(year: i32, month: u32, day: u32) -> Option<Timestamp> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Timestamp(
            days_from_civil(year, month, day) * MICROS_PER_DAY,
        ))
    }

    /// Parses exactly the 27-character ledger form.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let fields = split_fields(text).ok_or_else(|| TimestampError::Shape(text.to_owned()))?;
        let [year, month, day, hour, minute, second, micro] = fields;
        let range = || TimestampError::Range(text.to_owned());
        if hour > 23 || minute > 59 || second > 59 {
            return Err(range());
        }
        let date = Timestamp::from_date(year as i32, month as u32, day as u32).ok_or_else(range)?;
        let seconds = hour * 3600 + minute * 60 + second;
        Ok(Timestamp(date.0 + seconds * MICROS_PER_SECOND + micro))
    }

    /// This instant plus whole days; saturates at the representable range.
    pub fn plus_days(self, days: i64) -> Timestamp {
        self.plus_micros(days.saturating_mul(MICROS_PER_DAY))
    }

    /// This instant plus microseconds; saturates at the representable range.
    pub fn plus_micros(self, micros: i64) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(micros)
                .clamp(Self::MIN.0, Self::MAX.0),
        )
    }

    /// Whole days from `earlier` to `self` (negative when `self` is earlier).
    pub fn days_since(self, earlier: Timestamp) -> i64 {
        (self.0 - earlier.0).div_euclid(MICROS_PER_DAY)
    }
}

/// Splits `YYYY-MM-DDTHH:MM:SS.ffffffZ` into its seven numbers, checking every separator.
fn split_fields(text: &str) -> Option<[i64; 7]> {
    let b = text.as_bytes();
    if b.len() != 27 {
        return None;
    }
    let seps = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    Some([
        num(0, 4)?,
        num(5, 7)?,
        num(8, 10)?,
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
        num(20, 26)?,
    ])
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

fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MICROS_PER_DAY);
        let rest = self.0.rem_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let secs = rest / MICROS_PER_SECOND;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            rest % MICROS_PER_SECOND
        )
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> String {
        "Timestamp".to_owned()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        crate::ids::string_schema(TIMESTAMP_PATTERN, 27, 27)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_instants() {
        for text in [
            "1970-01-01T00:00:00.000000Z",
            "2026-03-01T10:00:01.234567Z",
            "2024-02-29T23:59:59.999999Z",
            "0001-01-01T00:00:00.000000Z",
            "9999-12-31T23:59:59.999999Z",
            "1969-12-31T23:59:59.999999Z",
        ] {
            assert_eq!(Timestamp::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:01.000002Z")
                .unwrap()
                .micros(),
            1_000_002
        );
        assert_eq!(
            Timestamp::parse("0001-01-01T00:00:00.000000Z").unwrap(),
            Timestamp::MIN
        );
        assert_eq!(
            Timestamp::parse("9999-12-31T23:59:59.999999Z").unwrap(),
            Timestamp::MAX
        );
    }

    #[test]
    fn refuses_other_shapes_and_impossible_dates() {
        for text in [
            "2026-03-01T10:00:01Z",
            "2026-03-01T10:00:01.234567+00:00",
            "2026-03-01 10:00:01.234567Z",
            "2026-3-01T10:00:01.2345678Z",
            "+026-03-01T10:00:01.234567Z",
        ] {
            assert!(
                matches!(Timestamp::parse(text), Err(TimestampError::Shape(_))),
                "{text}"
            );
        }
        for text in [
            "2026-13-01T10:00:01.234567Z",
            "2025-02-29T10:00:01.234567Z",
            "2026-03-01T24:00:00.000000Z",
            "0000-01-01T00:00:00.000000Z",
        ] {
            assert!(
                matches!(Timestamp::parse(text), Err(TimestampError::Range(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn day_arithmetic_crosses_months_and_years() {
        let t = Timestamp::from_date(2025, 12, 31).unwrap();
        assert_eq!(t.plus_days(1).to_string(), "2026-01-01T00:00:00.000000Z");
        assert_eq!(t.plus_days(60).days_since(t), 60);
    }
}
