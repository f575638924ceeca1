//! The accounts that send the requests, the events they book, and their signed bodies.

use jazz_req::cojson::{ContentMessage, ResolveQuery};
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req::request::SignedBody;
use jazz_req::sync::SyncClient;
use serde_json::{Map, Value, json};

use super::LoadError;
use crate::event_tickets::{Event, Ticket};

/// Sender accounts, uploaded to the sync server as a Jazz app's accounts are, each a client
/// that knows the worker.
pub struct Senders {
    clients: Vec<RequestClient>,
    worker: CoID,
    worker_content: Vec<ContentMessage>,
}

impl Senders {
    /// Loads the worker's account from the sync server and makes `accounts` new accounts
    /// (at least one), uploaded to it.
    ///
    /// # Errors
    /// [`LoadError::WorkerNotOnServer`]; those of the sync server and of making the accounts.
    pub async fn new(accounts: usize, worker: &CoID, sync: &SyncClient) -> Result<Self, LoadError> {
        let worker_content = sync
            .load(worker)
            .await?
            .ok_or_else(|| LoadError::WorkerNotOnServer(worker.clone()))?;
        let mut clients = Vec::with_capacity(accounts.max(1));
        let mut upload = Vec::new();
        for i in 0..accounts.max(1) {
            let (mut node, account) =
                LocalNode::create_account(new_random_agent_secret()?, &format!("Load sender {i}"))?;
            upload.extend(account_content(&node, &account)?);
            for message in &worker_content {
                node.import(message.clone())?;
            }
            clients.push(RequestClient::new(node).with_worker(worker.clone()));
        }
        sync.push(upload).await?;
        Ok(Self {
            clients,
            worker: worker.clone(),
            worker_content,
        })
    }

    /// An event on the sync server with `seats` seats, everyone a reader, the worker a
    /// writer, made by a new organiser account.
    ///
    /// # Errors
    /// [`LoadError::TooManySeats`]; those of making it and of the sync server.
    pub async fn make_event(&self, sync: &SyncClient, seats: usize) -> Result<CoID, LoadError> {
        let capacity = u32::try_from(seats).map_err(|_| LoadError::TooManySeats(seats))?;
        let (mut organiser, account) =
            LocalNode::create_account(new_random_agent_secret()?, "Load organiser")?;
        for message in &self.worker_content {
            organiser.import(message.clone())?;
        }
        let worker = &self.worker;
        let event = organiser.atomically(|node| {
            let mut tx = Tx::new(node);
            let group = tx.create_group()?;
            tx.add_member(&group, Member::Everyone, Role::Reader)?;
            tx.add_member(&group, worker, Role::Writer)?;
            let reservations = tx.create_list(&group, Vec::<Ref<Ticket>>::new())?;
            tx.create(
                &group,
                Event {
                    name: "Load night".into(),
                    capacity,
                    reservations,
                },
            )
        })?;
        let mut content = account_content(&organiser, &account)?;
        let with_list = Event::resolve().reservations(|r| r).into_query();
        content.extend(organiser.export(event.id(), &with_list)?);
        sync.push(content).await?;
        Ok(event.id().clone())
    }

    /// The signed bodies of requests `range` (`values(i)` for request `i`), spread over the
    /// senders, as JSON text.
    ///
    /// # Errors
    /// [`LoadError::Sign`].
    pub fn sign(
        &self,
        range: std::ops::Range<usize>,
        values: impl Fn(usize) -> Map<String, Value>,
    ) -> Result<Vec<SignedBody>, LoadError> {
        let mut signed = Vec::with_capacity(range.len());
        for i in range {
            // Never out of bounds: there is at least one client (see `new`).
            let client = &self.clients[i % self.clients.len()];
            signed.push(client.request_body(&self.worker, &values(i))?);
        }
        Ok(signed)
    }
}

/// The bodies as the JSON text sent.
pub fn texts(bodies: &[SignedBody]) -> Vec<String> {
    bodies.iter().map(|b| b.to_json().to_string()).collect()
}

/// A new account (and its profile) on the sync server; returns its id and secret.
///
/// # Errors
/// Those of making it and of the sync server.
pub async fn account_on_server(
    sync: &SyncClient,
    name: &str,
) -> Result<(CoID, AgentSecret), LoadError> {
    let secret = new_random_agent_secret()?;
    let (node, account) = LocalNode::create_account(secret.clone(), name)?;
    sync.push(account_content(&node, &account)?).await?;
    Ok((account, secret))
}

/// Pushes each body's envelope and what it brings but the accounts (uploaded already) to the
/// sync server, and waits until the server has them.
///
/// # Errors
/// [`LoadError::Content`] for a piece that is not content; those of the sync server.
pub async fn upload_envelopes(bodies: &[SignedBody], sync: &SyncClient) -> Result<(), LoadError> {
    const BODIES_PER_PUSH: usize = 256;
    for chunk in bodies.chunks(BODIES_PER_PUSH) {
        let mut content = Vec::new();
        for body in chunk {
            for piece in &body.content_pieces {
                let message = ContentMessage::from_json(piece)?;
                let is_account = message
                    .header
                    .as_ref()
                    .is_some_and(|h| h.account_agent().is_some());
                if !is_account {
                    content.push(message);
                }
            }
        }
        sync.push(content).await?;
    }
    Ok(())
}

/// The account and its profile, as `jazz-req account create --sync-server` uploads them.
///
/// # Errors
/// [`LoadError::Node`] when `node` cannot export or read them.
pub fn account_content(node: &LocalNode, account: &CoID) -> Result<Vec<ContentMessage>, LoadError> {
    let mut content = node.export(account, &ResolveQuery::Value)?;
    let profile = node
        .read(account)?
        .value
        .get("profile")
        .and_then(|p| p.as_str())
        .and_then(|p| CoID::parse(p).ok());
    if let Some(profile) = profile {
        for message in node.export(&profile, &ResolveQuery::Value)? {
            if !content.iter().any(|m| m.id == message.id) {
                content.push(message);
            }
        }
    }
    Ok(content)
}

/// The values of echo request `i`: `{text, n, flag}`, and `note` on every third.
pub fn echo_values(i: usize) -> Map<String, Value> {
    let mut values = Map::new();
    values.insert("text".into(), json!(format!("load {i} 🎷")));
    values.insert("n".into(), json!(i));
    values.insert("flag".into(), json!(i.is_multiple_of(2)));
    if i.is_multiple_of(3) {
        values.insert("note".into(), json!("a note"));
    }
    values
}

/// The values of a booking of `event`: `{event}`.
pub fn book_values(event: &CoID) -> Map<String, Value> {
    let mut values = Map::new();
    values.insert("event".into(), json!(event.as_str()));
    values
}
