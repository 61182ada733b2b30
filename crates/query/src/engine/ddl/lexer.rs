//! The tokens of a DDL statement: [`Lexer`] cuts a statement into words, quoted identifiers,
//! string literals, numbers and symbols, skipping whitespace and comments;
//! [`hive_unescape`] reads Hive's backslash escapes in string literals.

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    /// Byte offsets into the statement.
    pub(super) start: usize,
    pub(super) end: usize,
}

/// `line L:C` (1-based) of a byte offset.
pub(super) fn line_col(src: &str, offset: usize) -> String {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}:{col}")
}

pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Hive's string literals: a backslash escapes the next character (so `'\''` is one quote).
    hive: bool,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a str, pos: usize, hive: bool) -> Self {
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

    pub(super) fn next(&mut self) -> Result<Token, String> {
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
pub(super) fn hive_unescape(s: &str) -> String {
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
