//! Auth tokens both ways against the real jazz-tools 0.20.19 (`tests/js/auth-token.mjs`):
//! a token made in Rust passes jazz-tools' `authenticateRequest`, one made by jazz-tools'
//! `generateAuthToken` passes `authenticate_request`, and expired, tampered, forged and
//! malformed tokens are refused by both with the same messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderValue};
use jazz_req_core::auth_token::{
    AuthTokenError, DEFAULT_EXPIRATION_MS, authenticate_request, generate_auth_token,
    loaded_account_agent, parse_auth_token,
};
use jazz_req_core::cojson::clock::now_ms;
use jazz_req_core::cojson::keys::Reader;
use jazz_req_core::cojson::{ContentMessage, LocalNode, ResolveQuery};
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::crypto::{CoID, account_id_for_agent};
use jazz_req_tests::node::{js_dir, run_node_script};
use serde_json::{Value, json};

/// Runs `auth-token.mjs` with `input`; returns its output object.
fn jazz_tools(input: &Value) -> Value {
    let script = js_dir().join("auth-token.mjs");
    let out = run_node_script(&script, &input.to_string()).unwrap();
    serde_json::from_str(out.trim()).unwrap()
}

fn header(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Jazz {token}")).unwrap(),
    );
    headers
}

/// The `error.message` jazz-tools gave, or `"ok:<account>"`, or `"anonymous"`.
fn outcome(result: &Value) -> String {
    if let Some(message) = result["error"]["message"].as_str() {
        message.to_owned()
    } else if let Some(account) = result["account"].as_str() {
        format!("ok:{account}")
    } else {
        "anonymous".to_owned()
    }
}

/// The same, from the Rust side.
fn rust_outcome(result: Result<CoID, AuthTokenError>) -> String {
    match result {
        Ok(account) => format!("ok:{account}"),
        Err(AuthTokenError::MissingToken) => "anonymous".to_owned(),
        Err(error) => error.to_string(),
    }
}

#[test]
fn tokens_made_in_rust_are_judged_alike_by_jazz_tools_and_rust() {
    let secret = new_random_agent_secret().unwrap();
    let (node, account) = LocalNode::create_account(secret.clone(), "Rusty").unwrap();
    let pieces: Vec<Value> = node
        .export(&account, &ResolveQuery::Value)
        .unwrap()
        .iter()
        .map(ContentMessage::to_json)
        .collect();
    let mallory = new_random_agent_secret().unwrap();
    let stranger = new_random_agent_secret().unwrap();
    let stranger_account = account_id_for_agent(&stranger.agent_id());

    let now = now_ms();
    let fresh = generate_auth_token(&account, &secret, now);
    let tampered = fresh.replace(&format!("~{now}"), &format!("~{}", now + 1));
    assert_ne!(tampered, fresh);
    let cases: Vec<(&str, String, Option<u64>, String)> = vec![
        ("fresh", fresh.clone(), None, format!("ok:{account}")),
        (
            "expired",
            generate_auth_token(&account, &secret, now - 120_000),
            None,
            "Token expired".into(),
        ),
        (
            "short expiration",
            generate_auth_token(&account, &secret, now - 5_000),
            Some(1_000),
            "Token expired".into(),
        ),
        ("tampered", tampered, None, "Invalid signature".into()),
        (
            "forged",
            generate_auth_token(&account, &mallory, now),
            None,
            "Invalid signature".into(),
        ),
        (
            "unknown account",
            generate_auth_token(&stranger_account, &stranger, now),
            None,
            "Failed to load account".into(),
        ),
        ("garbage", "garbage".into(), None, "Invalid token".into()),
        (
            "four parts",
            format!("{fresh}~1"),
            None,
            "Invalid token".into(),
        ),
    ];
    let checks: Vec<Value> = cases
        .iter()
        .map(|(_, token, expiration, _)| {
            let mut check = json!({"authorization": format!("Jazz {token}")});
            if let Some(ms) = expiration {
                check["expiration"] = json!(ms);
            }
            check
        })
        .collect();
    let out = jazz_tools(&json!({"pieces": pieces, "authenticate": checks}));
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());

    let checked_at = now_ms();
    for ((name, token, expiration, expected), result) in cases.iter().zip(results) {
        assert_eq!(&outcome(result), expected, "jazz-tools, {name}: {result}");
        let rust = authenticate_request(
            &header(token),
            checked_at,
            expiration.unwrap_or(DEFAULT_EXPIRATION_MS),
            |id| loaded_account_agent(&node, id),
        );
        assert_eq!(&rust_outcome(rust), expected, "Rust, {name}");
    }
}

#[test]
fn tokens_made_by_jazz_tools_are_judged_alike_by_rust_and_jazz_tools() {
    let secret = new_random_agent_secret().unwrap();
    let out = jazz_tools(&json!({
        "generateFor": secret.to_secret_string().as_str(),
        "authenticate": [{}, {"authorization": "Bearer nothing"}],
    }));
    let generated = &out["generated"];
    let token = generated["token"].as_str().unwrap();
    let account = CoID::parse(generated["accountID"].as_str().unwrap()).unwrap();
    assert_eq!(account, account_id_for_agent(&secret.agent_id()));
    // Without a Jazz header, jazz-tools returns neither an account nor an error.
    let anonymous: Vec<String> = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(outcome)
        .collect();
    assert_eq!(anonymous, ["anonymous", "anonymous"]);

    // Byte-exact format: `<signature>~<account>~<Date.now() as a decimal integer>`; Ed25519 is
    // deterministic, so Rust makes the very same token for the same time.
    let parsed = parse_auth_token(token).unwrap();
    assert_eq!(parsed.account, account);
    assert_eq!(
        token.rsplit('~').next().unwrap(),
        parsed.created_at.to_string()
    );
    assert_eq!(
        generate_auth_token(&account, &secret, parsed.created_at),
        token
    );

    // The Rust side loads the account from the pieces jazz-tools exported.
    let mut node = LocalNode::new(Reader::new(None, new_random_agent_secret().unwrap()));
    for piece in generated["pieces"].as_array().unwrap() {
        node.import(ContentMessage::from_json(piece).unwrap())
            .unwrap();
    }
    let lookup = |id: &CoID| loaded_account_agent(&node, id);
    let now = now_ms();
    let check = |token: &str, now: u64| {
        rust_outcome(authenticate_request(
            &header(token),
            now,
            DEFAULT_EXPIRATION_MS,
            lookup,
        ))
    };
    assert_eq!(check(token, now), format!("ok:{account}"));
    assert_eq!(
        check(token, parsed.created_at + DEFAULT_EXPIRATION_MS + 1),
        "Token expired"
    );
    let created = parsed.created_at.to_string();
    let tampered = token.replace(
        &format!("~{created}"),
        &format!("~{}", parsed.created_at - 1),
    );
    assert_eq!(check(&tampered, now), "Invalid signature");
    let forged = generate_auth_token(&account, &new_random_agent_secret().unwrap(), now);
    assert_eq!(check(&forged, now), "Invalid signature");

    // jazz-tools itself refuses the same tampered and forged tokens.
    let out = jazz_tools(&json!({
        "generateFor": secret.to_secret_string().as_str(),
        "authenticate": [
            {"authorization": format!("Jazz {token}")},
            {"authorization": format!("Jazz {tampered}")},
            {"authorization": format!("Jazz {forged}")},
            {"authorization": format!("Jazz {token}"), "expiration": 0},
        ],
    }));
    let outcomes: Vec<String> = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(outcome)
        .collect();
    assert_eq!(outcomes[0], format!("ok:{account}"));
    assert_eq!(outcomes[1], "Invalid signature");
    assert_eq!(outcomes[2], "Invalid signature");
    // With an expiration of 0 the token, made by the first run, is stale in the second.
    assert_eq!(outcomes[3], "Token expired");
}
