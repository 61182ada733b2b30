//! Glue (Hive) column types as crawlers write them: parsing a type string, rendering one, and
//! widening two types into one that holds the values of both (schema merge across files).

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlueType {
    /// Only nulls (or empty cells) seen: no evidence yet; renders as `string`.
    Unknown,
    Boolean,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Decimal(u32, u32),
    String,
    Binary,
    Date,
    Timestamp,
    Array(Box<GlueType>),
    Map(Box<GlueType>, Box<GlueType>),
    Struct(Vec<(String, GlueType)>),
    /// A type tarn does not model (`varchar(10)`, `char(3)`, `uniontype<...>`), kept verbatim.
    Other(String),
}

impl fmt::Display for GlueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown | Self::String => f.write_str("string"),
            Self::Boolean => f.write_str("boolean"),
            Self::TinyInt => f.write_str("tinyint"),
            Self::SmallInt => f.write_str("smallint"),
            Self::Int => f.write_str("int"),
            Self::BigInt => f.write_str("bigint"),
            Self::Float => f.write_str("float"),
            Self::Double => f.write_str("double"),
            Self::Decimal(p, s) => write!(f, "decimal({p},{s})"),
            Self::Binary => f.write_str("binary"),
            Self::Date => f.write_str("date"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::Array(t) => write!(f, "array<{t}>"),
            Self::Map(k, v) => write!(f, "map<{k},{v}>"),
            Self::Struct(fields) => {
                f.write_str("struct<")?;
                for (i, (name, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}:{t}")?;
                }
                f.write_str(">")
            }
            Self::Other(s) => f.write_str(s),
        }
    }
}

impl GlueType {
    /// Parses a Glue/Hive type string (`bigint`, `decimal(10,2)`, `array<struct<a:int>>`).
    /// Anything not understood is kept as [`GlueType::Other`].
    #[must_use]
    pub fn parse(s: &str) -> Self {
        let mut p = Parser { s: s.trim(), pos: 0 };
        match p.ty() {
            Some(t) if p.pos == p.s.len() => t,
            _ => Self::Other(s.trim().to_string()),
        }
    }

    fn int_rank(&self) -> Option<u8> {
        match self {
            Self::TinyInt => Some(1),
            Self::SmallInt => Some(2),
            Self::Int => Some(3),
            Self::BigInt => Some(4),
            _ => None,
        }
    }

    fn is_numeric(&self) -> bool {
        self.int_rank().is_some() || matches!(self, Self::Float | Self::Double | Self::Decimal(..))
    }

    /// The narrowest type both `self` and `other` fit in; `string` when nothing else does.
    #[must_use]
    pub fn widen(&self, other: &Self) -> Self {
        use GlueType as T;
        match (self, other) {
            (T::Unknown, t) | (t, T::Unknown) => t.clone(),
            (a, b) if a == b => a.clone(),
            (a, b) if a.int_rank().is_some() && b.int_rank().is_some() => {
                if a.int_rank() >= b.int_rank() {
                    a.clone()
                } else {
                    b.clone()
                }
            }
            (T::Decimal(p1, s1), T::Decimal(p2, s2)) => {
                let scale = (*s1).max(*s2);
                let whole = (p1 - s1).max(p2 - s2);
                T::Decimal((whole + scale).min(38), scale)
            }
            (T::Float, b) | (b, T::Float) if b.int_rank().is_some() && b.int_rank() <= Some(2) => T::Float,
            (a, b) if a.is_numeric() && b.is_numeric() => T::Double,
            (T::Date, T::Timestamp) | (T::Timestamp, T::Date) => T::Timestamp,
            (T::Array(a), T::Array(b)) => T::Array(Box::new(a.widen(b))),
            (T::Map(k1, v1), T::Map(k2, v2)) => T::Map(Box::new(k1.widen(k2)), Box::new(v1.widen(v2))),
            (T::Struct(a), T::Struct(b)) => T::Struct(merge_fields(a, b)),
            _ => T::String,
        }
    }

    /// True when `self` only holds values `other` also holds (`widen` would give `other`).
    #[must_use]
    pub fn fits_in(&self, other: &Self) -> bool {
        &self.widen(other) == other
    }
}

/// Union of two field lists by name (ASCII case-insensitive, as Hive treats names): fields of
/// `a` in order with widened types, then fields only `b` has.
#[must_use]
pub fn merge_fields(a: &[(String, GlueType)], b: &[(String, GlueType)]) -> Vec<(String, GlueType)> {
    let mut out: Vec<(String, GlueType)> = a.to_vec();
    for (name, t) in b {
        match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, existing)) => *existing = existing.widen(t),
            None => out.push((name.clone(), t.clone())),
        }
    }
    out
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.s.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let start = self.pos;
        let len = self.rest().find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(self.rest().len());
        self.pos += len;
        &self.s[start..start + len]
    }

    /// A struct field name: anything up to the `:` (names may hold spaces or dashes).
    fn field_name(&mut self) -> Option<String> {
        self.skip_ws();
        let len = self.rest().find(':')?;
        let name = self.rest()[..len].trim().to_string();
        self.pos += len;
        (!name.is_empty() && !name.contains(['<', '>', ','])).then_some(name)
    }

    fn number(&mut self) -> Option<u32> {
        self.word().parse().ok()
    }

    fn ty(&mut self) -> Option<GlueType> {
        let start = self.pos;
        let word = self.word().to_ascii_lowercase();
        Some(match word.as_str() {
            "boolean" => GlueType::Boolean,
            "tinyint" => GlueType::TinyInt,
            "smallint" => GlueType::SmallInt,
            "int" | "integer" => GlueType::Int,
            "bigint" => GlueType::BigInt,
            "float" => GlueType::Float,
            "double" => GlueType::Double,
            "string" => GlueType::String,
            "binary" => GlueType::Binary,
            "date" => GlueType::Date,
            "timestamp" => GlueType::Timestamp,
            "decimal" => {
                if self.eat('(') {
                    let p = self.number()?;
                    let s = if self.eat(',') { self.number()? } else { 0 };
                    if !self.eat(')') || s > p {
                        return None;
                    }
                    GlueType::Decimal(p, s)
                } else {
                    GlueType::Decimal(10, 0)
                }
            }
            "array" => {
                if !self.eat('<') {
                    return None;
                }
                let t = self.ty()?;
                if !self.eat('>') {
                    return None;
                }
                GlueType::Array(Box::new(t))
            }
            "map" => {
                if !self.eat('<') {
                    return None;
                }
                let k = self.ty()?;
                if !self.eat(',') {
                    return None;
                }
                let v = self.ty()?;
                if !self.eat('>') {
                    return None;
                }
                GlueType::Map(Box::new(k), Box::new(v))
            }
            "struct" => {
                if !self.eat('<') {
                    return None;
                }
                let mut fields = Vec::new();
                if !self.eat('>') {
                    loop {
                        let name = self.field_name()?;
                        if !self.eat(':') {
                            return None;
                        }
                        fields.push((name, self.ty()?));
                        if self.eat('>') {
                            break;
                        }
                        if !self.eat(',') {
                            return None;
                        }
                    }
                }
                GlueType::Struct(fields)
            }
            "" => return None,
            _ => {
                // char(n), varchar(n), uniontype<...>: keep the text, balanced brackets included
                let mut depth = 0i32;
                while let Some(c) = self.rest().chars().next() {
                    match c {
                        '(' | '<' => depth += 1,
                        ')' | '>' if depth > 0 => depth -= 1,
                        ',' | '>' if depth == 0 => break,
                        _ => {}
                    }
                    self.pos += c.len_utf8();
                }
                GlueType::Other(self.s[start..self.pos].trim().to_string())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::GlueType as T;

    #[test]
    fn parse_and_render_round_trip() {
        for s in [
            "bigint",
            "decimal(10,2)",
            "array<string>",
            "map<string,array<int>>",
            "struct<a:bigint,b:struct<c:string,d:array<double>>>",
            "varchar(10)",
            "struct<x:varchar(3),y:int>",
        ] {
            assert_eq!(T::parse(s).to_string(), s, "{s}");
        }
        assert_eq!(T::parse("STRUCT< a : INT >"), T::Struct(vec![("a".into(), T::Int)]));
        assert!(matches!(T::parse("array<"), T::Other(_)));
    }

    #[test]
    fn widening() {
        assert_eq!(T::BigInt.widen(&T::Double), T::Double);
        assert_eq!(T::Int.widen(&T::BigInt), T::BigInt);
        assert_eq!(T::Boolean.widen(&T::BigInt), T::String);
        assert_eq!(T::Unknown.widen(&T::Date), T::Date);
        assert_eq!(T::Date.widen(&T::Timestamp), T::Timestamp);
        assert_eq!(T::Decimal(5, 2).widen(&T::Decimal(10, 0)), T::Decimal(12, 2));
        let a = T::parse("struct<a:bigint,b:string>");
        let b = T::parse("struct<a:double,c:array<bigint>>");
        assert_eq!(a.widen(&b).to_string(), "struct<a:double,b:string,c:array<bigint>>");
        assert_eq!(T::parse("array<bigint>").widen(&T::parse("array<string>")).to_string(), "array<string>");
        assert_eq!(a.widen(&T::BigInt), T::String);
        assert!(T::Int.fits_in(&T::BigInt));
        assert!(!T::Double.fits_in(&T::BigInt));
    }
}
