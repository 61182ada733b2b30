//! Writes one service's generated module, the module index and the README's operation table.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::config::ServiceConfig;
use crate::model::{MemberDef, Model, Shape};
use crate::names;
use crate::patterns;

const README_START: &str = "<!-- wire-operations:start (written by `cargo run -p tarn-codegen`) -->";
const README_END: &str = "<!-- wire-operations:end -->";

struct Ctx<'a> {
    config: &'a ServiceConfig,
    model: &'a Model,
    /// Shapes in the table, by name -> id.
    ids: BTreeMap<String, usize>,
    /// Pattern sources -> index.
    patterns: BTreeMap<String, usize>,
    /// Structures and enums read from requests / written into answers.
    decoded: BTreeSet<String>,
    encoded: BTreeSet<String>,
    /// (structure, member) edges that must be boxed (recursive shapes).
    boxed: BTreeSet<(String, String)>,
}

impl Ctx<'_> {
    fn shape(&self, name: &str) -> &Shape {
        self.model.shapes.get(name).unwrap_or_else(|| panic!("{}: no shape {name}", self.config.module))
    }

    fn is_document(&self, name: &str) -> bool {
        let s = self.shape(name);
        s.document || s.kind == "document"
    }

    fn is_enum(&self, name: &str) -> bool {
        let s = self.shape(name);
        s.kind == "string" && !s.enum_values.is_empty()
    }

    fn is_struct(&self, name: &str) -> bool {
        self.shape(name).kind == "structure" && !self.is_document(name)
    }

    fn type_name(&self, shape: &str) -> String {
        names::type_ident(shape, self.config.trait_name)
    }

    fn rust_type(&self, shape: &str) -> String {
        let s = self.shape(shape);
        if self.is_document(shape) {
            return "crate::Doc".into();
        }
        match s.kind.as_str() {
            "string" if self.is_enum(shape) => self.type_name(shape),
            "string" => "::std::string::String".into(),
            "integer" => "i32".into(),
            "long" => "i64".into(),
            "float" | "double" => "f64".into(),
            "boolean" => "bool".into(),
            "blob" => "::std::vec::Vec<u8>".into(),
            "timestamp" => "crate::Timestamp".into(),
            "list" => format!("::std::vec::Vec<{}>", self.rust_type(&s.member.as_ref().expect("list member").shape)),
            "map" => format!(
                "::std::collections::BTreeMap<::std::string::String, {}>",
                self.rust_type(&s.value.as_ref().expect("map value").shape)
            ),
            "structure" => self.type_name(shape),
            other => panic!("{}: shape {shape} has an unknown type {other}", self.config.module),
        }
    }
}

/// Every shape reachable from `root`.
fn closure(model: &Model, root: &str, out: &mut BTreeSet<String>) {
    if !out.insert(root.to_string()) {
        return;
    }
    let s = &model.shapes[root];
    for m in &s.members {
        closure(model, &m.shape, out);
    }
    for m in [&s.member, &s.key, &s.value].into_iter().flatten() {
        closure(model, &m.shape, out);
    }
}

/// Structures `from` reaches through members held by value (not through lists or maps).
fn direct_reach(model: &Model, from: &str, seen: &mut BTreeSet<String>) {
    for m in &model.shapes[from].members {
        let target = &model.shapes[&m.shape];
        if target.kind == "structure" && seen.insert(m.shape.clone()) {
            direct_reach(model, &m.shape, seen);
        }
    }
}

fn rust_str(s: &str) -> String {
    format!("{s:?}")
}

fn opt_f64(v: Option<f64>) -> String {
    match v {
        Some(f) if f.fract() == 0.0 => format!("Some({f:.1})"),
        Some(f) => format!("Some({f:?})"),
        None => "None".into(),
    }
}

fn location(m: &MemberDef) -> &'static str {
    match m.location.as_deref() {
        None => "L::Body",
        Some("uri") => "L::Uri",
        Some("querystring") => "L::Query",
        Some("header") => "L::Header",
        Some("headers") => "L::Headers",
        Some("statusCode") => "L::StatusCode",
        Some(other) => panic!("unknown member location {other}"),
    }
}

pub fn service(config: &ServiceConfig, model: &Model) -> String {
    for op in config.served {
        assert!(model.operations.contains_key(*op), "{}: the model has no operation {op}", config.module);
    }
    let mut decoded_roots = BTreeSet::new();
    let mut encoded_roots = BTreeSet::new();
    for op in config.served {
        let op = &model.operations[*op];
        decoded_roots.extend(op.input.clone());
        encoded_roots.extend(op.output.clone());
    }
    let mut decoded = BTreeSet::new();
    for r in &decoded_roots {
        closure(model, r, &mut decoded);
    }
    let mut encoded = BTreeSet::new();
    for r in &encoded_roots {
        closure(model, r, &mut encoded);
    }
    let all: BTreeSet<String> = decoded.union(&encoded).cloned().collect();
    // every type both ways: answers built from stored documents (a Glue table, a Firehose
    // destination) are read with from_doc, and requests kept as documents written with to_doc
    let decoded = all.clone();
    let encoded = all.clone();
    let ids: BTreeMap<String, usize> = all.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
    let patterns: BTreeMap<String, usize> = all
        .iter()
        .filter_map(|n| model.shapes[n].pattern.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, i))
        .collect();
    let mut boxed = BTreeSet::new();
    for name in &all {
        if model.shapes[name].kind != "structure" {
            continue;
        }
        for m in &model.shapes[name].members {
            if model.shapes[&m.shape].kind == "structure" {
                let mut seen = BTreeSet::from([m.shape.clone()]);
                direct_reach(model, &m.shape, &mut seen);
                if seen.contains(name) {
                    boxed.insert((name.clone(), m.name.clone()));
                }
            }
        }
    }
    let cx = Ctx { config, model, ids, patterns, decoded, encoded, boxed };
    let mut out = String::new();
    header(&cx, &mut out);
    tables(&cx, &mut out);
    operations(&cx, &mut out);
    errors(&cx, &mut out);
    types(&cx, &mut out);
    handler_trait(&cx, &mut out);
    out
}

fn header(cx: &Ctx, out: &mut String) {
    let m = cx.model;
    let _ = writeln!(
        out,
        "//! Generated by tarn-codegen from botocore's `{}` model ({}, protocol `{}`): the shape table, \
         operations, errors, the types of the {} operations tarn serves and their handler trait.\n\
         //! Do not edit: change `crates/codegen` or the pinned model and run `cargo run -p tarn-codegen`.\n",
        cx.config.module,
        m.api_version,
        m.protocol,
        cx.config.served.len()
    );
    out.push_str(
        "#![allow(clippy::all, clippy::pedantic, unused_imports, non_camel_case_types, dead_code)]\n\n\
         use crate::model::{Kind as K, Location as L, Member as M, Shape as S};\n\n",
    );
}

fn tables(cx: &Ctx, out: &mut String) {
    let m = cx.model;
    let protocol = match m.protocol.as_str() {
        "json" => "Json",
        "rest-json" => "RestJson",
        "query" => "Query",
        other => panic!("{}: unsupported protocol {other}", cx.config.module),
    };
    let mut prefixes: Vec<String> = Vec::new();
    if !m.target_prefix.is_empty() {
        prefixes.push(m.target_prefix.clone());
    }
    prefixes.extend(cx.config.extra_target_prefixes.iter().map(|p| (*p).to_string()));
    let renames = cx.ids.keys().any(|n| {
        cx.model.shapes[n]
            .members
            .iter()
            .any(|mem| mem.location.is_none() && mem.location_name.as_ref().is_some_and(|l| *l != mem.name))
    });
    let v = &cx.config.validation;
    let _ = writeln!(
        out,
        "/// The `{}` service as its model describes it.\npub static MODEL: crate::model::ServiceModel = crate::model::ServiceModel {{\n    \
         name: {},\n    service: crate::generated::service::Service::{},\n    service_id: {},\n    signing_name: {},\n    api_version: {},\n    \
         protocol: crate::model::Protocol::{protocol},\n    target_prefixes: &[{}],\n    json_version: {},\n    \
         xml_namespace: {},\n    shapes: &SHAPES,\n    patterns: &PATTERNS,\n    compiled: &COMPILED.0,\n    \
         operations: &OPERATIONS,\n    errors: &ERRORS,\n    renames: {renames},\n    \
         validation: crate::model::ValidationStyle {{ code: {}, status: {}, message_key: {}, fields: &[{}] }},\n}};\n",
        m.service_id,
        rust_str(cx.config.module),
        service_variant(cx.config.module),
        rust_str(&m.service_id),
        rust_str(&m.signing_name),
        rust_str(&m.api_version),
        prefixes.iter().map(|p| rust_str(p)).collect::<Vec<_>>().join(", "),
        rust_str(&m.json_version),
        rust_str(&m.xml_namespace),
        rust_str(v.code),
        v.status,
        rust_str(v.message_key),
        v.fields.iter().map(|(k, val)| format!("({}, {})", rust_str(k), rust_str(val))).collect::<Vec<_>>().join(", "),
    );
    let n = cx.patterns.len();
    let _ = writeln!(
        out,
        "static COMPILED: crate::model::PatternCache<{n}> = crate::model::PatternCache::new();\n\n\
         static PATTERNS: [crate::model::Pattern; {n}] = ["
    );
    for p in cx.patterns.keys() {
        let t = patterns::translate(p);
        if t.full.is_none() {
            let _ = writeln!(out, "    // not expressible in Rust's regex syntax: values are not checked against it");
        }
        let _ = writeln!(
            out,
            "    crate::model::Pattern {{ source: {}, rust: {}, not_prefix: {} }},",
            rust_str(p),
            t.full.map_or("None".into(), |r| format!("Some({})", rust_str(&r))),
            t.not_prefix.map_or("None".into(), |r| format!("Some({})", rust_str(&r))),
        );
    }
    out.push_str("];\n\n");
    let _ = writeln!(out, "static SHAPES: [S; {}] = [", cx.ids.len());
    for (name, id) in &cx.ids {
        let s = &cx.model.shapes[name];
        let kind = if cx.is_document(name) {
            "K::Document".to_string()
        } else {
            match s.kind.as_str() {
                "string" => "K::String".into(),
                "integer" => "K::Integer".into(),
                "long" => "K::Long".into(),
                "float" => "K::Float".into(),
                "double" => "K::Double".into(),
                "boolean" => "K::Boolean".into(),
                "blob" => "K::Blob".into(),
                "timestamp" => "K::Timestamp".into(),
                "list" => {
                    let mem = s.member.as_ref().expect("list member");
                    format!(
                        "K::List {{ member: {}, member_name: {}, flattened: {} }}",
                        cx.ids[&mem.shape],
                        rust_str(mem.location_name.as_deref().unwrap_or("member")),
                        s.flattened
                    )
                }
                "map" => {
                    let key = s.key.as_ref().expect("map key");
                    let value = s.value.as_ref().expect("map value");
                    format!(
                        "K::Map {{ key: {}, value: {}, key_name: {}, value_name: {}, flattened: {} }}",
                        cx.ids[&key.shape],
                        cx.ids[&value.shape],
                        rust_str(key.location_name.as_deref().unwrap_or("key")),
                        rust_str(value.location_name.as_deref().unwrap_or("value")),
                        s.flattened
                    )
                }
                "structure" => {
                    let mut members = String::from("K::Structure { members: &[");
                    for mem in &s.members {
                        let _ = write!(
                            members,
                            "\n        M {{ name: {}, wire_name: {}, shape: {}, required: {}, location: {}, flattened: {}, idempotency_token: {} }},",
                            rust_str(&mem.name),
                            rust_str(mem.location_name.as_deref().unwrap_or(&mem.name)),
                            cx.ids[&mem.shape],
                            s.required.contains(&mem.name),
                            location(mem),
                            mem.flattened,
                            mem.idempotency_token,
                        );
                    }
                    if !s.members.is_empty() {
                        members.push_str("\n    ");
                    }
                    members.push_str("] }");
                    members
                }
                other => panic!("{}: shape {name} has an unknown type {other}", cx.config.module),
            }
        };
        let _ = writeln!(
            out,
            "    /* {id} */ S {{ name: {}, kind: {kind}, min: {}, max: {}, pattern: {}, enum_values: &[{}], sensitive: {} }},",
            rust_str(name),
            opt_f64(s.min),
            opt_f64(s.max),
            s.pattern.as_ref().map_or("None".into(), |p| format!("Some({})", cx.patterns[p])),
            s.enum_values.iter().map(|v| rust_str(v)).collect::<Vec<_>>().join(", "),
            s.sensitive,
        );
    }
    out.push_str("];\n\n");
}

fn operations(cx: &Ctx, out: &mut String) {
    let ops = &cx.model.operations;
    let _ = writeln!(out, "static OPERATIONS: [crate::model::OperationModel; {}] = [", ops.len());
    for op in ops.values() {
        let served = cx.config.served.contains(&op.name.as_str());
        let shape_id = |s: &Option<String>| match s {
            Some(name) if served => format!("Some({})", cx.ids[name]),
            _ => "None".into(),
        };
        let _ = writeln!(
            out,
            "    crate::model::OperationModel {{ name: {}, method: {}, uri: {}, input: {}, output: {}, result_wrapper: {}, status: {}, served: {served} }},",
            rust_str(&op.name),
            rust_str(&op.method),
            rust_str(&op.uri),
            shape_id(&op.input),
            shape_id(&op.output),
            rust_str(&op.result_wrapper),
            op.status,
        );
    }
    out.push_str("];\n\n");
    out.push_str("/// Every operation of the model, served or not.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\npub enum Operation {\n");
    for op in ops.keys() {
        let _ = writeln!(out, "    {op},");
    }
    out.push_str("}\n\nimpl Operation {\n    pub const ALL: &'static [Operation] = &[\n");
    for op in ops.keys() {
        let _ = writeln!(out, "        Operation::{op},");
    }
    out.push_str("    ];\n\n    /// The operation an `X-Amz-Target` or `Action` names (case-sensitive, as AWS matches).\n    pub fn from_name(name: &str) -> Option<Self> {\n        match name {\n");
    for op in ops.keys() {
        let _ = writeln!(out, "            {} => Some(Self::{op}),", rust_str(op));
    }
    out.push_str("            _ => None,\n        }\n    }\n\n    pub fn name(self) -> &'static str {\n        self.model().name\n    }\n\n    /// Its binding, shapes and whether tarn serves it.\n    pub fn model(self) -> &'static crate::model::OperationModel {\n        &OPERATIONS[self as usize]\n    }\n}\n\n");
}

fn errors(cx: &Ctx, out: &mut String) {
    let exceptions: Vec<&Shape> = cx.model.shapes.values().filter(|s| s.exception).collect();
    out.push_str(
        "/// The model's error shapes: codes and statuses for [`crate::ServiceError::new`].\npub mod errors {\n",
    );
    for s in &exceptions {
        let status = s.error_status.unwrap_or(if s.fault { 500 } else { 400 });
        let sender =
            if s.error_status.is_some() || s.error_code.is_some() { s.sender_fault || !s.fault } else { !s.fault };
        let message_key =
            s.members.iter().find(|m| m.name.eq_ignore_ascii_case("message")).map_or("message", |m| m.name.as_str());
        let _ = writeln!(
            out,
            "    pub static {}: crate::model::ErrorModel = crate::model::ErrorModel {{ name: {}, code: {}, status: {status}, sender: {sender}, message_key: {} }};",
            screaming(&s.name),
            rust_str(&s.name),
            rust_str(s.error_code.as_deref().unwrap_or(&s.name)),
            rust_str(message_key),
        );
    }
    out.push_str("}\n\n");
    let _ = writeln!(out, "static ERRORS: [&crate::model::ErrorModel; {}] = [", exceptions.len());
    for s in &exceptions {
        let _ = writeln!(out, "    &errors::{},", screaming(&s.name));
    }
    out.push_str("];\n\n");
}

fn screaming(name: &str) -> String {
    names::snake(name).trim_start_matches("r#").to_ascii_uppercase()
}

fn types(cx: &Ctx, out: &mut String) {
    let all: BTreeSet<&String> = cx.decoded.iter().chain(cx.encoded.iter()).collect();
    for name in all {
        if cx.is_enum(name) {
            enum_type(cx, name, out);
        } else if cx.is_struct(name) {
            struct_type(cx, name, out);
        }
    }
}

fn enum_type(cx: &Ctx, name: &str, out: &mut String) {
    let s = cx.shape(name);
    let ty = cx.type_name(name);
    let mut variants: Vec<(String, &str)> = Vec::new();
    for v in &s.enum_values {
        let mut ident = names::variant(v);
        while variants.iter().any(|(i, _)| *i == ident) {
            ident.push('_');
        }
        variants.push((ident, v));
    }
    let _ = writeln!(
        out,
        "/// `{name}`. `Default` is the model's first value, for struct update syntax.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]\npub enum {ty} {{"
    );
    for (i, (ident, value)) in variants.iter().enumerate() {
        if i == 0 {
            out.push_str("    #[default]\n");
        }
        let _ = writeln!(out, "    /// `{value}`\n    {ident},");
    }
    let _ = writeln!(out, "}}\n\nimpl {ty} {{\n    pub const ALL: &'static [{ty}] = &[");
    for (ident, _) in &variants {
        let _ = writeln!(out, "        {ty}::{ident},");
    }
    out.push_str("    ];\n\n    pub fn as_str(self) -> &'static str {\n        match self {\n");
    for (ident, value) in &variants {
        let _ = writeln!(out, "            Self::{ident} => {},", rust_str(value));
    }
    out.push_str("        }\n    }\n\n    pub fn from_name(name: &str) -> Option<Self> {\n        match name {\n");
    for (ident, value) in &variants {
        let _ = writeln!(out, "            {} => Some(Self::{ident}),", rust_str(value));
    }
    out.push_str("            _ => None,\n        }\n    }\n}\n\n");
    let _ = writeln!(
        out,
        "impl std::fmt::Display for {ty} {{\n    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{\n        f.write_str(self.as_str())\n    }}\n}}\n"
    );
    if cx.decoded.contains(name) {
        let _ = writeln!(
            out,
            "impl crate::FromDoc for {ty} {{\n    fn from_doc(doc: crate::Doc) -> Result<Self, crate::ServiceError> {{\n        \
             let name: String = crate::FromDoc::from_doc(doc)?;\n        \
             Self::from_name(&name).ok_or_else(crate::ServiceError::internal)\n    }}\n}}\n"
        );
    }
    if cx.encoded.contains(name) {
        let _ = writeln!(
            out,
            "impl crate::ToDoc for {ty} {{\n    fn to_doc(self) -> crate::Doc {{\n        crate::Doc::Str(self.as_str().to_owned())\n    }}\n}}\n"
        );
    }
}

struct Field<'a> {
    member: &'a MemberDef,
    ident: String,
    ty: String,
    required: bool,
}

fn fields<'a>(cx: &Ctx, name: &str, s: &'a Shape) -> Vec<Field<'a>> {
    let mut out: Vec<Field<'a>> = Vec::new();
    for m in &s.members {
        let mut ident = names::snake(&m.name);
        while out.iter().any(|f| f.ident == ident) {
            ident.push('_');
        }
        let mut ty = cx.rust_type(&m.shape);
        if cx.boxed.contains(&(name.to_string(), m.name.clone())) {
            ty = format!("::std::boxed::Box<{ty}>");
        }
        out.push(Field { member: m, ident, ty, required: s.required.contains(&m.name) });
    }
    out
}

fn struct_type(cx: &Ctx, name: &str, out: &mut String) {
    let s = cx.shape(name);
    let ty = cx.type_name(name);
    let fields = fields(cx, name, s);
    let _ = writeln!(out, "/// `{name}`\n#[derive(Debug, Clone, Default, PartialEq)]\npub struct {ty} {{");
    for f in &fields {
        let _ = writeln!(out, "    /// `{}`{}", f.member.name, if f.required { " (required)" } else { "" });
        if f.required {
            let _ = writeln!(out, "    pub {}: {},", f.ident, f.ty);
        } else {
            let _ = writeln!(out, "    pub {}: ::std::option::Option<{}>,", f.ident, f.ty);
        }
    }
    out.push_str("}\n\n");
    let _ = writeln!(
        out,
        "impl crate::Shaped for {ty} {{\n    const MODEL: &'static crate::model::ServiceModel = &MODEL;\n    const SHAPE: crate::model::ShapeId = {};\n}}\n",
        cx.ids[name]
    );
    if cx.decoded.contains(name) {
        let _ = writeln!(
            out,
            "impl crate::FromDoc for {ty} {{\n    fn from_doc(doc: crate::Doc) -> Result<Self, crate::ServiceError> {{"
        );
        if fields.is_empty() {
            out.push_str("        let _ = doc;\n        Ok(Self {})\n    }\n}\n\n");
        } else {
            out.push_str("        let mut f = crate::Fields::of(doc)?;\n        Ok(Self {\n");
            for f in &fields {
                let _ = writeln!(
                    out,
                    "            {}: f.{}({})?,",
                    f.ident,
                    if f.required { "req" } else { "opt" },
                    rust_str(&f.member.name)
                );
            }
            out.push_str("        })\n    }\n}\n\n");
        }
    }
    if cx.encoded.contains(name) {
        let _ = writeln!(out, "impl crate::ToDoc for {ty} {{\n    fn to_doc(self) -> crate::Doc {{");
        if fields.is_empty() {
            out.push_str("        crate::Doc::empty()\n    }\n}\n\n");
        } else {
            let _ = writeln!(out, "        let mut f = crate::Fields::with_capacity({});", fields.len());
            for f in &fields {
                let _ = writeln!(
                    out,
                    "        f.{}({}, self.{});",
                    if f.required { "put" } else { "put_opt" },
                    rust_str(&f.member.name),
                    f.ident
                );
            }
            out.push_str("        f.into_doc()\n    }\n}\n\n");
        }
    }
}

fn handler_trait(cx: &Ctx, out: &mut String) {
    let t = cx.config.trait_name;
    let _ = writeln!(
        out,
        "/// The operations of `{}` that tarn serves, one method each; implemented in `tarn-api`.\npub trait {t}: Send + Sync {{",
        cx.model.service_id
    );
    for op in cx.config.served {
        let op = &cx.model.operations[*op];
        let input = op.input.as_ref().map(|i| format!(", input: {}", cx.type_name(i))).unwrap_or_default();
        let output = op.output.as_ref().map_or("()".to_string(), |o| cx.type_name(o));
        let _ = writeln!(
            out,
            "    fn {}(&self, cx: &crate::Context{input}) -> impl ::std::future::Future<Output = Result<{output}, crate::ServiceError>> + Send;",
            names::snake(&op.name).trim_start_matches("r#")
        );
    }
    out.push_str("}\n\n");
    let _ = writeln!(
        out,
        "/// Runs `op` on `handler` with a request already checked and validated against the \
         operation's input ([`crate::prepare`]); the answer is the output as a `Doc`.\n\
         pub async fn dispatch<H: {t}>(handler: &H, cx: &crate::Context, op: Operation, input: crate::Doc) -> Result<crate::Doc, crate::ServiceError> {{\n    \
         match op {{"
    );
    for op in cx.config.served {
        let op = &cx.model.operations[*op];
        let method = names::snake(&op.name);
        let method = method.trim_start_matches("r#");
        let call = match &op.input {
            Some(i) => format!(
                "let input = <{} as crate::FromDoc>::from_doc(input)?;\n            let output = handler.{method}(cx, input).await?;",
                cx.type_name(i)
            ),
            None => format!("let _ = input;\n            let output = handler.{method}(cx).await?;"),
        };
        let answer = if op.output.is_some() {
            "Ok(crate::ToDoc::to_doc(output))"
        } else {
            "let () = output;\n            Ok(crate::Doc::empty())"
        };
        let _ =
            writeln!(out, "        Operation::{} => {{\n            {call}\n            {answer}\n        }}", op.name);
    }
    if cx.config.served.len() < cx.model.operations.len() {
        out.push_str("        other => Err(crate::ServiceError::not_served(MODEL.service_id, other.name())),\n");
    }
    out.push_str("    }\n}\n");
}

/// The routing enum's variant of a module: `redshift_data` -> `RedshiftData`.
fn service_variant(module: &str) -> String {
    module
        .split('_')
        .map(|part| {
            let mut p = part.to_string();
            if !p.is_empty() {
                p[..1].make_ascii_uppercase();
            }
            p
        })
        .collect()
}

pub fn module_index(services: &[ServiceConfig]) -> String {
    let mut out = String::from("//! Generated by tarn-codegen: one module per service tarn serves. Do not edit.\n\n");
    for s in services {
        let _ = writeln!(out, "pub mod {};", s.module);
    }
    out.push_str("pub mod service;\n\npub use service::Service;\n");
    out.push_str("\n/// Every generated service model.\npub static SERVICES: &[&crate::model::ServiceModel] = &[\n");
    for s in services {
        let _ = writeln!(out, "    &{}::MODEL,", s.module);
    }
    out.push_str("];\n");
    out
}

/// `generated/service.rs`: the services, as an enum to route by.
pub fn service_enum(services: &[ServiceConfig]) -> String {
    let mut out = String::from(
        "//! Generated by tarn-codegen: the services tarn serves, for routing by type. Do not edit.\n\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\npub enum Service {\n",
    );
    for s in services {
        let _ = writeln!(out, "    {},", service_variant(s.module));
    }
    out.push_str("}\n");
    out
}

/// (service id, served operations, operations not served).
pub type ReportRow = (String, Vec<String>, Vec<String>);

pub fn report_rows(config: &ServiceConfig, model: &Model) -> ReportRow {
    let (served, not): (Vec<String>, Vec<String>) =
        model.operations.keys().cloned().partition(|op| config.served.contains(&op.as_str()));
    (model.service_id.clone(), served, not)
}

/// README.md with the operations table between its markers replaced.
pub fn readme_with_report(readme: &str, rows: &[ReportRow]) -> String {
    let start = readme.find(README_START).expect("README.md lacks the wire-operations start marker");
    let end = readme.find(README_END).expect("README.md lacks the wire-operations end marker");
    let mut table = String::new();
    table.push_str(README_START);
    table.push_str("\n\n| Service | Operations served | Not yet |\n|---|---:|---:|\n");
    let mut rows: Vec<&ReportRow> = rows.iter().collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for (service, served, not) in &rows {
        let _ = writeln!(table, "| {service} | {} | {} |", served.len(), not.len());
    }
    for (service, served, not) in &rows {
        let quote = |ops: &[String]| ops.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ");
        let _ =
            write!(table, "\n<details><summary>{service}: which operations</summary>\n\nServed: {}\n", quote(served));
        if !not.is_empty() {
            let _ = write!(table, "\nNot yet: {}\n", quote(not));
        }
        table.push_str("\n</details>\n");
    }
    table.push('\n');
    format!("{}{}{}", &readme[..start], table, &readme[end..])
}
