//! Sign-up attributes (spec §9): values arrive as a JSON object serialised into the `attributes`
//! form field, any JSON scalar per value; each declared attribute is coerced to its type and
//! validated. Unknown names are ignored, as Entra does.

use crate::error::{FlowError, FlowResult};
use crate::model::{AttributeKind, AttributeSpec};
use serde_json::{Map, Value};

/// Spec §9 length limits of the built-in attributes, in characters.
fn builtin_max_length(name: &str) -> Option<usize> {
    match name {
        "city" | "country" | "jobTitle" | "state" => Some(128),
        "displayName" => Some(256),
        "givenName" | "surname" => Some(64),
        "postalCode" => Some(40),
        "streetAddress" => Some(1024),
        _ => None,
    }
}

/// The longest value accepted: an app may tighten a built-in attribute's spec §9 limit but never
/// loosen it; custom attributes take the app's limit, or 256.
fn max_length(spec: &AttributeSpec) -> usize {
    match (spec.max_length, builtin_max_length(&spec.name)) {
        (Some(app), Some(builtin)) => app.min(builtin),
        (Some(app), None) => app,
        (None, builtin) => builtin.unwrap_or(256),
    }
}

/// Characters refused in string values: controls (CR, LF, NUL, …) and the Unicode line and
/// paragraph separators, since values end up in mails and logs where a line break could forge a
/// header or a log line.
fn forbidden(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Parses the `attributes` form field: a JSON object.
pub fn parse(raw: &str) -> FlowResult<Map<String, Value>> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(FlowError::AttributesMalformed),
    }
}

/// Coerces and validates the declared attributes among `incoming`; returns the accepted values.
/// Every failing attribute is named in the error.
pub fn validate(specs: &[AttributeSpec], incoming: &Map<String, Value>) -> FlowResult<Map<String, Value>> {
    let mut accepted = Map::new();
    let mut failed = Vec::new();
    for (name, value) in incoming {
        let Some(spec) = specs.iter().find(|s| &s.name == name) else {
            tracing::debug!(attribute = %name, "ignoring an attribute the app does not collect");
            continue;
        };
        match coerce(spec, value) {
            Some(v) => {
                accepted.insert(name.clone(), v);
            }
            None => failed.push(name.clone()),
        }
    }
    if failed.is_empty() {
        Ok(accepted)
    } else {
        Err(FlowError::AttributeValidation(failed))
    }
}

/// The required attributes not present in `have`.
pub fn missing<'a>(specs: &'a [AttributeSpec], have: &Map<String, Value>) -> Vec<&'a AttributeSpec> {
    specs
        .iter()
        .filter(|s| s.required && !have.contains_key(&s.name))
        .collect()
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        // Multi-select values arrive as arrays from some clients: a comma-separated string.
        Value::Array(items) => items
            .iter()
            .map(scalar_text)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        Value::Null | Value::Object(_) => None,
    }
}

fn coerce(spec: &AttributeSpec, value: &Value) -> Option<Value> {
    match spec.kind {
        AttributeKind::Boolean => match value {
            Value::Bool(b) => Some(Value::Bool(*b)),
            Value::Number(n) if n.as_i64() == Some(1) => Some(Value::Bool(true)),
            Value::Number(n) if n.as_i64() == Some(0) => Some(Value::Bool(false)),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(Value::Bool(true)),
                "false" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        },
        AttributeKind::Int => {
            let n = match value {
                Value::Number(n) => n.as_i64()?,
                Value::String(s) => s.trim().parse::<i64>().ok()?,
                _ => return None,
            };
            let allowed = spec.allowed_values.is_empty() || spec.allowed_values.contains(&n.to_string());
            allowed.then(|| Value::from(n))
        }
        AttributeKind::String => {
            let text = scalar_text(value)?;
            let trimmed = text.trim();
            let len = trimmed.chars().count();
            let max = max_length(spec);
            if len == 0 || len < spec.min_length.unwrap_or(0) || len > max {
                return None;
            }
            if trimmed.chars().any(forbidden) {
                return None;
            }
            if !spec.allowed_values.is_empty() && !spec.allowed_values.iter().any(|a| a == trimmed) {
                return None;
            }
            if let Some(pattern) = &spec.pattern {
                let re = regex::Regex::new(&format!("^(?:{pattern})$")).ok()?;
                if !re.is_match(trimmed) {
                    return None;
                }
            }
            Some(Value::String(trimmed.to_owned()))
        }
    }
}

/// Checks an app's attribute declarations once, at configuration time.
pub fn check_specs(specs: &[AttributeSpec]) -> Result<(), String> {
    for spec in specs {
        let builtin = matches!(
            spec.name.as_str(),
            "city"
                | "country"
                | "displayName"
                | "givenName"
                | "jobTitle"
                | "postalCode"
                | "state"
                | "streetAddress"
                | "surname"
        );
        if !builtin && !spec.name.starts_with("extension_") {
            return Err(format!(
                "attribute '{}' is neither a built-in name (city, country, displayName, givenName, jobTitle, postalCode, state, streetAddress, surname) nor extension_<appid>_<name>",
                spec.name
            ));
        }
        if let Some(p) = &spec.pattern {
            regex::Regex::new(p).map_err(|e| format!("attribute '{}': bad pattern: {e}", spec.name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str, kind: AttributeKind, required: bool) -> AttributeSpec {
        AttributeSpec {
            name: name.into(),
            kind,
            required,
            min_length: None,
            max_length: None,
            pattern: None,
            allowed_values: vec![],
        }
    }

    #[test]
    fn values_are_coerced_to_the_declared_type() {
        let specs = [
            spec("city", AttributeKind::String, true),
            spec("extension_x_newsletter", AttributeKind::Boolean, false),
            spec("extension_x_age", AttributeKind::Int, false),
        ];
        let got = validate(
            &specs,
            json!({"city": 42, "extension_x_newsletter": "TRUE", "extension_x_age": "41", "other": "x"})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"city": "42", "extension_x_newsletter": true, "extension_x_age": 41})
        );
    }

    #[test]
    fn every_failing_attribute_is_named() {
        let mut postal = spec("postalCode", AttributeKind::String, false);
        postal.pattern = Some("[0-9]{4}".into());
        let specs = [postal, spec("extension_x_age", AttributeKind::Int, false)];
        let err = validate(
            &specs,
            json!({"postalCode": "12a4", "extension_x_age": 1.5})
                .as_object()
                .unwrap(),
        );
        match err {
            Err(FlowError::AttributeValidation(mut names)) => {
                names.sort();
                assert_eq!(names, vec!["extension_x_age", "postalCode"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn builtin_limits_apply() {
        let specs = [spec("surname", AttributeKind::String, false)];
        assert!(validate(&specs, json!({"surname": "x".repeat(64)}).as_object().unwrap()).is_ok());
        assert!(validate(&specs, json!({"surname": "x".repeat(65)}).as_object().unwrap()).is_err());
    }

    #[test]
    fn an_app_cannot_loosen_a_builtin_limit() {
        let mut loose = spec("givenName", AttributeKind::String, false);
        loose.max_length = Some(500);
        let mut custom = spec("extension_x_bio", AttributeKind::String, false);
        custom.max_length = Some(500);
        let specs = [loose, custom];
        let ok = |v: Value| validate(&specs, v.as_object().unwrap()).is_ok();
        assert!(ok(
            json!({"givenName": "x".repeat(64), "extension_x_bio": "y".repeat(500)})
        ));
        assert!(!ok(json!({"givenName": "x".repeat(65)})));
    }

    #[test]
    fn line_breaks_and_controls_are_refused() {
        let specs = [spec("displayName", AttributeKind::String, false)];
        for bad in ["a\r\nBcc: x@y.z", "a\nb", "a\u{0}b", "a\u{2028}b", "a\u{85}b"] {
            assert!(
                validate(&specs, json!({ "displayName": bad }).as_object().unwrap()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn missing_lists_required_only() {
        let specs = [
            spec("city", AttributeKind::String, true),
            spec("state", AttributeKind::String, false),
        ];
        let m = missing(&specs, &Map::new());
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].name, "city");
    }

    #[test]
    fn attributes_must_be_an_object() {
        assert!(parse("[1]").is_err());
        assert!(parse("nope").is_err());
        assert!(parse(r#"{"a":1}"#).is_ok());
    }
}
