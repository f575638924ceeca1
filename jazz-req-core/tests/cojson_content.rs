//! Malformed content messages get a typed error naming what is wrong, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{
    CoValueHeader, CoValueType, ContentError, ContentMessage, HeaderError, Priority, Ruleset,
    Transaction, TransactionError, VerifiedCoValue,
};
use jazz_req_core::crypto::{self, SessionAuthor, SessionID, VerifyingKey};
use serde_json::{Value, json};

const SESSION: &str = "sealer_zGbHRwztTtyU5L5PoFxATD3PWibfUaPnBWEou5bCTV2N9/signer_z6tnSjPCamPqDYEWmjtDumNn9uAyga65aPtHgHZNHRLLx_session_zLBdWJ9ewium";
const SIGNATURE: &str = "signature_z4rWZqXU3X4zDgmkjChciH4rysZmLZgZMMGn2RSWDqaTSuXWUGfujyirxFL67LeuZFAR1pKa6bpwbpvvjWEniPug8";

fn message() -> Value {
    json!({
        "action": "content",
        "id": "co_zAd1gPfAx4eaJXXv7abvz8y3fRw",
        "priority": 0,
        "new": {SESSION: {"after": 0, "newTransactions": [{"changes": "[]", "madeAt": 1, "privacy": "trusting"}], "lastSignature": SIGNATURE}},
    })
}

fn edited(edit: impl FnOnce(&mut Value)) -> Value {
    let mut value = message();
    edit(&mut value);
    value
}

#[test]
fn a_well_formed_message_parses_and_writes_back() {
    let parsed = ContentMessage::from_json(&message()).unwrap();
    assert_eq!(parsed.priority, Priority::High);
    assert_eq!(parsed.to_json(), message());
    assert_eq!(parsed.to_json_string(), message().to_string());
}

#[test]
fn malformed_messages_name_what_is_wrong() {
    let session = SessionID::parse(SESSION).unwrap();
    let cases: Vec<(Value, ContentError)> = vec![
        (json!([]), ContentError::NotAnObject),
        (
            edited(|m| m["action"] = json!("load")),
            ContentError::WrongAction("load".into()),
        ),
        (
            edited(|m| {
                m.as_object_mut().unwrap().remove("new");
            }),
            ContentError::MissingField("new"),
        ),
        (
            edited(|m| {
                m.as_object_mut().unwrap().remove("priority");
            }),
            ContentError::MissingField("priority"),
        ),
        (
            edited(|m| {
                m["new"][SESSION]
                    .as_object_mut()
                    .unwrap()
                    .remove("lastSignature");
            }),
            ContentError::MissingField("new.*.lastSignature"),
        ),
        (
            edited(|m| m["new"][SESSION]["newTransactions"][0]["madeAt"] = json!(-1)),
            ContentError::Transaction {
                session: Box::new(session.clone()),
                index: 0,
                source: TransactionError::MadeAtNotInteger("-1".into()),
            },
        ),
        (
            edited(|m| m["header"] = json!({"type": "comap"})),
            ContentError::Header(HeaderError::MissingField("ruleset")),
        ),
    ];
    for (value, want) in cases {
        assert_eq!(
            ContentMessage::from_json(&value).unwrap_err(),
            want,
            "{value}"
        );
    }
    let bad_fields = [
        ("id", edited(|m| m["id"] = json!("co_0"))),
        ("priority", edited(|m| m["priority"] = json!(5))),
        (
            "new.*.after",
            edited(|m| m["new"][SESSION]["after"] = json!(-1)),
        ),
        (
            "new.*.lastSignature",
            edited(|m| m["new"][SESSION]["lastSignature"] = json!("signature_z1")),
        ),
        (
            "expectContentUntil",
            edited(|m| m["expectContentUntil"] = json!(3)),
        ),
    ];
    for (field, value) in bad_fields {
        match ContentMessage::from_json(&value) {
            Err(ContentError::BadField { field: f, .. }) => assert_eq!(f, field, "{value}"),
            other => panic!("{value}: {other:?}"),
        }
    }
    let bad_session = edited(|m| m["new"] = json!({"nobody_session_zabc": {}}));
    assert!(matches!(
        ContentMessage::from_json(&bad_session),
        Err(ContentError::BadSessionID { .. })
    ));
    assert!(matches!(
        ContentMessage::from_json_str("{"),
        Err(ContentError::NotJson(_))
    ));
}

fn agents_only(
    author: &SessionAuthor,
) -> Result<VerifyingKey, jazz_req_core::cojson::SignerUnavailable> {
    match author {
        SessionAuthor::Agent(agent) => Ok(VerifyingKey::new(&agent.signer)?),
        SessionAuthor::Account(id) => Err(
            jazz_req_core::cojson::SignerUnavailable::AccountNotLoaded(id.clone()),
        ),
    }
}

#[test]
fn content_must_fit_the_covalue() {
    let writer = crypto::agent_secret_from_seed(&[3; 32]).unwrap();
    let session = SessionID::new_active(&SessionAuthor::Agent(writer.agent_id()), &[3; 8]);
    let header =
        |_| CoValueHeader::new_unique(CoValueType::CoMap, Ruleset::UnsafeAllowAll, None).unwrap();
    let mut a = VerifiedCoValue::new(header(()));
    let b = VerifiedCoValue::new(header(()));
    a.append_own(
        &session,
        Transaction::new_trusting("[]", 1, None),
        &writer.signer,
    )
    .unwrap();
    let content = a.new_content_since(None).remove(0);

    let mut other = b.clone();
    assert!(matches!(
        other.apply_content(&content, agents_only),
        Err(ContentError::WrongCoValue { .. })
    ));
    let mut headless = content.clone();
    headless.header = None;
    assert_eq!(
        VerifiedCoValue::from_content(&headless, agents_only).unwrap_err(),
        ContentError::MissingHeader(a.id().clone())
    );
    let mut twice = content.clone();
    twice.new.push(twice.new[0].clone());
    let mut fresh = VerifiedCoValue::new(a.header().clone());
    assert_eq!(
        fresh.apply_content(&twice, agents_only).unwrap_err(),
        ContentError::DuplicateSession(Box::new(session.clone()))
    );
    assert!(fresh.session(&session).is_none());
    let mut wrong_header = content.clone();
    wrong_header.header = Some(b.header().clone());
    assert!(matches!(
        fresh.apply_content(&wrong_header, agents_only),
        Err(ContentError::Header(HeaderError::IdMismatch { .. }))
    ));
    assert_eq!(
        fresh.apply_content(&content, agents_only).unwrap().total(),
        1
    );
}

#[test]
fn each_session_applies_on_its_own_in_lenient_mode() {
    let (alice, bob) = (
        crypto::agent_secret_from_seed(&[4; 32]).unwrap(),
        crypto::agent_secret_from_seed(&[5; 32]).unwrap(),
    );
    let alice_session = SessionID::new_active(&SessionAuthor::Agent(alice.agent_id()), &[4; 8]);
    let bob_session = SessionID::new_active(&SessionAuthor::Agent(bob.agent_id()), &[5; 8]);
    let mut source = VerifiedCoValue::new(
        CoValueHeader::new_unique(CoValueType::CoList, Ruleset::UnsafeAllowAll, None).unwrap(),
    );
    source
        .append_own(
            &alice_session,
            Transaction::new_trusting("[1]", 1, None),
            &alice.signer,
        )
        .unwrap();
    source
        .append_own(
            &bob_session,
            Transaction::new_trusting("[2]", 2, None),
            &bob.signer,
        )
        .unwrap();
    let mut content = source.new_content_since(None).remove(0);
    content.new[0].1.after = 1; // a gap in Alice's session

    let mut strict = VerifiedCoValue::new(source.header().clone());
    assert!(strict.apply_content(&content, agents_only).is_err());
    assert!(strict.sessions().next().is_none(), "all or nothing");

    let mut lenient = VerifiedCoValue::new(source.header().clone());
    let outcomes = lenient.apply_content_each_session(&content, agents_only);
    assert!(matches!(outcomes[0].1, Err(ContentError::Session(_))));
    assert_eq!(outcomes[1].1, Ok(1));
    assert!(lenient.session(&alice_session).is_none());
    assert_eq!(lenient.session(&bob_session).unwrap().len(), 1);
}
