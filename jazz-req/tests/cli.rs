//! The `jazz-req` binary: `account create` (with and without a store), `account show`,
//! `auth-token`, and failures that end with a message and a non-zero exit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderValue};
use jazz_req_core::auth_token::{
    AuthTokenError, DEFAULT_EXPIRATION_MS, authenticate_request, parse_auth_token,
};
use jazz_req_core::cojson::LocalNode;
use jazz_req_core::cojson::clock::now_ms;
use jazz_req_core::cojson::keys::Reader;
use jazz_req_core::crypto::{AgentSecret, CoID, account_id_for_agent};
use jazz_req_core::storage::SqliteStorage;
use serde_json::Value;

fn jazz_req(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jazz-req"));
    command.args(args).env_remove("JAZZ_WORKER_SECRET");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Runs a command that must succeed; returns its stdout.
fn ok(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = jazz_req(args, env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?} failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// The `KEY=value` line of `key` in `text`.
fn env_line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

fn fresh_store(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jazz-req-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn create_account() -> (CoID, AgentSecret) {
    let out = ok(&["account", "create"], &[]);
    let account = CoID::parse(env_line(&out, "JAZZ_WORKER_ACCOUNT")).unwrap();
    let secret = AgentSecret::parse(env_line(&out, "JAZZ_WORKER_SECRET")).unwrap();
    (account, secret)
}

#[test]
fn account_create_prints_worker_credentials() {
    let out = ok(&["account", "create", "--name", "Ticket worker"], &[]);
    assert!(
        out.starts_with("# Credentials for Jazz account \"Ticket worker\":\n"),
        "{out}"
    );
    let account = CoID::parse(env_line(&out, "JAZZ_WORKER_ACCOUNT")).unwrap();
    let secret = AgentSecret::parse(env_line(&out, "JAZZ_WORKER_SECRET")).unwrap();
    assert_eq!(account, account_id_for_agent(&secret.agent_id()));
    // A new random agent each time.
    let (other, _) = create_account();
    assert_ne!(other, account);
}

#[test]
fn account_create_with_a_store_leaves_a_loadable_account_with_its_profile() {
    let path = fresh_store("create");
    let path_text = path.to_str().unwrap();
    let out = ok(
        &[
            "account",
            "create",
            "-n",
            "Stored worker",
            "--store",
            path_text,
            "--json",
        ],
        &[],
    );
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["store"], path_text);
    let account = CoID::parse(json["accountID"].as_str().unwrap()).unwrap();
    let secret = AgentSecret::parse(json["agentSecret"].as_str().unwrap()).unwrap();

    let mut node = LocalNode::new(Reader::new(Some(account.clone()), secret.clone()));
    node.attach_storage(Arc::new(SqliteStorage::open(&path).unwrap()));
    assert!(node.load_from_storage(&account).unwrap());
    let header = node.get(&account).unwrap().header();
    assert_eq!(header.account_agent(), Some(&secret.agent_id()));
    let profile = node.read(&account).unwrap().value["profile"].clone();
    let profile = CoID::parse(profile.as_str().unwrap()).unwrap();
    assert!(node.load_from_storage(&profile).unwrap());
    assert_eq!(node.read(&profile).unwrap().value["name"], "Stored worker");
    assert!(node.pending().is_empty());
}

#[test]
fn account_show_prints_the_ids_and_never_the_secret() {
    let (account, secret) = create_account();
    let text = secret.to_secret_string();
    for (args, env) in [
        (vec!["account", "show", "--secret", text.as_str()], vec![]),
        (
            vec!["account", "show"],
            vec![("JAZZ_WORKER_SECRET", text.as_str())],
        ),
    ] {
        let out = ok(&args, &env);
        assert!(!out.contains("Secret"), "{out}");
        let json: Value = serde_json::from_str(&out).unwrap();
        let agent = secret.agent_id();
        assert_eq!(json["accountID"], account.as_str());
        assert_eq!(json["agentID"], agent.to_string());
        assert_eq!(json["signerID"], agent.signer.to_string());
        assert_eq!(json["sealerID"], agent.sealer.to_string());
    }
}

#[test]
fn auth_token_makes_tokens_that_authenticate_the_account() {
    let (account, secret) = create_account();
    let agent = secret.agent_id();
    let lookup = |id: &CoID| (id == &account).then_some(agent);
    let text = secret.to_secret_string();
    let check = |header_value: &str, now: u64| {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(header_value).unwrap());
        authenticate_request(&headers, now, DEFAULT_EXPIRATION_MS, lookup)
    };

    // A fixed time.
    let out = ok(
        &[
            "auth-token",
            "--secret",
            text.as_str(),
            "--now",
            "1700000000000",
        ],
        &[],
    );
    let token = out.trim_end();
    assert!(
        token.ends_with(&format!("~{account}~1700000000000")),
        "{token}"
    );
    assert_eq!(
        check(&format!("Jazz {token}"), 1_700_000_059_000),
        Ok(account.clone())
    );
    assert!(matches!(
        check(&format!("Jazz {token}"), 1_700_000_060_001),
        Err(AuthTokenError::Expired { .. })
    ));

    // Now, from the environment, as a whole header line.
    let before = now_ms();
    let out = ok(
        &["auth-token", "--header"],
        &[("JAZZ_WORKER_SECRET", text.as_str())],
    );
    let line = out.trim_end().strip_prefix("Authorization: ").unwrap();
    let created_at = parse_auth_token(line.strip_prefix("Jazz ").unwrap())
        .unwrap()
        .created_at;
    assert!(created_at >= before && created_at <= now_ms());
    assert_eq!(check(line, now_ms()), Ok(account));
}

#[test]
fn bad_input_ends_with_a_message_and_a_non_zero_exit() {
    let bogus = "sealerSecret_zNOPE/signerSecret_zNOPE";
    for args in [
        vec!["auth-token", "--secret", bogus],
        vec!["account", "show", "--secret", bogus],
    ] {
        let output = jazz_req(&args, &[]);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with("jazz-req: the agent secret is not valid"),
            "{stderr}"
        );
        assert!(!stderr.contains("NOPE"), "the secret is echoed: {stderr}");
        assert!(output.stdout.is_empty());
    }
    // Usage errors: clap's message, exit code 2.
    for args in [
        vec!["auth-token"],
        vec!["auth-token", "--secret", bogus, "--now", "soon"],
        vec!["auth-token", "--secret", bogus, "--now", "9007199254740992"],
        vec!["account", "frobnicate"],
    ] {
        let output = jazz_req(&args, &[]);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&output.stderr).contains("NOPE"));
    }
    // A store that cannot be created.
    let missing = fresh_store("missing").join("no-such-dir").join("x.sqlite");
    let output = jazz_req(
        &["account", "create", "--store", missing.to_str().unwrap()],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("jazz-req: could not open the store"),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "credentials of an unstored account were printed"
    );
}

/// `account create --sync-server`: the account is on the server at once — a cojson client
/// (a fresh account of its own) loads it there, and a worker starts from it with a new store.
#[test]
fn account_create_uploads_to_the_sync_server() {
    let server = jazz_req_tests::sync_server::SyncServer::start().unwrap();
    let url = server.url();
    let out = ok(
        &[
            "account",
            "create",
            "--name",
            "Synced worker",
            "--sync-server",
            &url,
        ],
        &[],
    );
    let account = CoID::parse(env_line(&out, "JAZZ_WORKER_ACCOUNT")).unwrap();
    let secret = AgentSecret::parse(env_line(&out, "JAZZ_WORKER_SECRET")).unwrap();

    let read = jazz_req_tests::sync_server::run_sync_peer(
        &serde_json::json!({"op": "read", "url": url, "ids": [account.as_str()]}),
    )
    .unwrap();
    let seen = &read["values"][account.as_str()];
    assert!(
        seen.is_object(),
        "cojson loads the account from the server: {read}"
    );

    let store = fresh_store("synced-worker");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let worker = runtime
        .block_on(
            jazz_req::WorkerOptions::new(account.clone(), secret, &store)
                .with_sync_server(&url)
                .start(),
        )
        .unwrap();
    assert_eq!(worker.account(), &account);

    // Unreachable: a clear error, non-zero exit.
    let output = jazz_req(
        &["account", "create", "--sync-server", "ws://127.0.0.1:9/"],
        &[],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not upload the account to the sync server"),
        "{stderr}"
    );
}
