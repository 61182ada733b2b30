//! Timestamps as the AWS protocols carry them: epoch seconds in JSON, tag-1 milliseconds in
//! CBOR, ISO 8601 in query-protocol XML and REST query strings, RFC 1123 in headers.

/// A point in time, nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i128);

impl Timestamp {
    #[must_use]
    pub fn from_nanos(nanos: i128) -> Self {
        Self(nanos)
    }

    #[must_use]
    pub fn from_millis(millis: i64) -> Self {
        Self(i128::from(millis) * 1_000_000)
    }

    #[must_use]
    pub fn from_secs(secs: i64) -> Self {
        Self(i128::from(secs) * 1_000_000_000)
    }

    /// Epoch seconds with a fraction, as JSON carries them; rounded to the microsecond, so
    /// `1.001` is 1,001 ms and not 1,000.999... ms.
    #[must_use]
    /// Values beyond about ±5 billion years saturate (a float casts to `i128` saturating).
    pub fn from_seconds_f64(secs: f64) -> Self {
        #[allow(clippy::cast_possible_truncation)]
        let micros = (secs * 1e6).round() as i128;
        Self(micros.saturating_mul(1_000))
    }

    #[must_use]
    pub fn nanos(self) -> i128 {
        self.0
    }

    /// Milliseconds since the epoch (floored), saturating at the ends of `i64`.
    #[must_use]
    pub fn millis(self) -> i64 {
        i64::try_from(self.0.div_euclid(1_000_000)).unwrap_or(if self.0 < 0 { i64::MIN } else { i64::MAX })
    }

    /// Whole seconds since the epoch (floored).
    #[must_use]
    pub fn secs(self) -> i64 {
        i64::try_from(self.0.div_euclid(1_000_000_000)).unwrap_or(if self.0 < 0 { i64::MIN } else { i64::MAX })
    }

    /// `1700000000` or `1700000000.123`: epoch seconds to the millisecond, as the JSON
    /// protocols write them.
    #[must_use]
    pub fn epoch_seconds_text(self) -> String {
        let secs = self.secs();
        let millis = self.millis().rem_euclid(1000);
        if millis == 0 {
            secs.to_string()
        } else {
            let frac = format!("{millis:03}");
            format!("{secs}.{}", frac.trim_end_matches('0'))
        }
    }

    fn offset_date_time(self) -> Option<time::OffsetDateTime> {
        time::OffsetDateTime::from_unix_timestamp_nanos(self.0).ok()
    }

    /// `2026-12-07T01:20:05Z`, or `2026-12-07T01:20:05.123Z` when there are milliseconds.
    #[must_use]
    pub fn iso8601(self) -> String {
        let Some(t) = self.offset_date_time() else { return String::new() };
        let millis = t.millisecond();
        let base = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        if millis == 0 { format!("{base}Z") } else { format!("{base}.{millis:03}Z") }
    }

    /// `Mon, 07 Dec 2026 01:20:05 GMT`, as HTTP headers carry dates.
    #[must_use]
    pub fn http_date(self) -> String {
        let Some(t) = self.offset_date_time() else { return String::new() };
        let format = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        t.format(&format).unwrap_or_default()
    }

    /// Reads ISO 8601 (`2026-12-07T01:20:05Z`, with or without a fraction or an offset), the
    /// HTTP date form, or epoch seconds written as text.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
            return Some(Self(t.unix_timestamp_nanos()));
        }
        if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822) {
            return Some(Self(t.unix_timestamp_nanos()));
        }
        let http = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        if let Ok(t) = time::PrimitiveDateTime::parse(text, &http) {
            return Some(Self(t.assume_utc().unix_timestamp_nanos()));
        }
        // ISO 8601 without an offset reads as UTC
        let naive = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        if let Ok(t) = time::PrimitiveDateTime::parse(text, &naive) {
            return Some(Self(t.assume_utc().unix_timestamp_nanos()));
        }
        text.parse::<f64>().ok().filter(|f| f.is_finite()).map(Self::from_seconds_f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        let t = Timestamp::from_millis(1_765_070_405_123);
        assert_eq!(t.epoch_seconds_text(), "1765070405.123");
        assert_eq!(Timestamp::from_millis(1_765_070_405_100).epoch_seconds_text(), "1765070405.1");
        assert_eq!(Timestamp::from_secs(1_765_070_405).epoch_seconds_text(), "1765070405");
        assert_eq!(t.iso8601(), "2025-12-07T01:20:05.123Z");
        assert_eq!(Timestamp::from_secs(1_765_070_405).iso8601(), "2025-12-07T01:20:05Z");
        assert_eq!(Timestamp::from_secs(1_765_070_405).http_date(), "Sun, 07 Dec 2025 01:20:05 GMT");
        assert_eq!(Timestamp::parse("2025-12-07T01:20:05.123Z"), Some(t));
        assert_eq!(Timestamp::parse("Sun, 07 Dec 2025 01:20:05 GMT"), Some(Timestamp::from_secs(1_765_070_405)));
        assert_eq!(Timestamp::parse("1765070405.123"), Some(t));
        assert_eq!(Timestamp::from_seconds_f64(1.001).millis(), 1001);
        assert_eq!(Timestamp::from_millis(-1).secs(), -1);
        // absurd values saturate instead of overflowing
        assert_eq!(Timestamp::from_seconds_f64(1e300).nanos(), i128::MAX);
        assert_eq!(Timestamp::from_seconds_f64(f64::NEG_INFINITY).nanos(), i128::MIN);
        assert!(Timestamp::from_seconds_f64(1e300).iso8601().is_empty());
    }
}
