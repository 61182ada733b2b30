//! Rust names for AWS names.

/// `StreamARN` -> `stream_arn`, `KMSKeyId` -> `kms_key_id`, `S3BackupMode` -> `s3_backup_mode`.
pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some('_') => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    field_ident(&out)
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "do", "dyn", "else", "enum", "extern", "false",
    "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override",
    "priv", "pub", "ref", "return", "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized",
    "use", "virtual", "where", "while", "yield", "abstract", "become",
];

/// A field name, raw when it is a keyword.
pub fn field_ident(name: &str) -> String {
    match name {
        "self" | "super" | "crate" | "Self" => format!("{name}_"),
        n if KEYWORDS.contains(&n) => format!("r#{n}"),
        n if n.starts_with(|c: char| c.is_ascii_digit()) => format!("n{n}"),
        n => n.to_string(),
    }
}

/// Names the generated module itself uses, which a shape's type must not take.
const RESERVED_TYPES: &[&str] = &["Operation", "Self", "MODEL", "Option", "Result", "Box", "Vec", "String"];

/// The Rust type of a structure or enum shape.
pub fn type_ident(shape: &str, trait_name: &str) -> String {
    let mut name: String = shape.chars().filter(char::is_ascii_alphanumeric).collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 'T');
    }
    if let Some(first) = name.get(..1) {
        let upper = first.to_ascii_uppercase();
        name.replace_range(..1, &upper);
    }
    if RESERVED_TYPES.contains(&name.as_str()) || name == trait_name {
        name.push_str("Shape");
    }
    name
}

/// `AT_SEQUENCE_NUMBER` -> `AtSequenceNumber`, `aws:kms` -> `AwsKms`, `1.0` -> `V1_0`.
pub fn variant(value: &str) -> String {
    let mut out = String::new();
    let mut upper_next = true;
    let mut prev_digit = false;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_digit() && prev_digit && upper_next && !out.is_empty() {
                out.push('_');
            }
            if upper_next {
                out.push(c.to_ascii_uppercase());
                upper_next = false;
            } else {
                out.push(c.to_ascii_lowercase());
            }
            prev_digit = c.is_ascii_digit();
        } else {
            upper_next = true;
        }
    }
    // camelCase values keep their humps: `ReadWrite` stays, `readOnly` becomes `ReadOnly`
    if value.chars().any(|c| c.is_ascii_lowercase()) && value.chars().any(|c| c.is_ascii_uppercase()) {
        let mut humped = String::new();
        let mut upper_next = true;
        for c in value.chars() {
            if c.is_ascii_alphanumeric() {
                humped.push(if upper_next { c.to_ascii_uppercase() } else { c });
                upper_next = false;
            } else {
                upper_next = true;
            }
        }
        out = humped;
    }
    if out.is_empty() {
        out.push_str("Empty");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    if out == "Self" {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case() {
        assert_eq!(snake("StreamARN"), "stream_arn");
        assert_eq!(snake("KMSKeyId"), "kms_key_id");
        assert_eq!(snake("S3BackupMode"), "s3_backup_mode");
        assert_eq!(snake("ShardId"), "shard_id");
        assert_eq!(snake("Type"), "r#type");
        assert_eq!(snake("message"), "message");
        assert_eq!(snake("MillisBehindLatest"), "millis_behind_latest");
    }

    #[test]
    fn variants() {
        assert_eq!(variant("AT_SEQUENCE_NUMBER"), "AtSequenceNumber");
        assert_eq!(variant("aws:kms"), "AwsKms");
        assert_eq!(variant("AES256"), "Aes256");
        assert_eq!(variant("1.0"), "V1_0");
        assert_eq!(variant("ReadWrite"), "ReadWrite");
        assert_eq!(variant("us-east-1"), "UsEast1");
    }
}
