//! Recording: which operation a request reached, and its first 2xx JSON body with ids,
//! times and secrets normalised to fixed values.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::common::Resp;

/// What every recorded time becomes, and the day and month of a report's period.
const TIME: &str = "2026-11-27T08:30:00Z";
const DAY: &str = "2026-11-27";
const MONTH: &str = "2026-11";

/// Path templates of the document by method, to name the operation a request went to.
pub struct Operations(Vec<(String, Vec<String>, String)>);

impl Operations {
    pub fn from_spec(spec: &Value) -> Self {
        let mut all = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let Some(id) = operation["operationId"].as_str() else { continue };
                let segments = path.split('/').map(str::to_owned).collect();
                all.push((method.to_uppercase(), segments, id.to_owned()));
            }
        }
        Self(all)
    }

    /// The operation `method uri` reached: the template whose literal segments all match,
    /// the most literal one first (`/demands/{id}` against `/demands/search`).
    fn find(&self, method: &Method, uri: &str) -> String {
        let path = uri.split('?').next().unwrap_or(uri);
        let segments: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .filter(|(m, template, _)| {
                m == method.as_str()
                    && template.len() == segments.len()
                    && template.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s)
            })
            .max_by_key(|(_, template, _)| template.iter().filter(|t| !t.starts_with('{')).count())
            .map(|(_, _, id)| id.clone())
            .unwrap_or_else(|| panic!("no operation for {method} {uri}"))
    }
}

/// The first 2xx JSON body of each operation, normalised.
pub struct Recorder {
    pub operations: Operations,
    pub recorded: BTreeMap<String, Value>,
    /// Each id seen, by order of first appearance → its fixed stand-in.
    pub ids: HashMap<String, String>,
}

impl Recorder {
    pub fn note(&mut self, method: &Method, uri: &str, res: &Resp) {
        let is_json = res.header("content-type").is_some_and(|t| t.starts_with("application/json"));
        if !res.status.is_success() || !is_json || res.body.is_empty() {
            return;
        }
        let id = self.operations.find(method, uri);
        if self.recorded.contains_key(&id) {
            return;
        }
        let mut body = res.json();
        self.normalise(&mut body, None);
        self.recorded.insert(id, json!({"status": res.status.as_str(), "body": body}));
    }

    fn normalise(&mut self, value: &mut Value, key: Option<&str>) {
        match value {
            // Random or signed afresh on each run: shown by their shape.
            Value::String(s)
                if matches!(key, Some("access_token" | "refresh_token" | "secret")) =>
            {
                // A secret keeps the prefix that says what it is.
                let prefix = ["whsec_", "techx_live_"].into_iter().find(|p| s.starts_with(p));
                *s = match (key, prefix) {
                    (Some("access_token"), _) => "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwMTkzYTViMi03YzRlLTdkMTAtODAwMC0wMDAwMDAwMDAwMDEifQ.c2lnbmF0dXJl".into(),
                    (_, prefix) => format!("{}3q2-7wJ9xk0vN4bYpL6mZc8TfA1sDhEgRuKiOo5", prefix.unwrap_or_default()),
                };
            }
            // An API key's public prefix: the start of its (stand-in) secret.
            Value::String(s) if key == Some("prefix") && s.starts_with("techx_live_") => {
                let stand_in = "techx_live_3q2-7wJ9xk0vN4bYpL6mZc8TfA1sDhEgRuKiOo5";
                *s = stand_in.chars().take(s.chars().count()).collect();
            }
            Value::String(s) if is_time(s) => *s = TIME.into(),
            // A report's period is the day the test ran.
            Value::String(s) if matches!(key, Some("from" | "to")) && is_day(s) => *s = DAY.into(),
            Value::String(s) if key == Some("month") && is_day(&format!("{s}-01")) => {
                *s = MONTH.into()
            }
            Value::String(s) => *s = self.replace_ids(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.normalise(v, None)),
            Value::Object(fields) => {
                for (k, v) in fields.iter_mut() {
                    self.normalise(v, Some(k.as_str()));
                }
            }
            _ => {}
        }
    }

    /// `s` with every UUID in it replaced by its stand-in (`0193a5b2-…-000000000007`).
    fn replace_ids(&mut self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(at) = (0..rest.len()).find(|&i| rest.get(i..i + 36).is_some_and(is_uuid)) {
            out.push_str(&rest[..at]);
            let next = self.ids.len() + 1;
            let stand_in = self
                .ids
                .entry(rest[at..at + 36].to_owned())
                .or_insert_with(|| format!("0193a5b2-7c4e-7d10-8000-{next:012}"));
            out.push_str(stand_in);
            rest = &rest[at + 36..];
        }
        out.push_str(rest);
        out
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() }
        })
}

fn is_day(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// An RFC 3339 time in UTC, as the API writes them.
fn is_time(s: &str) -> bool {
    s.len() >= 20 && s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

/// A request through the App, recorded; its body (null when empty) once it succeeded.
macro_rules! send {
    ($ctx:expr, $rec:expr, $method:expr, $uri:expr, $token:expr, $if_match:expr, $body:expr) => {{
        let (method, uri): (Method, String) = ($method, $uri.to_string());
        let res = $ctx.send(method.clone(), &uri, $token, $if_match, $body).await;
        assert!(res.status.is_success(), "{method} {uri}: {} {}", res.status, res.text());
        $rec.note(&method, &uri, &res);
        if res.body.is_empty() { Value::Null } else { res.json() }
    }};
}
