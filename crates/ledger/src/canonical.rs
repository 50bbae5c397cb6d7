//! JSON as the ledger accepts it, and RFC 8785 (JCS) canonical bytes.
//!
//! Every language must canonicalize an entry alike, so the ledger admits only the JSON subset of
//! LEDGER-FORMAT.md §1: integers within ±(2^53−1), no floating-point values, valid UTF-8 without
//! lone surrogates, no duplicate object keys. [`parse_strict`] enforces that on untrusted bytes
//! (with the line and column of the offence); [`check_values`] enforces it on values built in
//! code (with the JSON path of the offence). [`jcs`] writes RFC 8785 bytes for such values.

use serde::de::{self, DeserializeSeed as _, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// The largest magnitude an integer may have: 2^53 − 1, exactly representable in every JSON
/// implementation, so that no verifier rounds a number differently from the signer.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A value that breaks the ledger's JSON rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The bytes are not JSON, or break a rule; the message carries line and column.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// A floating-point number where only integers are allowed.
    #[error("{path}: floating-point number {value}; numbers must be integers (decimals travel as strings, e.g. \"12.50\")")]
    Float {
        /// JSON path of the value.
        path: String,
        /// The value as written.
        value: String,
    },
    /// An integer outside ±(2^53−1).
    #[error("{path}: integer {value} is outside ±(2^53−1)")]
    OutOfRange {
        /// JSON path of the value.
        path: String,
        /// The value as written.
        value: String,
    },
}

/// Parses untrusted JSON, admitting only what the ledger's value rules allow.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, ValueError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed
        .deserialize(&mut de)
        .map_err(|e| ValueError::Syntax(e.to_string()))?;
    de.end().map_err(|e| ValueError::Syntax(e.to_string()))?;
    Ok(value)
}

/// Checks a value built in code against the value rules, naming the path of the first offence.
pub fn check_values(value: &Value) -> Result<(), ValueError> {
    check_at(value, &mut String::from("$"))
}

/// Checks every member of an object, naming paths from `path`.
pub fn check_object(map: &Map<String, Value>, path: &str) -> Result<(), ValueError> {
    let mut path = path.to_owned();
    for (key, item) in map {
        let len = path.len();
        path.push('.');
        path.push_str(key);
        check_at(item, &mut path)?;
        path.truncate(len);
    }
    Ok(())
}

fn check_at(value: &Value, path: &mut String) -> Result<(), ValueError> {
    match value {
        Value::Number(n) => check_number(n, path),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_at(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                check_at(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

fn check_number(n: &serde_json::Number, path: &str) -> Result<(), ValueError> {
    let in_range = match (n.as_i64(), n.as_u64()) {
        (Some(i), _) => (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i),
        (None, Some(_)) => false,
        (None, None) => {
            return Err(ValueError::Float {
                path: path.to_owned(),
                value: n.to_string(),
            })
        }
    };
    if in_range {
        Ok(())
    } else {
        Err(ValueError::OutOfRange {
            path: path.to_owned(),
            value: n.to_string(),
        })
    }
}

/// Deserializes a [`Value`] while refusing duplicate keys, floats and unsafe integers.
struct StrictSeed;

impl<'de> de::DeserializeSeed<'de> for StrictSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&v) {
            Ok(Value::from(v))
        } else {
            Err(E::custom(format!("integer {v} is outside ±(2^53−1)")))
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        if v <= MAX_SAFE_INTEGER as u64 {
            Ok(Value::from(v))
        } else {
            Err(E::custom(format!("integer {v} is outside ±(2^53−1)")))
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // serde_json also lands here for integers beyond u64, hence the wording.
        Err(E::custom(format!(
            "number {v} is not an integer within ±(2^53−1); decimals travel as strings"
        )))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictSeed)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key \"{key}\"")));
            }
            let value = access.next_value_seed(StrictSeed)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// RFC 8785 canonical bytes of a value that passed [`check_values`] or [`parse_strict`].
///
/// Fails only on a floating-point number, which the value rules exclude.
pub fn jcs(value: &Value) -> Result<Vec<u8>, ValueError> {
    let mut out = Vec::with_capacity(512);
    write_jcs(value, &mut out)?;
    Ok(out)
}

/// Appends the RFC 8785 bytes of `value` to `out`.
pub fn write_jcs(value: &Value, out: &mut Vec<u8>) -> Result<(), ValueError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            check_number(n, "$")?;
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_jcs(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_jcs_object_except(map, &[], out)?,
    }
    Ok(())
}

/// Appends the RFC 8785 bytes of `map` without the members named in `except` (the entry
/// preimage leaves out `hash` and `sig` without copying the entry).
pub fn write_jcs_object_except(
    map: &Map<String, Value>,
    except: &[&str],
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    let mut members: Vec<(&String, &Value)> = map
        .iter()
        .filter(|(k, _)| !except.contains(&k.as_str()))
        .collect();
    // RFC 8785 §3.2.3: keys sort by their UTF-16 code units, not by UTF-8 bytes. ASCII keys,
    // the common case, sort the same either way, and bytes are cheaper.
    if members.iter().all(|(k, _)| k.is_ascii()) {
        members.sort_unstable_by_key(|(k, _)| *k);
    } else {
        members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    }
    write_members(members, (b",", b":"), write_jcs, out)
}

/// Appends `{`, each member as key, `colon`, value (written by `write`) with `comma` between
/// them, and `}`: the one object writer of both JCS and the stored layout.
fn write_members<'a>(
    members: impl IntoIterator<Item = (&'a String, &'a Value)>,
    (comma, colon): (&[u8], &[u8]),
    write: fn(&Value, &mut Vec<u8>) -> Result<(), ValueError>,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    out.push(b'{');
    for (i, (key, item)) in members.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(comma);
        }
        write_string(key, out);
        out.extend_from_slice(colon);
        write(item, out)?;
    }
    out.push(b'}');
    Ok(())
}

/// Appends the stored layout of `value`: members in their given order, `", "` and `": "` as
/// separators, strings escaped as in JCS. Entry lines are kept and exported in this layout so
/// that any byte changed in an exported line, even white space, is caught by the verifier.
pub fn write_layout(value: &Value, out: &mut Vec<u8>) -> Result<(), ValueError> {
    match value {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_layout(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_layout_object(map, out)?,
        scalar => write_jcs(scalar, out)?,
    }
    Ok(())
}

/// Appends the stored layout of an object (see [`write_layout`]).
pub fn write_layout_object(map: &Map<String, Value>, out: &mut Vec<u8>) -> Result<(), ValueError> {
    write_members(map, (b", ", b": "), write_layout, out)
}

/// Writes a JSON string with the minimal escaping of RFC 8785 §3.2.2.2 (ECMAScript's
/// `JSON.stringify`): the two mandatory escapes, the five short control escapes, `\u00xx` for
/// the other control characters, and everything else as literal UTF-8.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        String::from_utf8(jcs(&parse_strict(text.as_bytes()).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn keys_sort_by_utf16_code_units_not_utf8_bytes() {
        // U+E000 is one UTF-16 unit 0xE000; U+1F600 is the surrogate pair 0xD83D 0xDE00, which
        // sorts first in UTF-16 although its UTF-8 bytes sort last.
        assert_eq!(
            canon(r#"{"\ue000":1,"😀":2,"a":3}"#),
            "{\"a\":3,\"😀\":2,\"\u{e000}\":1}"
        );
    }

    #[test]
    fn rfc8785_example_structure_is_reproduced() {
        assert_eq!(
            canon(r#"{ "numbers": [333333333, 4, 2e0], "x": 1 }"#.replace("2e0", "2").as_str()),
            r#"{"numbers":[333333333,4,2],"x":1}"#
        );
        assert_eq!(
            canon(r#"{"string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"}"#),
            "{\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    #[test]
    fn strings_escape_only_what_jcs_requires() {
        assert_eq!(
            canon(r#""\u0000\b\f\t\r\n\u001f\u007f\u2028 é""#),
            "\"\\u0000\\b\\f\\t\\r\\n\\u001f\u{7f}\u{2028} é\""
        );
    }

    #[test]
    fn value_rules_refuse_what_other_languages_would_read_differently() {
        for (text, needle) in [
            ("1.5", "not an integer"),
            ("1e3", "not an integer"),
            ("9007199254740992", "outside"),
            ("-9007199254740992", "outside"),
            ("18446744073709551616", "not an integer"),
            (r#"{"a":1,"a":2}"#, "duplicate key \"a\""),
            (r#""\ud800""#, "escape"),
            ("[1,]", "line 1"),
            ("{} x", "trailing"),
        ] {
            let err = parse_strict(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
        assert!(parse_strict(b"9007199254740991").is_ok());
        assert!(parse_strict(b"-9007199254740991").is_ok());
    }

    #[test]
    fn check_values_names_the_path() {
        let v = serde_json::json!({"data": {"amounts": [1, 2.5]}});
        let err = check_values(&v).unwrap_err().to_string();
        assert!(
            err.starts_with("$.data.amounts[1]: floating-point"),
            "{err}"
        );
        let v = serde_json::json!({"n": 1u64 << 60});
        assert!(matches!(
            check_values(&v),
            Err(ValueError::OutOfRange { .. })
        ));
    }
}
