//! `jazz-req inspect` decodes a freshly generated jazz-tools request as its worker and
//! refuses a tampered, expired or misaddressed one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::io::Write;
use std::process::{Command, Stdio};

use jazz_req_core::cojson::{ContentMessage, LocalNode, ResolveQuery};
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_tests::ts_peer::run_ts_client;
use serde_json::{Value, json};

fn inspect(secret: &str, extra: &[&str], body: &str) -> (i32, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jazz-req"))
        .args(["inspect", "--worker-secret", secret])
        .args(extra)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (
        output.status.code().unwrap(),
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}")),
    )
}

#[test]
fn inspect_decodes_a_jazz_tools_request_and_refuses_a_tampered_one() {
    let worker_secret = new_random_agent_secret().unwrap();
    let (worker, account) = LocalNode::create_account(worker_secret.clone(), "Worker").unwrap();
    let pieces: Vec<Value> = worker
        .export(&account, &ResolveQuery::Value)
        .unwrap()
        .iter()
        .map(ContentMessage::to_json)
        .collect();
    let values = json!({"name": "Ada", "email": "ada@example.com", "age": 36});
    let out = run_ts_client(&json!({
        "agentSecret": new_random_agent_secret().unwrap().to_secret_string().as_str(),
        "baseUrl": "http://127.0.0.1:9",
        "workerAccountID": account.as_str(),
        "workerPieces": pieces,
        "requests": [{"route": "echo", "values": values}],
        "captureOnly": true,
    }))
    .unwrap();
    let body = out["rawBodies"][0].as_str().unwrap();
    let secret = worker_secret.to_secret_string();

    let (code, report) = inspect(&secret, &[], body);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["valid"], json!(true));
    assert_eq!(report["sender"], out["clientAccountID"]);
    assert_eq!(report["values"], values);
    let sent: Value = serde_json::from_str(body).unwrap();
    assert_eq!(report["id"], sent["id"]);
    assert_eq!(report["createdAt"], sent["createdAt"]);

    let mut tampered = sent.clone();
    tampered["createdAt"] = json!(sent["createdAt"].as_u64().unwrap() + 1);
    let (code, report) = inspect(&secret, &[], &tampered.to_string());
    assert_eq!(code, 1);
    assert_eq!(report["valid"], json!(false));
    assert_eq!(
        report["error"],
        json!({"code": 401, "message": "Invalid signature"})
    );

    let later = (sent["createdAt"].as_u64().unwrap() + 120_000).to_string();
    let (code, report) = inspect(&secret, &["--now", &later], body);
    assert_eq!(
        (code, report["error"]["message"].clone()),
        (1, json!("Authentication token is expired"))
    );

    let stranger = new_random_agent_secret().unwrap().to_secret_string();
    let (code, report) = inspect(&stranger, &[], body);
    assert_eq!(code, 1);
    assert_eq!(report["valid"], json!(false), "{report}");

    let (code, report) = inspect(&secret, &[], "{not json");
    assert_eq!((code, report["valid"].clone()), (1, json!(false)));
}
