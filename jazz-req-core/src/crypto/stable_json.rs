//! cojson's `stableStringify`: the JSON text that every hash, signature, nonce and id covers.
//!
//! It differs from `serde_json::to_string` in four ways, each needed for byte equality with JS:
//! object keys are sorted by UTF-16 code units (JS `Array.prototype.sort`), numbers are printed
//! as JS `Number#toString` prints them (via `ryu-js`, with integers up to 2^53 exact), strings
//! are escaped as `JSON.stringify` escapes them, and string values that start with
//! `encrypted_U` or `binary_U` are written between quotes with no escaping at all.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// Largest integer that a JS number holds exactly.
const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// How object keys are ordered in the text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyOrder {
    /// By UTF-16 code units (`stableStringify`).
    Sorted,
    /// As the object holds them (`JSON.stringify`).
    Insertion,
}

/// The stable JSON text of `value`.
pub fn stable_stringify(value: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_value(value, &mut out, KeyOrder::Sorted);
    out
}

/// Appends the stable JSON text of `value` to `out`.
pub fn write_stable(value: &Value, out: &mut String) {
    write_value(value, out, KeyOrder::Sorted);
}

/// What JS `JSON.stringify(value)` prints: keys in the object's order, numbers as JS prints
/// them (`-0` as `0`, `3.0` as `3`, `1e21` as `1e+21`), strings escaped as JS escapes them.
/// The text of the changes a transaction carries.
pub fn js_stringify(value: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_value(value, &mut out, KeyOrder::Insertion);
    out
}

/// The stable JSON text of a string value (what `stableStringify("…")` gives).
pub fn stable_stringify_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    write_string_value(text, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String, order: KeyOrder) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) if order == KeyOrder::Sorted => write_string_value(s, out),
        Value::String(s) => write_escaped(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out, order);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if order == KeyOrder::Sorted {
                entries.sort_by(|a, b| compare_utf16(a.0, b.0));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_escaped(key, out);
                out.push(':');
                write_value(item, out, order);
            }
            out.push('}');
        }
    }
}

/// Orders two strings as JS `sort()` does: by UTF-16 code units.
pub fn compare_utf16(a: &str, b: &str) -> Ordering {
    // Byte order equals UTF-16 order unless a supplementary-plane char (4 UTF-8 bytes, a
    // surrogate pair in UTF-16) meets a char in U+E000..=U+FFFF; take the exact path then.
    if a.is_ascii() || b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_number(n: &Number, out: &mut String) {
    let exact_integer = match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u <= MAX_SAFE_INTEGER,
        (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
        (None, None) => false,
    };
    if exact_integer {
        // serde_json prints integers in plain decimal, as JS does up to 2^53.
        out.push_str(&n.to_string());
        return;
    }
    // Larger integers and all floats: what a JS number holding this value prints.
    // Without `arbitrary_precision`, every serde_json number converts to a finite f64.
    let float = n.as_f64().unwrap_or(0.0);
    let mut buffer = ryu_js::Buffer::new();
    out.push_str(buffer.format(float));
}

fn write_string_value(text: &str, out: &mut String) {
    if text.starts_with("encrypted_U") || text.starts_with("binary_U") {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        write_escaped(text, out);
    }
}

/// Appends `text` as a JSON string literal escaped exactly as JS `JSON.stringify` does.
pub fn write_escaped(text: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape: Option<&str> = match byte {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\x08' => Some("\\b"),
            b'\x0c' => Some("\\f"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.push_str(&text[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}
