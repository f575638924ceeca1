//! The HTTP server under slow, idle and too many clients (`ServeOptions`): a thousand
//! connections that send nothing or trickle a request's head in byte by byte, beyond the
//! connection cap, do not stop real requests sent at the same time from being answered, and
//! the server closes every one of them; an idle keep-alive connection is closed; a body that
//! trickles in too slowly is answered 408 and its connection closed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jazz_req_core::request::{Clock, ServeOptions, SystemClock, WorkerConfig, spawn_server_with};
use jazz_req_tests::rust_peer::{RustWorker, routes, rust_client, worker_node};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// How many hostile connections are opened.
const HOSTILE: usize = 1000;
/// How many real requests are sent while they are open.
const REAL: usize = 5;
/// The longest a test waits for anything (far more than it needs).
const BOUND: Duration = Duration::from_secs(90);

/// The server's limits in these tests: short, so that the tests are quick; a cap well below
/// the number of hostile connections, so that they cannot all be held at once.
fn options() -> ServeOptions {
    ServeOptions::new()
        .with_header_read_timeout(Duration::from_secs(1))
        .with_body_read_timeout(Duration::from_secs(2))
        .with_max_connections(200)
}

async fn start() -> (RustWorker, SocketAddr) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = RustWorker::start(
        worker_node(None).unwrap(),
        2,
        clock,
        WorkerConfig::default(),
    )
    .await
    .unwrap();
    let addr = spawn_server_with(
        "127.0.0.1:0".parse().unwrap(),
        worker.worker.clone(),
        options(),
    )
    .await
    .unwrap()
    .addr();
    (worker, addr)
}

/// Reads from `stream` until the server closes it (end of stream, or a reset); returns what
/// was read.
async fn read_until_closed(stream: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// A connection that sends nothing (`trickle == false`) or a request's head one byte every
/// 300 ms; returns once the server has closed it.
async fn hostile(addr: SocketAddr, trickle: bool) -> Result<(), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut read, mut write) = stream.into_split();
    let trickling = trickle.then(|| {
        tokio::spawn(async move {
            let head = b"POST /api/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-padding: ";
            for byte in head.iter().chain(std::iter::repeat(&b'a')) {
                if write.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    });
    read_until_closed(&mut read).await;
    if let Some(task) = trickling {
        task.abort();
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_requests_are_answered_while_a_thousand_connections_idle_or_trickle() {
    let (worker, addr) = start().await;
    let base = format!("http://{addr}");
    let [echo, _, _] = routes(&base);

    let mut hostiles = JoinSet::new();
    for i in 0..HOSTILE {
        hostiles.spawn(hostile(addr, i % 2 == 1));
    }
    // The real requests go while the hostile connections are there (most of them wait for
    // a slot: the cap is below their number).
    let mut real = JoinSet::new();
    for i in 0..REAL {
        let client = rust_client(&worker, "Client", Arc::new(SystemClock)).unwrap();
        let echo = echo.clone();
        let account = worker.worker.account().clone();
        real.spawn(async move {
            let values = json!({"name": format!("n{i}"), "email": "e@example.com", "age": i});
            client
                .send(&echo, &account, values.as_object().unwrap())
                .await
        });
    }
    let answered = tokio::time::timeout(BOUND, real.join_all())
        .await
        .expect("every real request is answered while hostile connections are open");
    for response in answered {
        let response = response.unwrap();
        assert_eq!(&response.made_by, worker.worker.account());
    }

    // Every hostile connection is closed by the server.
    let closed = tokio::time::timeout(BOUND, hostiles.join_all())
        .await
        .expect("the server closes every idle and trickling connection");
    assert_eq!(closed.len(), HOSTILE);
    for result in closed {
        result.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let (_worker, addr) = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // A request that is answered (404: no such route), on a connection kept alive.
    stream
        .write_all(b"POST /nowhere HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
    let got = tokio::time::timeout(BOUND, read_until_closed(&mut stream))
        .await
        .expect("an idle connection is closed by the server");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_in_is_answered_408_and_its_connection_closed() {
    let (_worker, addr) = start().await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let trickling = tokio::spawn(async move {
        let head = b"POST /api/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n";
        if write.write_all(head).await.is_err() {
            return;
        }
        loop {
            if write.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let got = tokio::time::timeout(BOUND, read_until_closed(&mut read))
        .await
        .expect("the connection of a body that came too slowly is closed");
    trickling.abort();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains("The request body did not arrive in time"),
        "{text}"
    );
}
