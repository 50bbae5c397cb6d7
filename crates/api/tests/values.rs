//! Numbers and instants as requests spell them: one spelling per number, any RFC 3339 form of
//! an instant, and a plain date for the end of its day.

use custodia_api::extract::{Uint, UINT_MAX};
use custodia_api::read_models::parse_instant;
use custodia_domain::Timestamp;
use proptest::prelude::*;

proptest! {
    /// Every number up to 2^53−1 reads back from its canonical spelling, and from no other.
    #[test]
    fn a_number_has_exactly_one_spelling(n in 0..=UINT_MAX, pad in 1usize..3) {
        prop_assert_eq!(Uint::parse(&n.to_string()), Ok(Uint(n)));
        let padded = format!("{}{n}", "0".repeat(pad));
        prop_assert!(Uint::parse(&padded).is_err(), "{padded}");
        let signed = format!("+{n}");
        prop_assert!(Uint::parse(&signed).is_err());
        let spaced = format!(" {n}");
        prop_assert!(Uint::parse(&spaced).is_err());
    }

    /// Beyond 2^53−1 (the ledger's largest integer) a number is refused, never wrapped.
    #[test]
    fn a_number_beyond_the_ledgers_range_is_refused(n in (UINT_MAX + 1)..=u64::MAX) {
        prop_assert!(Uint::parse(&n.to_string()).is_err());
    }

    /// An instant reads back from any offset and with digits beyond the microsecond, which are
    /// dropped (never rounded into the next microsecond).
    #[test]
    fn an_instant_reads_the_same_from_any_offset_and_precision(
        micros in -62_135_596_800_000_000i64 + 86_400_000_000..253_402_214_400_000_000,
        extra in 0u32..1000,
        offset_minutes in -(14 * 60)..=(14 * 60i32),
    ) {
        let t = Timestamp::from_micros(micros).unwrap();
        let utc = chrono::DateTime::from_timestamp_micros(micros).unwrap();
        let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let local = utc.with_timezone(&offset);
        let text = format!("{}{extra:03}{}", local.format("%Y-%m-%dT%H:%M:%S%.6f"), local.format("%:z"));
        prop_assert_eq!(parse_instant(&text), Ok(t), "{}", text);
        let plain = t.to_string();
        prop_assert_eq!(parse_instant(&plain), Ok(t));
        let end = parse_instant(&plain[..10]).unwrap();
        prop_assert!(end >= t && end.micros() - t.micros() < 86_400_000_000);
    }
}

#[test]
fn dates_that_do_not_exist_are_refused_with_the_text() {
    for bad in [
        "2026-02-30",
        "2026-13-01",
        "0000-01-01",
        "15/03/2026",
        "2026-03-15T25:00:00Z",
        "",
    ] {
        let e = parse_instant(bad).unwrap_err();
        assert!(e.contains(bad), "{bad}: {e}");
    }
}
