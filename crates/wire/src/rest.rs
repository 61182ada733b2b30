//! The REST-JSON binding: an operation is a method and a path template
//! (`GET /query-executions/{QueryExecutionId}`), and its input members come from the URI
//! labels, the query string, the headers and the JSON body, as each member's location says.

use std::borrow::Cow;

use crate::doc::Doc;
use crate::model::{Kind, Location, OperationModel, ServiceModel};

/// URI labels and their values.
pub type Labels = Vec<(&'static str, String)>;

/// The operation of `model` that `method` and `path` (still percent-encoded) name, and the
/// values of its URI labels. Among several matching templates the one with the most literal
/// segments wins (`/workgroups/{WorkGroup}/sessions` over `/workgroups/{WorkGroup}`).
#[must_use]
pub fn route(model: &'static ServiceModel, method: &str, path: &str) -> Option<(&'static OperationModel, Labels)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(usize, &'static OperationModel, Labels)> = None;
    for op in model.operations {
        if !op.method.eq_ignore_ascii_case(method) {
            continue;
        }
        let template = op.uri.split('?').next().unwrap_or(op.uri);
        if let Some((literals, labels)) = matches(template, &segments)
            && best.as_ref().is_none_or(|(n, _, _)| literals > *n)
        {
            best = Some((literals, op, labels));
        }
    }
    best.map(|(_, op, labels)| (op, labels))
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Matches a template against the request's path segments: (literal segments, labels).
fn matches(template: &'static str, segments: &[&str]) -> Option<(usize, Labels)> {
    let parts: Vec<&'static str> = template.trim_start_matches('/').split('/').collect();
    let mut labels = Vec::new();
    let mut literals = 0;
    for (i, part) in parts.iter().enumerate() {
        if let Some(label) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if let Some(greedy) = label.strip_suffix('+') {
                let rest = segments.get(i..)?;
                if rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
                    return None;
                }
                labels.push((greedy, rest.iter().map(|s| decode(s)).collect::<Vec<_>>().join("/")));
                return Some((literals, labels));
            }
            let value = segments.get(i)?;
            if value.is_empty() {
                return None;
            }
            labels.push((label, decode(value)));
        } else {
            if segments.get(i) != Some(part) {
                return None;
            }
            literals += 1;
        }
    }
    (segments.len() == parts.len()).then_some((literals, labels))
}

/// The request `Doc` of `op`: the body's members, and every member bound to a URI label, a
/// query parameter or a header (as text, which [`crate::check`] with
/// [`crate::Scalars::Rest`] types).
#[must_use]
pub fn bind(
    model: &ServiceModel,
    op: &OperationModel,
    body: Doc,
    labels: &[(&str, String)],
    query: &[(String, String)],
    headers: &[(String, String)],
) -> Doc {
    let Some(input) = op.input else { return body };
    let Kind::Structure { members } = &model.shape(input).kind else { return body };
    let mut doc = match body {
        Doc::Map(entries) => Doc::Map(entries),
        _ => Doc::empty(),
    };
    for m in *members {
        let value = match m.location {
            Location::Body | Location::StatusCode => continue,
            Location::Uri => labels.iter().find(|(l, _)| *l == m.wire_name).map(|(_, v)| Doc::Str(v.clone())),
            Location::Query => match model.shape(m.shape).kind {
                Kind::List { .. } => {
                    let values: Vec<Doc> =
                        query.iter().filter(|(k, _)| k == m.wire_name).map(|(_, v)| Doc::Str(v.clone())).collect();
                    (!values.is_empty()).then_some(Doc::List(values))
                }
                Kind::Map { .. } => {
                    let bound: Vec<&str> = members
                        .iter()
                        .filter(|o| o.location == Location::Query && o.name != m.name)
                        .map(|o| o.wire_name)
                        .collect();
                    let entries: Vec<_> = query
                        .iter()
                        .filter(|(k, _)| !bound.contains(&k.as_str()))
                        .map(|(k, v)| (Cow::Owned(k.clone()), Doc::Str(v.clone())))
                        .collect();
                    (!entries.is_empty()).then_some(Doc::Map(entries))
                }
                _ => query.iter().find(|(k, _)| k == m.wire_name).map(|(_, v)| Doc::Str(v.clone())),
            },
            Location::Header => headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(m.wire_name)).map(|(_, v)| {
                match model.shape(m.shape).kind {
                    Kind::List { .. } => Doc::List(v.split(',').map(|s| Doc::Str(s.trim().to_string())).collect()),
                    _ => Doc::Str(v.clone()),
                }
            }),
            Location::Headers => {
                let prefix = m.wire_name.to_ascii_lowercase();
                let entries: Vec<_> = headers
                    .iter()
                    .filter_map(|(k, v)| {
                        let k = k.to_ascii_lowercase();
                        k.strip_prefix(&prefix).map(|rest| (Cow::Owned(rest.to_string()), Doc::Str(v.clone())))
                    })
                    .collect();
                (!entries.is_empty()).then_some(Doc::Map(entries))
            }
        };
        if let Some(v) = value {
            doc.set(m.name, v);
        }
    }
    doc
}

/// Splits an answer into the headers its header-bound members go to and the body.
#[must_use]
pub fn answer(model: &ServiceModel, op: &OperationModel, mut doc: Doc) -> (Vec<(String, String)>, Doc) {
    let mut headers = Vec::new();
    let Some(output) = op.output else { return (headers, doc) };
    let Kind::Structure { members } = &model.shape(output).kind else { return (headers, doc) };
    for m in *members {
        if m.location == Location::Header
            && let Some(v) = doc.take(m.name)
        {
            let text = match v {
                Doc::Str(s) => s,
                Doc::Int(i) => i.to_string(),
                Doc::Bool(b) => b.to_string(),
                Doc::Time(t) => t.http_date(),
                other => String::from_utf8_lossy(&crate::doc::to_json(&other)).into_owned(),
            };
            headers.push((m.wire_name.to_string(), text));
        }
    }
    (headers, doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::athena;

    #[test]
    fn routes_by_method_and_template() {
        let m = &athena::MODEL;
        let (op, labels) = route(m, "GET", "/query-executions/abc%2Fdef/results").unwrap();
        assert_eq!(op.name, "GetQueryResults");
        assert_eq!(labels, vec![("QueryExecutionId", "abc/def".to_string())]);
        assert_eq!(route(m, "POST", "/query-executions").unwrap().0.name, "StartQueryExecution");
        assert_eq!(route(m, "GET", "/query-executions").unwrap().0.name, "ListQueryExecutions");
        assert_eq!(route(m, "DELETE", "/workgroups/primary").unwrap().0.name, "DeleteWorkGroup");
        assert_eq!(route(m, "GET", "/workgroups/primary/sessions").unwrap().0.name, "ListSessions");
        assert!(route(m, "GET", "/no-such-path").is_none());
        assert!(route(m, "GET", "/query-executions/").is_none(), "an empty label matches nothing");
    }

    #[test]
    fn binds_labels_query_and_body() {
        let m = &athena::MODEL;
        let (op, labels) = route(m, "GET", "/query-executions/q-1/results").unwrap();
        let query = vec![("MaxResults".to_string(), "5".to_string()), ("NextToken".to_string(), "t".to_string())];
        let mut doc = bind(m, op, Doc::empty(), &labels, &query, &[]);
        crate::prepare(m, op, &mut doc, crate::Scalars::Rest).unwrap();
        assert_eq!(doc.get("QueryExecutionId"), Some(&Doc::Str("q-1".into())));
        assert_eq!(doc.get("MaxResults"), Some(&Doc::Int(5)), "query text typed by the shape");
        let query = vec![("MaxResults".to_string(), "lots".to_string())];
        let mut doc = bind(m, op, Doc::empty(), &labels, &query, &[]);
        let e = crate::prepare(m, op, &mut doc, crate::Scalars::Rest).unwrap_err();
        assert_eq!(e.code, "SerializationException");
    }
}
