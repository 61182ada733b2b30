//! AWS cron expressions, as Glue schedules use them: `cron(Minutes Hours Day-of-month Month
//! Day-of-week Year)`, all in UTC.
//!
//! Fields take `*`, lists `a,b`, ranges `a-b`, steps `a/n` and `*/n`; months `JAN`-`DEC`;
//! days of the week `1`-`7` = `SUN`-`SAT`. Day-of-month also takes `L` (last day), `L-n`,
//! `LW` (last weekday) and `nW` (weekday nearest day n); day-of-week takes `L` (Saturday), `nL`
//! (last such day of the month) and `n#k` (k-th such day). One of the two day fields must be
//! `?`.

use time::{Date, Month, OffsetDateTime};

const YEAR_MIN: i32 = 1970;
const YEAR_MAX: i32 = 2199;

#[derive(Clone, Debug, PartialEq, Eq)]
enum DayOfMonth {
    Any,
    Set(Vec<bool>),
    Last(u8),
    LastWeekday,
    NearestWeekday(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DayOfWeek {
    Any,
    /// Indexed by 1 (SUN) ..= 7 (SAT).
    Set(Vec<bool>),
    /// The last given weekday of the month (`5L`).
    Last(u8),
    /// The k-th given weekday of the month (`6#3`).
    Nth(u8, u8),
}

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    dom: DayOfMonth,
    months: Vec<bool>,
    dow: DayOfWeek,
    years: Vec<bool>,
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(s: &str, min: u32, max: u32, names: &[&str], what: &str) -> Result<u32, String> {
    let upper = s.to_ascii_uppercase();
    if let Some(i) = names.iter().position(|n| *n == upper) {
        return Ok(min + i as u32);
    }
    match s.parse::<u32>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(format!("{what} value {s} is not between {min} and {max}")),
    }
}

/// A list field: `*`, `a`, `a-b`, `a/n`, `a-b/n`, `*/n`, comma-separated. Indexed by value.
fn set(field: &str, min: u32, max: u32, names: &[&str], wrap: bool, what: &str) -> Result<Vec<bool>, String> {
    let mut bits = vec![false; max as usize + 1];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("{what} step {s} is not a number"))?;
                if step == 0 || step > max {
                    return Err(format!("{what} step {s} is out of range"));
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a, min, max, names, what)?, value(b, min, max, names, what)?),
                // `a/n` runs to the end of the range
                None if item.contains('/') => (value(r, min, max, names, what)?, max),
                None => {
                    let v = value(r, min, max, names, what)?;
                    (v, v)
                }
            },
        };
        if lo > hi && !wrap {
            return Err(format!("{what} range {range} runs backwards"));
        }
        let span = if lo <= hi { hi - lo } else { max - lo + 1 + hi - min };
        let mut offset = 0;
        while offset <= span {
            let v = lo + offset;
            let v = if v > max { v - max - 1 + min } else { v };
            bits[v as usize] = true;
            offset += step;
        }
    }
    Ok(bits)
}

impl Cron {
    /// Parses `cron(...)`; the error text is what InvalidInputException carries.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let bad = |why: String| format!("Invalid schedule expression {expression}: {why}");
        let inner = expression
            .trim()
            .strip_prefix("cron(")
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(|| bad("expected cron(Minutes Hours Day-of-month Month Day-of-week Year)".into()))?;
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = fields.as_slice() else {
            return Err(bad(format!("expected 6 fields, found {}", fields.len())));
        };
        let cron = Self {
            minutes: set(minutes, 0, 59, &[], false, "minutes").map_err(bad)?,
            hours: set(hours, 0, 23, &[], false, "hours").map_err(bad)?,
            dom: Self::day_of_month(dom).map_err(bad)?,
            months: set(month, 1, 12, &MONTHS, true, "month").map_err(bad)?,
            dow: Self::day_of_week(dow).map_err(bad)?,
            years: set(year, YEAR_MIN as u32, YEAR_MAX as u32, &[], false, "year").map_err(bad)?,
        };
        match (&cron.dom, &cron.dow) {
            (DayOfMonth::Any, DayOfWeek::Any) => Err(bad("day-of-month and day-of-week cannot both be ?".into())),
            (DayOfMonth::Any, _) | (_, DayOfWeek::Any) => Ok(cron),
            _ => Err(bad("one of day-of-month and day-of-week must be ?".into())),
        }
    }

    fn day_of_month(f: &str) -> Result<DayOfMonth, String> {
        let upper = f.to_ascii_uppercase();
        Ok(match upper.as_str() {
            "?" => DayOfMonth::Any,
            "L" => DayOfMonth::Last(0),
            "LW" => DayOfMonth::LastWeekday,
            s if s.starts_with("L-") => {
                let n: u8 = s[2..].parse().map_err(|_| format!("day-of-month {f} is not valid"))?;
                if !(1..=30).contains(&n) {
                    return Err(format!("day-of-month offset {n} is out of range"));
                }
                DayOfMonth::Last(n)
            }
            s if s.ends_with('W') => {
                DayOfMonth::NearestWeekday(value(&s[..s.len() - 1], 1, 31, &[], "day-of-month")? as u8)
            }
            s => DayOfMonth::Set(set(s, 1, 31, &[], false, "day-of-month")?),
        })
    }

    fn day_of_week(f: &str) -> Result<DayOfWeek, String> {
        let upper = f.to_ascii_uppercase();
        Ok(match upper.as_str() {
            "?" => DayOfWeek::Any,
            "L" => {
                let mut bits = vec![false; 8];
                bits[7] = true;
                DayOfWeek::Set(bits)
            }
            s if s.len() > 1 && s.ends_with('L') => {
                DayOfWeek::Last(value(&s[..s.len() - 1], 1, 7, &DAYS, "day-of-week")? as u8)
            }
            s if s.contains('#') => {
                let (d, k) = s.split_once('#').unwrap_or_default();
                let k: u8 = k.parse().map_err(|_| format!("day-of-week {f} is not valid"))?;
                if !(1..=5).contains(&k) {
                    return Err(format!("day-of-week occurrence {k} is not between 1 and 5"));
                }
                DayOfWeek::Nth(value(d, 1, 7, &DAYS, "day-of-week")? as u8, k)
            }
            s => DayOfWeek::Set(set(s, 1, 7, &DAYS, true, "day-of-week")?),
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let day = date.day();
        let last = time::util::days_in_month(date.month(), date.year());
        let weekday = date.weekday().number_from_sunday();
        let is_weekday = |d: u8| {
            Date::from_calendar_date(date.year(), date.month(), d)
                .is_ok_and(|x| !matches!(x.weekday().number_from_sunday(), 1 | 7))
        };
        let dom = match &self.dom {
            DayOfMonth::Any => true,
            DayOfMonth::Set(bits) => bits[day as usize],
            DayOfMonth::Last(offset) => last.checked_sub(*offset) == Some(day),
            DayOfMonth::LastWeekday => (1..=last).rev().find(|&d| is_weekday(d)) == Some(day),
            DayOfMonth::NearestWeekday(n) => {
                if *n > last {
                    false
                } else if is_weekday(*n) {
                    day == *n
                } else {
                    // a Saturday moves to Friday (or Monday on the 1st), a Sunday to Monday
                    // (or Friday on the last day), never across the month
                    let saturday = Date::from_calendar_date(date.year(), date.month(), *n)
                        .is_ok_and(|x| x.weekday().number_from_sunday() == 7);
                    let target = match (saturday, *n) {
                        (true, 1) => 3,
                        (true, n) => n - 1,
                        (false, n) if n == last => n - 2,
                        (false, n) => n + 1,
                    };
                    day == target
                }
            }
        };
        let dow = match &self.dow {
            DayOfWeek::Any => true,
            DayOfWeek::Set(bits) => bits[weekday as usize],
            DayOfWeek::Last(d) => weekday == *d && day + 7 > last,
            DayOfWeek::Nth(d, k) => weekday == *d && (day - 1) / 7 + 1 == *k,
        };
        dom && dow
    }

    /// The first fire time strictly after `after` (Unix seconds), if any before 2200.
    #[must_use]
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start = OffsetDateTime::from_unix_timestamp(after.div_euclid(60) * 60 + 60).ok()?;
        let first_minute = u32::from(start.hour()) * 60 + u32::from(start.minute());
        let mut date = start.date();
        let mut first_day = true;
        while date.year() <= YEAR_MAX {
            let year_ok = date.year() >= YEAR_MIN && self.years[date.year() as usize];
            if !year_ok {
                date = Date::from_calendar_date(date.year() + 1, Month::January, 1).ok()?;
                first_day = false;
                continue;
            }
            if !self.months[date.month() as usize] {
                let (y, m) = if date.month() == Month::December {
                    (date.year() + 1, Month::January)
                } else {
                    (date.year(), date.month().next())
                };
                date = Date::from_calendar_date(y, m, 1).ok()?;
                first_day = false;
                continue;
            }
            if self.day_matches(date) {
                let from = if first_day { first_minute } else { 0 };
                for minute_of_day in from..24 * 60 {
                    let (h, m) = (minute_of_day / 60, minute_of_day % 60);
                    if self.hours[h as usize] && self.minutes[m as usize] {
                        let at = date.with_hms(h as u8, m as u8, 0).ok()?.assume_utc();
                        return Some(at.unix_timestamp());
                    }
                }
            }
            date = date.next_day()?;
            first_day = false;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn next(expr: &str, after: OffsetDateTime) -> OffsetDateTime {
        let t = Cron::parse(expr).unwrap().next_after(after.unix_timestamp()).unwrap();
        OffsetDateTime::from_unix_timestamp(t).unwrap()
    }

    #[test]
    fn next_fire_times() {
        let t = datetime!(2026-11-26 10:17:30 UTC); // a Thursday
        assert_eq!(next("cron(15 12 * * ? *)", t), datetime!(2026-11-26 12:15 UTC));
        assert_eq!(next("cron(0/5 * * * ? *)", t), datetime!(2026-11-26 10:20 UTC));
        assert_eq!(next("cron(*/5 * * * ? *)", datetime!(2026-11-26 10:20 UTC)), datetime!(2026-11-26 10:25 UTC));
        assert_eq!(next("cron(0 10 * * ? *)", t), datetime!(2026-11-27 10:00 UTC));
        assert_eq!(next("cron(0 18 ? * MON-FRI *)", datetime!(2026-11-27 19:00 UTC)), datetime!(2026-11-30 18:00 UTC));
        assert_eq!(next("cron(0 8 1 * ? *)", t), datetime!(2026-12-01 08:00 UTC));
        assert_eq!(next("cron(0 0 L * ? *)", t), datetime!(2026-11-30 00:00 UTC));
        assert_eq!(next("cron(0 0 L * ? *)", datetime!(2028-02-01 0:00 UTC)), datetime!(2028-02-29 00:00 UTC));
        assert_eq!(next("cron(0 0 L-2 * ? *)", t), datetime!(2026-11-28 00:00 UTC));
        // 2027-01-31 is a Sunday: the last weekday is Friday the 29th
        assert_eq!(next("cron(0 0 LW * ? *)", datetime!(2027-01-01 0:00 UTC)), datetime!(2027-01-29 00:00 UTC));
        // 2026-11-01 is a Sunday: 1W fires Monday the 2nd; 2026-08-01 is a Saturday: Monday the 3rd
        assert_eq!(next("cron(0 9 1W * ? *)", datetime!(2026-10-31 0:00 UTC)), datetime!(2026-11-02 09:00 UTC));
        assert_eq!(next("cron(0 9 1W * ? *)", datetime!(2026-07-15 0:00 UTC)), datetime!(2026-08-03 09:00 UTC));
        // third Friday (6 = FRI) and last Friday
        assert_eq!(next("cron(0 12 ? * 6#3 *)", t), datetime!(2026-12-18 12:00 UTC));
        assert_eq!(next("cron(0 12 ? * FRI#3 *)", t), datetime!(2026-12-18 12:00 UTC));
        assert_eq!(next("cron(0 12 ? * 6L *)", t), datetime!(2026-11-27 12:00 UTC));
        assert_eq!(next("cron(0 12 ? * L *)", t), datetime!(2026-11-28 12:00 UTC));
        assert_eq!(next("cron(30 2 ? JAN,JUL SUN 2027-2028)", t), datetime!(2027-01-03 02:30 UTC));
        assert_eq!(next("cron(0 0 29 FEB ? *)", t), datetime!(2028-02-29 00:00 UTC));
        assert_eq!(next("cron(0 0 ? NOV-FEB SAT *)", t), datetime!(2026-11-28 00:00 UTC));
        assert_eq!(next("cron(0 0 ? * FRI-MON *)", t), datetime!(2026-11-27 00:00 UTC));
        // strictly after: a fire time equal to `after` is skipped
        assert_eq!(next("cron(15 12 * * ? *)", datetime!(2026-11-26 12:15 UTC)), datetime!(2026-11-27 12:15 UTC));
        // never again
        assert!(Cron::parse("cron(0 0 1 1 ? 2020)").unwrap().next_after(t.unix_timestamp()).is_none());
        assert!(Cron::parse("cron(0 0 30 FEB ? *)").unwrap().next_after(t.unix_timestamp()).is_none());
    }

    #[test]
    fn invalid_expressions() {
        for bad in [
            "15 12 * * ? *",
            "cron(15 12 * * ?)",
            "cron(15 12 * * * *)",
            "cron(15 12 ? * ? *)",
            "cron(15 12 1 * MON *)",
            "cron(60 12 * * ? *)",
            "cron(0 24 * * ? *)",
            "cron(0 0 32 * ? *)",
            "cron(0 0 * 13 ? *)",
            "cron(0 0 ? * 8 *)",
            "cron(0 0 ? * MON#6 *)",
            "cron(0/0 * * * ? *)",
            "cron(30-10 * * * ? *)",
            "cron(0 0 * FOO ? *)",
            "cron(0 0 * * ? 1969)",
            "cron(x 0 * * ? *)",
            "rate(5 minutes)",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
        assert!(Cron::parse("cron(0 12 * * ? *)").is_ok());
        assert!(Cron::parse("cron(0 12 ? * mon-fri *)").is_ok());
    }
}
