//! The statement grammar: [`Parser`] with its token helpers and the rules of CREATE, DROP,
//! ALTER, MSCK, SHOW, DESCRIBE and INSERT (a CTAS's properties included). A Hive table's
//! column list and storage clauses are read in `glue`.

use std::collections::{BTreeMap, VecDeque};

use super::lexer::{Lexer, Tok, Token, hive_unescape, line_col};
use super::{PartitionSpec, PropValue, Statement};

/// One statement's parser: tokens from a Hive-mode [`Lexer`], with as much look-ahead as a
/// rule needs.
pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    lexer: Lexer<'a>,
    ahead: VecDeque<Token>,
    /// PostgreSQL's forms too (the PostgreSQL wire): three-part names, PostgreSQL's type names,
    /// TEMPORARY tables, ALTER ... RENAME TO, DROP ... CASCADE.
    pub(super) postgres: bool,
    /// The first parts of the three-part names read (`db.schema.relation`), for the caller to
    /// check against the connection's database.
    pub(super) catalogs: Vec<String>,
}

/// Words that start a query (the verbatim tail of a CTAS, a view or an INSERT).
const QUERY_STARTS: [&str; 4] = ["SELECT", "WITH", "VALUES", "TABLE"];

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Self { src, lexer: Lexer::new(src, 0, true), ahead: VecDeque::new(), postgres: false, catalogs: Vec::new() }
    }

    // --- token access -------------------------------------------------------------------------

    fn peek_at(&mut self, n: usize) -> Result<&Token, String> {
        while self.ahead.len() <= n {
            let t = self.lexer.next()?;
            self.ahead.push_back(t);
        }
        Ok(&self.ahead[n])
    }

    pub(super) fn peek(&mut self) -> Result<&Token, String> {
        self.peek_at(0)
    }

    pub(super) fn advance(&mut self) -> Result<Token, String> {
        match self.ahead.pop_front() {
            Some(t) => Ok(t),
            None => self.lexer.next(),
        }
    }

    pub(super) fn at_kw_n(&mut self, n: usize, kw: &str) -> Result<bool, String> {
        Ok(matches!(&self.peek_at(n)?.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw)))
    }

    pub(super) fn at_kw(&mut self, kw: &str) -> Result<bool, String> {
        self.at_kw_n(0, kw)
    }

    pub(super) fn eat_kw(&mut self, kw: &str) -> Result<bool, String> {
        let yes = self.at_kw(kw)?;
        if yes {
            self.advance()?;
        }
        Ok(yes)
    }

    pub(super) fn expect_kw(&mut self, kw: &str) -> Result<(), String> {
        if self.eat_kw(kw)? {
            return Ok(());
        }
        let t = self.advance()?;
        Err(self.mismatched(&t, &[&format!("'{kw}'")]))
    }

    fn at_sym_n(&mut self, n: usize, c: char) -> Result<bool, String> {
        Ok(self.peek_at(n)?.tok == Tok::Sym(c))
    }

    pub(super) fn at_sym(&mut self, c: char) -> Result<bool, String> {
        self.at_sym_n(0, c)
    }

    pub(super) fn eat_sym(&mut self, c: char) -> Result<bool, String> {
        let yes = self.at_sym(c)?;
        if yes {
            self.advance()?;
        }
        Ok(yes)
    }

    pub(super) fn expect_sym(&mut self, c: char) -> Result<(), String> {
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

    pub(super) fn mismatched(&self, t: &Token, expecting: &[&str]) -> String {
        format!(
            "{}: mismatched input '{}'. Expecting: {}",
            line_col(self.src, t.start),
            self.text(t),
            expecting.join(", ")
        )
    }

    pub(super) fn error_at(&self, t: &Token, msg: &str) -> String {
        format!("{}: {msg}", line_col(self.src, t.start))
    }

    // --- pieces -------------------------------------------------------------------------------

    /// A string literal, Hive-unescaped.
    pub(super) fn string(&mut self, what: &str) -> Result<String, String> {
        let t = self.advance()?;
        match t.tok {
            Tok::Str(s) => Ok(hive_unescape(&s)),
            _ => Err(self.mismatched(&t, &[what])),
        }
    }

    /// An identifier, lower-cased.
    pub(super) fn ident(&mut self, what: &str) -> Result<String, String> {
        let t = self.advance()?;
        match &t.tok {
            Tok::Word(w) => Ok(w.to_lowercase()),
            Tok::Quoted(q) if q.is_empty() => Err(self.error_at(&t, "zero-length delimited identifier")),
            Tok::Quoted(q) => Ok(q.to_lowercase()),
            _ => Err(self.mismatched(&t, &[what])),
        }
    }

    /// `[db.]name`, lower-cased (PostgreSQL: `[[catalog.]db.]name`, the catalog kept in
    /// `catalogs`).
    pub(super) fn qualified(&mut self, what: &str) -> Result<(Option<String>, String), String> {
        let first = self.ident(what)?;
        if self.eat_sym('.')? {
            let second = self.ident(what)?;
            if self.postgres && self.eat_sym('.')? {
                let third = self.ident(what)?;
                self.catalogs.push(first);
                if self.at_sym('.')? {
                    let t = self.advance()?;
                    return Err(self.error_at(&t, &format!("too many dots in {what}: expecting [database.]name")));
                }
                return Ok((Some(second), third));
            }
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
    pub(super) fn end(&mut self, expecting: &[&str]) -> Result<(), String> {
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
    pub(super) fn string_map(&mut self) -> Result<BTreeMap<String, String>, String> {
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
    /// `(a, b, ...)`, lower-cased.
    pub(super) fn name_list(&mut self, what: &str) -> Result<Vec<String>, String> {
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

    pub(super) fn statement(&mut self) -> Result<Option<Statement>, String> {
        let Tok::Word(w) = &self.peek()?.tok else { return Ok(None) };
        let stmt = match w.to_ascii_uppercase().as_str() {
            "CREATE" => self.create()?,
            "DROP" => self.drop()?,
            "ALTER" => self.alter()?,
            "MSCK" => Some(self.msck()?),
            "SHOW" => self.show()?,
            "DESCRIBE" | "DESC" => self.describe()?,
            "INSERT" => self.insert()?,
            "UNLOAD" => Some(self.unload()?),
            "COPY" => self.copy_from()?,
            "TRUNCATE" if self.postgres => Some(self.truncate()?),
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
        if self.at_kw("EXTERNAL")? && self.at_kw_n(1, "SCHEMA")? {
            self.advance()?;
            self.advance()?;
            return self.create_external_schema().map(Some);
        }
        if self.at_kw("EXTERNAL")? && self.at_kw_n(1, "TABLE")? {
            self.advance()?;
            self.advance()?;
            return self.create_table(true).map(Some);
        }
        if self.eat_kw("TABLE")? {
            return self.create_table(false).map(Some);
        }
        if self.postgres && (self.at_kw("TEMP")? || self.at_kw("TEMPORARY")? || self.at_kw("UNLOGGED")?) {
            let temporary = !self.at_kw("UNLOGGED")?;
            self.advance()?;
            self.expect_kw("TABLE")?;
            return match self.create_table(false)? {
                Statement::CreateTable { database, table, if_not_exists, .. } => {
                    Ok(Some(Statement::CreateTable { database, table, if_not_exists, temporary }))
                }
                Statement::Ctas { database, name, if_not_exists, properties, query, with_data, .. } => {
                    Ok(Some(Statement::Ctas { database, name, if_not_exists, properties, query, with_data, temporary }))
                }
                other => Ok(Some(other)),
            };
        }
        Ok(None)
    }

    /// Redshift's COPY from S3 (COPY ... TO STDOUT and FROM STDIN are the PostgreSQL wire's).
    fn copy_from(&mut self) -> Result<Option<Statement>, String> {
        self.advance()?; // COPY
        let (database, name) = self.qualified("table name")?;
        let mut columns = Vec::new();
        if self.eat_sym('(')? {
            loop {
                columns.push(self.ident("column name")?);
                if !self.eat_sym(',')? {
                    break;
                }
            }
            self.expect_sym(')')?;
        }
        if !self.eat_kw("FROM")? {
            return Ok(None);
        }
        if !matches!(self.peek()?.tok, super::lexer::Tok::Str(_)) {
            return Ok(None);
        }
        let from = self.string("s3:// location")?;
        let mut c =
            super::CopyFrom { database, name, columns, from, format: "csv".into(), ..super::CopyFrom::default() };
        let mut explicit_csv = false;
        const CLAUSES: [&str; 5] = ["'IAM_ROLE'", "'FORMAT'", "'CSV'", "'IGNOREHEADER'", "'DELIMITER'"];
        loop {
            let t = self.peek()?.clone();
            if self.eat_kw("IAM_ROLE")? {
                if !self.eat_kw("DEFAULT")? {
                    self.string("IAM role")?;
                }
            } else if self.eat_kw("REGION")? {
                self.eat_kw("AS")?;
                self.string("region")?;
            } else if self.eat_kw("FORMAT")? {
                self.eat_kw("AS")?;
            } else if self.eat_kw("CSV")? {
                c.format = "csv".into();
                explicit_csv = true;
            } else if self.eat_kw("PARQUET")? {
                c.format = "parquet".into();
            } else if self.eat_kw("JSON")? {
                c.format = "json".into();
                if matches!(self.peek()?.tok, super::lexer::Tok::Str(_)) {
                    let how = self.string("'auto'")?;
                    if !how.eq_ignore_ascii_case("auto") && !how.eq_ignore_ascii_case("auto ignorecase") {
                        return Err(self.error_at(&t, "JSON COPY takes 'auto' (JSONPaths files are not supported)"));
                    }
                }
            } else if self.eat_kw("GZIP")? {
                c.compression = Some("gzip".into());
            } else if self.eat_kw("BZIP2")? {
                c.compression = Some("bzip2".into());
            } else if self.eat_kw("ZSTD")? {
                c.compression = Some("zstd".into());
            } else if self.eat_kw("IGNOREHEADER")? {
                self.eat_kw("AS")?;
                let n = self.advance()?;
                c.ignore_header =
                    self.text(&n).parse().map_err(|_| self.error_at(&n, "IGNOREHEADER takes a number"))?;
            } else if self.eat_kw("DELIMITER")? {
                self.eat_kw("AS")?;
                c.delimiter = Some(self.string("delimiter")?);
            } else if self.at_kw("MANIFEST")?
                || self.at_kw("AVRO")?
                || self.at_kw("ORC")?
                || self.at_kw("FIXEDWIDTH")?
                || self.at_kw("JSONPATHS")?
            {
                let t = self.advance()?;
                return Err(self.error_at(&t, &format!("COPY option {} is not supported", self.text(&t))));
            } else if self.eat_kw("ACCEPTINVCHARS")?
                || self.eat_kw("TRUNCATECOLUMNS")?
                || self.eat_kw("BLANKSASNULL")?
                || self.eat_kw("EMPTYASNULL")?
                || self.eat_kw("COMPUPDATE")?
                || self.eat_kw("STATUPDATE")?
            {
                let _ = self.eat_kw("ON")? || self.eat_kw("OFF")? || self.eat_kw("TRUE")? || self.eat_kw("FALSE")?;
            } else {
                self.end(&CLAUSES)?;
                break;
            }
        }
        // without CSV, Redshift's text is pipe-delimited
        if c.format == "csv" && c.delimiter.is_none() && !explicit_csv {
            c.delimiter = Some("|".into());
        }
        Ok(Some(Statement::CopyFrom(c)))
    }

    fn unload(&mut self) -> Result<Statement, String> {
        self.advance()?; // UNLOAD
        self.expect_sym('(')?;
        let query = self.string("the query, quoted (Redshift's UNLOAD ('select ...'))")?;
        self.expect_sym(')')?;
        self.expect_kw("TO")?;
        let to = self.string("s3:// location")?;
        let mut u = super::Unload { query, to, format: "text".into(), parallel: true, ..super::Unload::default() };
        const CLAUSES: [&str; 6] = ["'IAM_ROLE'", "'FORMAT'", "'PARTITION'", "'HEADER'", "'DELIMITER'", "'PARALLEL'"];
        loop {
            let t = self.peek()?.clone();
            if self.eat_kw("IAM_ROLE")? {
                // statements run as the session's caller; the role is not assumed
                if !self.eat_kw("DEFAULT")? {
                    self.string("IAM role")?;
                }
            } else if self.eat_kw("REGION")? || self.eat_kw("EXTENSION")? {
                self.eat_kw("AS")?;
                self.string("value")?;
            } else if self.eat_kw("FORMAT")? {
                self.eat_kw("AS")?;
                let f = self.ident("format")?;
                if !matches!(f.as_str(), "parquet" | "csv" | "json") {
                    return Err(self.error_at(&t, &format!("UNLOAD format {f} is not supported: PARQUET, CSV or JSON")));
                }
                u.format = f;
            } else if self.eat_kw("CSV")? {
                u.format = "csv".into();
            } else if self.eat_kw("PARQUET")? {
                u.format = "parquet".into();
            } else if self.eat_kw("JSON")? {
                u.format = "json".into();
            } else if self.eat_kw("PARTITION")? {
                self.expect_kw("BY")?;
                self.expect_sym('(')?;
                loop {
                    u.partition_by.push(self.ident("partition column")?);
                    if !self.eat_sym(',')? {
                        break;
                    }
                }
                self.expect_sym(')')?;
                u.include = self.eat_kw("INCLUDE")?;
            } else if self.eat_kw("HEADER")? {
                u.header = true;
            } else if self.eat_kw("DELIMITER")? {
                self.eat_kw("AS")?;
                u.delimiter = Some(self.string("delimiter")?);
            } else if self.eat_kw("GZIP")? {
                u.gzip = true;
            } else if self.eat_kw("PARALLEL")? {
                u.parallel = !(self.eat_kw("OFF")? || self.eat_kw("FALSE")?);
                let _ = self.eat_kw("ON")? || self.eat_kw("TRUE")?;
            } else if self.eat_kw("ALLOWOVERWRITE")? || self.eat_kw("CLEANPATH")? {
                u.allow_overwrite = true;
            } else if self.eat_kw("MANIFEST")? {
                self.eat_kw("VERBOSE")?;
                u.manifest = true;
            } else if self.eat_kw("MAXFILESIZE")? || self.eat_kw("ROWGROUPSIZE")? {
                self.eat_kw("AS")?;
                self.advance()?; // the size
                let _ = self.eat_kw("MB")? || self.eat_kw("GB")?;
            } else if self.at_kw("ENCRYPTED")?
                || self.at_kw("BZIP2")?
                || self.at_kw("ZSTD")?
                || self.at_kw("FIXEDWIDTH")?
            {
                let t = self.advance()?;
                return Err(self.error_at(&t, &format!("UNLOAD option {} is not supported", self.text(&t))));
            } else {
                self.end(&CLAUSES)?;
                break;
            }
        }
        if u.format == "text" {
            // Redshift's default: pipe-delimited text, which is CSV without quoting needs
            u.format = "csv".into();
            u.delimiter.get_or_insert_with(|| "|".into());
        }
        if u.header && u.format != "csv" {
            return Err("HEADER is only for CSV and text UNLOADs".into());
        }
        Ok(Statement::Unload(u))
    }

    fn create_external_schema(&mut self) -> Result<Statement, String> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.ident("schema name")?;
        self.expect_kw("FROM")?;
        if self.eat_kw("DATA")? {
            self.expect_kw("CATALOG")?;
        } else if !self.at_kw("DATABASE")? {
            let t = self.advance()?;
            return Err(self.error_at(
                &t,
                "tarn's external schemas come FROM DATA CATALOG (the Glue catalog); Hive metastores, federated \
                 databases and streams are not supported",
            ));
        }
        self.expect_kw("DATABASE")?;
        let database = self.string("database name")?.to_lowercase();
        let mut create_database = false;
        const CLAUSES: [&str; 4] =
            ["'REGION'", "'IAM_ROLE'", "'CATALOG_ROLE'", "'CREATE EXTERNAL DATABASE IF NOT EXISTS'"];
        loop {
            if self.eat_kw("REGION")? || self.eat_kw("CATALOG_ROLE")? || self.eat_kw("SCHEMA")? {
                self.string("value")?;
            } else if self.eat_kw("IAM_ROLE")? {
                // 'arn:...', 'SESSION' or DEFAULT: the statements run as the session's caller
                if !self.eat_kw("DEFAULT")? {
                    self.string("IAM role")?;
                }
            } else if self.eat_kw("CREATE")? {
                self.expect_kw("EXTERNAL")?;
                self.expect_kw("DATABASE")?;
                self.expect_kw("IF")?;
                self.expect_kw("NOT")?;
                self.expect_kw("EXISTS")?;
                create_database = true;
            } else {
                self.end(&CLAUSES)?;
                break;
            }
        }
        Ok(Statement::CreateExternalSchema { name, if_not_exists, database, create_database })
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
            return Ok(Statement::CreateTable { database, table, if_not_exists, temporary: false });
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
        Ok(Statement::Ctas { database, name, if_not_exists, properties, query, with_data, temporary: false })
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
    fn drop(&mut self) -> Result<Option<Statement>, String> {
        self.advance()?; // DROP
        if self.eat_kw("TABLE")? {
            let if_exists = self.if_exists()?;
            let (database, name) = self.qualified("table name")?;
            self.cascade_or_restrict()?;
            return Ok(Some(Statement::DropTable { database, name, if_exists }));
        }
        if self.eat_kw("VIEW")? {
            let if_exists = self.if_exists()?;
            let (database, name) = self.qualified("view name")?;
            self.cascade_or_restrict()?;
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

    /// PostgreSQL's `TRUNCATE [TABLE] [ONLY] t [CASCADE | RESTRICT]`.
    fn truncate(&mut self) -> Result<Statement, String> {
        self.advance()?; // TRUNCATE
        self.eat_kw("TABLE")?;
        self.eat_kw("ONLY")?;
        let (database, name) = self.qualified("table name")?;
        if self.at_sym(',')? {
            let t = self.advance()?;
            return Err(self.error_at(&t, "TRUNCATE takes one table at a time"));
        }
        self.cascade_or_restrict()?;
        Ok(Statement::Truncate { database, name })
    }

    /// PostgreSQL's `CASCADE | RESTRICT` after `DROP TABLE|VIEW t` (Glue records no
    /// dependencies, so both drop the one relation), then the end.
    fn cascade_or_restrict(&mut self) -> Result<(), String> {
        if self.postgres && !self.eat_kw("CASCADE")? {
            self.eat_kw("RESTRICT")?;
        }
        self.end(if self.postgres { &["'CASCADE'", "'RESTRICT'"] } else { &[] })
    }

    fn alter(&mut self) -> Result<Option<Statement>, String> {
        self.advance()?; // ALTER
        let view = self.postgres && self.at_kw("VIEW")?;
        if !(self.eat_kw("TABLE")? || view && self.eat_kw("VIEW")?) {
            return Ok(None);
        }
        let (database, name) = self.qualified("table name")?;
        if self.postgres && self.at_kw("RENAME")? && self.at_kw_n(1, "TO")? {
            self.advance()?;
            self.advance()?;
            let to = self.ident("new name")?;
            if self.at_sym('.')? {
                let t = self.advance()?;
                return Err(self.error_at(&t, "the new name cannot be qualified: a relation stays in its schema"));
            }
            self.end(&[])?;
            return Ok(Some(Statement::RenameTable { database, name, to }));
        }
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
