//! Auth tokens (`generateAuthToken` / `authenticateRequest`): round trip, expiry, tampering,
//! wrong accounts, bad formats and headers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderValue};
use jazz_req_core::auth_token::{
    AuthTokenError, DEFAULT_EXPIRATION_MS, authenticate_request, authenticate_token,
    generate_auth_token, loaded_account_agent, parse_auth_token,
};
use jazz_req_core::cojson::LocalNode;
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::crypto::{
    AgentID, AgentSecret, CoID, account_id_for_agent, secure_hash, verify_hash,
};
use serde_json::json;

const NOW: u64 = 1_760_000_000_000;

struct Someone {
    secret: AgentSecret,
    account: CoID,
}

fn someone() -> Someone {
    let secret = new_random_agent_secret().unwrap();
    let account = account_id_for_agent(&secret.agent_id());
    Someone { secret, account }
}

/// Knows the agents of the given people's accounts.
fn directory(people: &[&Someone]) -> impl Fn(&CoID) -> Option<AgentID> + use<> {
    let known: Vec<(CoID, AgentID)> = people
        .iter()
        .map(|p| (p.account.clone(), p.secret.agent_id()))
        .collect();
    move |id| known.iter().find(|(a, _)| a == id).map(|(_, agent)| *agent)
}

fn headers(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    headers
}

#[test]
fn a_token_has_the_jazz_tools_shape_and_signs_id_and_created_at() {
    let alice = someone();
    let token = generate_auth_token(&alice.account, &alice.secret, NOW);
    let parts: Vec<&str> = token.split('~').collect();
    assert_eq!(parts.len(), 3, "{token}");
    assert!(parts[0].starts_with("signature_z"));
    assert_eq!(parts[1], alice.account.as_str());
    assert_eq!(parts[2], "1760000000000");
    let parsed = parse_auth_token(&token).unwrap();
    assert_eq!(parsed.created_at, NOW);
    // The signed value is the hash of {"createdAt":<number>,"id":"co_z…"}.
    let expected = secure_hash(&json!({"createdAt": NOW, "id": alice.account.as_str()}));
    assert_eq!(parsed.signed_hash(), expected);
    verify_hash(
        &parsed.signature,
        &expected,
        &alice.secret.agent_id().signer,
    )
    .unwrap();
}

#[test]
fn a_fresh_token_authenticates_its_account() {
    let alice = someone();
    let token = generate_auth_token(&alice.account, &alice.secret, NOW);
    let h = headers(&format!("Jazz {token}"));
    let lookup = directory(&[&alice]);
    for now in [NOW - 5_000, NOW, NOW + 30_000, NOW + DEFAULT_EXPIRATION_MS] {
        let who = authenticate_request(&h, now, DEFAULT_EXPIRATION_MS, &lookup).unwrap();
        assert_eq!(who, alice.account);
    }
}

#[test]
fn an_old_token_is_expired_after_its_expiration() {
    let alice = someone();
    let token = generate_auth_token(&alice.account, &alice.secret, NOW);
    let lookup = directory(&[&alice]);
    let late = NOW + DEFAULT_EXPIRATION_MS + 1;
    let err = authenticate_token(&token, late, DEFAULT_EXPIRATION_MS, &lookup).unwrap_err();
    assert_eq!(
        err,
        AuthTokenError::Expired {
            created_at: NOW,
            now: late
        }
    );
    assert_eq!(err.to_string(), "Token expired");
    // A custom expiration moves the limit.
    assert!(authenticate_token(&token, late, 120_000, &lookup).is_ok());
    let err = authenticate_token(&token, NOW + 11, 10, &lookup).unwrap_err();
    assert_eq!(err.to_string(), "Token expired");
}

#[test]
fn a_tampered_token_has_an_invalid_signature() {
    let alice = someone();
    let token = generate_auth_token(&alice.account, &alice.secret, NOW);
    let lookup = directory(&[&alice]);
    // Another time under the same signature.
    let later = token.replace("~1760000000000", "~1760000000001");
    let err = authenticate_token(&later, NOW, DEFAULT_EXPIRATION_MS, &lookup).unwrap_err();
    assert_eq!(err, AuthTokenError::InvalidSignature);
    assert_eq!(err.to_string(), "Invalid signature");
    // Another valid signature (over another message) in place of the real one.
    let other = generate_auth_token(&alice.account, &alice.secret, NOW + 1);
    let (other_sig, _) = other.split_once('~').unwrap();
    let (_, rest) = token.split_once('~').unwrap();
    let swapped = format!("{other_sig}~{rest}");
    let err = authenticate_token(&swapped, NOW, DEFAULT_EXPIRATION_MS, &lookup).unwrap_err();
    assert_eq!(err, AuthTokenError::InvalidSignature);
}

#[test]
fn a_token_for_another_account_or_an_unknown_one_is_refused() {
    let alice = someone();
    let mallory = someone();
    let lookup = directory(&[&alice, &mallory]);
    // Mallory signs a token claiming to be Alice.
    let forged = generate_auth_token(&alice.account, &mallory.secret, NOW);
    let err = authenticate_token(&forged, NOW, DEFAULT_EXPIRATION_MS, &lookup).unwrap_err();
    assert_eq!(err, AuthTokenError::InvalidSignature);
    // An account this side cannot load.
    let stranger = someone();
    let token = generate_auth_token(&stranger.account, &stranger.secret, NOW);
    let err = authenticate_token(&token, NOW, DEFAULT_EXPIRATION_MS, &lookup).unwrap_err();
    assert_eq!(
        err,
        AuthTokenError::AccountNotLoaded {
            id: stranger.account.clone()
        }
    );
    assert_eq!(err.to_string(), "Failed to load account");
    assert_eq!(
        err.to_jazz_error().unwrap(),
        json!({"message": "Failed to load account", "details": {"id": stranger.account.as_str()}})
    );
}

#[test]
fn expiry_is_checked_before_the_account_and_the_signature() {
    let alice = someone();
    let forged = generate_auth_token(&alice.account, &someone().secret, NOW);
    let err = authenticate_token(&forged, NOW + 60_001, DEFAULT_EXPIRATION_MS, |_| None);
    assert_eq!(err.unwrap_err().to_string(), "Token expired");
}

#[test]
fn malformed_tokens_are_invalid() {
    let alice = someone();
    let token = generate_auth_token(&alice.account, &alice.secret, NOW);
    let (sig, rest) = token.split_once('~').unwrap();
    let bad = [
        String::new(),
        "garbage".to_owned(),
        format!("{token}~extra"),
        rest.to_owned(),
        format!("{sig}~{}", alice.account),
        format!("signature_zNOTBASE58l0O~{rest}"),
        format!("signer_z{}~{rest}", &sig["signature_z".len()..]),
        format!("{sig}~co_zbad0~{NOW}"),
        format!("{sig}~{}~", alice.account),
        format!("{sig}~{}~ 1760000000000", alice.account),
        format!("{sig}~{}~1.76e12", alice.account),
        format!("{sig}~{}~0x10", alice.account),
        format!("{sig}~{}~-5", alice.account),
        format!("{sig}~{}~abc", alice.account),
        format!("{sig}~{}~9007199254740992", alice.account),
        format!("{sig}~{}~99999999999999999999", alice.account),
    ];
    for token in bad {
        let err = parse_auth_token(&token).unwrap_err();
        assert!(
            matches!(err, AuthTokenError::InvalidToken { .. }),
            "{token}: {err:?}"
        );
        assert_eq!(err.to_string(), "Invalid token");
        assert_eq!(
            err.to_jazz_error().unwrap(),
            json!({"message": "Invalid token"})
        );
    }
}

#[test]
fn headers_without_a_jazz_token_are_anonymous() {
    let alice = someone();
    let token = generate_auth_token(&alice.account, &alice.secret, NOW);
    let lookup = directory(&[&alice]);
    let check = |h: &HeaderMap| authenticate_request(h, NOW, DEFAULT_EXPIRATION_MS, &lookup);
    assert_eq!(check(&HeaderMap::new()), Err(AuthTokenError::MissingToken));
    for value in [
        format!("Bearer {token}"),
        format!("jazz {token}"),
        "Jazz ".to_owned(),
    ] {
        assert_eq!(
            check(&headers(&value)),
            Err(AuthTokenError::MissingToken),
            "{value}"
        );
    }
    assert_eq!(AuthTokenError::MissingToken.to_jazz_error(), None);
    // Two Authorization headers never authenticate.
    let mut two = headers(&format!("Jazz {token}"));
    two.append(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
    assert!(matches!(
        check(&two),
        Err(AuthTokenError::InvalidToken { .. })
    ));
    // Bytes that are not UTF-8.
    let mut latin1 = HeaderMap::new();
    latin1.insert(
        AUTHORIZATION,
        HeaderValue::from_bytes(b"Jazz \xe9").unwrap(),
    );
    assert!(matches!(
        check(&latin1),
        Err(AuthTokenError::InvalidToken { .. })
    ));
}

#[test]
fn a_local_node_gives_the_agent_of_its_accounts() {
    let secret = new_random_agent_secret().unwrap();
    let agent = secret.agent_id();
    let (node, account) = LocalNode::create_account(secret.clone(), "Alice").unwrap();
    assert_eq!(loaded_account_agent(&node, &account), Some(agent));
    // The profile is a CoMap but no account.
    let profile = node.read(&account).unwrap().value["profile"].clone();
    let profile = CoID::parse(profile.as_str().unwrap()).unwrap();
    assert_eq!(loaded_account_agent(&node, &profile), None);
    let token = generate_auth_token(&account, &secret, NOW);
    let who = authenticate_request(
        &headers(&format!("Jazz {token}")),
        NOW,
        DEFAULT_EXPIRATION_MS,
        |id| loaded_account_agent(&node, id),
    )
    .unwrap();
    assert_eq!(who, account);
}
