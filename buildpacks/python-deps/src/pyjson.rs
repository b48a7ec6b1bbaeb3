//! Python's `json.dumps(data, sort_keys=True)`, byte for byte.
//!
//! Poetry's `content-hash` and Pipenv's `_meta.hash` are sha256 digests of the project file
//! serialised this way, so checking a lock against its project file means reproducing it
//! exactly: sorted keys, ASCII-only output (`\uXXXX` escapes) and the caller's separators.

use serde_json::Value;
use std::fmt::Write;

/// `json.dumps` separators: Poetry uses the default (`", "`, `": "`), Pipenv compact ones.
#[derive(Debug, Clone, Copy)]
pub struct Separators {
    pub item: &'static str,
    pub key: &'static str,
}

pub const DEFAULT: Separators = Separators {
    item: ", ",
    key: ": ",
};
pub const COMPACT: Separators = Separators {
    item: ",",
    key: ":",
};

/// Serialises like `json.dumps(value, sort_keys=True, separators=…)`.
#[must_use]
pub fn dumps(value: &Value, separators: Separators) -> String {
    let mut out = String::new();
    write_value(&mut out, value, separators);
    out
}

fn write_value(out: &mut String, value: &Value, separators: Separators) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(separators.item);
                }
                write_value(out, item, separators);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Python sorts str keys by code point; Rust's str ordering is by UTF-8 bytes,
            // which orders code points the same way.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push_str(separators.item);
                }
                write_string(out, key);
                out.push_str(separators.key);
                write_value(out, &map[key.as_str()], separators);
            }
            out.push('}');
        }
    }
}

fn write_number(out: &mut String, number: &serde_json::Number) {
    if let Some(float) = number.as_f64().filter(|_| number.is_f64()) {
        // Python's float repr: integral floats keep a trailing `.0`.
        if float.is_finite() && float.fract() == 0.0 && float.abs() < 1e16 {
            let _ = write!(out, "{float:.1}");
        } else {
            let _ = write!(out, "{float}");
        }
    } else {
        let _ = write!(out, "{number}");
    }
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// A TOML document as the JSON value Python's `tomllib` + `json` would see.
#[must_use]
pub fn from_toml(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(text) => Value::String(text.clone()),
        toml::Value::Integer(number) => Value::from(*number),
        toml::Value::Float(number) => Value::from(*number),
        toml::Value::Boolean(flag) => Value::Bool(*flag),
        toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(from_toml).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| (key.clone(), from_toml(value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_default_separators() {
        // python3 -c 'import json; print(json.dumps({"b": [1, 2.0, True], "a": "é\n"}, sort_keys=True))'
        assert_eq!(
            dumps(&json!({"b": [1, 2.0, true], "a": "é\n"}), DEFAULT),
            r#"{"a": "\u00e9\n", "b": [1, 2.0, true]}"#
        );
    }

    #[test]
    fn matches_python_compact_separators() {
        assert_eq!(
            dumps(&json!({"z": {"y": null}, "a": ["😀"]}), COMPACT),
            r#"{"a":["\ud83d\ude00"],"z":{"y":null}}"#
        );
    }
}
