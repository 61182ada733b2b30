//! Matching as IAM does it: `*` (any run of characters) and `?` (one character) wildcards,
//! policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'none'}`, and `${*}`,
//! `${?}`, `${$}` for the characters themselves), and ARNs compared segment by segment
//! ("IAM policy elements: Variables and tags", "IAM JSON policy elements: Resource").

use super::context::Keys;

/// One unit of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Char(char),
    /// Any run of characters (`*`).
    Any,
    /// One character (`?`).
    One,
}

/// A pattern with its variables resolved: literal characters and wildcards, the shape most
/// patterns have (matched without the wildcard walk), and whether, as an ARN, its first five
/// parts are literal (see [`literal_arn_head`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(Vec<Tok>, Shape, bool);

/// `s3:GetObject` (no wildcard), `arn:aws:s3:::bucket/*` (one trailing `*`), or anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Literal(String),
    Prefix(String),
    General,
}

impl Pattern {
    fn new(toks: Vec<Tok>) -> Self {
        let chars = |t: &[Tok]| -> Option<String> {
            t.iter().map(|t| if let Tok::Char(c) = t { Some(*c) } else { None }).collect()
        };
        let shape = match toks.split_last() {
            Some((Tok::Any, head)) => chars(head).map_or(Shape::General, Shape::Prefix),
            _ => chars(&toks).map_or(Shape::General, Shape::Literal),
        };
        let head = literal_arn_head(&toks);
        Self(toks, shape, head)
    }
}

/// `s` starts with `prefix`, ASCII case folded or not.
fn starts(s: &str, prefix: &str, ignore_case: bool) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && if ignore_case { s[..prefix.len()].eq_ignore_ascii_case(prefix) } else { s.starts_with(prefix) }
}

/// Whether an ARN pattern's first five parts (partition, service, region, account, and the
/// colon after it) hold no wildcard: then matching it part by part is plain wildcard matching of
/// the whole, the only wildcards being in the last part, which may span colons anyway.
fn literal_arn_head(toks: &[Tok]) -> bool {
    let mut colons = 0;
    for t in toks {
        match t {
            Tok::Char(':') => {
                colons += 1;
                if colons == 5 {
                    return true;
                }
            }
            Tok::Char(_) => {}
            Tok::Any | Tok::One => return false,
        }
    }
    false
}

impl Pattern {
    /// Compiles `text`: with `vars`, `${...}` variables are replaced from the context (their
    /// values are literal, never wildcards); a variable the context cannot fill and that has no
    /// default makes the pattern match nothing (`None`). Without `vars` (a 2008-10-17 policy)
    /// `${...}` is plain text.
    #[must_use]
    pub fn compile(text: &str, vars: Option<Keys<'_>>) -> Option<Self> {
        let mut out = Vec::with_capacity(text.len());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if let (Some(ctx), true) = (vars, rest.starts_with("${"))
                && let Some(end) = rest.find('}')
            {
                let inner = &rest[2..end];
                rest = &rest[end + 1..];
                match inner {
                    "*" => out.push(Tok::Char('*')),
                    "?" => out.push(Tok::Char('?')),
                    "$" => out.push(Tok::Char('$')),
                    _ => {
                        let value = variable(inner, ctx)?;
                        out.extend(value.chars().map(Tok::Char));
                    }
                }
                continue;
            }
            out.push(match c {
                '*' => Tok::Any,
                '?' => Tok::One,
                c => Tok::Char(c),
            });
            rest = &rest[c.len_utf8()..];
        }
        Some(Self::new(out))
    }

    /// Whether `s` matches, case-sensitively or not.
    #[must_use]
    pub fn matches(&self, s: &str, ignore_case: bool) -> bool {
        // exact bytes first (the usual case for actions and ARNs); ASCII case folding where it
        // decides; the general walk (which folds Unicode too) only for what is left
        match &self.1 {
            Shape::Literal(l) if !ignore_case => s == l,
            Shape::Prefix(p) if !ignore_case => starts(s, p, false),
            Shape::Literal(l) if s.len() == l.len() && s.eq_ignore_ascii_case(l) => true,
            Shape::Prefix(p) if starts(s, p, true) => true,
            // an ASCII request cannot match an ASCII pattern but by ASCII folding
            Shape::Literal(l) | Shape::Prefix(l) if l.is_ascii() && s.is_ascii() => false,
            _ => matches_toks(&self.0, s, ignore_case),
        }
    }

    /// The pattern as plain text, when it has no wildcard (what an exact comparison uses).
    #[must_use]
    pub fn literal(&self) -> Option<String> {
        self.0.iter().map(|t| if let Tok::Char(c) = t { Some(*c) } else { None }).collect()
    }
}

/// Wildcard matching of `s` against `p`. ASCII text (ARNs, actions, most keys) is compared byte
/// by byte without allocating; other text char by char.
fn matches_toks(p: &[Tok], s: &str, ignore_case: bool) -> bool {
    if s.is_ascii() {
        let eq = |c: char, b: u8| {
            u8::try_from(c).is_ok_and(|c| if ignore_case { c.eq_ignore_ascii_case(&b) } else { c == b })
        };
        wild(p, s.as_bytes(), eq)
    } else {
        let chars: Vec<char> = s.chars().collect();
        let eq = |a: char, b: char| if ignore_case { a.to_lowercase().eq(b.to_lowercase()) } else { a == b };
        wild(p, &chars, eq)
    }
}

/// The classic wildcard walk with one backtracking point (the last `*`).
fn wild<T: Copy>(p: &[Tok], s: &[T], eq: impl Fn(char, T) -> bool) -> bool {
    let (mut pi, mut si, mut star, mut mark) = (0usize, 0usize, None, 0usize);
    while si < s.len() {
        match p.get(pi) {
            Some(Tok::Any) => {
                star = Some(pi);
                mark = si;
                pi += 1;
            }
            Some(Tok::One) => {
                pi += 1;
                si += 1;
            }
            Some(Tok::Char(c)) if eq(*c, s[si]) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some(st) => {
                    pi = st + 1;
                    mark += 1;
                    si = mark;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|t| *t == Tok::Any)
}

/// A policy string compiled when the policy is parsed: its pattern, unless it names policy
/// variables, which only a request can fill (then it is compiled per request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    pub text: String,
    fixed: Option<Pattern>,
}

impl Compiled {
    #[must_use]
    pub fn new(text: &str) -> Self {
        let fixed = if text.contains("${") { None } else { Pattern::compile(text, None) };
        Self { text: text.to_string(), fixed }
    }

    /// The pattern for one request (`vars`: the context, in a policy with variables).
    #[must_use]
    pub fn pattern(&self, vars: Option<Keys<'_>>) -> Option<std::borrow::Cow<'_, Pattern>> {
        match &self.fixed {
            Some(p) => Some(std::borrow::Cow::Borrowed(p)),
            None => Pattern::compile(&self.text, vars).map(std::borrow::Cow::Owned),
        }
    }
}

/// `key` or `key, 'default'` read from the context.
fn variable(inner: &str, ctx: Keys<'_>) -> Option<String> {
    let (key, default) = match inner.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let d = d.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')).unwrap_or(d);
            (k.trim(), Some(d))
        }
        None => (inner.trim(), None),
    };
    ctx.single(key).map(str::to_string).or_else(|| default.map(str::to_string))
}

/// Wildcard match of plain text (no variables).
#[must_use]
pub fn glob(pattern: &str, s: &str) -> bool {
    Pattern::compile(pattern, None).is_some_and(|p| p.matches(s, false))
}

/// An ARN matched as `ArnLike` and the `Resource` element do: each of the six colon-separated
/// parts separately (wildcards do not cross a colon, except in the last part, the resource,
/// which may itself hold colons); `*` alone matches any ARN.
#[must_use]
pub fn arn_matches(pattern: &Pattern, arn: &str) -> bool {
    if pattern.0 == [Tok::Any] {
        return true;
    }
    if pattern.2 {
        return pattern.matches(arn, false);
    }
    let mut parts: [&[Tok]; 6] = [&[]; 6];
    let mut count = 0;
    let mut start = 0;
    for (i, t) in pattern.0.iter().enumerate() {
        if *t == Tok::Char(':') && count < 5 {
            parts[count] = &pattern.0[start..i];
            count += 1;
            start = i + 1;
        }
    }
    parts[count] = &pattern.0[start..];
    count += 1;
    let segments = arn.bytes().filter(|b| *b == b':').count().min(5) + 1;
    match (count, segments) {
        (6, 6) => {}
        // an ARN pattern with fewer parts names nothing (a `*` never spans a colon)
        (_, 6) => return false,
        // not an ARN (`*` as the resource of an action on none): plain text
        _ => return pattern.matches(arn, false),
    }
    parts.iter().zip(arn.splitn(6, ':')).all(|(p, s)| matches_toks(p, s, false))
}
