//! Constraint validation in AWS's words and order:
//!
//! ```text
//! 2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member
//! must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to
//! satisfy constraint: Member must have length greater than or equal to 1
//! ```
//!
//! Members are visited in alphabetical order (as AWS reports them), depth first; per member:
//! must not be null, enum, pattern, then minimum, then maximum. Elements of a list of
//! structures are paths `records.1.member.partitionKey`; a list or map of scalars is reported
//! once, as the whole value failing `Member must satisfy constraint: [...]` (the elements'
//! constraints, maximum first, as AWS lists them). At most ten violations are reported.
//! Lengths count UTF-16 code units, as Java's `String.length()` does.

use std::fmt::Write as _;
use std::sync::OnceLock;

use crate::ServiceError;
use crate::doc::Doc;
use crate::model::{CompiledPattern, Kind, Member, ServiceModel, Shape, ShapeId};

/// AWS reports at most this many violations.
pub const VIOLATIONS_MAX: usize = 10;

/// Validates a checked request `doc` against its input structure `shape`.
pub fn validate(model: &ServiceModel, shape: ShapeId, doc: &Doc) -> Result<(), ServiceError> {
    let mut v = Validator { model, compiled: model.compiled, violations: Vec::new(), path: String::new() };
    v.structure(shape, doc);
    if v.violations.is_empty() {
        return Ok(());
    }
    let n = v.violations.len();
    let message =
        format!("{n} validation error{} detected: {}", if n == 1 { "" } else { "s" }, v.violations.join("; "));
    Err(ServiceError::validation(&model.validation, message))
}

struct Validator<'a> {
    model: &'a ServiceModel,
    compiled: &'a [OnceLock<CompiledPattern>],
    violations: Vec<String>,
    /// Where the visit is: `records.1.member.partitionKey`.
    path: String,
}

fn java_length(s: &str) -> usize {
    if s.is_ascii() { s.len() } else { s.encode_utf16().count() }
}

fn bound(b: f64) -> String {
    if b.fract() == 0.0 && b.abs() < 1e18 {
        #[allow(clippy::cast_possible_truncation)]
        let i = b as i64;
        i.to_string()
    } else {
        java_double(b)
    }
}

/// Java's `Double.toString` for the values requests carry.
fn java_double(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e7 { format!("{f:.1}") } else { format!("{f}") }
}

impl Validator<'_> {
    fn full(&self) -> bool {
        self.violations.len() >= VIOLATIONS_MAX
    }

    /// Records a violation at the current path.
    fn push(&mut self, shape: &Shape, value: Option<&Doc>, constraint: &str) {
        if self.full() {
            return;
        }
        let shown = match value {
            None if shape.sensitive => "Value".to_string(),
            None => "Value null".to_string(),
            Some(_) if shape.sensitive => "Value".to_string(),
            // an integer beyond 32 bits is printed as nothing, as AWS does
            Some(Doc::Int(i)) if matches!(shape.kind, Kind::Integer) && i32::try_from(*i).is_err() => {
                "Value".to_string()
            }
            Some(v) => format!("Value '{}'", self.describe(v, shape)),
        };
        let path = &self.path;
        self.violations.push(format!("{shown} at '{path}' failed to satisfy constraint: {constraint}"));
    }

    /// Visits the members of a structure; the current path is its prefix (empty or ending in
    /// `.`). Paths are built in one buffer and only copied into a violation.
    fn structure(&mut self, shape: ShapeId, doc: &Doc) {
        let Kind::Structure { members } = &self.model.shape(shape).kind else { return };
        for member in *members {
            if self.full() {
                return;
            }
            self.member(member, doc.get(member.name));
        }
    }

    fn member(&mut self, member: &Member, value: Option<&Doc>) {
        let mark = self.path.len();
        let mut chars = member.name.chars();
        if let Some(c) = chars.next() {
            self.path.extend(c.to_lowercase());
            self.path.push_str(chars.as_str());
        }
        let shape = self.model.shape(member.shape);
        match value {
            None => {
                if member.required {
                    self.push(shape, None, "Member must not be null");
                }
            }
            Some(v) => self.value(member.shape, v),
        }
        self.path.truncate(mark);
    }

    /// Checks a value at the current path, then what it holds.
    fn value(&mut self, id: ShapeId, v: &Doc) {
        let shape = self.model.shape(id);
        for constraint in self.failed(shape, v) {
            self.push(shape, Some(v), &constraint);
        }
        let mark = self.path.len();
        match &shape.kind {
            Kind::Structure { .. } => {
                self.path.push('.');
                self.structure(id, v);
            }
            Kind::List { member, .. } => {
                let Doc::List(items) = v else { return };
                let element = self.model.shape(*member);
                match element.kind {
                    Kind::Structure { .. } | Kind::List { .. } | Kind::Map { .. } => {
                        for (i, item) in items.iter().enumerate() {
                            if self.full() {
                                break;
                            }
                            let _ = write!(self.path, ".{}.member", i + 1);
                            if let Kind::Structure { .. } = element.kind {
                                self.path.push('.');
                                self.structure(*member, item);
                            } else {
                                self.value(*member, item);
                            }
                            self.path.truncate(mark);
                        }
                    }
                    _ => {
                        if items.iter().any(|item| !self.failed(element, item).is_empty()) {
                            let all = self.all_constraints(element);
                            self.push(shape, Some(v), &format!("Member must satisfy constraint: [{all}]"));
                        }
                    }
                }
            }
            Kind::Map { key, value, .. } => {
                let Doc::Map(entries) = v else { return };
                let key_shape = self.model.shape(*key);
                if entries.iter().any(|(k, _)| !self.failed(key_shape, &Doc::Str(k.to_string())).is_empty()) {
                    let all = self.all_constraints(key_shape);
                    self.push(shape, Some(v), &format!("Map keys must satisfy constraint: [{all}]"));
                }
                let value_shape = self.model.shape(*value);
                match value_shape.kind {
                    Kind::Structure { .. } | Kind::List { .. } | Kind::Map { .. } => {
                        for (k, item) in entries {
                            let _ = write!(self.path, ".{k}.member");
                            if let Kind::Structure { .. } = value_shape.kind {
                                self.path.push('.');
                                self.structure(*value, item);
                            } else {
                                self.value(*value, item);
                            }
                            self.path.truncate(mark);
                        }
                    }
                    _ => {
                        if entries.iter().any(|(_, item)| !self.failed(value_shape, item).is_empty()) {
                            let all = self.all_constraints(value_shape);
                            self.push(shape, Some(v), &format!("Map value must satisfy constraint: [{all}]"));
                        }
                    }
                }
            }
            _ => {}
        }
        self.path.truncate(mark);
    }

    /// The constraints of `shape` that `v` fails, in AWS's order.
    fn failed(&self, shape: &Shape, v: &Doc) -> Vec<String> {
        let mut out = Vec::new();
        match (&shape.kind, v) {
            (Kind::String, Doc::Str(s)) => {
                if !shape.enum_values.is_empty() && !shape.enum_values.contains(&s.as_str()) {
                    out.push(enum_constraint(shape));
                }
                if let Some(p) = shape.pattern
                    && !self.matches(p, s)
                {
                    out.push(format!(
                        "Member must satisfy regular expression pattern: {}",
                        self.model.patterns[usize::from(p)].source
                    ));
                }
                length(shape, java_length(s), &mut out);
            }
            (Kind::Blob, Doc::Blob(b)) => length(shape, b.len(), &mut out),
            (Kind::List { .. }, Doc::List(items)) => length(shape, items.len(), &mut out),
            (Kind::Map { .. }, Doc::Map(entries)) => length(shape, entries.len(), &mut out),
            (Kind::Integer | Kind::Long, Doc::Int(i)) => {
                #[allow(clippy::cast_precision_loss)]
                range(shape, *i as f64, &mut out);
            }
            (Kind::Float | Kind::Double, Doc::Float(f)) => range(shape, *f, &mut out),
            _ => {}
        }
        out
    }

    /// Every constraint of `shape`, as AWS lists them inside `[...]`: maximum, minimum,
    /// pattern, enum.
    fn all_constraints(&self, shape: &Shape) -> String {
        let mut parts = Vec::new();
        let numeric = matches!(shape.kind, Kind::Integer | Kind::Long | Kind::Float | Kind::Double);
        let noun = if numeric { "value" } else { "length" };
        if let Some(max) = shape.max {
            parts.push(format!("Member must have {noun} less than or equal to {}", bound(max)));
        }
        if let Some(min) = shape.min {
            parts.push(format!("Member must have {noun} greater than or equal to {}", bound(min)));
        }
        if let Some(p) = shape.pattern {
            parts.push(format!(
                "Member must satisfy regular expression pattern: {}",
                self.model.patterns[usize::from(p)].source
            ));
        }
        if !shape.enum_values.is_empty() {
            parts.push(enum_constraint(shape));
        }
        parts.join(", ")
    }

    fn matches(&self, index: u16, s: &str) -> bool {
        let pattern = &self.model.patterns[usize::from(index)];
        let compiled = self.compiled[usize::from(index)].get_or_init(|| CompiledPattern {
            full: pattern.rust.and_then(|r| regex::Regex::new(r).ok()),
            not_prefix: pattern.not_prefix.and_then(|r| regex::Regex::new(r).ok()),
        });
        if compiled.not_prefix.as_ref().is_some_and(|re| re.is_match(s)) {
            return false;
        }
        // a pattern Rust cannot express is not checked
        compiled.full.as_ref().is_none_or(|re| re.is_match(s))
    }

    /// How AWS prints a value in a violation (Java's `toString` of what it parsed).
    fn describe(&self, v: &Doc, shape: &Shape) -> String {
        match v {
            Doc::Null => "null".into(),
            Doc::Bool(b) => b.to_string(),
            Doc::Int(i) => i.to_string(),
            Doc::Float(f) => java_double(*f),
            Doc::Str(s) => s.clone(),
            Doc::Blob(b) => format!("java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]", b.len()),
            Doc::Time(t) => t.iso8601(),
            Doc::List(items) => {
                let element = match shape.kind {
                    Kind::List { member, .. } => Some(self.model.shape(member)),
                    _ => None,
                };
                let mut out = String::from("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match element {
                        Some(e) => out.push_str(&self.describe(item, e)),
                        None => out.push_str(&self.describe(item, shape)),
                    }
                }
                out.push(']');
                out
            }
            Doc::Map(entries) => match shape.kind {
                Kind::Map { value, .. } => {
                    let value_shape = self.model.shape(value);
                    let mut out = String::from("{");
                    for (i, (k, item)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        let _ = write!(out, "{k}={}", self.describe(item, value_shape));
                    }
                    out.push('}');
                    out
                }
                // a structure: Java's default toString, class name and a hash
                _ => format!(
                    "com.amazonaws.{}.{}@{:x}",
                    self.model.name,
                    shape.name,
                    crate::doc::to_json(v).iter().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(*b)))
                ),
            },
        }
    }
}

fn enum_constraint(shape: &Shape) -> String {
    format!("Member must satisfy enum value set: [{}]", shape.enum_values.join(", "))
}

fn length(shape: &Shape, len: usize, out: &mut Vec<String>) {
    #[allow(clippy::cast_precision_loss)]
    let len = len as f64;
    if let Some(min) = shape.min
        && len < min
    {
        out.push(format!("Member must have length greater than or equal to {}", bound(min)));
    }
    if let Some(max) = shape.max
        && len > max
    {
        out.push(format!("Member must have length less than or equal to {}", bound(max)));
    }
}

fn range(shape: &Shape, value: f64, out: &mut Vec<String>) {
    if let Some(min) = shape.min
        && value < min
    {
        out.push(format!("Member must have value greater than or equal to {}", bound(min)));
    }
    if let Some(max) = shape.max
        && value > max
    {
        out.push(format!("Member must have value less than or equal to {}", bound(max)));
    }
}
