//! The canonical JSON text the cojson Rust core writes for header `meta` values: object keys
//! in byte order (a `BTreeMap`), string escapes as `serde_json` writes them, and numbers as
//! `serde_json` 1.0.142 (the version inside cojson 0.20.19) writes them: integers in decimal,
//! floats in `ryu`'s format (`1e21`, `1.5e-6`, `1.5e20`, `0.000015`).
//!
//! It equals `stableStringify` for every value JS writes in practice; where they differ (a float
//! such as `1e21` or `0.0000015`, keys outside the Basic Multilingual Plane) the real library
//! rejects the header with an id mismatch, and so does this one.

use serde_json::{Number, Value};

use crate::crypto::stable_json::write_escaped;

/// Appends the canonical JSON text of `value` to `out`.
pub(crate) fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_escaped(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_escaped(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

/// Writes a number as `serde_json` 1.0.142 does: integers in decimal, floats as `ryu` formats
/// them.
fn write_number(n: &Number, out: &mut String) {
    if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else {
        write_ryu(n.as_f64().unwrap_or(0.0), out);
    }
}

/// `ryu`'s `format64` ("pretty" format) of a finite float. `ryu-js` yields the same shortest
/// digits in JS's layout; they are re-laid out here (`kk` is the decimal exponent such that
/// `10^(kk-1) <= |v| < 10^kk`).
fn write_ryu(value: f64, out: &mut String) {
    let mut buffer = ryu_js::Buffer::new();
    let negative = value.is_sign_negative();
    let js = buffer.format_finite(value.abs());
    let (mantissa, exponent) = match js.split_once('e') {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i64>().unwrap_or(0)),
        None => (js, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = [integer, fraction].concat();
    let significant = all.trim_start_matches('0');
    let digits = significant.trim_end_matches('0');
    if negative {
        out.push('-');
    }
    if digits.is_empty() {
        out.push_str("0.0");
        return;
    }
    let trailing_zeros = (significant.len() - digits.len()) as i64;
    let k = exponent - fraction.len() as i64 + trailing_zeros;
    let length = digits.len() as i64;
    let kk = length + k;
    if (0..).contains(&k) && kk <= 16 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', k as usize));
        out.push_str(".0");
    } else if 0 < kk && kk <= 16 {
        let (int_part, frac_part) = digits.split_at(kk as usize);
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac_part);
    } else if -5 < kk && kk <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-kk) as usize));
        out.push_str(digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push_str(&(kk - 1).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::write_ryu;

    fn ryu(value: f64) -> String {
        let mut out = String::new();
        write_ryu(value, &mut out);
        out
    }

    #[test]
    fn floats_are_laid_out_as_ryu_does() {
        let cases = [
            (1.5, "1.5"),
            (123.456, "123.456"),
            (0.1, "0.1"),
            (0.000015, "0.000015"),
            (0.0000015, "1.5e-6"),
            (-0.0000025, "-2.5e-6"),
            (1e-7, "1e-7"),
            (1e16, "1e16"),
            (1.5e16, "1.5e16"),
            (1e15, "1000000000000000.0"),
            (1234e7, "12340000000.0"),
            (1e20, "1e20"),
            (1.5e20, "1.5e20"),
            (1e21, "1e21"),
            (18446744073709552000.0, "1.8446744073709552e19"),
            (123456789012345680000.0, "1.2345678901234568e20"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e308"),
        ];
        for (value, want) in cases {
            assert_eq!(ryu(value), want, "{value:e}");
        }
    }
}
