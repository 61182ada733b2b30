//! Athena's Hive-style DDL and utility statements, parsed by hand.
//!
//! Athena runs DDL in Hive syntax (CREATE EXTERNAL TABLE, MSCK REPAIR TABLE, ALTER TABLE
//! ADD/DROP PARTITION, SHOW ..., DESCRIBE, ...) and DML in Trino syntax. [`parse`] recognises the
//! statements tarn applies to the Glue catalog itself; anything else (SELECT, WITH, EXPLAIN,
//! VALUES, ...) yields `Ok(None)` and goes to DataFusion. The query of a CTAS, a view or an
//! INSERT is kept verbatim for DataFusion to plan.
//!
//! Names of databases, tables, columns and partition keys are lower-cased, as Glue stores them.
//! String literals in the Hive statements take both SQL's `''` and Hive's backslash escapes
//! (`'\t'`, `'\001'`, `'\\'`, `'\''`); the `WITH (...)` properties of a CTAS are Trino syntax and
//! keep backslashes as written.

use std::collections::{BTreeMap, VecDeque};

use tarn_catalog::{Column, Order, SerDeInfo, StorageDescriptor, Table};

const LAZY_SIMPLE_SERDE: &str = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";
const OPENX_JSON_SERDE: &str = "org.openx.data.jsonserde.JsonSerDe";
const TEXT_INPUT: &str = "org.apache.hadoop.mapred.TextInputFormat";
const TEXT_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";

/// A partition's `(key, value)` pairs, keys lower-cased, values as written.
pub type PartitionSpec = Vec<(String, String)>;

/// One DDL or utility statement. Names are lower-cased; `database` is `None` when the name was
/// not qualified (the session's database applies).
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // parsed once per statement; `CreateTable` carries Glue's whole Table
pub enum Statement {
    /// `CREATE DATABASE|SCHEMA [IF NOT EXISTS] n [COMMENT '..'] [LOCATION '..'] [WITH DBPROPERTIES ('k'='v', ...)]`
    CreateDatabase {
        name: String,
        if_not_exists: bool,
        comment: Option<String>,
        location: Option<String>,
        properties: BTreeMap<String, String>,
    },
    /// `DROP DATABASE|SCHEMA [IF EXISTS] n [RESTRICT|CASCADE]`
    DropDatabase { name: String, if_exists: bool, cascade: bool },
    /// `CREATE [EXTERNAL] TABLE [IF NOT EXISTS] t (columns) ...` (Hive's form, with a column
    /// list), as Glue stores it.
    CreateTable { database: Option<String>, table: Table, if_not_exists: bool },
    /// `DROP TABLE [IF EXISTS] t`
    DropTable { database: Option<String>, name: String, if_exists: bool },
    /// `MSCK REPAIR TABLE t`
    MsckRepair { database: Option<String>, name: String },
    /// `ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (k='v', ...) [LOCATION '..'] [PARTITION ...]`:
    /// each partition's (key, value) pairs as written, and its location.
    AddPartitions {
        database: Option<String>,
        name: String,
        if_not_exists: bool,
        partitions: Vec<(PartitionSpec, Option<String>)>,
    },
    /// `ALTER TABLE t DROP [IF EXISTS] PARTITION (k='v', ...)[, PARTITION (...)]`
    DropPartitions { database: Option<String>, name: String, if_exists: bool, partitions: Vec<PartitionSpec> },
    /// `SHOW DATABASES|SCHEMAS [LIKE 'pattern']`
    ShowDatabases { like: Option<String> },
    /// `SHOW TABLES [IN|FROM db] [[LIKE] 'pattern']`
    ShowTables { database: Option<String>, like: Option<String> },
    /// `SHOW PARTITIONS t`
    ShowPartitions { database: Option<String>, name: String },
    /// `DESCRIBE|DESC [EXTENDED|FORMATTED] t`
    Describe { database: Option<String>, name: String },
    /// `SHOW CREATE TABLE t`
    ShowCreateTable { database: Option<String>, name: String },
    /// `SHOW COLUMNS IN|FROM t [IN|FROM db]`
    ShowColumns { database: Option<String>, name: String },
    /// `CREATE TABLE [IF NOT EXISTS] t [WITH (k = v, ...)] AS <query> [WITH [NO] DATA]`; the
    /// property names are lower-cased, the query is the text as written.
    Ctas {
        database: Option<String>,
        name: String,
        if_not_exists: bool,
        properties: BTreeMap<String, PropValue>,
        query: String,
        with_data: bool,
    },
    /// `CREATE [OR REPLACE] VIEW v AS <query>`
    CreateView { database: Option<String>, name: String, or_replace: bool, query: String },
    /// `DROP VIEW [IF EXISTS] v`
    DropView { database: Option<String>, name: String, if_exists: bool },
    /// `INSERT INTO t [(c1, c2, ...)] <query>` where the query is a SELECT, a WITH or VALUES.
    InsertInto { database: Option<String>, name: String, columns: Vec<String>, query: String },
}

/// A value of a CTAS `WITH (...)` property.
#[derive(Clone, Debug, PartialEq)]
pub enum PropValue {
    /// `'text'` (with `''` unescaped).
    Str(String),
    /// A number as written (`16`, `-1`, `0.5`).
    Num(String),
    /// `true` / `false`.
    Bool(bool),
    /// `ARRAY['a', 'b']`.
    Array(Vec<String>),
}

/// Parses one statement. `Ok(None)` when the statement is not one of [`Statement`]'s (SELECT,
/// WITH, EXPLAIN, VALUES, ...): the caller gives it to DataFusion. `Err` names the problem and
/// where it is (`line 1:23: ...`).
pub fn parse(sql: &str) -> Result<Option<Statement>, String> {
    Parser::new(sql).statement()
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A bare word: keyword or identifier, as written.
    Word(String),
    /// A `"quoted"` or `` `quoted` `` identifier, unescaped.
    Quoted(String),
    /// A `'string'`, with `''` unescaped; in Hive mode backslash pairs are kept for
    /// [`hive_unescape`].
    Str(String),
    Num(String),
    Sym(char),
    Eof,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// Byte offsets into the statement.
    start: usize,
    end: usize,
}

/// `line L:C` (1-based) of a byte offset.
fn line_col(src: &str, offset: usize) -> String {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}:{col}")
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Hive's string literals: a backslash escapes the next character (so `'\''` is one quote).
    hive: bool,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str, pos: usize, hive: bool) -> Self {
        Self { src, pos, hive }
    }

    fn skip_trivia(&mut self) -> Result<(), String> {
        loop {
            let rest = &self.src[self.pos..];
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("--") {
                self.pos = trimmed.find('\n').map_or(self.src.len(), |i| self.pos + i + 1);
            } else if let Some(body) = trimmed.strip_prefix("/*") {
                match body.find("*/") {
                    Some(i) => self.pos += i + 4,
                    None => return Err(format!("{}: unterminated comment", line_col(self.src, self.pos))),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn next(&mut self) -> Result<Token, String> {
        self.skip_trivia()?;
        let start = self.pos;
        let rest = &self.src[start..];
        let Some(c) = rest.chars().next() else {
            return Ok(Token { tok: Tok::Eof, start, end: start });
        };
        let tok = if c.is_alphabetic() || c == '_' {
            let len = rest.find(|ch: char| !(ch.is_alphanumeric() || ch == '_')).unwrap_or(rest.len());
            self.pos += len;
            Tok::Word(rest[..len].to_string())
        } else if c.is_ascii_digit() || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) {
            let b = rest.as_bytes();
            let mut len = 0;
            while len < b.len() {
                let ch = b[len];
                let exponent_sign = (ch == b'+' || ch == b'-') && matches!(b[len - 1], b'e' | b'E');
                if ch.is_ascii_alphanumeric() || ch == b'.' || ch == b'_' || exponent_sign {
                    len += 1;
                } else {
                    break;
                }
            }
            self.pos += len;
            Tok::Num(rest[..len].to_string())
        } else if c == '\'' {
            self.string(start)?
        } else if c == '"' || c == '`' {
            self.quoted(c, start)?
        } else {
            self.pos += c.len_utf8();
            Tok::Sym(c)
        };
        Ok(Token { tok, start, end: self.pos })
    }

    fn string(&mut self, start: usize) -> Result<Tok, String> {
        let mut out = String::new();
        let mut i = start + 1;
        loop {
            let Some(ch) = self.src[i..].chars().next() else {
                return Err(format!("{}: unterminated string literal", line_col(self.src, start)));
            };
            i += ch.len_utf8();
            if ch == '\'' {
                if self.src[i..].starts_with('\'') {
                    out.push('\'');
                    i += 1;
                    continue;
                }
                break;
            }
            out.push(ch);
            if ch == '\\'
                && self.hive
                && let Some(n) = self.src[i..].chars().next()
            {
                out.push(n);
                i += n.len_utf8();
            }
        }
        self.pos = i;
        Ok(Tok::Str(out))
    }

    fn quoted(&mut self, q: char, start: usize) -> Result<Tok, String> {
        let mut out = String::new();
        let mut i = start + 1;
        loop {
            let Some(ch) = self.src[i..].chars().next() else {
                return Err(format!("{}: unterminated quoted identifier", line_col(self.src, start)));
            };
            i += ch.len_utf8();
            if ch == q {
                if self.src[i..].starts_with(q) {
                    out.push(q);
                    i += 1;
                    continue;
                }
                break;
            }
            out.push(ch);
        }
        self.pos = i;
        Ok(Tok::Quoted(out))
    }
}

/// Hive's unescaping of a string literal (`BaseSemanticAnalyzer.unescapeSQLString`): `\t`,
/// `\n`, `\r`, `\b`, `\0`, `\Z`, `\\`, `\'`, `\"`, three-digit octal (`\001`) and `\uXXXX`;
/// `\%` and `\_` stay as written (LIKE patterns); any other escaped character stands for itself.
fn hive_unescape(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let n = chars[i + 1];
        if n == 'u' && i + 5 < chars.len() {
            let hex: String = chars[i + 2..i + 6].iter().collect();
            if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                out.push(ch);
                i += 6;
                continue;
            }
        }
        if i + 3 < chars.len()
            && ('0'..='3').contains(&n)
            && ('0'..='7').contains(&chars[i + 2])
            && ('0'..='7').contains(&chars[i + 3])
        {
            let code = chars[i + 1..i + 4].iter().fold(0u32, |acc, d| acc * 8 + (*d as u32 - '0' as u32));
            if let Some(ch) = char::from_u32(code) {
                out.push(ch);
                i += 4;
                continue;
            }
        }
        match n {
            '0' => out.push('\0'),
            'b' => out.push('\u{8}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'Z' => out.push('\u{1A}'),
            '%' | '_' => {
                out.push('\\');
                out.push(n);
            }
            other => out.push(other),
        }
        i += 2;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    ahead: VecDeque<Token>,
}

/// Words that start a query (the verbatim tail of a CTAS, a view or an INSERT).
const QUERY_STARTS: [&str; 4] = ["SELECT", "WITH", "VALUES", "TABLE"];

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Self { src, lexer: Lexer::new(src, 0, true), ahead: VecDeque::new() }
    }

    // --- token access -------------------------------------------------------------------------

    fn peek_at(&mut self, n: usize) -> Result<&Token, String> {
        while self.ahead.len() <= n {
            let t = self.lexer.next()?;
            self.ahead.push_back(t);
        }
        Ok(&self.ahead[n])
    }

    fn peek(&mut self) -> Result<&Token, String> {
        self.peek_at(0)
    }

    fn advance(&mut self) -> Result<Token, String> {
        match self.ahead.pop_front() {
            Some(t) => Ok(t),
            None => self.lexer.next(),
        }
    }

    fn at_kw_n(&mut self, n: usize, kw: &str) -> Result<bool, String> {
        Ok(matches!(&self.peek_at(n)?.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw)))
    }

    fn at_kw(&mut self, kw: &str) -> Result<bool, String> {
        self.at_kw_n(0, kw)
    }

    fn eat_kw(&mut self, kw: &str) -> Result<bool, String> {
        let yes = self.at_kw(kw)?;
        if yes {
            self.advance()?;
        }
        Ok(yes)
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), String> {
        if self.eat_kw(kw)? {
            return Ok(());
        }
        let t = self.advance()?;
        Err(self.mismatched(&t, &[&format!("'{kw}'")]))
    }

    fn at_sym_n(&mut self, n: usize, c: char) -> Result<bool, String> {
        Ok(self.peek_at(n)?.tok == Tok::Sym(c))
    }

    fn at_sym(&mut self, c: char) -> Result<bool, String> {
        self.at_sym_n(0, c)
    }

    fn eat_sym(&mut self, c: char) -> Result<bool, String> {
        let yes = self.at_sym(c)?;
        if yes {
            self.advance()?;
        }
        Ok(yes)
    }

    fn expect_sym(&mut self, c: char) -> Result<(), String> {
        if self.eat_sym(c)? {
            return Ok(());
        }
        let t = self.advance()?;
        if t.tok == Tok::Eof && matches!(c, ')' | ']' | '>') {
            let what = if c == '>' {
                "angle brackets"
            } else if c == ']' {
                "brackets"
            } else {
                "parentheses"
            };
            return Err(format!(
                "{}: unbalanced {what}: missing '{c}' at end of statement",
                line_col(self.src, t.start)
            ));
        }
        Err(self.mismatched(&t, &[&format!("'{c}'")]))
    }

    // --- errors -------------------------------------------------------------------------------

    fn text(&self, t: &Token) -> String {
        if t.tok == Tok::Eof { "<EOF>".to_string() } else { self.src[t.start..t.end].to_string() }
    }

    fn mismatched(&self, t: &Token, expecting: &[&str]) -> String {
        format!(
            "{}: mismatched input '{}'. Expecting: {}",
            line_col(self.src, t.start),
            self.text(t),
            expecting.join(", ")
        )
    }

    fn error_at(&self, t: &Token, msg: &str) -> String {
        format!("{}: {msg}", line_col(self.src, t.start))
    }

    // --- pieces -------------------------------------------------------------------------------

    /// A string literal, Hive-unescaped.
    fn string(&mut self, what: &str) -> Result<String, String> {
        let t = self.advance()?;
        match t.tok {
            Tok::Str(s) => Ok(hive_unescape(&s)),
            _ => Err(self.mismatched(&t, &[what])),
        }
    }

    /// An identifier, lower-cased.
    fn ident(&mut self, what: &str) -> Result<String, String> {
        let t = self.advance()?;
        match &t.tok {
            Tok::Word(w) => Ok(w.to_lowercase()),
            Tok::Quoted(q) if q.is_empty() => Err(self.error_at(&t, "zero-length delimited identifier")),
            Tok::Quoted(q) => Ok(q.to_lowercase()),
            _ => Err(self.mismatched(&t, &[what])),
        }
    }

    /// `[db.]name`, lower-cased.
    fn qualified(&mut self, what: &str) -> Result<(Option<String>, String), String> {
        let first = self.ident(what)?;
        if self.eat_sym('.')? {
            let second = self.ident(what)?;
            if self.at_sym('.')? {
                let t = self.advance()?;
                return Err(self.error_at(&t, &format!("too many dots in {what}: expecting [database.]name")));
            }
            Ok((Some(first), second))
        } else {
            Ok((None, first))
        }
    }

    fn if_not_exists(&mut self) -> Result<bool, String> {
        if self.eat_kw("IF")? {
            self.expect_kw("NOT")?;
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn if_exists(&mut self) -> Result<bool, String> {
        if self.eat_kw("IF")? {
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn at_end(&mut self) -> Result<bool, String> {
        Ok(matches!(self.peek()?.tok, Tok::Eof | Tok::Sym(';')))
    }

    /// The end of the statement: optional semicolons, then nothing.
    fn end(&mut self, expecting: &[&str]) -> Result<(), String> {
        while self.eat_sym(';')? {}
        let t = self.advance()?;
        if t.tok == Tok::Eof {
            return Ok(());
        }
        let mut all: Vec<&str> = expecting.to_vec();
        all.push("<EOF>");
        Err(self.mismatched(&t, &all))
    }

    /// `('k' = 'v', ...)`, Hive-unescaped.
    fn string_map(&mut self) -> Result<BTreeMap<String, String>, String> {
        self.expect_sym('(')?;
        let mut out = BTreeMap::new();
        if self.eat_sym(')')? {
            return Ok(out);
        }
        loop {
            let k = self.string("property name")?;
            self.expect_sym('=')?;
            let v = self.string("property value")?;
            out.insert(k, v);
            if self.eat_sym(',')? {
                continue;
            }
            self.expect_sym(')')?;
            return Ok(out);
        }
    }

    /// The rest of the statement as a query, verbatim (without trailing semicolons and, for a
    /// CTAS, without a trailing `WITH [NO] DATA`, which it reports).
    fn query_rest(&mut self, ctas: bool) -> Result<(String, bool), String> {
        let first = self.peek()?.clone();
        let mut lexer = Lexer::new(self.src, first.start, false);
        let mut toks = Vec::new();
        loop {
            let t = lexer.next()?;
            if t.tok == Tok::Eof {
                toks.push(t);
                break;
            }
            toks.push(t);
        }
        let eof = toks.pop().unwrap_or(Token { tok: Tok::Eof, start: self.src.len(), end: self.src.len() });
        while matches!(toks.last(), Some(Token { tok: Tok::Sym(';'), .. })) {
            toks.pop();
        }
        if let Some(t) = toks.iter().find(|t| t.tok == Tok::Sym(';')) {
            return Err(self.error_at(t, "only one statement is allowed"));
        }
        let word = |t: &Token, kw: &str| matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw));
        let mut with_data = true;
        if ctas {
            let n = toks.len();
            if n >= 3 && word(&toks[n - 3], "WITH") && word(&toks[n - 2], "NO") && word(&toks[n - 1], "DATA") {
                with_data = false;
                toks.truncate(n - 3);
            } else if n >= 2 && word(&toks[n - 2], "WITH") && word(&toks[n - 1], "DATA") {
                toks.truncate(n - 2);
            }
        }
        let Some(head) = toks.first() else {
            return Err(self.mismatched(&eof, &["'SELECT'", "'WITH'", "'VALUES'", "'('"]));
        };
        if !(QUERY_STARTS.iter().any(|kw| word(head, kw)) || head.tok == Tok::Sym('(')) {
            return Err(self.mismatched(head, &["'SELECT'", "'WITH'", "'VALUES'", "'('"]));
        }
        // Brackets must balance (DataFusion would say so too, less clearly).
        let mut open: Vec<&Token> = Vec::new();
        for t in &toks {
            match t.tok {
                Tok::Sym('(' | '[') => open.push(t),
                Tok::Sym(c @ (')' | ']')) => {
                    let want = if c == ')' { '(' } else { '[' };
                    match open.pop() {
                        Some(o) if o.tok == Tok::Sym(want) => {}
                        _ => return Err(self.error_at(t, &format!("unbalanced brackets: unexpected '{c}'"))),
                    }
                }
                _ => {}
            }
        }
        if let Some(o) = open.last() {
            let Tok::Sym(c) = o.tok else { unreachable!() };
            let close = if c == '(' { ')' } else { ']' };
            return Err(self.error_at(o, &format!("unbalanced brackets: '{c}' is never closed with '{close}'")));
        }
        let last = toks.last().map_or(head.end, |t| t.end);
        Ok((self.src[head.start..last].to_string(), with_data))
    }

    // --- statements ---------------------------------------------------------------------------

    fn statement(&mut self) -> Result<Option<Statement>, String> {
        let Tok::Word(w) = &self.peek()?.tok else { return Ok(None) };
        let stmt = match w.to_ascii_uppercase().as_str() {
            "CREATE" => self.create()?,
            "DROP" => self.drop()?,
            "ALTER" => self.alter()?,
            "MSCK" => Some(self.msck()?),
            "SHOW" => self.show()?,
            "DESCRIBE" | "DESC" => self.describe()?,
            "INSERT" => self.insert()?,
            _ => None,
        };
        Ok(stmt)
    }

    fn create(&mut self) -> Result<Option<Statement>, String> {
        self.advance()?; // CREATE
        if self.at_kw("OR")? && self.at_kw_n(1, "REPLACE")? && self.at_kw_n(2, "VIEW")? {
            self.advance()?;
            self.advance()?;
            self.advance()?;
            return self.create_view(true).map(Some);
        }
        if self.eat_kw("VIEW")? {
            return self.create_view(false).map(Some);
        }
        if self.eat_kw("DATABASE")? || self.eat_kw("SCHEMA")? {
            return self.create_database().map(Some);
        }
        if self.at_kw("EXTERNAL")? && self.at_kw_n(1, "TABLE")? {
            self.advance()?;
            self.advance()?;
            return self.create_table(true).map(Some);
        }
        if self.eat_kw("TABLE")? {
            return self.create_table(false).map(Some);
        }
        Ok(None)
    }

    fn create_view(&mut self, or_replace: bool) -> Result<Statement, String> {
        let (database, name) = self.qualified("view name")?;
        self.expect_kw("AS")?;
        let (query, _) = self.query_rest(false)?;
        Ok(Statement::CreateView { database, name, or_replace, query })
    }

    fn create_database(&mut self) -> Result<Statement, String> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.ident("database name")?;
        if self.at_sym('.')? {
            let t = self.advance()?;
            return Err(self.error_at(&t, "a database name cannot be qualified"));
        }
        let (mut comment, mut location, mut properties) = (None, None, None);
        const CLAUSES: [&str; 3] = ["'COMMENT'", "'LOCATION'", "'WITH'"];
        loop {
            let t = self.peek()?.clone();
            if self.eat_kw("COMMENT")? {
                if comment.is_some() {
                    return Err(self.error_at(&t, "duplicate COMMENT clause"));
                }
                comment = Some(self.string("comment string")?);
            } else if self.eat_kw("LOCATION")? {
                if location.is_some() {
                    return Err(self.error_at(&t, "duplicate LOCATION clause"));
                }
                location = Some(self.string("location string")?);
            } else if self.eat_kw("WITH")? {
                if properties.is_some() {
                    return Err(self.error_at(&t, "duplicate WITH DBPROPERTIES clause"));
                }
                self.expect_kw("DBPROPERTIES")?;
                properties = Some(self.string_map()?);
            } else {
                self.end(&CLAUSES)?;
                break;
            }
        }
        Ok(Statement::CreateDatabase {
            name,
            if_not_exists,
            comment,
            location,
            properties: properties.unwrap_or_default(),
        })
    }

    fn create_table(&mut self, external: bool) -> Result<Statement, String> {
        let if_not_exists = self.if_not_exists()?;
        let (database, name) = self.qualified("table name")?;
        if self.at_sym('(')? {
            let table = self.hive_table(database.clone(), name, external)?;
            return Ok(Statement::CreateTable { database, table, if_not_exists });
        }
        if !external && (self.at_kw("WITH")? || self.at_kw("AS")?) {
            return self.ctas(database, name, if_not_exists);
        }
        let t = self.advance()?;
        if external && matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case("AS") || w.eq_ignore_ascii_case("WITH"))
        {
            return Err(self.error_at(&t, "CREATE EXTERNAL TABLE ... AS SELECT is not supported: use CREATE TABLE ... WITH (external_location = '...') AS SELECT"));
        }
        let expecting: &[&str] = if external { &["'('"] } else { &["'('", "'WITH'", "'AS'"] };
        Err(format!("missing column list: {}", self.mismatched(&t, expecting)))
    }

    fn ctas(&mut self, database: Option<String>, name: String, if_not_exists: bool) -> Result<Statement, String> {
        let mut properties = BTreeMap::new();
        if self.eat_kw("WITH")? {
            self.expect_sym('(')?;
            loop {
                let key_tok = self.peek()?.clone();
                let key = self.ident("property name")?;
                self.expect_sym('=')?;
                let value = self.prop_value()?;
                if properties.insert(key.clone(), value).is_some() {
                    return Err(self.error_at(&key_tok, &format!("duplicate property '{key}'")));
                }
                if self.eat_sym(',')? {
                    continue;
                }
                self.expect_sym(')')?;
                break;
            }
        }
        self.expect_kw("AS")?;
        let (query, with_data) = self.query_rest(true)?;
        Ok(Statement::Ctas { database, name, if_not_exists, properties, query, with_data })
    }

    fn prop_value(&mut self) -> Result<PropValue, String> {
        let t = self.advance()?;
        const EXPECTING: [&str; 4] = ["string", "number", "'true'/'false'", "'ARRAY'"];
        match &t.tok {
            Tok::Str(s) => Ok(PropValue::Str(s.clone())),
            Tok::Num(n) => Ok(PropValue::Num(n.clone())),
            Tok::Sym(sign @ ('-' | '+')) => {
                let n = self.advance()?;
                match &n.tok {
                    Tok::Num(v) if *sign == '-' => Ok(PropValue::Num(format!("-{v}"))),
                    Tok::Num(v) => Ok(PropValue::Num(v.clone())),
                    _ => Err(self.mismatched(&n, &["number"])),
                }
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Ok(PropValue::Bool(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Ok(PropValue::Bool(false)),
            Tok::Word(w) if w.eq_ignore_ascii_case("ARRAY") => {
                self.expect_sym('[')?;
                let mut items = Vec::new();
                if self.eat_sym(']')? {
                    return Ok(PropValue::Array(items));
                }
                loop {
                    let item = self.advance()?;
                    match &item.tok {
                        Tok::Str(s) | Tok::Num(s) => items.push(s.clone()),
                        _ => return Err(self.mismatched(&item, &["string"])),
                    }
                    if self.eat_sym(',')? {
                        continue;
                    }
                    self.expect_sym(']')?;
                    return Ok(PropValue::Array(items));
                }
            }
            _ => Err(self.mismatched(&t, &EXPECTING)),
        }
    }

    /// `(columns) [COMMENT ..] [PARTITIONED BY ..] [CLUSTERED BY ..] [ROW FORMAT ..] [STORED AS ..]
    /// [LOCATION ..] [TBLPROPERTIES ..]`, as Athena writes it into Glue.
    fn hive_table(&mut self, database: Option<String>, name: String, external: bool) -> Result<Table, String> {
        let start = self.peek()?.clone();
        let columns = self.column_list()?;
        let mut description = None;
        let mut partition_keys: Option<Vec<Column>> = None;
        let mut buckets: Option<(Vec<String>, Vec<Order>, i64, Token)> = None;
        let mut row_format: Option<(String, BTreeMap<String, String>)> = None;
        let mut stored: Option<(String, String, Option<&'static str>)> = None;
        let mut location = None;
        let mut tblproperties: Option<BTreeMap<String, String>> = None;
        const CLAUSES: [&str; 7] = [
            "'COMMENT'",
            "'PARTITIONED BY'",
            "'CLUSTERED BY'",
            "'ROW FORMAT'",
            "'STORED AS'",
            "'LOCATION'",
            "'TBLPROPERTIES'",
        ];
        loop {
            let t = self.peek()?.clone();
            let dup = |p: &Self, what: &str| Err(p.error_at(&t, &format!("duplicate {what} clause")));
            if self.eat_kw("COMMENT")? {
                if description.is_some() {
                    return dup(self, "COMMENT");
                }
                description = Some(self.string("comment string")?);
            } else if self.eat_kw("PARTITIONED")? {
                if partition_keys.is_some() {
                    return dup(self, "PARTITIONED BY");
                }
                self.expect_kw("BY")?;
                partition_keys = Some(self.column_list()?);
            } else if self.eat_kw("CLUSTERED")? {
                if buckets.is_some() {
                    return dup(self, "CLUSTERED BY");
                }
                self.expect_kw("BY")?;
                let cols = self.name_list("column name")?;
                let mut sort = Vec::new();
                if self.eat_kw("SORTED")? {
                    self.expect_kw("BY")?;
                    self.expect_sym('(')?;
                    loop {
                        let column = self.ident("column name")?;
                        let sort_order = if self.eat_kw("DESC")? {
                            0
                        } else {
                            self.eat_kw("ASC")?;
                            1
                        };
                        sort.push(Order { column, sort_order });
                        if self.eat_sym(',')? {
                            continue;
                        }
                        self.expect_sym(')')?;
                        break;
                    }
                }
                self.expect_kw("INTO")?;
                let n = self.advance()?;
                let count = match &n.tok {
                    Tok::Num(v) => v.parse::<i64>().ok().filter(|c| *c > 0),
                    _ => None,
                };
                let Some(count) = count else {
                    return Err(self.mismatched(&n, &["number of buckets"]));
                };
                self.expect_kw("BUCKETS")?;
                buckets = Some((cols, sort, count, t));
            } else if self.eat_kw("ROW")? {
                if row_format.is_some() {
                    return dup(self, "ROW FORMAT");
                }
                self.expect_kw("FORMAT")?;
                row_format = Some(self.row_format()?);
            } else if self.eat_kw("STORED")? {
                if stored.is_some() {
                    return dup(self, "STORED AS");
                }
                self.expect_kw("AS")?;
                stored = Some(self.stored_as()?);
            } else if self.eat_kw("LOCATION")? {
                if location.is_some() {
                    return dup(self, "LOCATION");
                }
                location = Some(self.string("location string")?);
            } else if self.eat_kw("TBLPROPERTIES")? {
                if tblproperties.is_some() {
                    return dup(self, "TBLPROPERTIES");
                }
                tblproperties = Some(self.string_map()?);
            } else {
                self.end(&CLAUSES)?;
                break;
            }
        }

        // Hive's checks on the columns.
        let partition_keys = partition_keys.unwrap_or_default();
        let mut seen = std::collections::BTreeSet::new();
        for c in &columns {
            if !seen.insert(c.name.as_str()) {
                return Err(self.error_at(&start, &format!("Duplicate column name: {}", c.name)));
            }
        }
        for k in &partition_keys {
            if !seen.insert(k.name.as_str()) {
                return Err(self.error_at(&start, &format!("Column repeated in partitioning columns: {}", k.name)));
            }
        }
        let (bucket_columns, sort_columns, number_of_buckets) = match buckets {
            Some((cols, sort, n, t)) => {
                for c in cols.iter().chain(sort.iter().map(|o| &o.column)) {
                    if !columns.iter().any(|col| &col.name == c) {
                        return Err(self.error_at(&t, &format!("Invalid column reference '{c}' in CLUSTERED BY")));
                    }
                }
                (cols, sort, n)
            }
            None => (Vec::new(), Vec::new(), -1),
        };
        if external && location.is_none() {
            return Err(format!("{}: Must specify LOCATION for external table", line_col(self.src, start.start)));
        }

        let (input_format, output_format, stored_serde) =
            stored.unwrap_or_else(|| (TEXT_INPUT.to_string(), TEXT_OUTPUT.to_string(), Some(LAZY_SIMPLE_SERDE)));
        let (library, mut serde_params) = match row_format {
            Some(rf) => rf,
            None => (stored_serde.unwrap_or(LAZY_SIMPLE_SERDE).to_string(), BTreeMap::new()),
        };
        serde_params.entry("serialization.format".to_string()).or_insert_with(|| "1".to_string());

        let mut parameters = tblproperties.unwrap_or_default();
        if external {
            parameters.insert("EXTERNAL".to_string(), "TRUE".to_string());
        }
        if !parameters.contains_key("classification")
            && let Some(c) = classification(&input_format, &library)
        {
            parameters.insert("classification".to_string(), c.to_string());
        }
        let iceberg = parameters.get("table_type").is_some_and(|t| t.eq_ignore_ascii_case("ICEBERG"));
        let table_type = if external || iceberg { "EXTERNAL_TABLE" } else { "MANAGED_TABLE" };

        Ok(Table {
            name,
            database_name: database,
            description,
            storage_descriptor: Some(StorageDescriptor {
                columns,
                location,
                input_format: Some(input_format),
                output_format: Some(output_format),
                compressed: false,
                number_of_buckets,
                serde_info: Some(SerDeInfo {
                    name: None,
                    serialization_library: Some(library),
                    parameters: serde_params,
                }),
                bucket_columns,
                sort_columns,
                ..StorageDescriptor::default()
            }),
            partition_keys,
            table_type: Some(table_type.to_string()),
            parameters,
            ..Table::default()
        })
    }

    /// `(name type [COMMENT '..'], ...)`, at least one.
    fn column_list(&mut self) -> Result<Vec<Column>, String> {
        let open = self.peek()?.clone();
        if open.tok != Tok::Sym('(') {
            let t = self.advance()?;
            return Err(format!("missing column list: {}", self.mismatched(&t, &["'('"])));
        }
        self.advance()?;
        if self.at_sym(')')? {
            let t = self.advance()?;
            return Err(self.error_at(&t, "empty column list: a table needs at least one column"));
        }
        let mut out = Vec::new();
        loop {
            let name = self.ident("column name")?;
            let ty = self.data_type()?;
            let mut col = Column::new(name, ty);
            if self.eat_kw("COMMENT")? {
                col.comment = Some(self.string("comment string")?);
            }
            out.push(col);
            if self.eat_sym(',')? {
                continue;
            }
            let t = self.advance()?;
            match t.tok {
                Tok::Sym(')') => return Ok(out),
                Tok::Eof => {
                    return Err(format!(
                        "{}: unbalanced parentheses: the column list opened at {} is never closed",
                        line_col(self.src, t.start),
                        line_col(self.src, open.start)
                    ));
                }
                _ => return Err(self.mismatched(&t, &["','", "')'", "'COMMENT'"])),
            }
        }
    }

    /// `(a, b, ...)`, lower-cased.
    fn name_list(&mut self, what: &str) -> Result<Vec<String>, String> {
        self.expect_sym('(')?;
        let mut out = Vec::new();
        loop {
            out.push(self.ident(what)?);
            if self.eat_sym(',')? {
                continue;
            }
            self.expect_sym(')')?;
            return Ok(out);
        }
    }

    /// A column type in Glue's lower-case spelling, nested types with their brackets.
    fn data_type(&mut self) -> Result<String, String> {
        let t = self.advance()?;
        let Tok::Word(w) = &t.tok else {
            return Err(self.mismatched(&t, &["column type"]));
        };
        let lw = w.to_ascii_lowercase();
        let ty = match lw.as_str() {
            "tinyint" | "smallint" | "bigint" | "float" | "double" | "boolean" | "string" | "date" | "timestamp"
            | "binary" => lw,
            "int" | "integer" => "int".to_string(),
            "real" => "float".to_string(),
            "decimal" | "numeric" => {
                if self.eat_sym('(')? {
                    let p = self.integer("precision")?;
                    if self.eat_sym(',')? {
                        let s = self.integer("scale")?;
                        self.expect_sym(')')?;
                        format!("decimal({p},{s})")
                    } else {
                        self.expect_sym(')')?;
                        format!("decimal({p})")
                    }
                } else {
                    "decimal".to_string()
                }
            }
            "varchar" | "char" => {
                if !self.at_sym('(')? {
                    let n = self.advance()?;
                    return Err(format!("{lw} needs a length: {}", self.mismatched(&n, &["'('"])));
                }
                self.advance()?;
                let n = self.integer("length")?;
                self.expect_sym(')')?;
                format!("{lw}({n})")
            }
            "array" => {
                self.expect_sym('<')?;
                let inner = self.data_type()?;
                self.expect_sym('>')?;
                format!("array<{inner}>")
            }
            "map" => {
                self.expect_sym('<')?;
                let k = self.data_type()?;
                self.expect_sym(',')?;
                let v = self.data_type()?;
                self.expect_sym('>')?;
                format!("map<{k},{v}>")
            }
            "struct" => {
                self.expect_sym('<')?;
                let mut fields = Vec::new();
                loop {
                    let f = self.advance()?;
                    let name = match &f.tok {
                        Tok::Word(n) => n.clone(),
                        Tok::Quoted(n) if !n.is_empty() => format!("`{}`", n.replace('`', "``")),
                        _ => return Err(self.mismatched(&f, &["field name"])),
                    };
                    self.expect_sym(':')?;
                    let ty = self.data_type()?;
                    if self.eat_kw("COMMENT")? {
                        self.string("comment string")?;
                    }
                    fields.push(format!("{name}:{ty}"));
                    if self.eat_sym(',')? {
                        continue;
                    }
                    self.expect_sym('>')?;
                    break;
                }
                format!("struct<{}>", fields.join(","))
            }
            _ => return Err(self.error_at(&t, &format!("Unknown type '{w}'"))),
        };
        Ok(ty)
    }

    fn integer(&mut self, what: &str) -> Result<u32, String> {
        let t = self.advance()?;
        match &t.tok {
            Tok::Num(n) => n.parse::<u32>().map_err(|_| self.mismatched(&t, &[what])),
            _ => Err(self.mismatched(&t, &[what])),
        }
    }

    /// `DELIMITED ...` or `SERDE 'class' [WITH SERDEPROPERTIES (...)]`: the SerDe library and
    /// its parameters.
    fn row_format(&mut self) -> Result<(String, BTreeMap<String, String>), String> {
        if self.eat_kw("SERDE")? {
            let library = self.string("SerDe class name")?;
            let params = if self.eat_kw("WITH")? {
                self.expect_kw("SERDEPROPERTIES")?;
                self.string_map()?
            } else {
                BTreeMap::new()
            };
            return Ok((library, params));
        }
        if !self.eat_kw("DELIMITED")? {
            let t = self.advance()?;
            return Err(self.mismatched(&t, &["'DELIMITED'", "'SERDE'"]));
        }
        let mut params = BTreeMap::new();
        let mut put = |p: &Self, t: &Token, k: &str, v: String| {
            if params.insert(k.to_string(), v).is_some() {
                return Err(p.error_at(t, &format!("{k} is given twice")));
            }
            Ok(())
        };
        loop {
            let t = self.peek()?.clone();
            if self.eat_kw("FIELDS")? {
                self.expect_kw("TERMINATED")?;
                self.expect_kw("BY")?;
                let d = self.string("delimiter string")?;
                put(self, &t, "field.delim", d.clone())?;
                put(self, &t, "serialization.format", d)?;
                if self.eat_kw("ESCAPED")? {
                    self.expect_kw("BY")?;
                    let e = self.string("escape string")?;
                    put(self, &t, "escape.delim", e)?;
                }
            } else if self.eat_kw("ESCAPED")? {
                self.expect_kw("BY")?;
                let e = self.string("escape string")?;
                put(self, &t, "escape.delim", e)?;
            } else if self.eat_kw("COLLECTION")? {
                self.expect_kw("ITEMS")?;
                self.expect_kw("TERMINATED")?;
                self.expect_kw("BY")?;
                let d = self.string("delimiter string")?;
                put(self, &t, "collection.delim", d)?;
            } else if self.eat_kw("MAP")? {
                self.expect_kw("KEYS")?;
                self.expect_kw("TERMINATED")?;
                self.expect_kw("BY")?;
                let d = self.string("delimiter string")?;
                put(self, &t, "mapkey.delim", d)?;
            } else if self.eat_kw("LINES")? {
                self.expect_kw("TERMINATED")?;
                self.expect_kw("BY")?;
                let d = self.string("delimiter string")?;
                put(self, &t, "line.delim", d)?;
            } else if self.at_kw("NULL")? && self.at_kw_n(1, "DEFINED")? {
                self.advance()?;
                self.advance()?;
                self.expect_kw("AS")?;
                let d = self.string("null string")?;
                put(self, &t, "serialization.null.format", d)?;
            } else {
                break;
            }
        }
        Ok((LAZY_SIMPLE_SERDE.to_string(), params))
    }

    /// `STORED AS <format>` or `STORED AS INPUTFORMAT '..' OUTPUTFORMAT '..'`: the input and
    /// output formats and the format's own SerDe.
    fn stored_as(&mut self) -> Result<(String, String, Option<&'static str>), String> {
        if self.eat_kw("INPUTFORMAT")? {
            let input = self.string("input format class name")?;
            self.expect_kw("OUTPUTFORMAT")?;
            let output = self.string("output format class name")?;
            return Ok((input, output, None));
        }
        let t = self.advance()?;
        let Tok::Word(w) = &t.tok else {
            return Err(self.mismatched(&t, &["file format", "'INPUTFORMAT'"]));
        };
        let (input, output, serde) = match w.to_ascii_uppercase().as_str() {
            "PARQUET" => (
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            ),
            "TEXTFILE" => (TEXT_INPUT, TEXT_OUTPUT, LAZY_SIMPLE_SERDE),
            "JSONFILE" => (TEXT_INPUT, TEXT_OUTPUT, OPENX_JSON_SERDE),
            "ORC" => (
                "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
                "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
                "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
            ),
            "AVRO" => (
                "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
                "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
                "org.apache.hadoop.hive.serde2.avro.AvroSerDe",
            ),
            "SEQUENCEFILE" => (
                "org.apache.hadoop.mapred.SequenceFileInputFormat",
                "org.apache.hadoop.hive.ql.io.HiveSequenceFileOutputFormat",
                LAZY_SIMPLE_SERDE,
            ),
            "RCFILE" => (
                "org.apache.hadoop.hive.ql.io.RCFileInputFormat",
                "org.apache.hadoop.hive.ql.io.RCFileOutputFormat",
                "org.apache.hadoop.hive.serde2.columnar.LazyBinaryColumnarSerDe",
            ),
            "ION" => (
                "com.amazon.ionhiveserde.formats.IonInputFormat",
                "com.amazon.ionhiveserde.formats.IonOutputFormat",
                "com.amazon.ionhiveserde.IonHiveSerDe",
            ),
            _ => {
                return Err(self.error_at(
                    &t,
                    &format!(
                        "Unknown file format '{w}' in STORED AS. Expecting: PARQUET, TEXTFILE, JSONFILE, ORC, AVRO, \
                         SEQUENCEFILE, RCFILE, ION or INPUTFORMAT '...' OUTPUTFORMAT '...'"
                    ),
                ));
            }
        };
        Ok((input.to_string(), output.to_string(), Some(serde)))
    }

    fn drop(&mut self) -> Result<Option<Statement>, String> {
        self.advance()?; // DROP
        if self.eat_kw("TABLE")? {
            let if_exists = self.if_exists()?;
            let (database, name) = self.qualified("table name")?;
            self.end(&[])?;
            return Ok(Some(Statement::DropTable { database, name, if_exists }));
        }
        if self.eat_kw("VIEW")? {
            let if_exists = self.if_exists()?;
            let (database, name) = self.qualified("view name")?;
            self.end(&[])?;
            return Ok(Some(Statement::DropView { database, name, if_exists }));
        }
        if self.eat_kw("DATABASE")? || self.eat_kw("SCHEMA")? {
            let if_exists = self.if_exists()?;
            let name = self.ident("database name")?;
            let cascade = if self.eat_kw("CASCADE")? {
                true
            } else {
                self.eat_kw("RESTRICT")?;
                false
            };
            self.end(&["'CASCADE'", "'RESTRICT'"])?;
            return Ok(Some(Statement::DropDatabase { name, if_exists, cascade }));
        }
        Ok(None)
    }

    fn alter(&mut self) -> Result<Option<Statement>, String> {
        self.advance()?; // ALTER
        if !self.eat_kw("TABLE")? {
            return Ok(None);
        }
        let (database, name) = self.qualified("table name")?;
        if self.at_kw("ADD")? && (self.at_kw_n(1, "PARTITION")? || self.at_kw_n(1, "IF")?) {
            self.advance()?;
            let if_not_exists = self.if_not_exists()?;
            let mut partitions = Vec::new();
            loop {
                self.expect_kw("PARTITION")?;
                let spec = self.partition_spec()?;
                let location = if self.eat_kw("LOCATION")? { Some(self.string("location string")?) } else { None };
                partitions.push((spec, location));
                self.eat_sym(',')?;
                if !self.at_kw("PARTITION")? {
                    break;
                }
            }
            self.end(&["'PARTITION'", "'LOCATION'"])?;
            return Ok(Some(Statement::AddPartitions { database, name, if_not_exists, partitions }));
        }
        if self.at_kw("DROP")? && (self.at_kw_n(1, "PARTITION")? || self.at_kw_n(1, "IF")?) {
            self.advance()?;
            let if_exists = self.if_exists()?;
            let mut partitions = Vec::new();
            loop {
                self.expect_kw("PARTITION")?;
                partitions.push(self.partition_spec()?);
                if self.eat_sym(',')? {
                    continue;
                }
                if !self.at_kw("PARTITION")? {
                    break;
                }
            }
            self.end(&["','"])?;
            return Ok(Some(Statement::DropPartitions { database, name, if_exists, partitions }));
        }
        Ok(None)
    }

    /// `(k = 'v', k2 = 3, ...)`: keys lower-cased, values as written.
    fn partition_spec(&mut self) -> Result<PartitionSpec, String> {
        self.expect_sym('(')?;
        let mut out: Vec<(String, String)> = Vec::new();
        loop {
            let key_tok = self.peek()?.clone();
            let key = self.ident("partition column name")?;
            if out.iter().any(|(k, _)| *k == key) {
                return Err(self.error_at(&key_tok, &format!("partition column '{key}' is given twice")));
            }
            self.expect_sym('=')?;
            let t = self.advance()?;
            let value = match &t.tok {
                Tok::Str(s) => hive_unescape(s),
                Tok::Num(n) => n.clone(),
                Tok::Sym('-') => match self.advance()? {
                    Token { tok: Tok::Num(n), .. } => format!("-{n}"),
                    other => return Err(self.mismatched(&other, &["number"])),
                },
                Tok::Word(w) if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") => w.to_lowercase(),
                // DATE '2024-01-01', TIMESTAMP '...'
                Tok::Word(w)
                    if (w.eq_ignore_ascii_case("DATE") || w.eq_ignore_ascii_case("TIMESTAMP"))
                        && matches!(self.peek()?.tok, Tok::Str(_)) =>
                {
                    self.string("string")?
                }
                _ => return Err(self.mismatched(&t, &["partition value"])),
            };
            out.push((key, value));
            if self.eat_sym(',')? {
                continue;
            }
            self.expect_sym(')')?;
            return Ok(out);
        }
    }

    fn msck(&mut self) -> Result<Statement, String> {
        self.advance()?; // MSCK
        self.expect_kw("REPAIR")?;
        self.expect_kw("TABLE")?;
        let (database, name) = self.qualified("table name")?;
        self.end(&[])?;
        Ok(Statement::MsckRepair { database, name })
    }

    fn show(&mut self) -> Result<Option<Statement>, String> {
        self.advance()?; // SHOW
        if self.eat_kw("DATABASES")? || self.eat_kw("SCHEMAS")? {
            let like = if self.eat_kw("LIKE")? || matches!(self.peek()?.tok, Tok::Str(_)) {
                Some(self.string("pattern string")?)
            } else {
                None
            };
            self.end(&["'LIKE'"])?;
            return Ok(Some(Statement::ShowDatabases { like }));
        }
        if self.eat_kw("TABLES")? {
            let database =
                if self.eat_kw("IN")? || self.eat_kw("FROM")? { Some(self.ident("database name")?) } else { None };
            let like = if self.eat_kw("LIKE")? || matches!(self.peek()?.tok, Tok::Str(_)) {
                Some(self.string("pattern string")?)
            } else {
                None
            };
            self.end(&["'IN'", "pattern string"])?;
            return Ok(Some(Statement::ShowTables { database, like }));
        }
        if self.eat_kw("PARTITIONS")? {
            let (database, name) = self.qualified("table name")?;
            self.end(&[])?;
            return Ok(Some(Statement::ShowPartitions { database, name }));
        }
        if self.at_kw("CREATE")? && self.at_kw_n(1, "TABLE")? {
            self.advance()?;
            self.advance()?;
            let (database, name) = self.qualified("table name")?;
            self.end(&[])?;
            return Ok(Some(Statement::ShowCreateTable { database, name }));
        }
        if self.eat_kw("COLUMNS")? {
            if !(self.eat_kw("IN")? || self.eat_kw("FROM")?) {
                let t = self.advance()?;
                return Err(self.mismatched(&t, &["'IN'", "'FROM'"]));
            }
            let (mut database, name) = self.qualified("table name")?;
            if self.eat_kw("IN")? || self.eat_kw("FROM")? {
                let t = self.peek()?.clone();
                let db = self.ident("database name")?;
                if database.is_some() {
                    return Err(self.error_at(&t, "the database is given twice"));
                }
                database = Some(db);
            }
            self.end(&["'IN'", "'FROM'"])?;
            return Ok(Some(Statement::ShowColumns { database, name }));
        }
        Ok(None)
    }

    fn describe(&mut self) -> Result<Option<Statement>, String> {
        self.advance()?; // DESCRIBE | DESC
        // Trino's DESCRIBE INPUT/OUTPUT of a prepared statement.
        if (self.at_kw("INPUT")? || self.at_kw("OUTPUT")?) && matches!(self.peek_at(1)?.tok, Tok::Word(_)) {
            return Ok(None);
        }
        // A modifier, unless it is the table's name.
        if (self.at_kw("EXTENDED")? || self.at_kw("FORMATTED")?)
            && !matches!(self.peek_at(1)?.tok, Tok::Eof | Tok::Sym(';') | Tok::Sym('.'))
        {
            self.advance()?;
        }
        let (database, name) = self.qualified("table name")?;
        if !self.at_end()? {
            let t = self.advance()?;
            return Err(self.error_at(
                &t,
                &format!(
                    "mismatched input '{}'. Expecting: <EOF> (DESCRIBE of a partition or a column is not supported)",
                    self.text(&t)
                ),
            ));
        }
        self.end(&[])?;
        Ok(Some(Statement::Describe { database, name }))
    }

    fn insert(&mut self) -> Result<Option<Statement>, String> {
        if !self.at_kw_n(1, "INTO")? {
            return Ok(None);
        }
        self.advance()?; // INSERT
        self.advance()?; // INTO
        let (database, name) = self.qualified("table name")?;
        let mut columns = Vec::new();
        let column_list = self.at_sym('(')?
            && match &self.peek_at(1)?.tok {
                Tok::Quoted(_) => true,
                Tok::Word(w) => !QUERY_STARTS.iter().any(|kw| w.eq_ignore_ascii_case(kw)),
                _ => false,
            };
        if column_list {
            columns = self.name_list("column name")?;
        }
        let (query, _) = self.query_rest(false)?;
        Ok(Some(Statement::InsertInto { database, name, columns, query }))
    }
}

/// Glue's `classification` for a table's formats, when tarn knows it.
fn classification(input_format: &str, serde: &str) -> Option<&'static str> {
    let input = input_format.to_ascii_lowercase();
    let serde = serde.to_ascii_lowercase();
    if input.contains("parquet") || serde.contains("parquet") {
        Some("parquet")
    } else if input.contains("orc") || serde.contains("orcserde") {
        Some("orc")
    } else if input.contains("avro") || serde.contains("avroserde") {
        Some("avro")
    } else if serde.contains("jsonserde") {
        Some("json")
    } else if serde.contains("lazysimpleserde") || serde.contains("opencsvserde") {
        Some("csv")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN_CSV_SERDE: &str = "org.apache.hadoop.hive.serde2.OpenCSVSerde";

    fn ok(sql: &str) -> Statement {
        match parse(sql) {
            Ok(Some(s)) => s,
            other => panic!("{sql}: {other:?}"),
        }
    }

    fn err(sql: &str) -> String {
        match parse(sql) {
            Err(e) => e,
            other => panic!("{sql}: expected an error, got {other:?}"),
        }
    }

    fn table(sql: &str) -> (Option<String>, Table, bool) {
        match ok(sql) {
            Statement::CreateTable { database, table, if_not_exists } => (database, table, if_not_exists),
            other => panic!("{other:?}"),
        }
    }

    fn sd(t: &Table) -> &StorageDescriptor {
        t.storage_descriptor.as_ref().unwrap()
    }

    fn serde(t: &Table) -> &SerDeInfo {
        sd(t).serde_info.as_ref().unwrap()
    }

    fn cols(cs: &[Column]) -> Vec<(&str, &str)> {
        cs.iter().map(|c| (c.name.as_str(), c.type_name())).collect()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn tpch_parquet_table() {
        let (db, t, ine) = table(
            "CREATE EXTERNAL TABLE IF NOT EXISTS tpch.LineItem (
                l_orderkey BIGINT, l_partkey BIGINT, l_suppkey BIGINT, l_linenumber INTEGER,
                l_quantity DECIMAL(15, 2), l_extendedprice decimal(15,2), l_discount DOUBLE, l_tax FLOAT,
                l_returnflag CHAR(1), l_linestatus VARCHAR(1), l_shipdate DATE, l_commitdate date,
                l_receiptdate DATE, l_shipinstruct string, l_shipmode STRING, l_comment STRING COMMENT 'free text'
             )
             COMMENT 'TPC-H lineitem'
             STORED AS PARQUET
             LOCATION 's3://tpch/sf1/lineitem/'
             TBLPROPERTIES ('parquet.compression'='SNAPPY');",
        );
        assert_eq!(db.as_deref(), Some("tpch"));
        assert!(ine);
        assert_eq!(t.name, "lineitem");
        assert_eq!(t.database_name.as_deref(), Some("tpch"));
        assert_eq!(t.description.as_deref(), Some("TPC-H lineitem"));
        assert_eq!(t.table_type.as_deref(), Some("EXTERNAL_TABLE"));
        assert_eq!(
            cols(t.columns()),
            vec![
                ("l_orderkey", "bigint"),
                ("l_partkey", "bigint"),
                ("l_suppkey", "bigint"),
                ("l_linenumber", "int"),
                ("l_quantity", "decimal(15,2)"),
                ("l_extendedprice", "decimal(15,2)"),
                ("l_discount", "double"),
                ("l_tax", "float"),
                ("l_returnflag", "char(1)"),
                ("l_linestatus", "varchar(1)"),
                ("l_shipdate", "date"),
                ("l_commitdate", "date"),
                ("l_receiptdate", "date"),
                ("l_shipinstruct", "string"),
                ("l_shipmode", "string"),
                ("l_comment", "string"),
            ]
        );
        assert_eq!(t.columns()[15].comment.as_deref(), Some("free text"));
        assert_eq!(t.location(), Some("s3://tpch/sf1/lineitem/"));
        let sd = sd(&t);
        assert_eq!(sd.input_format.as_deref(), Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"));
        assert_eq!(sd.output_format.as_deref(), Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"));
        assert_eq!(
            serde(&t).serialization_library.as_deref(),
            Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
        );
        assert_eq!(serde(&t).parameters, map(&[("serialization.format", "1")]));
        assert_eq!(sd.number_of_buckets, -1);
        assert!(t.partition_keys.is_empty());
        assert_eq!(
            t.parameters,
            map(&[("EXTERNAL", "TRUE"), ("classification", "parquet"), ("parquet.compression", "SNAPPY")])
        );
    }

    #[test]
    fn csv_row_format_delimited() {
        let (db, t, ine) = table(
            r"create external table `Sales`.`Orders` (
                `Order ID` int, amount decimal(10,2), note string
              )
              ROW FORMAT DELIMITED
                FIELDS TERMINATED BY ',' ESCAPED BY '\\'
                COLLECTION ITEMS TERMINATED BY '|'
                MAP KEYS TERMINATED BY ':'
                LINES TERMINATED BY '\n'
                NULL DEFINED AS ''
              STORED AS TEXTFILE
              LOCATION 's3://bucket/orders/'
              TBLPROPERTIES ('skip.header.line.count'='1')",
        );
        assert_eq!(db.as_deref(), Some("sales"));
        assert!(!ine);
        assert_eq!(t.name, "orders");
        assert_eq!(cols(t.columns()), vec![("order id", "int"), ("amount", "decimal(10,2)"), ("note", "string")]);
        assert_eq!(sd(&t).input_format.as_deref(), Some(TEXT_INPUT));
        assert_eq!(sd(&t).output_format.as_deref(), Some(TEXT_OUTPUT));
        assert_eq!(serde(&t).serialization_library.as_deref(), Some(LAZY_SIMPLE_SERDE));
        assert_eq!(
            serde(&t).parameters,
            map(&[
                ("field.delim", ","),
                ("serialization.format", ","),
                ("escape.delim", "\\"),
                ("collection.delim", "|"),
                ("mapkey.delim", ":"),
                ("line.delim", "\n"),
                ("serialization.null.format", ""),
            ])
        );
        assert_eq!(
            t.parameters,
            map(&[("EXTERNAL", "TRUE"), ("classification", "csv"), ("skip.header.line.count", "1")])
        );
        assert_eq!(t.property("skip.header.line.count"), Some("1"));
    }

    #[test]
    fn delimiter_escapes() {
        let (_, t, _) = table(
            r"CREATE EXTERNAL TABLE t (a string) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'
              COLLECTION ITEMS TERMINATED BY '\002' MAP KEYS TERMINATED BY '\003' LOCATION 's3://b/t/'",
        );
        let p = &serde(&t).parameters;
        assert_eq!(p["field.delim"], "\t");
        assert_eq!(p["collection.delim"], "\u{2}");
        assert_eq!(p["mapkey.delim"], "\u{3}");
        let (_, t, _) = table(
            r"CREATE EXTERNAL TABLE t (a string) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\001' LOCATION 's3://b/'",
        );
        assert_eq!(serde(&t).parameters["field.delim"], "\u{1}");
        assert_eq!(hive_unescape(r"a\'b\\c\u0041\%"), "a'b\\cA\\%");
        // A quote escaped with a backslash does not end the string.
        let (_, t, _) = table(r"CREATE EXTERNAL TABLE t (a string COMMENT 'it\'s') LOCATION 's3://b/'");
        assert_eq!(t.columns()[0].comment.as_deref(), Some("it's"));
        let (_, t, _) = table("CREATE EXTERNAL TABLE t (a string COMMENT 'it''s') LOCATION 's3://b/'");
        assert_eq!(t.columns()[0].comment.as_deref(), Some("it's"));
    }

    #[test]
    fn open_csv_serde_with_properties() {
        let (_, t, _) = table(
            r#"CREATE EXTERNAL TABLE flights (year SMALLINT, origin STRING, delay TINYINT)
               ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
               WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '"', 'escapeChar' = '\\')
               STORED AS TEXTFILE
               LOCATION 's3://athena-examples/flight/csv/'"#,
        );
        assert_eq!(cols(t.columns()), vec![("year", "smallint"), ("origin", "string"), ("delay", "tinyint")]);
        assert_eq!(serde(&t).serialization_library.as_deref(), Some(OPEN_CSV_SERDE));
        assert_eq!(
            serde(&t).parameters,
            map(&[("separatorChar", ","), ("quoteChar", "\""), ("escapeChar", "\\"), ("serialization.format", "1")])
        );
        assert_eq!(sd(&t).input_format.as_deref(), Some(TEXT_INPUT));
        assert_eq!(t.parameters["classification"], "csv");
    }

    #[test]
    fn json_table_with_nested_types() {
        let (_, t, _) = table(
            "CREATE EXTERNAL TABLE events (
                id string,
                tags ARRAY<STRING>,
                attrs map<string, array<int>>,
                user STRUCT<Name: string, age:INT, address: struct<city:string, zip:varchar(10)>>,
                matrix array<array<double>>,
                `nested` array<struct<k:string,v:map<string,bigint>>>
             )
             ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
             WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
             LOCATION 's3://bucket/events/'",
        );
        assert_eq!(
            cols(t.columns()),
            vec![
                ("id", "string"),
                ("tags", "array<string>"),
                ("attrs", "map<string,array<int>>"),
                ("user", "struct<Name:string,age:int,address:struct<city:string,zip:varchar(10)>>"),
                ("matrix", "array<array<double>>"),
                ("nested", "array<struct<k:string,v:map<string,bigint>>>"),
            ]
        );
        assert_eq!(serde(&t).serialization_library.as_deref(), Some(OPENX_JSON_SERDE));
        assert_eq!(serde(&t).parameters["ignore.malformed.json"], "true");
        assert_eq!(sd(&t).input_format.as_deref(), Some(TEXT_INPUT));
        assert_eq!(t.parameters["classification"], "json");

        let (_, t, _) = table("CREATE EXTERNAL TABLE j (a int) STORED AS JSONFILE LOCATION 's3://b/j/'");
        assert_eq!(serde(&t).serialization_library.as_deref(), Some(OPENX_JSON_SERDE));
        assert_eq!(sd(&t).output_format.as_deref(), Some(TEXT_OUTPUT));
        assert_eq!(t.parameters["classification"], "json");
    }

    #[test]
    fn partitioned_and_bucketed_tables() {
        let (_, t, _) = table(
            "CREATE EXTERNAL TABLE logs (msg string, level string)
             PARTITIONED BY (Year INT, month string COMMENT 'mm', dt date)
             CLUSTERED BY (Level) SORTED BY (msg DESC) INTO 8 BUCKETS
             STORED AS ORC
             LOCATION 's3://b/logs/'
             TBLPROPERTIES ('classification'='orc', 'orc.compress'='ZLIB')",
        );
        assert_eq!(cols(&t.partition_keys), vec![("year", "int"), ("month", "string"), ("dt", "date")]);
        assert_eq!(t.partition_keys[1].comment.as_deref(), Some("mm"));
        assert_eq!(sd(&t).bucket_columns, vec!["level".to_string()]);
        assert_eq!(sd(&t).sort_columns, vec![Order { column: "msg".into(), sort_order: 0 }]);
        assert_eq!(sd(&t).number_of_buckets, 8);
        assert_eq!(sd(&t).input_format.as_deref(), Some("org.apache.hadoop.hive.ql.io.orc.OrcInputFormat"));
        assert_eq!(serde(&t).serialization_library.as_deref(), Some("org.apache.hadoop.hive.ql.io.orc.OrcSerde"));
        assert_eq!(t.parameters["classification"], "orc");

        let (_, t, _) = table(
            "CREATE EXTERNAL TABLE a (x int) PARTITIONED BY (p string) STORED AS AVRO LOCATION 's3://b/a/'
             TBLPROPERTIES ('avro.schema.literal'='{}')",
        );
        assert_eq!(t.parameters["classification"], "avro");
        assert_eq!(serde(&t).serialization_library.as_deref(), Some("org.apache.hadoop.hive.serde2.avro.AvroSerDe"));

        let (_, t, _) = table(
            "CREATE EXTERNAL TABLE io (x int) STORED AS INPUTFORMAT 'com.example.In' OUTPUTFORMAT 'com.example.Out'
             LOCATION 's3://b/io/'",
        );
        assert_eq!(sd(&t).input_format.as_deref(), Some("com.example.In"));
        assert_eq!(sd(&t).output_format.as_deref(), Some("com.example.Out"));
        assert_eq!(serde(&t).serialization_library.as_deref(), Some(LAZY_SIMPLE_SERDE));

        // Neither STORED AS nor ROW FORMAT: TEXTFILE with LazySimpleSerDe; not external: no LOCATION needed.
        let (_, t, _) = table("CREATE TABLE plain (x int)");
        assert_eq!(sd(&t).input_format.as_deref(), Some(TEXT_INPUT));
        assert_eq!(serde(&t).serialization_library.as_deref(), Some(LAZY_SIMPLE_SERDE));
        assert_eq!(t.table_type.as_deref(), Some("MANAGED_TABLE"));
        assert_eq!(t.parameters, map(&[("classification", "csv")]));
        assert_eq!(t.location(), None);
    }

    #[test]
    fn qualified_names_and_comments() {
        for sql in [
            "DROP TABLE db.t",
            "drop table \"DB\".\"T\";",
            "DROP TABLE `db`.`t` ;; ",
            "-- a comment\nDROP /* inline */ TABLE db . t -- trailing",
        ] {
            assert_eq!(
                ok(sql),
                Statement::DropTable { database: Some("db".into()), name: "t".into(), if_exists: false },
                "{sql}"
            );
        }
        assert_eq!(
            ok("DROP TABLE IF EXISTS t"),
            Statement::DropTable { database: None, name: "t".into(), if_exists: true }
        );
        assert_eq!(
            ok("DROP VIEW IF EXISTS v1"),
            Statement::DropView { database: None, name: "v1".into(), if_exists: true }
        );
    }

    #[test]
    fn databases() {
        assert_eq!(
            ok("CREATE DATABASE IF NOT EXISTS Sales COMMENT 'sales data' LOCATION 's3://b/sales/'
                WITH DBPROPERTIES ('creator'='me', 'Dept'='x')"),
            Statement::CreateDatabase {
                name: "sales".into(),
                if_not_exists: true,
                comment: Some("sales data".into()),
                location: Some("s3://b/sales/".into()),
                properties: map(&[("creator", "me"), ("Dept", "x")]),
            }
        );
        assert_eq!(
            ok("create schema s"),
            Statement::CreateDatabase {
                name: "s".into(),
                if_not_exists: false,
                comment: None,
                location: None,
                properties: BTreeMap::new(),
            }
        );
        assert_eq!(
            ok("DROP DATABASE IF EXISTS s CASCADE"),
            Statement::DropDatabase { name: "s".into(), if_exists: true, cascade: true }
        );
        assert_eq!(
            ok("DROP SCHEMA s RESTRICT"),
            Statement::DropDatabase { name: "s".into(), if_exists: false, cascade: false }
        );
    }

    #[test]
    fn add_and_drop_partitions() {
        assert_eq!(
            ok("ALTER TABLE logs.Events ADD IF NOT EXISTS
                PARTITION (Year = 2024, month = '01') LOCATION 's3://b/events/2024/01/'
                PARTITION (year=2024, month='02') LOCATION 's3://b/events/2024/02/'"),
            Statement::AddPartitions {
                database: Some("logs".into()),
                name: "events".into(),
                if_not_exists: true,
                partitions: vec![
                    (
                        vec![("year".into(), "2024".into()), ("month".into(), "01".into())],
                        Some("s3://b/events/2024/01/".into())
                    ),
                    (
                        vec![("year".into(), "2024".into()), ("month".into(), "02".into())],
                        Some("s3://b/events/2024/02/".into())
                    ),
                ],
            }
        );
        assert_eq!(
            ok("ALTER TABLE t ADD PARTITION (dt='2024-01-01')"),
            Statement::AddPartitions {
                database: None,
                name: "t".into(),
                if_not_exists: false,
                partitions: vec![(vec![("dt".into(), "2024-01-01".into())], None)],
            }
        );
        assert_eq!(
            ok("ALTER TABLE t DROP IF EXISTS PARTITION (dt='2024-01-01', h=-1), PARTITION (dt = '2024-01-02', h=3);"),
            Statement::DropPartitions {
                database: None,
                name: "t".into(),
                if_exists: true,
                partitions: vec![
                    vec![("dt".into(), "2024-01-01".into()), ("h".into(), "-1".into())],
                    vec![("dt".into(), "2024-01-02".into()), ("h".into(), "3".into())],
                ],
            }
        );
        // Other ALTER TABLE forms are not handled here.
        assert_eq!(parse("ALTER TABLE t SET TBLPROPERTIES ('a'='b')"), Ok(None));
        assert_eq!(parse("ALTER TABLE t ADD COLUMNS (c int)"), Ok(None));
    }

    #[test]
    fn msck_show_describe() {
        assert_eq!(
            ok("MSCK REPAIR TABLE db.T"),
            Statement::MsckRepair { database: Some("db".into()), name: "t".into() }
        );
        assert_eq!(ok("SHOW DATABASES"), Statement::ShowDatabases { like: None });
        assert_eq!(ok("show schemas like 'sa.*'"), Statement::ShowDatabases { like: Some("sa.*".into()) });
        assert_eq!(ok("SHOW TABLES"), Statement::ShowTables { database: None, like: None });
        assert_eq!(
            ok("SHOW TABLES IN Sales 'ord*'"),
            Statement::ShowTables { database: Some("sales".into()), like: Some("ord*".into()) }
        );
        assert_eq!(
            ok("SHOW TABLES FROM sales LIKE 'x'"),
            Statement::ShowTables { database: Some("sales".into()), like: Some("x".into()) }
        );
        assert_eq!(
            ok("SHOW PARTITIONS db.logs"),
            Statement::ShowPartitions { database: Some("db".into()), name: "logs".into() }
        );
        assert_eq!(ok("SHOW CREATE TABLE `T`"), Statement::ShowCreateTable { database: None, name: "t".into() });
        assert_eq!(
            ok("SHOW COLUMNS IN db.t"),
            Statement::ShowColumns { database: Some("db".into()), name: "t".into() }
        );
        assert_eq!(
            ok("SHOW COLUMNS FROM t FROM db"),
            Statement::ShowColumns { database: Some("db".into()), name: "t".into() }
        );
        for sql in ["DESCRIBE db.t", "desc db.t", "DESCRIBE EXTENDED db.t", "DESCRIBE FORMATTED db.t;"] {
            assert_eq!(ok(sql), Statement::Describe { database: Some("db".into()), name: "t".into() }, "{sql}");
        }
        assert_eq!(ok("DESCRIBE extended"), Statement::Describe { database: None, name: "extended".into() });
        assert_eq!(parse("SHOW FUNCTIONS"), Ok(None));
        assert_eq!(parse("DESCRIBE OUTPUT my_statement"), Ok(None));
    }

    #[test]
    fn ctas() {
        let query = "SELECT a, b AS \"B\" , 'x;y' FROM src WHERE c > 1 -- keep\n  AND d = 'it''s'";
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS db.NewT WITH (format='PARQUET', External_Location = 's3://b/new/',
               partitioned_by = ARRAY['a', 'b'], write_compression='SNAPPY', bucket_count = 16,
               is_external = true, vacuum_min = -1, bucketed_by = ARRAY[])
             AS {query};"
        );
        let expected = Statement::Ctas {
            database: Some("db".into()),
            name: "newt".into(),
            if_not_exists: true,
            properties: [
                ("format".to_string(), PropValue::Str("PARQUET".into())),
                ("external_location".to_string(), PropValue::Str("s3://b/new/".into())),
                ("partitioned_by".to_string(), PropValue::Array(vec!["a".into(), "b".into()])),
                ("write_compression".to_string(), PropValue::Str("SNAPPY".into())),
                ("bucket_count".to_string(), PropValue::Num("16".into())),
                ("is_external".to_string(), PropValue::Bool(true)),
                ("vacuum_min".to_string(), PropValue::Num("-1".into())),
                ("bucketed_by".to_string(), PropValue::Array(vec![])),
            ]
            .into(),
            query: query.to_string(),
            with_data: true,
        };
        assert_eq!(ok(&sql), expected);

        assert_eq!(
            ok("CREATE TABLE t AS\n  WITH x AS (SELECT 1 AS a) SELECT * FROM x\n  WITH NO DATA"),
            Statement::Ctas {
                database: None,
                name: "t".into(),
                if_not_exists: false,
                properties: BTreeMap::new(),
                query: "WITH x AS (SELECT 1 AS a) SELECT * FROM x".into(),
                with_data: false,
            }
        );
        let Statement::Ctas { query, with_data, .. } = ok("create table t as (select 1) with data") else { panic!() };
        assert_eq!((query.as_str(), with_data), ("(select 1)", true));
        // A backslash in the query is Trino's: no escape.
        let Statement::Ctas { query, .. } = ok(r"CREATE TABLE t AS SELECT 'a\' AS s") else { panic!() };
        assert_eq!(query, r"SELECT 'a\' AS s");
    }

    #[test]
    fn views() {
        assert_eq!(
            ok("CREATE OR REPLACE VIEW db.V AS SELECT * FROM t WHERE x = 'A'"),
            Statement::CreateView {
                database: Some("db".into()),
                name: "v".into(),
                or_replace: true,
                query: "SELECT * FROM t WHERE x = 'A'".into(),
            }
        );
        assert_eq!(
            ok("create view v as with a as (select 1) select * from a;"),
            Statement::CreateView {
                database: None,
                name: "v".into(),
                or_replace: false,
                query: "with a as (select 1) select * from a".into(),
            }
        );
    }

    #[test]
    fn inserts() {
        assert_eq!(
            ok("INSERT INTO db.T (A, \"b\") SELECT x, y FROM s WHERE z IN (1, 2)"),
            Statement::InsertInto {
                database: Some("db".into()),
                name: "t".into(),
                columns: vec!["a".into(), "b".into()],
                query: "SELECT x, y FROM s WHERE z IN (1, 2)".into(),
            }
        );
        assert_eq!(
            ok("insert into t values (1, 'a'), (2, 'b');"),
            Statement::InsertInto {
                database: None,
                name: "t".into(),
                columns: vec![],
                query: "values (1, 'a'), (2, 'b')".into(),
            }
        );
        assert_eq!(
            ok("INSERT INTO t (SELECT 1)"),
            Statement::InsertInto { database: None, name: "t".into(), columns: vec![], query: "(SELECT 1)".into() }
        );
        assert_eq!(
            ok("INSERT INTO t (a) VALUES (1)"),
            Statement::InsertInto {
                database: None,
                name: "t".into(),
                columns: vec!["a".into()],
                query: "VALUES (1)".into(),
            }
        );
    }

    #[test]
    fn other_statements_are_not_ours() {
        for sql in [
            "SELECT * FROM t",
            "  select 1;",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "EXPLAIN SELECT 1",
            "VALUES (1, 2)",
            "(SELECT 1)",
            "-- comment\nSELECT 1",
            "",
            "DELETE FROM t WHERE a = 1",
            "CREATE FUNCTION f",
            "SHOW VIEWS",
        ] {
            assert_eq!(parse(sql), Ok(None), "{sql}");
        }
    }

    #[test]
    fn errors() {
        let e = err("CREATE EXTERNAL TABLE t (a int) STORED AS PARQUET");
        assert!(e.contains("Must specify LOCATION for external table"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a int) STORED AS CSV LOCATION 's3://b/'");
        assert!(e.starts_with("line 1:43: Unknown file format 'CSV'"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a int, b string LOCATION 's3://b/'");
        assert!(e.starts_with("line 1:42: mismatched input 'LOCATION'. Expecting: ','"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a int, b array<string)");
        assert!(e.contains("mismatched input ')'. Expecting: '>'"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a int, b string");
        assert!(e.contains("unbalanced parentheses"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a map<string,int");
        assert!(e.contains("unbalanced angle brackets"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a int)) LOCATION 's3://b/'");
        assert!(e.starts_with("line 1:32: mismatched input ')'"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/'");
        assert!(e.starts_with("missing column list: line 1:25: mismatched input 'STORED'"), "{e}");
        let e = err("CREATE TABLE t");
        assert!(e.contains("missing column list") && e.contains("'<EOF>'"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t ()");
        assert!(e.contains("empty column list"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a foo) LOCATION 's3://b/'");
        assert!(e.contains("1:28: Unknown type 'foo'"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a int, A string) LOCATION 's3://b/'");
        assert!(e.contains("Duplicate column name: a"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a int) PARTITIONED BY (a string) LOCATION 's3://b/'");
        assert!(e.contains("Column repeated in partitioning columns"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/");
        assert!(e.contains("unterminated string literal"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a varchar) LOCATION 's3://b/'");
        assert!(e.contains("varchar needs a length"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/' LOCATION 's3://c/'");
        assert!(e.contains("duplicate LOCATION clause"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t AS SELECT 1");
        assert!(e.contains("not supported"), "{e}");
        let e = err("CREATE TABLE t WITH (format = 'PARQUET' AS SELECT 1");
        assert!(e.contains("mismatched input 'AS'"), "{e}");
        let e = err("CREATE TABLE t AS SELECT (1");
        assert!(e.contains("unbalanced"), "{e}");
        let e = err("CREATE TABLE t AS");
        assert!(e.contains("'<EOF>'"), "{e}");
        let e = err("CREATE VIEW v AS DROP TABLE x");
        assert!(e.contains("mismatched input 'DROP'"), "{e}");
        let e = err("INSERT INTO t SELECT 1; SELECT 2");
        assert!(e.contains("only one statement"), "{e}");
        let e = err("ALTER TABLE t ADD PARTITION (dt='1' LOCATION 's3://x/'");
        assert!(e.contains("mismatched input 'LOCATION'"), "{e}");
        let e = err("ALTER TABLE t DROP PARTITION (dt='1', dt='2')");
        assert!(e.contains("given twice"), "{e}");
        let e = err("MSCK TABLE t");
        assert!(e.starts_with("line 1:6: mismatched input 'TABLE'. Expecting: 'REPAIR'"), "{e}");
        let e = err("DROP TABLE a.b.c");
        assert!(e.contains("too many dots"), "{e}");
        let e = err("SHOW PARTITIONS");
        assert!(e.contains("'<EOF>'"), "{e}");
        let e = err("DESCRIBE t PARTITION (dt='1')");
        assert!(e.contains("not supported"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (a int) /* unterminated");
        assert!(e.contains("unterminated comment"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t (\n  a int,\n  b strin\n) LOCATION 's3://b/'");
        assert!(e.starts_with("line 3:5: Unknown type 'strin'"), "{e}");
    }
}
