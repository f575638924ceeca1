//! A TCP proxy in front of a sync server that can hold back what the server sends: with it
//! held, a peer's pushes reach the server but their acknowledgements do not reach the peer.
//! Used to show what a worker's answer waits for (`tests/tests/sync_waits.rs`).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Forwards every connection to `upstream`; the server-to-peer direction can be held.
pub struct HoldingProxy {
    addr: SocketAddr,
    held: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl HoldingProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let held = watch::Sender::new(false);
        let watching = held.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((peer, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                tokio::spawn(forward(peer, server, watching.subscribe()));
            }
        });
        Ok(Self {
            addr,
            held,
            accepting,
        })
    }

    /// The proxy's WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Holds (or lets go) what the server sends; bytes already on their way are not recalled.
    pub fn hold_server(&self, held: bool) {
        self.held.send_replace(held);
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn forward(peer: TcpStream, server: TcpStream, mut held: watch::Receiver<bool>) {
    let (mut peer_read, mut peer_write) = peer.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut peer_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let mut buffer = vec![0_u8; 64 * 1024];
    while let Ok(read) = server_read.read(&mut buffer).await {
        if read == 0 || held.wait_for(|held| !*held).await.is_err() {
            break;
        }
        if peer_write.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    upstream.abort();
}
