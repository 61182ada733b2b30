//! Values of the PostgreSQL wire in both formats, where the client's native decoding needs
//! PostgreSQL's exact forms: NUMERIC (decimals of every precision), JSON (arrays, maps and
//! structs), INTERVAL (Arrow's intervals and durations).

use pgwire::api::Type;

/// JSON text (PostgreSQL's `json`: the same bytes in text and binary).
#[derive(Debug)]
pub(crate) struct JsonText(pub String);

/// A decimal as PostgreSQL's NUMERIC: its exact text, or its binary form (base-10000 digits),
/// for every precision Arrow's Decimal128 has (38 digits).
#[derive(Debug)]
pub(crate) struct Numeric {
    pub text: String,
    pub value: i128,
    pub scale: i8,
}

impl Numeric {
    /// NUMERIC's binary form: ndigits, weight, sign, dscale, then the base-10000 digits.
    fn binary(&self) -> Vec<u8> {
        let scale = usize::from(self.scale.unsigned_abs());
        let mut digits = self.value.unsigned_abs().to_string();
        if digits.len() <= scale {
            digits = format!("{}{digits}", "0".repeat(scale + 1 - digits.len()));
        }
        let (int, frac) = digits.split_at(digits.len() - scale);
        // whole part grouped from the right, fraction from the left
        let int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
        let frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
        let group = |s: &str| {
            s.as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).map_or(0, |g| g.parse::<i16>().unwrap_or(0)))
                .collect::<Vec<i16>>()
        };
        let (int, frac) = (group(&int), group(&frac));
        let mut weight = i16::try_from(int.len()).unwrap_or(i16::MAX) - 1;
        let mut all: Vec<i16> = int.into_iter().chain(frac).collect();
        let leading = all.iter().take_while(|d| **d == 0).count();
        all.drain(..leading);
        weight -= i16::try_from(leading).unwrap_or(0);
        while all.last() == Some(&0) {
            all.pop();
        }
        if all.is_empty() {
            weight = 0;
        }
        let sign: u16 = if self.value < 0 { 0x4000 } else { 0 };
        let mut out = Vec::with_capacity(8 + 2 * all.len());
        out.extend_from_slice(&i16::try_from(all.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&u16::from(self.scale.unsigned_abs()).to_be_bytes());
        for d in all {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }
}

/// PostgreSQL's binary NUMERIC (ndigits, weight, sign, dscale, then base-10000 digits) as
/// decimal text, with its scale; None when malformed or NaN/infinite.
pub(crate) fn numeric_text(bytes: &[u8]) -> Option<(String, u16)> {
    let word = |i: usize| bytes.get(2 * i..2 * i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = word(3)?;
    if bytes.len() != 8 + 2 * ndigits || !matches!(sign, 0x0000 | 0x4000) || dscale > 0x3FFF {
        return None;
    }
    let digits: Vec<u16> = (0..ndigits).map(|i| word(4 + i)).collect::<Option<_>>()?;
    if digits.iter().any(|d| *d > 9999) {
        return None;
    }
    // the integer part: groups of weight 0 and above; the fraction: dscale digits after
    let group = |w: i32| -> u16 {
        let i = weight - w;
        if i >= 0 && (i as usize) < digits.len() { digits[i as usize] } else { 0 }
    };
    let mut int = String::new();
    for w in (0..=weight.max(0)).rev() {
        let g = group(w);
        if int.is_empty() {
            if g != 0 {
                int = g.to_string();
            }
        } else {
            int.push_str(&format!("{g:04}"));
        }
    }
    if int.is_empty() {
        int.push('0');
    }
    let mut frac = String::new();
    let mut w = -1;
    while frac.len() < usize::from(dscale) {
        frac.push_str(&format!("{:04}", group(w)));
        w -= 1;
    }
    frac.truncate(usize::from(dscale));
    let mut text = if sign == 0x4000 { format!("-{int}") } else { int };
    if !frac.is_empty() {
        text.push('.');
        text.push_str(&frac);
    }
    Some((text, dscale))
}

/// An interval as PostgreSQL keeps it: months, days and microseconds, each with its own sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    /// PostgreSQL's output in its default IntervalStyle (`postgres`): `1 year 2 mons 3 days
    /// 04:05:06.5`; a positive field after a negative one carries `+`; nothing at all is
    /// `00:00:00`.
    pub fn text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut negative_before = false;
        let mut field = |value: i64, unit: &str, parts: &mut Vec<String>| {
            if value != 0 {
                let sign = if negative_before && value > 0 { "+" } else { "" };
                let plural = if value == 1 { "" } else { "s" };
                parts.push(format!("{sign}{value} {unit}{plural}"));
                negative_before = value < 0;
            }
        };
        let (years, months) = (self.months / 12, self.months % 12);
        field(i64::from(years), "year", &mut parts);
        field(i64::from(months), "mon", &mut parts);
        field(i64::from(self.days), "day", &mut parts);
        if self.micros != 0 || parts.is_empty() {
            let sign = if self.micros < 0 {
                "-"
            } else if negative_before {
                "+"
            } else {
                ""
            };
            let all = self.micros.unsigned_abs();
            let (secs, frac) = (all / 1_000_000, all % 1_000_000);
            let mut time = format!("{sign}{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
            if frac != 0 {
                let digits = format!("{frac:06}");
                time.push('.');
                time.push_str(digits.trim_end_matches('0'));
            }
            parts.push(time);
        }
        parts.join(" ")
    }

    /// INTERVAL's binary form: microseconds (8 bytes), days, months (4 bytes each), big-endian.
    pub fn binary(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.micros.to_be_bytes());
        out[8..12].copy_from_slice(&self.days.to_be_bytes());
        out[12..].copy_from_slice(&self.months.to_be_bytes());
        out
    }

    /// Reads INTERVAL's binary form.
    pub fn from_binary(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; 16] = bytes.try_into().ok()?;
        Some(Self {
            micros: i64::from_be_bytes(bytes[..8].try_into().ok()?),
            days: i32::from_be_bytes(bytes[8..12].try_into().ok()?),
            months: i32::from_be_bytes(bytes[12..].try_into().ok()?),
        })
    }
}

/// A value's two wire forms: `text` for the text format, `binary` for the binary one, as
/// pgwire's encoder asks for them (`accepts` the PostgreSQL type `$pg`).
macro_rules! wire_value {
    ($t:ty, $pg:expr, |$v:ident| text: $text:expr, binary: $binary:expr) => {
        impl pgwire::types::ToSqlText for $t {
            fn to_sql_text(
                &self,
                _ty: &Type,
                out: &mut bytes::BytesMut,
                _format: &pgwire::types::format::FormatOptions,
            ) -> Result<postgres_types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                let $v = self;
                out.extend_from_slice($text);
                Ok(postgres_types::IsNull::No)
            }
        }

        impl postgres_types::ToSql for $t {
            fn to_sql(
                &self,
                _ty: &Type,
                out: &mut bytes::BytesMut,
            ) -> Result<postgres_types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                let $v = self;
                out.extend_from_slice($binary);
                Ok(postgres_types::IsNull::No)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == $pg
            }

            postgres_types::to_sql_checked!();
        }
    };
}

wire_value!(JsonText, Type::JSON, |v| text: v.0.as_bytes(), binary: v.0.as_bytes());
wire_value!(Numeric, Type::NUMERIC, |v| text: v.text.as_bytes(), binary: &v.binary());
wire_value!(Interval, Type::INTERVAL, |v| text: v.text().as_bytes(), binary: &v.binary());

#[cfg(test)]
mod tests {
    use super::{Interval, Numeric};

    fn binary(value: i128, scale: i8) -> Vec<i16> {
        let b = Numeric { text: String::new(), value, scale }.binary();
        b.chunks(2).map(|c| i16::from_be_bytes([c[0], c[1]])).collect()
    }

    #[test]
    fn numeric_binary_parameters_decode() {
        for (value, scale, text) in [
            (150, 2, "1.50"),
            (-123_456_789, 1, "-12345678.9"),
            (1, 4, "0.0001"),
            (0, 2, "0.00"),
            (10_000, 0, "10000"),
            (12_345, 0, "12345"),
        ] {
            let b = Numeric { text: String::new(), value, scale }.binary();
            assert_eq!(super::numeric_text(&b), Some((text.to_string(), scale as u16)), "{value} scale {scale}");
        }
        assert_eq!(super::numeric_text(&[0, 0, 0, 0, 0xC0, 0, 0, 0]), None, "NaN");
        assert_eq!(super::numeric_text(&[0, 1, 0, 0]), None, "truncated");
    }

    #[test]
    fn numeric_binary_form() {
        // 1.50: one digit group 1 (weight 0) and 5000 (weight -1), dscale 2
        assert_eq!(binary(150, 2), vec![2, 0, 0, 2, 1, 5000]);
        // -12345678.9: groups 1234 5678 . 9000
        assert_eq!(binary(-123_456_789, 1), vec![3, 1, 0x4000, 1, 1234, 5678, 9000]);
        // 0.0001
        assert_eq!(binary(1, 4), vec![1, -1, 0, 4, 1]);
        assert_eq!(binary(0, 2), vec![0, 0, 0, 2]);
        // 10000 and 38 digits
        assert_eq!(binary(10_000, 0), vec![1, 1, 0, 0, 1]);
        assert_eq!(binary(10_i128.pow(37), 0)[..4], [1, 9, 0, 0]);
    }

    #[test]
    fn intervals_in_postgres_text_form() {
        let i = |months, days, micros| Interval { months, days, micros }.text();
        assert_eq!(i(0, 0, 0), "00:00:00");
        assert_eq!(i(14, 3, 14_706_500_000), "1 year 2 mons 3 days 04:05:06.5");
        assert_eq!(i(1, 1, 0), "1 mon 1 day");
        assert_eq!(i(24, 0, 90_000_000_000), "2 years 25:00:00");
        assert_eq!(i(0, -1, 3_600_000_000), "-1 days +01:00:00");
        assert_eq!(i(-12, 2, -1), "-1 years +2 days -00:00:00.000001");
        assert_eq!(i(0, 0, 1_500), "00:00:00.0015");
    }

    #[test]
    fn intervals_in_binary_form_round_trip() {
        let v = Interval { months: -3, days: 40, micros: -86_400_000_001 };
        let b = v.binary();
        assert_eq!(&b[..8], &(-86_400_000_001_i64).to_be_bytes());
        assert_eq!(Interval::from_binary(&b), Some(v));
        assert_eq!(Interval::from_binary(&b[..15]), None);
    }
}
