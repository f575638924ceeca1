//! The client against a scripted WebSocket server in the same process: malformed frames,
//! lost connections, silence, the server's own loads and shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{WebSocketStream, accept_async};

use super::backoff::Backoff;
use super::client::SyncClient;
use super::connection::ConnectionState;
use super::error::SyncError;
use super::frame::parse_frame;
use super::message::{Incoming, KnownMessage, SyncMessage};
use super::options::SyncOptions;
use crate::cojson::{ContentMessage, KnownState, LocalNode, Privacy, ResolveQuery};
use crate::crypto::CoID;
use crate::crypto::random::new_random_agent_secret;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
type Peer = WebSocketStream<TcpStream>;
type Fixture = (Arc<Mutex<LocalNode>>, CoID, Vec<ContentMessage>);

/// A server that hands each accepted WebSocket to the test.
async fn scripted_server() -> Result<(String, mpsc::UnboundedReceiver<Peer>), std::io::Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if let Ok(socket) = accept_async(stream).await
                && tx.send(socket).is_err()
            {
                return;
            }
        }
    });
    Ok((url, rx))
}

fn options() -> SyncOptions {
    SyncOptions::default()
        .with_backoff(Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            factor: 2.0,
            jitter: 0.0,
        })
        .with_load_timeout(Duration::from_secs(5))
        .with_ack_timeout(Duration::from_secs(5))
}

async fn next_peer(peers: &mut mpsc::UnboundedReceiver<Peer>) -> Result<Peer, String> {
    tokio::time::timeout(Duration::from_secs(5), peers.recv())
        .await
        .map_err(|_| "no connection".to_owned())?
        .ok_or_else(|| "listener gone".to_owned())
}

/// The sync messages of the next text frame from the client.
async fn next_messages(
    peer: &mut Peer,
) -> Result<Vec<SyncMessage>, Box<dyn std::error::Error + Send + Sync>> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), peer.next())
            .await
            .map_err(|_| "no frame")?
            .ok_or("closed")??;
        if let Message::Text(text) = frame {
            return Ok(parse_frame(text.as_str())
                .filter_map(|m| match m {
                    Ok(Incoming::Sync(message)) => Some(message),
                    _ => None,
                })
                .collect());
        }
    }
}

async fn send(peer: &mut Peer, message: &SyncMessage) -> TestResult {
    peer.send(Message::text(message.to_json_string())).await?;
    Ok(())
}

fn known(state: KnownState) -> SyncMessage {
    SyncMessage::Known(KnownMessage {
        state,
        is_correction: false,
        as_dependency_of: None,
    })
}

/// A node holding a map (with its group and account), and the map's export.
fn node_with_map() -> Result<Fixture, Box<dyn std::error::Error + Send + Sync>> {
    let (mut node, _) = LocalNode::create_account(new_random_agent_secret()?, "Tester")?;
    let group = node.create_group()?;
    let map = node.create_map(&group, &[("title", json!("hi"))], Privacy::Trusting)?;
    let content = node.export(&map, &ResolveQuery::Value)?;
    Ok((Arc::new(Mutex::new(node)), map, content))
}

fn full_state(content: &[ContentMessage], id: &CoID) -> KnownState {
    let mut state = KnownState::empty(id.clone());
    state.header = true;
    for piece in content.iter().filter(|p| &p.id == id) {
        state.sessions.extend(piece.known_state().sessions);
    }
    state
}

#[tokio::test]
async fn malformed_frames_are_skipped_and_the_connection_goes_on() -> TestResult {
    let (url, mut peers) = scripted_server().await?;
    let client = SyncClient::connect(&url, options()).await?;
    let mut peer = next_peer(&mut peers).await?;
    let (_node, map, _content) = node_with_map()?;
    let load = tokio::spawn({
        let client = client.clone();
        let map = map.clone();
        async move { client.load(&map).await }
    });
    let asked = next_messages(&mut peer).await?;
    assert!(matches!(asked.as_slice(), [SyncMessage::Load(s)] if s.id == map));
    peer.send(Message::Binary(vec![1, 2, 3].into())).await?;
    for junk in [
        "not json",
        "[]",
        r#"{"action":"known","id":"nope","header":true,"sessions":{}}"#,
        r#"{"action":"content","id":"co_z1","priority":3,"new":{"s":{}}}"#,
        r#"{"action":"teleport","id":"co_z1"}"#,
        "\u{0}\u{1}\n{\n}\n",
    ] {
        peer.send(Message::text(junk)).await?;
    }
    // Garbage and the answer in one frame: the answer still counts.
    let answer = known(KnownState::empty(map.clone())).to_json_string();
    peer.send(Message::text(format!("{{oops\n{answer}")))
        .await?;
    assert_eq!(load.await??, None);
    assert_eq!(
        *client.status().borrow(),
        ConnectionState::Connected { connection: 1 }
    );
    client.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn unacknowledged_content_is_resent_after_a_lost_connection() -> TestResult {
    let (url, mut peers) = scripted_server().await?;
    let client = SyncClient::connect(&url, options()).await?;
    let mut first = next_peer(&mut peers).await?;
    let (_node, map, content) = node_with_map()?;
    let push = tokio::spawn({
        let client = client.clone();
        let content = content.clone();
        async move { client.push(content).await }
    });
    let sent = next_messages(&mut first).await?;
    assert_eq!(sent.len(), content.len(), "one frame for the whole push");
    drop(first); // lost before acknowledging
    let mut second = next_peer(&mut peers).await?;
    // Loads of what the client follows, then the content again.
    let mut again = Vec::new();
    while again
        .iter()
        .filter(|m| matches!(m, SyncMessage::Content(_)))
        .count()
        < content.len()
    {
        again.extend(next_messages(&mut second).await?);
    }
    assert!(matches!(again.first(), Some(SyncMessage::Load(_))));
    for id in content.iter().map(|c| c.id.clone()) {
        send(&mut second, &known(full_state(&content, &id))).await?;
    }
    push.await??;
    assert!(matches!(
        *client.status().borrow(),
        ConnectionState::Connected { connection: 2 }
    ));
    let _ = map;
    client.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_silent_server_is_replaced() -> TestResult {
    let (url, mut peers) = scripted_server().await?;
    let options = options().with_keepalive(Duration::from_millis(50), Duration::from_millis(200));
    let client = SyncClient::connect(&url, options).await?;
    // Never read: no pong, no frame ever reaches the client.
    let _silent = next_peer(&mut peers).await?;
    let _next = next_peer(&mut peers).await?;
    let mut status = client.status();
    tokio::time::timeout(
        Duration::from_secs(5),
        status.wait_for(|s| matches!(s, ConnectionState::Connected { connection: 2 })),
    )
    .await??;
    client.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn the_servers_loads_are_answered_from_the_source() -> TestResult {
    let (url, mut peers) = scripted_server().await?;
    let (node, map, _content) = node_with_map()?;
    let client = SyncClient::connect(&url, options().with_source(node.clone())).await?;
    let mut peer = next_peer(&mut peers).await?;
    send(
        &mut peer,
        &SyncMessage::Load(KnownState::empty(map.clone())),
    )
    .await?;
    let answer = next_messages(&mut peer).await?;
    let [SyncMessage::Content(content)] = answer.as_slice() else {
        return Err(format!("expected the map's content, got {answer:?}").into());
    };
    assert!(content.id == map && content.header.is_some());
    // What it does not hold: "not here".
    let other = node.lock().map_err(|e| e.to_string())?.create_group()?;
    node.lock()
        .map_err(|e| e.to_string())?
        .evict(std::slice::from_ref(&other));
    send(
        &mut peer,
        &SyncMessage::Load(KnownState::empty(other.clone())),
    )
    .await?;
    let answer = next_messages(&mut peer).await?;
    assert!(matches!(
        answer.as_slice(),
        [SyncMessage::Known(k)] if k.state == KnownState::empty(other.clone()) && !k.is_correction
    ));
    client.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn shutdown_waits_for_acknowledgements_then_gives_up() -> TestResult {
    let (url, mut peers) = scripted_server().await?;
    let (_node, map, content) = node_with_map()?;
    let map_only: Vec<ContentMessage> = content.iter().filter(|c| c.id == map).cloned().collect();

    // Acknowledged during the shutdown: it succeeds.
    let client = SyncClient::connect(&url, options()).await?;
    let mut peer = next_peer(&mut peers).await?;
    let push = tokio::spawn({
        let client = client.clone();
        let map_only = map_only.clone();
        async move { client.push(map_only).await }
    });
    next_messages(&mut peer).await?;
    let shutdown = tokio::spawn({
        let client = client.clone();
        async move { client.shutdown().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!shutdown.is_finished(), "waits for the acknowledgement");
    send(&mut peer, &known(full_state(&map_only, &map))).await?;
    shutdown.await??;
    push.await??;
    assert!(matches!(client.load(&map).await, Err(SyncError::Closed)));

    // Never acknowledged: it gives up and names what is missing.
    let client = SyncClient::connect(
        &url,
        options().with_shutdown_timeout(Duration::from_millis(200)),
    )
    .await?;
    let mut peer = next_peer(&mut peers).await?;
    let push = tokio::spawn({
        let client = client.clone();
        async move { client.push(map_only).await }
    });
    next_messages(&mut peer).await?;
    let outcome = client.shutdown().await;
    assert!(
        matches!(outcome, Err(SyncError::Unflushed { pending }) if pending == vec![map.clone()])
    );
    assert!(matches!(push.await?, Err(SyncError::Closed)));
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_is_a_typed_error() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    drop(listener);
    assert!(matches!(
        SyncClient::connect(&url, options()).await,
        Err(SyncError::Connect { .. })
    ));
    assert!(matches!(
        SyncClient::connect("http://example.com", options()).await,
        Err(SyncError::InvalidUrl { .. })
    ));
    // wss:// to something that is no TLS server: the TLS set-up runs and fails cleanly.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("wss://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    assert!(matches!(
        SyncClient::connect(&url, options()).await,
        Err(SyncError::Connect { .. })
    ));
    Ok(())
}
