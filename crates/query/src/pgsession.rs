//! The statements a PostgreSQL session answers itself, before any SQL reaches the engine:
//! transaction control (BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT), run-time
//! parameters (SET, RESET, SHOW), DISCARD and DEALLOCATE; and the splitting of a simple query
//! that holds several statements.
//!
//! Transactions are read-only over snapshot-free reads: a statement that would write (DDL,
//! CTAS, INSERT) inside a transaction block is refused with `read_only_sql_transaction`, so a
//! rollback never leaves half of a transaction applied; writes run in autocommit mode.

/// What a session statement asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatement {
    Begin,
    Commit,
    Rollback,
    /// `SAVEPOINT name`: transactions only read, so a savepoint keeps nothing but its name.
    Savepoint {
        name: String,
    },
    /// `RELEASE [SAVEPOINT] name`.
    Release {
        name: String,
    },
    /// `ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name`: back to the transaction, out of an
    /// error (psycopg's nested `transaction()` blocks).
    RollbackTo {
        name: String,
    },
    /// `SET name TO value` (`None`: `SET name TO DEFAULT`); `SET TRANSACTION ...` and
    /// `SET SESSION CHARACTERISTICS ...` are accepted as no-ops (name empty).
    Set {
        name: String,
        value: Option<String>,
    },
    /// `RESET name`, `RESET ALL` (name `all`).
    Reset {
        name: String,
    },
    Show {
        name: String,
    },
    Discard,
    Deallocate,
}

/// What `SHOW` lists in the engine (Athena's and DataFusion's SHOW statements).
const ENGINE_SHOWS: &[&str] =
    &["tables", "databases", "schemas", "views", "partitions", "columns", "functions", "tblproperties", "create"];

/// The parameters clients read and set, with the values a new session has.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_isolation", "read committed"),
    ("default_transaction_read_only", "off"),
    ("extra_float_digits", "1"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("is_superuser", "off"),
    ("lc_messages", "C"),
    ("max_identifier_length", "63"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", "14.0"),
    ("server_version_num", "140000"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("timezone", "UTC"),
    ("transaction_isolation", "read committed"),
    ("transaction_read_only", "off"),
];

/// The default of a parameter; `None` for a name tarn does not know.
#[must_use]
pub fn default_of(name: &str) -> Option<&'static str> {
    DEFAULTS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn words(sql: &str) -> Vec<String> {
    sql.split_whitespace().map(str::to_ascii_lowercase).collect()
}

/// Recognizes a session statement.
#[must_use]
pub fn parse(sql: &str) -> Option<SessionStatement> {
    let sql = sql.trim().trim_end_matches(';').trim();
    let w = words(sql);
    let first = w.first()?.as_str();
    let second = w.get(1).map_or("", String::as_str);
    Some(match first {
        "begin" => SessionStatement::Begin,
        "start" if second == "transaction" => SessionStatement::Begin,
        "commit" | "end" => SessionStatement::Commit,
        "abort" => SessionStatement::Rollback,
        "rollback" if w.iter().any(|x| x == "to") => SessionStatement::RollbackTo { name: last_name(sql)? },
        "rollback" => SessionStatement::Rollback,
        "savepoint" if w.len() == 2 => SessionStatement::Savepoint { name: last_name(sql)? },
        "release" if w.len() == 2 || (w.len() == 3 && second == "savepoint") => {
            SessionStatement::Release { name: last_name(sql)? }
        }
        "discard" => SessionStatement::Discard,
        "deallocate" => SessionStatement::Deallocate,
        // PostgreSQL's spellings with spaces
        "show" if w[1..] == ["transaction", "isolation", "level"] => {
            SessionStatement::Show { name: "transaction_isolation".into() }
        }
        "show" if w[1..] == ["time", "zone"] => SessionStatement::Show { name: "timezone".into() },
        // SHOW of a parameter: one name; SHOW TABLES, DATABASES, COLUMNS ... are the engine's
        "show" if w.len() == 2 && !ENGINE_SHOWS.contains(&second) => {
            SessionStatement::Show { name: normalize(&sql[4..]) }
        }
        "reset" => SessionStatement::Reset { name: normalize(&sql[5..]) },
        "set" => parse_set(sql[3..].trim())?,
        _ => return None,
    })
}

/// The statement's last word as an identifier (a savepoint's name).
fn last_name(sql: &str) -> Option<String> {
    let word = sql.split_whitespace().last()?;
    Some(match word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(quoted) => quoted.to_string(),
        None => word.to_ascii_lowercase(),
    })
}

/// A parameter name as PostgreSQL folds it (lower case, unquoted).
fn normalize(name: &str) -> String {
    name.trim().trim_matches('"').to_ascii_lowercase()
}

fn parse_set(rest: &str) -> Option<SessionStatement> {
    let lower = rest.to_ascii_lowercase();
    // SET SESSION / SET LOCAL name ...
    let rest = if lower.starts_with("session ") && !lower.starts_with("session characteristics") {
        &rest[8..]
    } else if lower.starts_with("local ") {
        &rest[6..]
    } else {
        rest
    };
    let lower = rest.to_ascii_lowercase();
    if lower.starts_with("transaction") || lower.starts_with("session characteristics") {
        // SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL x (pgjdbc's
        // setTransactionIsolation): what SHOW transaction_isolation then says; tarn's reads
        // are the same at every level
        if lower.starts_with("session characteristics")
            && let Some(level) = lower.split("isolation level").nth(1)
        {
            let level = level.split(',').next().unwrap_or("").trim();
            let level = ["read uncommitted", "read committed", "repeatable read", "serializable"]
                .into_iter()
                .find(|l| level.starts_with(l))?;
            return Some(SessionStatement::Set { name: "transaction_isolation".into(), value: Some(level.into()) });
        }
        return Some(SessionStatement::Set { name: String::new(), value: None });
    }
    // SET TIME ZONE value
    if let Some(v) = lower.strip_prefix("time zone") {
        let value = rest[rest.len() - v.len()..].trim();
        return Some(SessionStatement::Set { name: "timezone".into(), value: set_value(value) });
    }
    let split = rest.find(|c: char| c == '=' || c.is_whitespace())?;
    let name = normalize(&rest[..split]);
    let mut value = rest[split..].trim_start();
    if let Some(v) = value.strip_prefix('=') {
        value = v;
    } else if value.len() >= 2 && value[..2].eq_ignore_ascii_case("to") {
        value = &value[2..];
    } else {
        return None;
    }
    Some(SessionStatement::Set { name, value: set_value(value.trim()) })
}

/// A SET value as the parameter then reads: quotes removed, lists kept as written;
/// `DEFAULT` means the default.
fn set_value(value: &str) -> Option<String> {
    if value.eq_ignore_ascii_case("default") {
        return None;
    }
    let parts: Vec<String> = value
        .split(',')
        .map(|p| {
            let p = p.trim();
            match p.strip_prefix('\'').and_then(|p| p.strip_suffix('\'')) {
                Some(inner) => inner.replace("''", "'"),
                None => p.to_string(),
            }
        })
        .collect();
    Some(parts.join(", "))
}

/// Whether a statement only reads (what a transaction block allows).
#[must_use]
pub fn reads_only(sql: &str) -> bool {
    let first = sql.trim_start().split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    matches!(
        first.to_ascii_lowercase().as_str(),
        "select" | "with" | "values" | "show" | "explain" | "describe" | "table" | ""
    ) && !sql.to_ascii_lowercase().contains(" into ")
}

/// The statements of a simple query, split at semicolons outside quotes, dollar quotes and
/// comments (empty ones dropped).
#[must_use]
pub fn split(query: &str) -> Vec<&str> {
    let b = query.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                // a dollar-quoted string: $tag$ ... $tag$
                if let Some(len) = b[i + 1..].iter().position(|c| *c == b'$')
                    && b[i + 1..i + 1 + len].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    let tag = &query[i..i + len + 2];
                    if let Some(end) = query[i + len + 2..].find(tag) {
                        i += len + 2 + end + tag.len() - 1;
                    }
                }
            }
            b';' => {
                out.push(&query[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&query[start.min(query.len())..]);
    out.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_isolation_level_is_what_show_says() {
        assert_eq!(
            parse("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
            Some(SessionStatement::Set { name: "transaction_isolation".into(), value: Some("repeatable read".into()) })
        );
        assert_eq!(
            parse("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
            Some(SessionStatement::Set { name: String::new(), value: None })
        );
    }

    #[test]
    fn transaction_statements() {
        for s in
            ["BEGIN", "begin;", "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY", "START TRANSACTION", "begin work"]
        {
            assert_eq!(parse(s), Some(SessionStatement::Begin), "{s}");
        }
        for s in ["COMMIT", "commit work", "END", "end transaction"] {
            assert_eq!(parse(s), Some(SessionStatement::Commit), "{s}");
        }
        for s in ["ROLLBACK", "abort", "rollback transaction"] {
            assert_eq!(parse(s), Some(SessionStatement::Rollback), "{s}");
        }
        assert_eq!(parse("ROLLBACK TO SAVEPOINT a"), Some(SessionStatement::RollbackTo { name: "a".into() }));
        assert_eq!(parse("rollback to \"_pg3_1\""), Some(SessionStatement::RollbackTo { name: "_pg3_1".into() }));
        assert_eq!(parse("SAVEPOINT Sp1"), Some(SessionStatement::Savepoint { name: "sp1".into() }));
        assert_eq!(parse("RELEASE SAVEPOINT sp1"), Some(SessionStatement::Release { name: "sp1".into() }));
        assert_eq!(parse("RELEASE sp1"), Some(SessionStatement::Release { name: "sp1".into() }));
        assert_eq!(parse("select 1"), None);
        assert_eq!(parse("settle"), None);
    }

    #[test]
    fn parameters() {
        let set = |n: &str, v: Option<&str>| Some(SessionStatement::Set { name: n.into(), value: v.map(Into::into) });
        assert_eq!(parse("SET application_name = 'my app'"), set("application_name", Some("my app")));
        assert_eq!(parse("set extra_float_digits to 3"), set("extra_float_digits", Some("3")));
        assert_eq!(
            parse("SET SESSION search_path TO public, \"$user\""),
            set("search_path", Some("public, \"$user\""))
        );
        assert_eq!(parse("SET TIME ZONE 'Europe/Paris'"), set("timezone", Some("Europe/Paris")));
        assert_eq!(parse("SET DateStyle TO DEFAULT"), set("datestyle", None));
        assert_eq!(parse("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"), set("", None));
        assert_eq!(parse("SHOW TimeZone"), Some(SessionStatement::Show { name: "timezone".into() }));
        assert_eq!(parse("RESET ALL"), Some(SessionStatement::Reset { name: "all".into() }));
        // SQLAlchemy asks this on connecting
        assert_eq!(
            parse("show transaction isolation level"),
            Some(SessionStatement::Show { name: "transaction_isolation".into() })
        );
        assert_eq!(parse("SHOW TIME ZONE"), Some(SessionStatement::Show { name: "timezone".into() }));
        for engine in
            ["SHOW TABLES", "SHOW TABLES IN shop", "show databases", "SHOW COLUMNS IN t", "SHOW CREATE TABLE t"]
        {
            assert_eq!(parse(engine), None, "{engine}");
        }
        assert_eq!(default_of("standard_conforming_strings"), Some("on"));
    }

    #[test]
    fn splitting_and_reads() {
        assert_eq!(
            split("select 1; select ';' ; -- a ; comment\n select 2;"),
            vec!["select 1", "select ';'", "-- a ; comment\n select 2"]
        );
        assert_eq!(split("select $$a;b$$; select /* ; */ 3"), vec!["select $$a;b$$", "select /* ; */ 3"]);
        assert_eq!(split(" ; "), Vec::<&str>::new());
        assert!(reads_only("SELECT * FROM t") && reads_only("with x as (select 1) select * from x"));
        assert!(!reads_only("CREATE EXTERNAL TABLE t (a int)") && !reads_only("insert into t values (1)"));
        assert!(!reads_only("select * into t2 from t"));
    }
}
