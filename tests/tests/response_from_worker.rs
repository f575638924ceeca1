//! The client takes a response only from the worker it sent the request to: a server in the
//! middle that answers with what another worker (W2) made — as W2 signed it, or signed again
//! with the signer of the worker the client asked (W1) — is a typed error, never a value;
//! the worker's own answer is still read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jazz_req_core::cojson::LocalNode;
use jazz_req_core::crypto::{self, AgentSecret, CoID};
use jazz_req_core::request::body::success_body;
use jazz_req_core::request::{
    Clock, RequestClient, RouteSpec, SendError, SignedBody, SystemClock, WorkerConfig,
};
use jazz_req_tests::rust_peer::{RustWorker, routes, rust_client};
use serde_json::{Map, Value, json};

fn person() -> Map<String, Value> {
    json!({"name": "John Doe", "email": "john@example.com", "age": 30})
        .as_object()
        .unwrap()
        .clone()
}

/// A worker on a fresh account whose secret the test keeps.
async fn worker() -> (RustWorker, AgentSecret) {
    let secret = crypto::random::new_random_agent_secret().unwrap();
    let (node, _) = LocalNode::create_account(secret.clone(), "Worker").unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = RustWorker::start(node, 2, clock, WorkerConfig::default())
        .await
        .unwrap();
    (worker, secret)
}

/// What the server in the middle does with W2's answer before passing it on.
#[derive(Clone)]
struct Middle {
    client: RequestClient,
    w2: CoID,
    w2_echo: RouteSpec,
    /// Signs W2's response body again with this signer (W1's), if set.
    resign_with: Option<crypto::SignerSecret>,
}

/// Drops the client's request and answers with W2's answer to a request of the same client
/// (so that the client can read it: W2's response group lets its sender read).
async fn answer_for_w2(middle: axum::extract::State<Middle>, _body: Bytes) -> impl IntoResponse {
    let body = middle.client.request_body(&middle.w2, &person()).unwrap();
    let answer = reqwest::Client::new()
        .post(&middle.w2_echo.url)
        .header("content-type", "application/json")
        .body(body.to_json().to_string())
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let text = answer.text().await.unwrap();
    let text = match &middle.resign_with {
        None => text,
        Some(signer) => {
            let json: Value = serde_json::from_str(&text).unwrap();
            let payload = SignedBody::from_json(&json["payload"]).unwrap();
            let created_at = payload.created_at.as_u64().unwrap();
            let resigned = SignedBody::sign(payload.content_pieces, payload.id, created_at, signer);
            success_body(&resigned).to_string()
        }
    };
    (status, [("content-type", "application/json")], text)
}

/// Serves `middle` on loopback; returns its echo route.
async fn serve_middle(middle: Middle) -> RouteSpec {
    let app = axum::Router::new()
        .route("/api/echo", axum::routing::post(answer_for_w2))
        .with_state(middle);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    RouteSpec::new(format!("http://{addr}/api/echo"))
}

/// A client that knows W1 (and its event) and W2.
fn client(w1: &RustWorker, w2: &RustWorker) -> RequestClient {
    let client = rust_client(w1, "Client", Arc::new(SystemClock)).unwrap();
    {
        let mut node = client.node().unwrap();
        for piece in w2.account_pieces() {
            node.import(piece).unwrap();
        }
    }
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_of_another_worker_is_an_error() {
    let (w1, _) = worker().await;
    let (w2, w2_secret) = worker().await;
    let client = client(&w1, &w2);
    let w1_account = w1.worker.account().clone();
    let w2_account = w2.worker.account().clone();
    let [w2_echo, _, _] = routes(&w2.base_url());
    let middle = serve_middle(Middle {
        client: client.clone(),
        w2: w2_account.clone(),
        w2_echo,
        resign_with: None,
    })
    .await;

    let error = client
        .send(&middle, &w1_account, &person())
        .await
        .expect_err("W2's answer is not W1's");
    match error {
        SendError::ResponseNotSignedByWorker { worker, signer } => {
            assert_eq!(worker, w1_account);
            assert_eq!(signer, w2_secret.signer.signer_id());
        }
        other => panic!("want ResponseNotSignedByWorker, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_of_another_worker_signed_again_with_the_workers_signer_is_an_error() {
    let (w1, w1_secret) = worker().await;
    let (w2, _) = worker().await;
    let client = client(&w1, &w2);
    let w1_account = w1.worker.account().clone();
    let w2_account = w2.worker.account().clone();
    let [w2_echo, _, _] = routes(&w2.base_url());
    let middle = serve_middle(Middle {
        client: client.clone(),
        w2: w2_account.clone(),
        w2_echo,
        resign_with: Some(w1_secret.signer.clone()),
    })
    .await;

    let error = client
        .send(&middle, &w1_account, &person())
        .await
        .expect_err("an envelope W2 made is not W1's answer, whoever signed the body");
    match error {
        SendError::ResponseNotFromWorker { expected, made_by } => {
            assert_eq!(expected, w1_account);
            assert_eq!(made_by, w2_account);
        }
        other => panic!("want ResponseNotFromWorker, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_own_response_is_read() {
    let (w1, _) = worker().await;
    let (w2, _) = worker().await;
    let client = client(&w1, &w2);
    let [w1_echo, _, _] = routes(&w1.base_url());
    let response = client
        .send(&w1_echo, w1.worker.account(), &person())
        .await
        .unwrap();
    assert_eq!(&response.made_by, w1.worker.account());
    assert_eq!(
        response.value["avatar"],
        json!("https://example.com/a/john@example.com.jpg")
    );
}
