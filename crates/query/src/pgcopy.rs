//! `COPY ... TO STDOUT` on the PostgreSQL wire: a query's (or a table's) rows exported in
//! PostgreSQL's text or CSV format, as psql's `\copy`, psycopg's `cursor.copy()` and psycopg2's
//! `copy_expert` read them. Rows stream batch by batch (one CopyData message a row).
//! COPY FROM, binary COPY and COPY to a server file are refused with 0A000.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// A `COPY ... TO STDOUT` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOut {
    /// The query whose rows are copied (a table's `SELECT`).
    pub query: String,
    pub csv: bool,
    pub header: bool,
    pub delimiter: char,
    pub null: String,
    pub quote: char,
    pub escape: char,
}

/// Why a COPY is refused: its SQLSTATE and message.
pub type Refusal = (&'static str, String);

fn unsupported(message: impl Into<String>) -> Refusal {
    ("0A000", message.into())
}

fn syntax(message: impl Into<String>) -> Refusal {
    ("42601", message.into())
}

/// Recognizes a COPY statement; `None` for any other.
#[must_use]
pub fn parse(sql: &str) -> Option<Result<CopyOut, Refusal>> {
    let sql = sql.trim().trim_end_matches(';').trim();
    let head = sql.get(..4)?;
    if !head.eq_ignore_ascii_case("copy") || !sql[4..].starts_with(|c: char| c.is_whitespace() || c == '(') {
        return None;
    }
    // Redshift's COPY t FROM 's3://...' loads from S3: the engine's statement
    let lower = sql.to_ascii_lowercase();
    if let Some(at) = lower.find(" from ")
        && lower[at + 6..].trim_start().starts_with('\'')
    {
        return None;
    }
    Some(parse_copy(sql[4..].trim_start()))
}

/// The end of the parenthesized text `s` starts with (the index of its `)`), skipping quotes.
fn closing_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_copy(rest: &str) -> Result<CopyOut, Refusal> {
    // the source: (query), or table [(columns)]
    let (query, rest) = if rest.starts_with('(') {
        let end = closing_paren(rest).ok_or_else(|| syntax("COPY (query): unbalanced parentheses"))?;
        (rest[1..end].trim().to_string(), &rest[end + 1..])
    } else {
        let end = rest.find(|c: char| c.is_whitespace() || c == '(').unwrap_or(rest.len());
        let table = &rest[..end];
        let mut after = rest[end..].trim_start();
        let mut columns = "*".to_string();
        if after.starts_with('(') {
            let close = closing_paren(after).ok_or_else(|| syntax("COPY table (columns): unbalanced parentheses"))?;
            columns = after[1..close].trim().to_string();
            after = &after[close + 1..];
        }
        if table.is_empty() {
            return Err(syntax("COPY needs a table or a (query)"));
        }
        (format!("SELECT {columns} FROM {table}"), after)
    };
    let mut words = Words::new(rest);
    match words.next_lower().as_deref() {
        Some("to") => {}
        Some("from") => {
            return Err(unsupported(
                "COPY FROM is not supported over the PostgreSQL wire: write data with INSERT, CTAS or \
                 into the table's S3 location",
            ));
        }
        _ => return Err(syntax("COPY needs TO STDOUT")),
    }
    match words.next_lower().as_deref() {
        Some("stdout") => {}
        Some("program") | Some(_) => {
            return Err(unsupported("COPY to a server file or program is not supported: use COPY ... TO STDOUT"));
        }
        None => return Err(syntax("COPY needs TO STDOUT")),
    }
    let mut copy =
        CopyOut { query, csv: false, header: false, delimiter: '\t', null: "\\N".into(), quote: '"', escape: '"' };
    let (mut delimiter, mut null, mut escape) = (None, None, None);
    let mut options = words.rest().trim();
    if options.len() >= 4 && options[..4].eq_ignore_ascii_case("with") {
        options = options[4..].trim_start();
    }
    let mut set = |name: &str, value: Option<String>| -> Result<(), Refusal> {
        let one_char = |v: &Option<String>, what: &str| -> Result<char, Refusal> {
            let v = v.as_deref().unwrap_or_default();
            let mut chars = v.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(syntax(format!("COPY {what} must be a single one-byte character"))),
            }
        };
        match name {
            "format" => match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("text") => copy.csv = false,
                Some("csv") => copy.csv = true,
                Some("binary") => return Err(unsupported("COPY in binary format is not supported: use text or csv")),
                other => return Err(syntax(format!("COPY format \"{}\" not recognized", other.unwrap_or_default()))),
            },
            "csv" => copy.csv = true,
            "binary" => return Err(unsupported("COPY in binary format is not supported: use text or csv")),
            "header" => {
                copy.header = match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("true" | "on" | "1") => true,
                    Some("false" | "off" | "0") => false,
                    Some(v) => return Err(syntax(format!("header requires a Boolean value, not \"{v}\""))),
                }
            }
            "delimiter" => delimiter = Some(one_char(&value, "delimiter")?),
            "null" => null = Some(value.unwrap_or_default()),
            "quote" => copy.quote = one_char(&value, "quote")?,
            "escape" => escape = Some(one_char(&value, "escape")?),
            "encoding"
                if value
                    .as_deref()
                    .is_some_and(|v| v.eq_ignore_ascii_case("utf8") || v.eq_ignore_ascii_case("utf-8")) => {}
            "encoding" => return Err(unsupported("COPY writes UTF8 only")),
            other => return Err(syntax(format!("option \"{other}\" not recognized"))),
        }
        Ok(())
    };
    if let Some(list) = options.strip_prefix('(') {
        // PostgreSQL's option list: (name [value], ...)
        let end = list.rfind(')').ok_or_else(|| syntax("COPY options: missing )"))?;
        for option in split_options(&list[..end]) {
            let mut w = Words::new(&option);
            let Some(name) = w.next_lower() else { continue };
            let value = w.next_value();
            set(&name, value)?;
        }
    } else {
        // the older form: [BINARY] [DELIMITER [AS] 'c'] [NULL [AS] 's'] [CSV [HEADER] [QUOTE [AS] 'q'] ...]
        let mut w = Words::new(options);
        while let Some(name) = w.next_lower() {
            match name.as_str() {
                "delimiter" | "null" | "quote" | "escape" | "encoding" => {
                    w.skip_word("as");
                    let value = w.next_value();
                    set(&name, value)?;
                }
                "csv" | "binary" | "header" => set(&name, None)?,
                other => set(other, None)?,
            }
        }
    }
    copy.delimiter = delimiter.unwrap_or(if copy.csv { ',' } else { '\t' });
    copy.null = null.unwrap_or_else(|| if copy.csv { String::new() } else { "\\N".into() });
    copy.escape = escape.unwrap_or(copy.quote);
    Ok(copy)
}

/// Options split at commas outside quotes.
fn split_options(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in list.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out.into_iter().filter(|o| !o.trim().is_empty()).collect()
}

/// Words and quoted values of COPY's options.
struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    fn new(s: &'a str) -> Self {
        Self { rest: s }
    }

    fn rest(&self) -> &'a str {
        self.rest
    }

    fn next_raw(&mut self) -> Option<String> {
        let s = self.rest.trim_start();
        if s.is_empty() {
            return None;
        }
        if let Some(body) = s.strip_prefix('\'').or_else(|| s.strip_prefix("E'")) {
            // a string constant ('' is a quote; E'...' knows \t and \\)
            let escaped = s.starts_with("E'");
            let mut value = String::new();
            let mut chars = body.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\'' if chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                        value.push('\'');
                        chars.next();
                    }
                    '\'' => {
                        self.rest = &body[i + 1..];
                        return Some(value);
                    }
                    '\\' if escaped => match chars.next().map(|(_, n)| n) {
                        Some('t') => value.push('\t'),
                        Some('n') => value.push('\n'),
                        Some(n) => value.push(n),
                        None => {}
                    },
                    c => value.push(c),
                }
            }
            self.rest = "";
            return Some(value);
        }
        let end = s.find(|c: char| c.is_whitespace() || c == ',').unwrap_or(s.len());
        self.rest = &s[end..];
        Some(s[..end].to_string())
    }

    fn next_lower(&mut self) -> Option<String> {
        self.next_raw().map(|w| w.to_ascii_lowercase())
    }

    fn next_value(&mut self) -> Option<String> {
        self.next_raw()
    }

    fn skip_word(&mut self, word: &str) {
        let s = self.rest.trim_start();
        if s.len() > word.len()
            && s[..word.len()].eq_ignore_ascii_case(word)
            && s[word.len()..].starts_with(char::is_whitespace)
        {
            self.rest = &s[word.len()..];
        }
    }
}

impl CopyOut {
    /// The header line (column names), when asked for.
    #[must_use]
    pub fn header_line(&self, names: &[String]) -> Option<String> {
        if !self.header {
            return None;
        }
        let fields: Vec<String> = names.iter().map(|n| self.field(n)).collect();
        Some(fields.join(&self.delimiter.to_string()) + "\n")
    }

    /// One value in the format's escaping.
    fn field(&self, value: &str) -> String {
        if self.csv {
            let needs_quotes = value.is_empty() && self.null.is_empty()
                || value == self.null
                || value.contains([self.delimiter, self.quote, '\n', '\r']);
            if !needs_quotes {
                return value.to_string();
            }
            let mut out = String::with_capacity(value.len() + 2);
            out.push(self.quote);
            for c in value.chars() {
                if c == self.quote || c == self.escape {
                    out.push(self.escape);
                }
                out.push(c);
            }
            out.push(self.quote);
            out
        } else {
            let mut out = String::with_capacity(value.len());
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' if self.delimiter == '\t' => out.push_str("\\t"),
                    c if c == self.delimiter => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out
        }
    }

    /// A batch's rows, one line each.
    pub fn lines(&self, batch: &RecordBatch) -> Result<Vec<String>, datafusion::arrow::error::ArrowError> {
        let options = FormatOptions::default().with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"));
        let formatters: Vec<ArrayFormatter> =
            batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options)).collect::<Result<_, _>>()?;
        let mut lines = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let mut line = String::new();
            for (i, column) in batch.columns().iter().enumerate() {
                if i > 0 {
                    line.push(self.delimiter);
                }
                if column.is_null(row) || column.data_type() == &DataType::Null {
                    line.push_str(&self.null);
                    continue;
                }
                let value = match column.data_type() {
                    // PostgreSQL's text forms of booleans and bytes
                    DataType::Boolean => (if column.as_boolean().value(row) { "t" } else { "f" }).to_string(),
                    DataType::Binary => format!("\\x{}", hex::encode(column.as_binary::<i32>().value(row))),
                    DataType::LargeBinary => format!("\\x{}", hex::encode(column.as_binary::<i64>().value(row))),
                    _ => formatters[i].value(row).to_string(),
                };
                line.push_str(&self.field(&value));
            }
            line.push('\n');
            lines.push(line);
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(sql: &str) -> CopyOut {
        parse(sql).expect("a COPY").expect("accepted")
    }

    #[test]
    fn statements() {
        let c = ok("COPY (SELECT a, ')' FROM t) TO STDOUT");
        assert_eq!(c.query, "SELECT a, ')' FROM t");
        assert!(!c.csv && !c.header && c.delimiter == '\t' && c.null == "\\N");
        let c = ok("copy t (a, b) to stdout with (format csv, header true, delimiter ';', null 'NA')");
        assert_eq!(c.query, "SELECT a, b FROM t");
        assert!(c.csv && c.header && c.delimiter == ';' && c.null == "NA");
        let c = ok("COPY db.t TO STDOUT WITH CSV HEADER QUOTE AS '''' DELIMITER AS '|'");
        assert_eq!(c.query, "SELECT * FROM db.t");
        assert!(c.csv && c.header && c.quote == '\'' && c.delimiter == '|' && c.null.is_empty());
        assert_eq!(parse("COPY t FROM STDIN").unwrap().unwrap_err().0, "0A000");
        assert_eq!(parse("COPY t TO '/tmp/x'").unwrap().unwrap_err().0, "0A000");
        assert_eq!(parse("COPY t TO STDOUT (FORMAT binary)").unwrap().unwrap_err().0, "0A000");
        assert_eq!(parse("COPY t TO STDOUT (bogus 1)").unwrap().unwrap_err().0, "42601");
        assert!(parse("SELECT 1").is_none() && parse("copyright").is_none());
    }

    #[test]
    fn escaping() {
        let text = ok("COPY t TO STDOUT");
        assert_eq!(text.field("a\tb\\c\nd"), "a\\tb\\\\c\\nd");
        let csv = ok("COPY t TO STDOUT (FORMAT csv)");
        assert_eq!(csv.field("plain"), "plain");
        assert_eq!(csv.field("a,b"), "\"a,b\"");
        assert_eq!(csv.field("say \"hi\""), "\"say \"\"hi\"\"\"");
        // an empty string is quoted, so it differs from NULL (nothing)
        assert_eq!(csv.field(""), "\"\"");
        assert_eq!(csv.header_line(&["a".into()]), None);
        let header = ok("COPY t TO STDOUT (FORMAT csv, HEADER)");
        assert_eq!(header.header_line(&["a".into(), "b,c".into()]).as_deref(), Some("a,\"b,c\"\n"));
    }
}
