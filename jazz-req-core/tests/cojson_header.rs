//! Header parsing and ids follow cojson 0.20.19's rules. Each case was run against the real
//! library (`new SessionMap(idforHeader(h), JSON.stringify(h))` of `cojson-core-napi`):
//! accepted headers hash to the id JS computes, rejected ones fail as cojson fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{
    CoValueHeader, CoValueType, CreatedAt, HeaderError, Priority, Ruleset, Uniqueness,
};
use jazz_req_core::crypto::{self, AgentID, CoID};
use serde_json::{Value, json};

const GROUP: &str = "co_zKabej7c3Az3opA4DPjkiGQxihF";
const AGENT: &str = "sealer_zGbHRwztTtyU5L5PoFxATD3PWibfUaPnBWEou5bCTV2N9/signer_z6tnSjPCamPqDYEWmjtDumNn9uAyga65aPtHgHZNHRLLx";

fn base() -> Value {
    json!({
        "type": "colist",
        "ruleset": {"type": "ownedByGroup", "group": GROUP},
        "meta": null,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "uniqueness": "zabc",
    })
}

fn with(key: &str, value: Value) -> Value {
    let mut header = base();
    header[key] = value;
    header
}

fn without(key: &str) -> Value {
    let mut header = base();
    header.as_object_mut().unwrap().remove(key);
    header
}

/// The base header with `meta: {"x": <number>}`, the number given as JSON text.
fn meta_number(text: &str) -> Value {
    with(
        "meta",
        serde_json::from_str(&format!(r#"{{"x":{text}}}"#)).unwrap(),
    )
}

/// What cojson makes of `header` sent with the id JS gives it.
fn check(header: &Value) -> Result<CoValueHeader, HeaderError> {
    CoValueHeader::from_json_with_id(header, &crypto::id_for_header(header))
}

#[test]
fn headers_cojson_accepts_hash_to_the_js_id() {
    let accepted = [
        base(),
        with(
            "ruleset",
            json!({"type": "ownedByGroup", "group": GROUP, "restrictDeletion": true}),
        ),
        with(
            "ruleset",
            json!({"type": "ownedByGroup", "group": GROUP, "restrictDeletion": false}),
        ),
        with("ruleset", json!({"type": "group", "initialAdmin": AGENT})),
        with("ruleset", json!({"type": "group", "initialAdmin": GROUP})),
        with("ruleset", json!({"type": "unsafeAllowAll"})),
        without("createdAt"),
        with("createdAt", Value::Null),
        with("createdAt", json!("")),
        with(
            "meta",
            json!({"type": "binary", "n": 1, "f": 1.5, "a": [1, "x", null], "o": {}}),
        ),
        with("meta", json!({"": 1})),
        with("meta", json!({"b": 1, "a": {"d": 2, "c": 3}})),
        with("meta", json!([1])),
        with("meta", json!("x")),
    ];
    // Numbers (as JSON.stringify writes them) that serde_json 1.0.142, inside cojson, writes
    // back the same way.
    let numbers = [
        "1.5",
        "123.456",
        "0.000015",
        "1e-7",
        "0.1",
        "15000000000000000",
    ];
    let accepted = accepted
        .into_iter()
        .chain(numbers.into_iter().map(meta_number));
    let uniquenesses = [
        json!(null),
        json!(true),
        json!(false),
        json!(5),
        json!(-5),
        json!(0),
        json!(1_152_921_504_606_847_000_u64),
        json!(""),
        json!({"a": "b"}),
        json!({"c": "d", "a": "b"}),
    ];
    let accepted = accepted
        .into_iter()
        .chain(uniquenesses.into_iter().map(|u| with("uniqueness", u)));
    for header in accepted {
        let parsed = check(&header).unwrap_or_else(|e| panic!("{header}: {e}"));
        assert_eq!(parsed.id(), crypto::id_for_header(&header), "{header}");
        assert_eq!(parsed.to_json(), header, "to_json writes what was parsed");
    }
}

#[test]
fn headers_whose_canonical_form_differs_from_js_are_id_mismatches() {
    let mut extra = base();
    extra["foo"] = json!(1);
    let mut ruleset_extra = base();
    ruleset_extra["ruleset"]["foo"] = json!(1);
    let cases = [
        without("meta"),
        extra,
        ruleset_extra,
        meta_number("1e+21"),
        meta_number("0.0000015"),
        meta_number("-0.0000025"),
        meta_number("100000000000000000000"),
        meta_number("150000000000000000000"),
        meta_number("18446744073709552000"),
        with("ruleset", json!({"type": "unsafeAllowAll", "group": GROUP})),
    ];
    for header in cases {
        match check(&header) {
            Err(HeaderError::IdMismatch { expected, actual }) => {
                assert_eq!(expected, crypto::id_for_header(&header));
                assert_ne!(expected, actual);
            }
            other => panic!("{header}: expected an id mismatch, got {other:?}"),
        }
    }
}

#[test]
fn headers_cojson_cannot_parse_are_refused() {
    let cases = [
        (without("uniqueness"), "uniqueness"),
        (with("uniqueness", json!(1.5)), "uniqueness"),
        (with("uniqueness", json!(1e21)), "uniqueness"),
        (with("uniqueness", json!({"a": 1})), "uniqueness"),
        (with("uniqueness", json!({"": "x"})), "uniqueness"),
        (with("uniqueness", json!({"a": {"b": "c"}})), "uniqueness"),
        (with("uniqueness", json!([])), "uniqueness"),
        (with("uniqueness", json!(u64::MAX)), "uniqueness"),
        (with("createdAt", json!(5)), "createdAt"),
        (
            with("ruleset", json!({"type": "ownedByGroup"})),
            "ruleset.group",
        ),
        (
            with("ruleset", json!({"type": "ownedByGroup", "group": 5})),
            "ruleset.group",
        ),
        (
            with("ruleset", json!({"type": "group"})),
            "ruleset.initialAdmin",
        ),
        (with("ruleset", json!({"type": "owner"})), "ruleset.type"),
        (with("type", json!("bogus")), "type"),
        (json!([1]), ""),
    ];
    for (header, field) in cases {
        match CoValueHeader::from_json(&header) {
            Err(HeaderError::BadField { field: f, .. } | HeaderError::MissingField(f)) => {
                assert_eq!(f, field, "{header}");
            }
            Err(HeaderError::NotAnObject) => assert_eq!(field, "", "{header}"),
            other => panic!("{header}: expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn account_headers_match_crypto_and_name_their_agent() {
    let agent = AgentID::parse(AGENT).unwrap();
    let header = CoValueHeader::account(&agent);
    assert_eq!(header.to_json(), crypto::account_header_for_agent(&agent));
    assert_eq!(header.id(), crypto::account_id_for_agent(&agent));
    assert_eq!(header.account_agent(), Some(&agent));
    assert_eq!(header.priority(), Priority::High);
    let group = CoValueHeader::from_json(&with(
        "ruleset",
        json!({"type": "group", "initialAdmin": AGENT}),
    ))
    .unwrap();
    assert_eq!(group.account_agent(), None, "a group is not an account");
}

#[test]
fn priorities_follow_the_header() {
    let owned = Ruleset::OwnedByGroup {
        group: CoID::parse(GROUP).unwrap(),
        restrict_deletion: None,
    };
    let header = |co_type, ruleset: &Ruleset, meta: Option<Value>| CoValueHeader {
        co_type,
        ruleset: ruleset.clone(),
        meta,
        created_at: CreatedAt::Absent,
        uniqueness: Uniqueness::Null,
    };
    let binary = Some(json!({"type": "binary"}));
    assert_eq!(
        header(CoValueType::CoStream, &owned, binary.clone()).priority(),
        Priority::Low
    );
    assert_eq!(
        header(CoValueType::CoMap, &owned, binary).priority(),
        Priority::Medium
    );
    assert_eq!(
        header(CoValueType::CoList, &owned, None).priority(),
        Priority::Medium
    );
    let group = Ruleset::Group {
        initial_admin: jazz_req_core::crypto::SessionAuthor::Account(CoID::parse(GROUP).unwrap()),
    };
    assert_eq!(
        header(CoValueType::CoMap, &group, None).priority(),
        Priority::High
    );
}

#[test]
fn new_headers_are_unique_and_dated_like_to_iso_string() {
    let a = CoValueHeader::new_unique(CoValueType::CoMap, Ruleset::UnsafeAllowAll, None).unwrap();
    let b = CoValueHeader::new_unique(CoValueType::CoMap, Ruleset::UnsafeAllowAll, None).unwrap();
    assert_ne!(a.id(), b.id());
    let CreatedAt::At(at) = &a.created_at else {
        panic!("createdAt is set")
    };
    assert_eq!(at.len(), "2026-01-01T00:00:00.000Z".len());
    assert!(at.starts_with('2') && at.ends_with('Z'), "{at}");
    let Uniqueness::String(unique) = &a.uniqueness else {
        panic!("uniqueness is a string")
    };
    assert!(unique.starts_with('z'));
    // The id is the same whether computed canonically or as JS computes it.
    assert_eq!(a.id(), crypto::id_for_header(&a.to_json()));
}
