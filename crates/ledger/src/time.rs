//! Timestamps in the one form the ledger signs: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use std::fmt;

/// A UTC instant with microsecond precision, written in exactly 27 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

/// A timestamp that is not in the form the ledger requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Not `YYYY-MM-DDTHH:MM:SS.ffffffZ` (27 characters, UTC, 6 fraction digits).
    #[error("timestamp {0:?} is not of the form YYYY-MM-DDTHH:MM:SS.ffffffZ")]
    Form(String),
    /// Not an RFC 3339 date-time that can be normalized.
    #[error("timestamp {0:?} is not an RFC 3339 date-time (e.g. 2026-03-01T09:55:00Z)")]
    Unreadable(String),
    /// Finer than a microsecond, which the ledger cannot record without rounding.
    #[error("timestamp {0:?} is more precise than a microsecond")]
    TooPrecise(String),
    /// Outside the years 0001–9999.
    #[error("timestamp {0:?} is outside the years 0001-9999")]
    Range(String),
}

impl Timestamp {
    /// The current time, truncated to the microsecond.
    pub fn now() -> Self {
        Self {
            micros: Utc::now().timestamp_micros(),
        }
    }

    /// A timestamp from microseconds since the Unix epoch.
    pub fn from_micros(micros: i64) -> Result<Self, TimestampError> {
        // 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z, in microseconds.
        const FIRST: i64 = -62_135_596_800 * 1_000_000;
        const END: i64 = 253_402_300_800 * 1_000_000;
        if !(FIRST..END).contains(&micros) {
            return Err(TimestampError::Range(micros.to_string()));
        }
        Ok(Self { micros })
    }

    /// Microseconds since the Unix epoch.
    pub fn micros(self) -> i64 {
        self.micros
    }

    /// Parses the exact 27-character form; anything else is refused.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let bytes = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| bytes[r].iter().all(u8::is_ascii_digit);
        let shaped = bytes.len() == 27
            && digits(0..4)
            && bytes[4] == b'-'
            && digits(5..7)
            && bytes[7] == b'-'
            && digits(8..10)
            && bytes[10] == b'T'
            && digits(11..13)
            && bytes[13] == b':'
            && digits(14..16)
            && bytes[16] == b':'
            && digits(17..19)
            && bytes[19] == b'.'
            && digits(20..26)
            && bytes[26] == b'Z';
        if !shaped {
            return Err(TimestampError::Form(text.to_owned()));
        }
        let num = |r: std::ops::Range<usize>| {
            bytes[r]
                .iter()
                .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
        };
        let form = || TimestampError::Form(text.to_owned());
        let date =
            NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10)).ok_or_else(form)?;
        let time =
            NaiveTime::from_hms_micro_opt(num(11..13), num(14..16), num(17..19), num(20..26))
                .ok_or_else(form)?;
        Self::from_micros(NaiveDateTime::new(date, time).and_utc().timestamp_micros())
    }

    /// Normalizes any RFC 3339 date-time (any offset, 0–6 fraction digits) to the ledger form,
    /// as the ledger does with a client's `occurred_at` before anything is signed.
    pub fn normalize(text: &str) -> Result<Self, TimestampError> {
        let dt = DateTime::parse_from_rfc3339(text)
            .map_err(|_| TimestampError::Unreadable(text.to_owned()))?;
        if dt.timestamp_subsec_nanos() % 1000 != 0 {
            return Err(TimestampError::TooPrecise(text.to_owned()));
        }
        Self::from_micros(dt.timestamp_micros())
    }

    fn datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros).unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.text()).map_err(|_| fmt::Error)?)
    }
}

impl Timestamp {
    /// The 27 ASCII bytes of the ledger form. Written digit by digit: every entry carries two
    /// timestamps, written several times per append, and `write!` with padded fields cost
    /// about 3 % of an append's time.
    pub fn text(self) -> [u8; 27] {
        use chrono::{Datelike as _, Timelike as _};
        fn put(out: &mut [u8], mut n: u32) {
            for d in out.iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        let t = self.datetime();
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        // Years are 1-9999 (`from_micros` refuses the rest), so four digits always hold them.
        put(&mut b[0..4], u32::try_from(t.year()).unwrap_or(0));
        put(&mut b[5..7], t.month());
        put(&mut b[8..10], t.day());
        put(&mut b[11..13], t.hour());
        put(&mut b[14..16], t.minute());
        put(&mut b[17..19], t.second());
        put(&mut b[20..26], t.timestamp_subsec_micros());
        b
    }

    /// Appends the timestamp as a JSON string (its characters never need escaping).
    pub(crate) fn write_json(self, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(&self.text());
        out.push(b'"');
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The form written digit by digit is chrono's, and parses back to the same instant,
        /// across the whole range of years.
        #[test]
        fn every_instant_is_written_in_the_ledger_form(
            micros in -62_135_596_800_000_000i64..253_402_300_800_000_000i64,
        ) {
            let t = Timestamp::from_micros(micros).unwrap();
            let text = t.to_string();
            let chrono_form = t.datetime().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            proptest::prop_assert_eq!(&text, &chrono_form);
            proptest::prop_assert_eq!(Timestamp::parse(&text).unwrap(), t);
        }
    }

    #[test]
    fn round_trips_the_exact_form() {
        for text in [
            "2026-03-01T10:00:01.234567Z",
            "1970-01-01T00:00:00.000000Z",
            "0001-01-01T00:00:00.000000Z",
            "9999-12-31T23:59:59.999999Z",
        ] {
            assert_eq!(Timestamp::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn refuses_other_forms() {
        for text in [
            "2026-03-01T10:00:01Z",
            "2026-03-01T10:00:01.234567+00:00",
            "2026-03-01 10:00:01.234567Z",
            "2026-02-30T10:00:01.234567Z",
            "2026-03-01T24:00:01.234567Z",
            "２026-03-01T10:00:01.23456Z",
            "",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn normalizes_client_times() {
        let t = Timestamp::normalize("2026-03-01T11:55:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-03-01T09:55:00.000000Z");
        let t = Timestamp::normalize("2026-03-01T09:55:00.5Z").unwrap();
        assert_eq!(t.to_string(), "2026-03-01T09:55:00.500000Z");
        assert!(matches!(
            Timestamp::normalize("2026-03-01T09:55:00.1234567Z"),
            Err(TimestampError::TooPrecise(_))
        ));
        assert!(Timestamp::normalize("yesterday").is_err());
    }
}
