//! Integer fields over arbitrary JSON numbers: whatever number a peer writes (any `i64`,
//! `u64` or `f64`, as serde reads the text), reading it into any integer field type never
//! panics (these tests run in debug builds, where overflow panics), accepts exactly the
//! integers a JS number holds exactly (|n| ≤ 2^53 − 1) that fit the type, and refuses the
//! rest with `WrongType`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::ResolveQuery;
use jazz_req_core::crypto::CoID;
use jazz_req_core::schema::{
    CoField, CoMapSchema, FieldInfo, MAX_SAFE_INTEGER, MapReader, MapWriter, ResolveBuilder,
    ResolveFields, SchemaError, read_fields,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// A schema with one field `n` of type `T`.
struct One<T>(T);

#[derive(Default)]
struct OneResolve(ResolveFields);
impl ResolveBuilder for OneResolve {
    fn into_query(self) -> ResolveQuery {
        self.0.into_query()
    }
}

impl<T: CoField> CoMapSchema for One<T> {
    const NAME: &'static str = "One";
    const FIELDS: &'static [FieldInfo] = &[];
    type Resolve = OneResolve;
    fn read_map(map: &MapReader<'_>) -> Result<Self, SchemaError> {
        Ok(Self(map.field("n")?))
    }
    fn write_map(&self, map: &mut MapWriter) {
        map.field("n", &self.0);
    }
}

/// Reads `value` as the field `n` of type `T`, widened to `i128`.
fn read<T>(value: &Value) -> Result<i128, SchemaError>
where
    T: CoField,
    i128: TryFrom<T>,
{
    let id = CoID::from_bytes(&[7]);
    let mut fields = Map::new();
    fields.insert("n".into(), value.clone());
    let read = read_fields::<One<T>>(&id, &fields, &ResolveQuery::Value, None)?;
    let One(n) = read.into_inner();
    Ok(i128::try_from(n).unwrap_or_else(|_| unreachable!("every integer type fits an i128")))
}

/// The exact integer `value` is, if it is one (computed apart from the code under test:
/// from the text serde read, in `i128`).
fn exact_integer(value: &Value) -> Option<i128> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(i) = number.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = number.as_u64() {
        return Some(i128::from(u));
    }
    let f = number.as_f64()?;
    // Below 2^100 every integral f64 converts to i128 exactly; beyond, it is far out of
    // range anyway (2^100 stands for it).
    if f.is_finite() && f.fract() == 0.0 {
        Some(if f.abs() < 2f64.powi(100) {
            f as i128
        } else {
            i128::MAX
        })
    } else {
        None
    }
}

/// What reading `value` as `T` must give: the integer, if JS holds it exactly and `T` fits
/// it.
fn expected<T>(value: &Value) -> Option<i128>
where
    T: TryFrom<i128>,
{
    let n = exact_integer(value)?;
    if n.unsigned_abs() > MAX_SAFE_INTEGER.unsigned_abs().into() {
        return None;
    }
    T::try_from(n).ok().map(|_| n)
}

/// Checks one value against every integer field type.
fn check_all(value: &Value) {
    macro_rules! each_type {
        ($($ty:ty),*) => {$(
            let got = read::<$ty>(value);
            match (expected::<$ty>(value), got) {
                (Some(n), Ok(read)) => assert_eq!(read, n, "{value} as {}", stringify!($ty)),
                (None, Err(SchemaError::WrongType { field, .. })) => assert_eq!(field, "n"),
                (want, got) => panic!(
                    "{value} as {}: expected {want:?}, got {got:?}",
                    stringify!($ty)
                ),
            }
        )*};
    }
    each_type!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);
}

/// The value serde reads from `text`.
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn edges_read_or_are_refused_without_panicking() {
    let safe = MAX_SAFE_INTEGER;
    let texts = [
        "0".to_owned(),
        "-0".into(),
        "-0.0".into(),
        "0.0".into(),
        "1".into(),
        "-1".into(),
        "255".into(),
        "256".into(),
        "-128".into(),
        "-129".into(),
        "4294967295".into(),
        "4294967296".into(),
        safe.to_string(),
        (-safe).to_string(),
        (safe + 1).to_string(),
        (-safe - 1).to_string(),
        format!("{safe}.0"),
        format!("-{safe}.0"),
        "9007199254740992.0".into(),
        "-9007199254740992.0".into(),
        "9007199254740993".into(),
        "9223372036854775807".into(),
        "-9223372036854775808".into(),
        "-9223372036854775808.0".into(),
        "9223372036854775808".into(),
        "9223372036854775808.0".into(),
        "18446744073709551615".into(),
        "18446744073709551616".into(),
        "-18446744073709551616".into(),
        "1e300".into(),
        "-1e300".into(),
        "1.7976931348623157e308".into(),
        "-1.7976931348623157e308".into(),
        "5e-324".into(),
        "0.5".into(),
        "-0.5".into(),
        "1e3".into(),
        "1.5e1".into(),
        "12.000000000000002".into(),
    ];
    for text in &texts {
        check_all(&parse(text));
    }
    // The ones the old code got wrong, spelled out.
    let min = parse("-9223372036854775808");
    assert!(matches!(
        read::<i64>(&min),
        Err(SchemaError::WrongType { .. })
    ));
    let max = parse("18446744073709551615");
    assert!(matches!(
        read::<u64>(&max),
        Err(SchemaError::WrongType { .. })
    ));
    assert_eq!(read::<i32>(&parse("-0.0")).unwrap(), 0);
    assert_eq!(read::<u8>(&parse("1e2")).unwrap(), 100);
    assert!(matches!(
        read::<i64>(&parse("1e300")),
        Err(SchemaError::WrongType { .. })
    ));
    // Non-numbers are refused too.
    for value in [
        Value::Bool(true),
        Value::String("1".into()),
        Value::Array(vec![]),
    ] {
        check_all(&value);
    }
}

/// Texts of JSON numbers: any i64, any u64, any finite f64 (shortest form), integral f64s
/// around the safe range, and integers written as floats or with an exponent.
fn number_text() -> impl Strategy<Value = String> {
    let near_safe = (-3i64..=3).prop_map(|d| MAX_SAFE_INTEGER + d);
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinities", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        any::<i32>().prop_map(|i| format!("{i}.0")),
        (any::<i16>(), 0u8..20).prop_map(|(m, e)| format!("{m}e{e}")),
        near_safe.clone().prop_map(|i| i.to_string()),
        near_safe.clone().prop_map(|i| format!("-{i}")),
        near_safe.prop_map(|i| format!("{i}.0")),
        (-70i32..70).prop_map(|p| format!("{:?}", 2f64.powi(p))),
        (-70i32..70).prop_map(|p| format!("{:?}", -(2f64.powi(p)))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_json_number_reads_into_every_integer_type_or_is_refused(text in number_text()) {
        check_all(&parse(&text));
    }
}
