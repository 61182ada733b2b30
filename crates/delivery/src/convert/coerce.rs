//! From JSON to typed column values, as the OpenX JSON SerDe does it: JSON keys matched to
//! columns and struct fields (case folding, dots as underscores), values coerced to the
//! columns' types (numbers, date-times, decimals) and built into Arrow arrays.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::json::Value;
use arrow_array::builder::{NullBufferBuilder, OffsetBufferBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, ListArray, MapArray, StringArray, StructArray, TimestampMicrosecondArray,
};
use arrow_schema::{ArrowError, DataType, FieldRef, Fields, TimeUnit};

use super::{RecordError, TYPE_MISMATCH};

// ---------------------------------------------------------------------------------------------
// Key matching

#[derive(Clone, Copy)]
pub(super) struct Opts {
    pub(super) case_insensitive: bool,
    pub(super) dots: bool,
}

pub(super) fn fold(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) { Cow::Owned(s.to_lowercase()) } else { Cow::Borrowed(s) }
}

/// The names of a struct's fields (or the table's columns) and the JSON keys that reach them.
pub(super) struct Names {
    /// Target key (folded when case-insensitive) -> field indexes.
    index: HashMap<String, Vec<usize>>,
    targets: Vec<String>,
    /// No two targets reach the same field (a key that equals a target reaches that field only).
    distinct: bool,
}

impl Names {
    pub(super) fn new(targets: Vec<String>, case_insensitive: bool) -> Self {
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            let key = if case_insensitive { fold(t).into_owned() } else { t.clone() };
            index.entry(key).or_default().push(i);
        }
        let distinct = index.values().all(|ids| ids.len() == 1);
        Self { index, targets, distinct }
    }

    /// The value of each field in `object`. When several keys reach a field, the best match
    /// wins: exact case before folded case, the key as written before dots replaced.
    /// Among equally good matches the last in the document wins (as a repeated key does).
    pub(super) fn resolve<'v, 'a>(
        &self,
        object: &'v [(Cow<'a, str>, Value<'a>)],
        opts: Opts,
    ) -> Vec<Option<&'v Value<'a>>> {
        let mut slots: Vec<Option<(&Value<'a>, u8)>> = vec![None; self.targets.len()];
        for (position, (key, value)) in object.iter().enumerate() {
            let mut offer = |i: usize, rank: u8| {
                if slots[i].is_none_or(|(_, r)| rank >= r) {
                    slots[i] = Some((value, rank));
                }
            };
            if self.distinct && self.targets.get(position).is_some_and(|t| t == key) {
                // keys written in column order, as written: no lookup
                offer(position, 3);
            } else {
                self.matches(key, opts, 1, &mut offer);
            }
            if opts.dots && key.contains('.') {
                self.matches(&key.replace('.', "_"), opts, 0, &mut offer);
            }
        }
        slots.into_iter().map(|s| s.map(|(v, _)| v)).collect()
    }

    fn matches(&self, key: &str, opts: Opts, as_written: u8, offer: &mut impl FnMut(usize, u8)) {
        let lookup = if opts.case_insensitive { fold(key) } else { Cow::Borrowed(key) };
        if let Some(ids) = self.index.get(lookup.as_ref()) {
            for &i in ids {
                let exact = u8::from(self.targets[i] == key);
                offer(i, exact * 2 + as_written);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Types and coercion

/// A column type as the converter handles it.
pub(super) enum Kind {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Utf8,
    Binary,
    Date32,
    /// Microseconds since the epoch, no time zone.
    Timestamp,
    Decimal(u8, i8),
    List(FieldRef, Box<Kind>),
    Struct(Fields, Names, Vec<Kind>),
    /// Entries field, key/value fields, key kind, value kind, sorted.
    Map(FieldRef, Fields, Box<Kind>, Box<Kind>, bool),
}

/// A converted value; dates are days and timestamps microseconds in `Int`, binary is `Str`.
#[derive(Debug, PartialEq)]
pub(super) enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Dec(i128),
    List(Vec<Val>),
    Struct(Vec<Val>),
    Map(Vec<(Val, Val)>),
}

static NULL: Val = Val::Null;

/// A value that does not fit: where (innermost first) and why.
pub(super) struct Bad {
    path: Vec<String>,
    message: String,
}

impl Bad {
    fn new(message: String) -> Self {
        Self { path: Vec::new(), message }
    }

    fn mismatch(v: &Value<'_>, kind: &Kind) -> Self {
        Self::new(format!("cannot convert {} to {}", preview(v), kind.name()))
    }

    fn range(v: &Value<'_>, kind: &Kind) -> Self {
        Self::new(format!("{} is out of range for {}", preview(v), kind.name()))
    }

    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }

    pub(super) fn into_record_error(self, column: &str) -> RecordError {
        let mut path = column.to_string();
        for segment in self.path.iter().rev() {
            path.push_str(segment);
        }
        RecordError { code: TYPE_MISMATCH, message: format!("column {path}: {}", self.message) }
    }
}

impl Kind {
    pub(super) fn of(dt: &DataType, case_insensitive: bool) -> Result<Kind, String> {
        Ok(match dt {
            DataType::Boolean => Kind::Boolean,
            DataType::Int8 => Kind::Int8,
            DataType::Int16 => Kind::Int16,
            DataType::Int32 => Kind::Int32,
            DataType::Int64 => Kind::Int64,
            DataType::Float32 => Kind::Float32,
            DataType::Float64 => Kind::Float64,
            DataType::Utf8 => Kind::Utf8,
            DataType::Binary => Kind::Binary,
            DataType::Date32 => Kind::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None) => Kind::Timestamp,
            DataType::Decimal128(p, s) if *s >= 0 && (1..=38).contains(p) => Kind::Decimal(*p, *s),
            DataType::List(item) => Kind::List(item.clone(), Box::new(Kind::of(item.data_type(), case_insensitive)?)),
            DataType::Struct(fields) => {
                if fields.is_empty() {
                    return Err("a struct needs at least one field".into());
                }
                let kinds =
                    fields.iter().map(|f| Kind::of(f.data_type(), case_insensitive)).collect::<Result<Vec<_>, _>>()?;
                let names = Names::new(fields.iter().map(|f| f.name().clone()).collect(), case_insensitive);
                Kind::Struct(fields.clone(), names, kinds)
            }
            DataType::Map(entries, sorted) => {
                let DataType::Struct(kv) = entries.data_type() else {
                    return Err("map entries are not a struct".into());
                };
                if kv.len() != 2 {
                    return Err("map entries need a key and a value".into());
                }
                let key = Kind::of(kv[0].data_type(), case_insensitive)?;
                if matches!(key, Kind::List(..) | Kind::Struct(..) | Kind::Map(..)) {
                    return Err("map keys must be of a primitive type".into());
                }
                let value = Kind::of(kv[1].data_type(), case_insensitive)?;
                Kind::Map(entries.clone(), kv.clone(), Box::new(key), Box::new(value), *sorted)
            }
            other => return Err(format!("type {other} is not supported")),
        })
    }

    fn name(&self) -> String {
        match self {
            Kind::Boolean => "boolean".into(),
            Kind::Int8 => "tinyint".into(),
            Kind::Int16 => "smallint".into(),
            Kind::Int32 => "int".into(),
            Kind::Int64 => "bigint".into(),
            Kind::Float32 => "float".into(),
            Kind::Float64 => "double".into(),
            Kind::Utf8 => "string".into(),
            Kind::Binary => "binary".into(),
            Kind::Date32 => "date".into(),
            Kind::Timestamp => "timestamp".into(),
            Kind::Decimal(p, s) => format!("decimal({p},{s})"),
            Kind::List(..) => "array".into(),
            Kind::Struct(..) => "struct".into(),
            Kind::Map(..) => "map".into(),
        }
    }

    /// Converts a JSON value to this type, or says why it does not fit.
    pub(super) fn coerce(&self, v: &Value<'_>, opts: Opts) -> Result<Val, Bad> {
        if v.is_null() {
            return Ok(Val::Null);
        }
        match self {
            Kind::Boolean => match v {
                Value::Bool(b) => Ok(Val::Bool(*b)),
                Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Val::Bool(true)),
                Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Val::Bool(false)),
                _ => Err(Bad::mismatch(v, self)),
            },
            Kind::Int8 => self.int_in(v, i8::MIN.into(), i8::MAX.into()),
            Kind::Int16 => self.int_in(v, i16::MIN.into(), i16::MAX.into()),
            Kind::Int32 => self.int_in(v, i32::MIN.into(), i32::MAX.into()),
            Kind::Int64 => self.int_in(v, i64::MIN.into(), i64::MAX.into()),
            Kind::Float32 => {
                let f = float_of(v).ok_or_else(|| Bad::mismatch(v, self))?;
                if f.is_finite() && f.abs() > f64::from(f32::MAX) {
                    return Err(Bad::range(v, self));
                }
                Ok(Val::Float(f))
            }
            Kind::Float64 => float_of(v).map(Val::Float).ok_or_else(|| Bad::mismatch(v, self)),
            Kind::Utf8 => Ok(Val::Str(match v {
                Value::String(s) => s.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => other.to_string(),
            })),
            Kind::Binary => match v {
                Value::String(s) => Ok(Val::Str(s.to_string())),
                _ => Err(Bad::mismatch(v, self)),
            },
            Kind::Date32 => {
                let days = match v {
                    Value::Number(_) => match int_of(v) {
                        Some(d) => i32::try_from(d).map_err(|_| Bad::range(v, self))?,
                        None => return Err(Bad::mismatch(v, self)),
                    },
                    Value::String(s) => {
                        let dt = parse_datetime(s.trim()).ok_or_else(|| Bad::mismatch(v, self))?;
                        i32::try_from(dt.days).map_err(|_| Bad::range(v, self))?
                    }
                    _ => return Err(Bad::mismatch(v, self)),
                };
                Ok(Val::Int(days.into()))
            }
            Kind::Timestamp => timestamp_of(v).map(Val::Int).ok_or_else(|| Bad::mismatch(v, self)),
            Kind::Decimal(precision, scale) => {
                let text: Cow<'_, str> = match v {
                    Value::Number(n) => Cow::Owned(n.to_string()),
                    Value::String(s) => Cow::Borrowed(s.trim()),
                    _ => return Err(Bad::mismatch(v, self)),
                };
                match parse_decimal(&text, *precision, *scale) {
                    Ok(d) => Ok(Val::Dec(d)),
                    Err(DecimalError::NotANumber) => Err(Bad::mismatch(v, self)),
                    Err(DecimalError::Overflow) => {
                        Err(Bad::new(format!("{} does not fit {}", preview(v), self.name())))
                    }
                }
            }
            Kind::List(_, item) => {
                let Value::Array(items) = v else {
                    return Err(Bad::mismatch(v, self));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, x) in items.iter().enumerate() {
                    out.push(item.coerce(x, opts).map_err(|b| b.at(format!("[{i}]")))?);
                }
                Ok(Val::List(out))
            }
            Kind::Struct(fields, names, kinds) => {
                let Value::Object(object) = v else {
                    return Err(Bad::mismatch(v, self));
                };
                let slots = names.resolve(object, opts);
                let mut out = Vec::with_capacity(kinds.len());
                for ((kind, slot), field) in kinds.iter().zip(slots).zip(fields.iter()) {
                    out.push(match slot {
                        None => Val::Null,
                        Some(x) => kind.coerce(x, opts).map_err(|b| b.at(format!(".{}", field.name())))?,
                    });
                }
                Ok(Val::Struct(out))
            }
            Kind::Map(_, _, key_kind, value_kind, _) => {
                let Value::Object(object) = v else {
                    return Err(Bad::mismatch(v, self));
                };
                // a repeated key keeps its last value, in its first place
                let mut out: Vec<(Val, Val)> = Vec::with_capacity(object.len());
                let mut seen: HashMap<&str, usize> = HashMap::new();
                for (key, x) in object {
                    let value = value_kind.coerce(x, opts).map_err(|b| b.at(format!("[{key:?}]")))?;
                    if let Some(&i) = seen.get(key.as_ref()) {
                        out[i].1 = value;
                        continue;
                    }
                    let text = Value::String(key.clone());
                    let k = key_kind.coerce(&text, opts).map_err(|b| b.at(format!(" (key {})", preview(&text))))?;
                    seen.insert(key, out.len());
                    out.push((k, value));
                }
                Ok(Val::Map(out))
            }
        }
    }

    fn int_in(&self, v: &Value<'_>, min: i128, max: i128) -> Result<Val, Bad> {
        let i = int_of(v).ok_or_else(|| Bad::mismatch(v, self))?;
        if i < min || i > max {
            return Err(Bad::range(v, self));
        }
        Ok(Val::Int(i as i64))
    }

    /// Builds the Arrow array of `values` (all converted by `coerce` of this kind).
    pub(super) fn build(&self, values: &[&Val]) -> Result<ArrayRef, ArrowError> {
        fn int(v: &Val) -> Option<i64> {
            if let Val::Int(i) = v { Some(*i) } else { None }
        }
        fn float(v: &Val) -> Option<f64> {
            if let Val::Float(f) = v { Some(*f) } else { None }
        }
        fn text(v: &Val) -> Option<&str> {
            if let Val::Str(s) = v { Some(s) } else { None }
        }
        let it = values.iter().copied();
        Ok(match self {
            Kind::Boolean => {
                Arc::new(BooleanArray::from_iter(it.map(|v| if let Val::Bool(b) = v { Some(*b) } else { None })))
            }
            Kind::Int8 => Arc::new(Int8Array::from_iter(it.map(|v| int(v).map(|i| i as i8)))),
            Kind::Int16 => Arc::new(Int16Array::from_iter(it.map(|v| int(v).map(|i| i as i16)))),
            Kind::Int32 => Arc::new(Int32Array::from_iter(it.map(|v| int(v).map(|i| i as i32)))),
            Kind::Int64 => Arc::new(Int64Array::from_iter(it.map(int))),
            Kind::Float32 => Arc::new(Float32Array::from_iter(it.map(|v| float(v).map(|f| f as f32)))),
            Kind::Float64 => Arc::new(Float64Array::from_iter(it.map(float))),
            Kind::Utf8 => Arc::new(StringArray::from_iter(it.map(text))),
            Kind::Binary => Arc::new(BinaryArray::from_iter(it.map(|v| text(v).map(str::as_bytes)))),
            Kind::Date32 => Arc::new(Date32Array::from_iter(it.map(|v| int(v).map(|i| i as i32)))),
            Kind::Timestamp => Arc::new(TimestampMicrosecondArray::from_iter(it.map(int))),
            Kind::Decimal(p, s) => Arc::new(
                Decimal128Array::from_iter(it.map(|v| if let Val::Dec(d) = v { Some(*d) } else { None }))
                    .with_precision_and_scale(*p, *s)?,
            ),
            Kind::List(field, item) => {
                let mut offsets = OffsetBufferBuilder::<i32>::new(values.len());
                let mut nulls = NullBufferBuilder::new(values.len());
                let mut children = Vec::new();
                for v in it {
                    if let Val::List(items) = v {
                        offsets.push_length(items.len());
                        nulls.append_non_null();
                        children.extend(items.iter());
                    } else {
                        offsets.push_length(0);
                        nulls.append_null();
                    }
                    check_offset(children.len())?;
                }
                let child = item.build(&children)?;
                Arc::new(ListArray::try_new(field.clone(), offsets.finish(), child, nulls.finish())?)
            }
            Kind::Struct(fields, _, kinds) => {
                let mut nulls = NullBufferBuilder::new(values.len());
                for v in it.clone() {
                    nulls.append(matches!(v, Val::Struct(_)));
                }
                let mut arrays = Vec::with_capacity(kinds.len());
                for (i, kind) in kinds.iter().enumerate() {
                    let children: Vec<&Val> =
                        it.clone().map(|v| if let Val::Struct(f) = v { &f[i] } else { &NULL }).collect();
                    arrays.push(kind.build(&children)?);
                }
                Arc::new(StructArray::try_new(fields.clone(), arrays, nulls.finish())?)
            }
            Kind::Map(field, kv, key_kind, value_kind, sorted) => {
                let mut offsets = OffsetBufferBuilder::<i32>::new(values.len());
                let mut nulls = NullBufferBuilder::new(values.len());
                let (mut keys, mut vals) = (Vec::new(), Vec::new());
                for v in it {
                    if let Val::Map(entries) = v {
                        offsets.push_length(entries.len());
                        nulls.append_non_null();
                        for (k, x) in entries {
                            keys.push(k);
                            vals.push(x);
                        }
                    } else {
                        offsets.push_length(0);
                        nulls.append_null();
                    }
                    check_offset(keys.len())?;
                }
                let entries =
                    StructArray::try_new(kv.clone(), vec![key_kind.build(&keys)?, value_kind.build(&vals)?], None)?;
                Arc::new(MapArray::try_new(field.clone(), offsets.finish(), entries, nulls.finish(), *sorted)?)
            }
        })
    }
}

fn check_offset(len: usize) -> Result<(), ArrowError> {
    if len > i32::MAX as usize {
        return Err(ArrowError::ComputeError("too many nested values in one batch".into()));
    }
    Ok(())
}

/// A JSON value for a message, cut at about 100 bytes.
fn preview(v: &Value<'_>) -> String {
    let s = v.to_string();
    if s.len() <= 100 {
        return s;
    }
    let mut end = 100;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

pub(super) fn json_kind(v: &Value<'_>) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn integral(f: f64) -> Option<i128> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30).then_some(f as i128)
}

/// An integer from a JSON number or a numeric string (`12`, `"12"`, `12.0`, `"1e3"`).
fn int_of(v: &Value<'_>) -> Option<i128> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i.into())
            } else if let Some(u) = n.as_u64() {
                Some(u.into())
            } else {
                n.as_f64().and_then(integral)
            }
        }
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i128>().ok().or_else(|| t.parse::<f64>().ok().and_then(integral))
        }
        _ => None,
    }
}

fn float_of(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// Epoch seconds below 1e11 (and above -1e11), epoch milliseconds otherwise, as microseconds.
fn epoch_int(i: i128) -> Option<i64> {
    let micros = if i.abs() < 100_000_000_000 { i * 1_000_000 } else { i.checked_mul(1000)? };
    i64::try_from(micros).ok()
}

fn epoch_float(f: f64) -> Option<i64> {
    if !f.is_finite() {
        return None;
    }
    let micros = if f.abs() < 1e11 { f * 1e6 } else { f * 1e3 }.round();
    (micros.abs() < 9.2e18).then_some(micros as i64)
}

/// Microseconds since the epoch from an epoch number or a date-time string.
pub(super) fn timestamp_of(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                epoch_int(i.into())
            } else if let Some(u) = n.as_u64() {
                epoch_int(u.into())
            } else {
                epoch_float(n.as_f64()?)
            }
        }
        Value::String(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i128>() {
                return epoch_int(i);
            }
            if let Ok(f) = t.parse::<f64>() {
                return epoch_float(f);
            }
            parse_datetime(t).map(|d| d.micros())
        }
        _ => None,
    }
}

/// A parsed `yyyy-MM-dd[( |T)HH:mm[:ss[.fffffffff]]][Z|UTC|±HH[:mm]]`.
#[derive(Debug, PartialEq)]
pub(super) struct DateTime {
    /// Days since the epoch of the date as written.
    days: i64,
    /// Seconds since midnight as written.
    seconds: i64,
    nanos: i64,
    /// Offset east of UTC in seconds.
    offset: i64,
}

impl DateTime {
    pub(super) fn micros(&self) -> i64 {
        (self.days * 86_400 + self.seconds - self.offset) * 1_000_000 + self.nanos / 1000
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.i;
        let mut n = 0i64;
        while self.i < self.b.len() && self.i - start < max && self.b[self.i].is_ascii_digit() {
            n = n * 10 + i64::from(self.b[self.i] - b'0');
            self.i += 1;
        }
        (self.i - start >= min).then_some(n)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

pub(super) fn parse_datetime(s: &str) -> Option<DateTime> {
    let mut c = Cursor { b: s.as_bytes(), i: 0 };
    let year = c.digits(4, 4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(1, 2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(1, 2)?;
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let days = i64::from(date.to_julian_day()) - 2_440_588;
    let mut dt = DateTime { days, seconds: 0, nanos: 0, offset: 0 };
    if c.done() {
        return Some(dt);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hour = c.digits(1, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2, 2)?;
    let mut second = 0;
    if c.eat(b':') {
        second = c.digits(2, 2)?;
        if c.eat(b'.') || c.eat(b',') {
            let start = c.i;
            let n = c.digits(1, 9)?;
            let len = c.i - start;
            dt.nanos = n * 10i64.pow(9 - len as u32);
            // digits beyond nanoseconds are dropped
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                c.i += 1;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    dt.seconds = hour * 3600 + minute * 60 + second;
    c.eat(b' ');
    if c.eat(b'Z') || c.eat(b'z') {
        // UTC
    } else if s[c.i..].eq_ignore_ascii_case("utc") {
        c.i = c.b.len();
    } else if let Some(sign @ (b'+' | b'-')) = c.peek() {
        c.i += 1;
        let oh = c.digits(2, 2)?;
        c.eat(b':');
        let om = if c.done() { 0 } else { c.digits(2, 2)? };
        if oh > 18 || om > 59 {
            return None;
        }
        let offset = oh * 3600 + om * 60;
        dt.offset = if sign == b'-' { -offset } else { offset };
    }
    c.done().then_some(dt)
}

#[derive(Debug, PartialEq)]
pub(super) enum DecimalError {
    NotANumber,
    Overflow,
}

/// The unscaled value of a decimal literal (`-12.345`, `1e3`) at `scale`, rounded half away
/// from zero (Hive's HALF_UP), or Overflow when it needs more than `precision` digits.
pub(super) fn parse_decimal(text: &str, precision: u8, scale: i8) -> Result<i128, DecimalError> {
    let b = text.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    // significant digits (no leading zeros), digits after the point
    let mut digits: Vec<u8> = Vec::new();
    let (mut fraction, mut any_digit, mut point) = (0i64, false, false);
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                any_digit = true;
                if !(digits.is_empty() && c == b'0') {
                    digits.push(c - b'0');
                }
                if point {
                    fraction += 1;
                }
            }
            b'.' if !point => point = true,
            _ => break,
        }
        i += 1;
    }
    if !any_digit {
        return Err(DecimalError::NotANumber);
    }
    let mut exponent = 0i64;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let negative_exponent = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            exponent = (exponent * 10 + i64::from(b[i] - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start {
            return Err(DecimalError::NotANumber);
        }
        if negative_exponent {
            exponent = -exponent;
        }
    }
    if i != b.len() {
        return Err(DecimalError::NotANumber);
    }
    let to_int = |d: &[u8]| d.iter().fold(0i128, |acc, &x| acc * 10 + i128::from(x));
    // value * 10^scale = digits * 10^shift
    let shift = exponent - fraction + i64::from(scale);
    let value = if digits.is_empty() {
        0
    } else if shift >= 0 {
        if digits.len() as i64 + shift > 38 {
            return Err(DecimalError::Overflow);
        }
        to_int(&digits) * 10i128.pow(shift as u32)
    } else if -shift > digits.len() as i64 {
        0
    } else {
        let keep = digits.len() - (-shift) as usize;
        if keep > 38 {
            return Err(DecimalError::Overflow);
        }
        to_int(&digits[..keep]) + i128::from(digits[keep] >= 5)
    };
    if value >= 10i128.pow(u32::from(precision)) {
        return Err(DecimalError::Overflow);
    }
    Ok(if negative { -value } else { value })
}
