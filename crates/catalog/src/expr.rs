//! Partition predicates: the `Expression` of GetPartitions, a SQL WHERE clause over partition
//! keys such as `year='2026' AND month>'10'`.
//!
//! Supported, as Glue documents: `=`, `<>`/`!=`, `<`, `>`, `<=`, `>=`, `BETWEEN .. AND ..`,
//! `[NOT] IN (..)`, `[NOT] LIKE`, `IS [NOT] NULL`, `AND`, `OR`, `NOT` and parentheses. A key of
//! a numeric type (tinyint, smallint, int, bigint, long, float, double, decimal) compares as a
//! number; every other type (string, date, timestamp, ...) compares as text.

use std::cmp::Ordering;

use crate::model::Column;

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Num(String),
}

impl Lit {
    fn text(&self) -> &str {
        match self {
            Self::Str(s) | Self::Num(s) => s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(usize, Cmp, Lit),
    Between(usize, Lit, Lit),
    In(usize, Vec<Lit>),
    Like(usize, String),
    IsNull(usize),
}

/// A parsed predicate, bound to a table's partition keys.
#[derive(Debug, Clone)]
pub struct PartitionFilter {
    expr: Expr,
    numeric: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '\'' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            text.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(text));
            }
            '`' | '"' => {
                let close = c;
                let start = i + 1;
                let end = chars[start..].iter().position(|&ch| ch == close).ok_or("unterminated quoted name")?;
                out.push(Tok::Ident(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            '=' => {
                out.push(Tok::Op("="));
                i += 1;
            }
            '<' | '>' | '!' => {
                let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
                let op = match two.as_str() {
                    "<=" => "<=",
                    ">=" => ">=",
                    "<>" | "!=" => "<>",
                    _ if c == '<' => "<",
                    _ if c == '>' => ">",
                    _ => return Err(format!("unexpected character '{c}'")),
                };
                i += op.len();
                out.push(Tok::Op(op));
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Num(chars[start..i].iter().collect()));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}'")),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    keys: &'a [Column],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), String> {
        if self.peek() == Some(tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.keyword("AND") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            self.expect(&Tok::RParen, "')'")?;
            return Ok(e);
        }
        self.predicate()
    }

    fn literal(&mut self) -> Result<Lit, String> {
        // DATE '2026-01-01' / TIMESTAMP '...' are their text
        if self.keyword("DATE") || self.keyword("TIMESTAMP") {
            return self.literal();
        }
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Lit::Str(s))
            }
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Lit::Num(n))
            }
            _ => Err("expected a literal".into()),
        }
    }

    fn predicate(&mut self) -> Result<Expr, String> {
        let Some(Tok::Ident(name)) = self.toks.get(self.pos).cloned() else {
            return Err("expected a partition key name".into());
        };
        self.pos += 1;
        let key = self
            .keys
            .iter()
            .position(|k| k.name.eq_ignore_ascii_case(&name))
            .ok_or_else(|| format!("Unknown column '{name}'"))?;
        let negate = self.keyword("NOT");
        let expr = if self.keyword("BETWEEN") {
            let low = self.literal()?;
            if !self.keyword("AND") {
                return Err("expected AND in BETWEEN".into());
            }
            Expr::Between(key, low, self.literal()?)
        } else if self.keyword("IN") {
            self.expect(&Tok::LParen, "'(' after IN")?;
            let mut items = vec![self.literal()?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                items.push(self.literal()?);
            }
            self.expect(&Tok::RParen, "')'")?;
            Expr::In(key, items)
        } else if self.keyword("LIKE") {
            Expr::Like(key, self.literal()?.text().to_string())
        } else if !negate && self.keyword("IS") {
            let not = self.keyword("NOT");
            if !self.keyword("NULL") {
                return Err("expected NULL after IS".into());
            }
            let e = Expr::IsNull(key);
            return Ok(if not { Expr::Not(Box::new(e)) } else { e });
        } else if negate {
            return Err("expected BETWEEN, IN or LIKE after NOT".into());
        } else {
            let op = match self.toks.get(self.pos) {
                Some(Tok::Op(op)) => *op,
                _ => return Err(format!("expected an operator after '{name}'")),
            };
            self.pos += 1;
            let cmp = match op {
                "=" => Cmp::Eq,
                "<>" => Cmp::Ne,
                "<" => Cmp::Lt,
                ">" => Cmp::Gt,
                "<=" => Cmp::Le,
                _ => Cmp::Ge,
            };
            Expr::Cmp(key, cmp, self.literal()?)
        };
        Ok(if negate { Expr::Not(Box::new(expr)) } else { expr })
    }
}

fn is_numeric(ty: &str) -> bool {
    let ty = ty.to_ascii_lowercase();
    ["tinyint", "smallint", "int", "integer", "bigint", "long", "float", "double", "decimal"]
        .iter()
        .any(|n| ty == *n || ty.starts_with(&format!("{n}(")))
}

fn like(text: &[char], pat: &[char]) -> bool {
    match pat.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|i| like(&text[i..], rest)),
        Some(('_', rest)) => !text.is_empty() && like(&text[1..], rest),
        Some((c, rest)) => text.first() == Some(c) && like(&text[1..], rest),
    }
}

impl PartitionFilter {
    /// Parses `expression` against the table's partition keys; the error is Glue's message.
    pub fn parse(expression: &str, keys: &[Column]) -> Result<Self, String> {
        let toks = tokenize(expression)?;
        let mut parser = Parser { toks, pos: 0, keys };
        let expr = parser.or()?;
        if parser.pos != parser.toks.len() {
            return Err("unexpected text after the expression".into());
        }
        Ok(Self { expr, numeric: keys.iter().map(|k| is_numeric(k.type_name())).collect() })
    }

    /// Whether a partition with `values` (one per key, in key order) passes.
    #[must_use]
    pub fn matches(&self, values: &[String]) -> bool {
        self.eval(&self.expr, values)
    }

    fn compare(&self, key: usize, value: &str, lit: &Lit) -> Option<Ordering> {
        if self.numeric[key] {
            let a: f64 = value.trim().parse().ok()?;
            let b: f64 = lit.text().trim().parse().ok()?;
            a.partial_cmp(&b)
        } else {
            Some(value.cmp(lit.text()))
        }
    }

    fn eval(&self, e: &Expr, values: &[String]) -> bool {
        let value = |k: usize| values.get(k).map(String::as_str);
        match e {
            Expr::And(a, b) => self.eval(a, values) && self.eval(b, values),
            Expr::Or(a, b) => self.eval(a, values) || self.eval(b, values),
            Expr::Not(a) => !self.eval(a, values),
            Expr::Cmp(k, cmp, lit) => {
                let Some(v) = value(*k) else { return false };
                let Some(ord) = self.compare(*k, v, lit) else { return false };
                match cmp {
                    Cmp::Eq => ord == Ordering::Equal,
                    Cmp::Ne => ord != Ordering::Equal,
                    Cmp::Lt => ord == Ordering::Less,
                    Cmp::Gt => ord == Ordering::Greater,
                    Cmp::Le => ord != Ordering::Greater,
                    Cmp::Ge => ord != Ordering::Less,
                }
            }
            Expr::Between(k, low, high) => value(*k).is_some_and(|v| {
                self.compare(*k, v, low).is_some_and(|o| o != Ordering::Less)
                    && self.compare(*k, v, high).is_some_and(|o| o != Ordering::Greater)
            }),
            Expr::In(k, items) => {
                value(*k).is_some_and(|v| items.iter().any(|lit| self.compare(*k, v, lit) == Some(Ordering::Equal)))
            }
            Expr::Like(k, pat) => value(*k).is_some_and(|v| {
                let text: Vec<char> = v.chars().collect();
                let pat: Vec<char> = pat.chars().collect();
                like(&text, &pat)
            }),
            Expr::IsNull(k) => value(*k).is_none(),
        }
    }
}

/// Whether a table name matches GetTables' `Expression`: Hive's pattern syntax, where `*` is
/// any run of characters and `|` separates alternatives (a regex's `.*` reads the same way).
/// Names compare case-insensitively, as Glue stores them in lower case.
#[must_use]
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let name: Vec<char> = name.to_lowercase().chars().collect();
    pattern.split('|').any(|alt| {
        let glob = alt.trim().to_lowercase().replace(".*", "*");
        let pat: Vec<char> = glob.chars().map(|c| if c == '*' { '%' } else { c }).collect();
        like(&name, &pat)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<Column> {
        vec![Column::new("year", "string"), Column::new("month", "int"), Column::new("region", "string")]
    }

    fn m(expr: &str, values: &[&str]) -> bool {
        let f = PartitionFilter::parse(expr, &keys()).unwrap();
        f.matches(&values.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn comparisons_follow_key_types() {
        assert!(m("year='2026' AND month>'10'", &["2026", "11", "eu"]));
        assert!(!m("year='2026' AND month>'10'", &["2026", "9", "eu"]));
        // month is an int: 9 < 10 numerically, though "9" > "10" as text
        assert!(m("month < 10", &["2026", "9", "eu"]));
        // year is a string: compares as text
        assert!(m("year >= '2025'", &["2026", "1", "eu"]));
        assert!(m("year <> '2025'", &["2026", "1", "eu"]));
        assert!(m("year != '2025'", &["2026", "1", "eu"]));
    }

    #[test]
    fn between_in_like_not_or_parentheses() {
        assert!(m("month BETWEEN 3 AND 5", &["2026", "4", "eu"]));
        assert!(!m("month NOT BETWEEN 3 AND 5", &["2026", "4", "eu"]));
        assert!(m("region IN ('eu', 'us')", &["2026", "4", "us"]));
        assert!(m("region NOT IN ('eu', 'us')", &["2026", "4", "ap"]));
        assert!(m("region LIKE 'e%'", &["2026", "4", "eu"]));
        assert!(m("region LIKE '_s'", &["2026", "4", "us"]));
        assert!(m("NOT (region = 'eu') OR year = '2026'", &["2026", "4", "eu"]));
        assert!(!m("NOT (region = 'eu' OR year = '2026')", &["2026", "4", "eu"]));
        assert!(m("(year = '2025' OR year = '2026') AND month = 4", &["2026", "4", "eu"]));
        assert!(m("`region` = 'it''s'", &["2026", "4", "it's"]));
    }

    #[test]
    fn bad_expressions_are_errors() {
        for bad in ["year =", "nosuch = '1'", "year = '1' AND", "(year = '1'", "year ~ '1'", "year = 'x"] {
            assert!(PartitionFilter::parse(bad, &keys()).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_name_patterns() {
        assert!(name_matches("sales*", "sales_2026"));
        assert!(name_matches("*les*", "sales_2026"));
        assert!(name_matches("orders|sales.*", "sales_2026"));
        assert!(!name_matches("orders", "sales"));
        assert!(name_matches("SALES", "sales"));
    }
}
