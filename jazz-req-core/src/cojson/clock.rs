//! Wall-clock time as cojson writes it: milliseconds since the Unix epoch (`madeAt`) and
//! `Date#toISOString` text (`createdAt`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as JS `Date.now()` (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `new Date(ms).toISOString()`: `YYYY-MM-DDTHH:MM:SS.mmmZ` (years 0 to 9999).
pub fn iso_8601_ms(ms: u64) -> String {
    let millis = ms % 1000;
    let secs = ms / 1000;
    let (hour, minute, second) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let (year, month, day) = civil_from_days(secs / 86_400);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so that leap days end each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::iso_8601_ms;

    #[test]
    fn formats_like_to_iso_string() {
        assert_eq!(iso_8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_8601_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_8601_ms(1_795_765_137_469), "2026-11-27T07:38:57.469Z");
        assert_eq!(iso_8601_ms(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }
}
