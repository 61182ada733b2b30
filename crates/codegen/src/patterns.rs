//! The models' patterns are Java regular expressions, matched against the whole value. This
//! translates them for Rust's `regex` crate where the meaning carries over.

/// A translated pattern: the whole-value regex, and a leading negative lookahead split off
/// into a prefix the value must not match. `None` for what Rust cannot express.
pub struct Translated {
    pub full: Option<String>,
    pub not_prefix: Option<String>,
}

pub fn translate(java: &str) -> Translated {
    let (not_prefix, rest) = split_leading_negative_lookahead(java);
    let not_prefix = match not_prefix {
        Some(inner) => match body(inner) {
            Some(t) => Some(format!("^(?:{t})")),
            None => return Translated { full: None, not_prefix: None },
        },
        None => None,
    };
    let full = body(rest).map(|t| format!("^(?:{t})$")).filter(|r| regex::Regex::new(r).is_ok());
    let not_prefix = not_prefix.filter(|r| regex::Regex::new(r).is_ok());
    Translated { full, not_prefix }
}

/// `^(?!X)Y` or `(?!X)Y` -> (`X`, `Y`).
fn split_leading_negative_lookahead(p: &str) -> (Option<&str>, &str) {
    let start = if p.starts_with("^(?!") {
        4
    } else if p.starts_with("(?!") {
        3
    } else {
        return (None, p);
    };
    let bytes = p.as_bytes();
    let mut depth = 1;
    let mut i = start;
    let mut in_class = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => depth += 1,
            b')' if !in_class => {
                depth -= 1;
                if depth == 0 {
                    return (Some(&p[start..i]), &p[i + 1..]);
                }
            }
            _ => {}
        }
        i += 1;
    }
    (None, p)
}

fn hex4(chars: &[char], at: usize) -> Option<u32> {
    let s: String = chars.get(at..at + 4)?.iter().collect();
    u32::from_str_radix(&s, 16).ok()
}

/// The pattern's body in Rust's syntax, or `None` when it uses what Rust lacks (lookarounds,
/// back-references, `\Q..\E`, lone surrogates).
fn body(java: &str) -> Option<String> {
    let chars: Vec<char> = java.chars().collect();
    let mut out = String::with_capacity(java.len() + 8);
    let mut in_class = false;
    let mut after_quantifier = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !matches!(c, '+' | '*' | '?' | '{') || in_class {
            after_quantifier = false;
        }
        match c {
            '(' if !in_class && chars.get(i + 1) == Some(&'?') => {
                if matches!(chars.get(i + 2), Some('=' | '!' | '<')) {
                    return None;
                }
                out.push(c);
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // a leading `]` or `^]` is literal in Java as in Rust
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            // a quantifier right after a quantifier: `+` makes it possessive (greedy is the
            // same for a whole-value match here), `?` lazy (as Rust reads it too)
            '+' if !in_class && after_quantifier => {
                after_quantifier = false;
                i += 1;
                continue;
            }
            '*' | '+' | '?' if !in_class => {
                out.push(c);
                after_quantifier = true;
                i += 1;
                continue;
            }
            '{' if !in_class && chars.get(i + 1).is_some_and(char::is_ascii_digit) => {
                let close = chars[i..].iter().position(|&c| c == '}')? + i;
                out.extend(&chars[i..=close]);
                after_quantifier = true;
                i = close + 1;
                continue;
            }
            '\\' => {
                let next = *chars.get(i + 1)?;
                match next {
                    'u' => {
                        let code = hex4(&chars, i + 2)?;
                        i += 6;
                        let code = if (0xD800..0xDC00).contains(&code) {
                            // a surrogate pair written as two escapes: one code point
                            if chars.get(i) == Some(&'\\') && chars.get(i + 1) == Some(&'u') {
                                let low = hex4(&chars, i + 2)?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return None;
                                }
                                i += 6;
                                0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                return None;
                            }
                        } else if (0xDC00..0xE000).contains(&code) {
                            return None;
                        } else {
                            code
                        };
                        out.push_str(&format!("\\x{{{code:X}}}"));
                        continue;
                    }
                    'w' => out.push_str(if in_class { "0-9A-Za-z_" } else { "[0-9A-Za-z_]" }),
                    'd' => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                    's' => out.push_str(if in_class { "\\t\\n\\x0B\\x0C\\r " } else { "[\\t\\n\\x0B\\x0C\\r ]" }),
                    'W' | 'D' | 'S' if in_class => return None,
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    'D' => out.push_str("[^0-9]"),
                    'S' => out.push_str("[^\\t\\n\\x0B\\x0C\\r ]"),
                    'Q' | 'E' | 'G' | 'Z' => return None,
                    '1'..='9' => return None,
                    'p' | 'P' => {
                        let close = chars[i..].iter().position(|&c| c == '}')? + i;
                        let name: String = chars[i + 3..close].iter().collect();
                        let ascii = match name.as_str() {
                            "Print" => Some("\\x20-\\x7E"),
                            "Alnum" => Some("0-9A-Za-z"),
                            "Alpha" => Some("A-Za-z"),
                            "Digit" => Some("0-9"),
                            "Upper" => Some("A-Z"),
                            "Lower" => Some("a-z"),
                            "Punct" => Some("!-/:-@\\[-`{-~"),
                            "Space" => Some("\\t\\n\\x0B\\x0C\\r "),
                            "Graph" => Some("\\x21-\\x7E"),
                            _ => None,
                        };
                        match (ascii, next == 'P', in_class) {
                            (Some(set), false, true) => out.push_str(set),
                            (Some(set), false, false) => out.push_str(&format!("[{set}]")),
                            (Some(set), true, false) => out.push_str(&format!("[^{set}]")),
                            (Some(_), true, true) => return None,
                            (None, _, _) => out.extend(&chars[i..=close]),
                        }
                        i = close + 1;
                        continue;
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
                i += 2;
                continue;
            }
            // Java's `.` excludes every line terminator, Rust's only `\n`
            '.' if !in_class => out.push_str("[^\\n\\r\\x{85}\\x{2028}\\x{2029}]"),
            other => out.push(other),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(java: &str) -> regex::Regex {
        regex::Regex::new(&translate(java).full.expect("translatable")).unwrap()
    }

    #[test]
    fn whole_value_match() {
        let re = full("[a-zA-Z0-9_.-]+");
        assert!(re.is_match("my-stream_1.a"));
        assert!(!re.is_match("a b"));
        assert!(!re.is_match(""));
    }

    #[test]
    fn surrogate_pairs_become_code_points() {
        let re = full("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*");
        assert!(re.is_match("plain text\twith a tab, é and 😀"));
        assert!(!re.is_match("a\nnewline"));
    }

    #[test]
    fn ascii_classes_and_posix_names() {
        assert!(full("\\w+").is_match("abc_1"));
        assert!(!full("\\w+").is_match("é"));
        assert!(full("\\p{Print}+").is_match("hello world"));
        assert!(!full("\\p{Print}+").is_match("tab\t"));
        assert!(full("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*").is_match("Team é 1"));
    }

    #[test]
    fn leading_negative_lookahead_is_split_off() {
        let t = translate("^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$");
        let not = regex::Regex::new(t.not_prefix.as_deref().unwrap()).unwrap();
        let re = regex::Regex::new(t.full.as_deref().unwrap()).unwrap();
        assert!(not.is_match("aws:tag"));
        assert!(!not.is_match("mytag") && re.is_match("mytag"));
        let blank = translate("^(?!\\s*$).+");
        let not = regex::Regex::new(blank.not_prefix.as_deref().unwrap()).unwrap();
        assert!(not.is_match("   ") && !not.is_match(" x"));
    }

    #[test]
    fn dot_stops_at_every_java_line_terminator() {
        let re = full("a.b");
        assert!(re.is_match("axb"));
        for t in ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"] {
            assert!(!re.is_match(&format!("a{t}b")), "{t:?}");
        }
        assert!(full("[.]").is_match("."), "a dot in a class is a dot");
    }

    #[test]
    fn lookarounds_elsewhere_are_left_unchecked() {
        let t = translate("[0-9A-Za-z\\.\\-_]*(?<!\\.)");
        assert!(t.full.is_none());
    }
}
