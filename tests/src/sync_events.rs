//! Events kept on a real Jazz sync server ([`crate::sync_server::SyncServer`]) by Rust
//! peers, over `jazz_req::sync::SyncClient`: a worker's account uploaded (as `jazz-req
//! account create --sync-server` does), an event an organiser creates there with the worker
//! a writer of its group, and, read back from the server alone, its reservations (by a third
//! account) and each ticket (by its owner, on a fresh node).

use std::collections::BTreeMap;
use std::time::Duration;

use jazz_req::cojson::keys::Reader;
use jazz_req::cojson::{ContentMessage, ResolveQuery, Ruleset};
use jazz_req::crypto::CryptoError;
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req::schema::{SchemaError, read_loaded};
use jazz_req::sync::{SyncClient, SyncError, SyncOptions};
use jazz_req_examples::event_tickets::{Event, Ticket, create_event};
use serde_json::Value;

use crate::worker_process::Credentials;

/// What can go wrong putting values on the sync server or reading them back.
#[derive(Debug, thiserror::Error)]
pub enum SyncEventError {
    /// A secret could not be made.
    #[error("could not make a secret")]
    Secret(#[from] CryptoError),
    /// A node refused to write, import or export.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The sync server could not be reached, or did not answer in time.
    #[error("the sync server failed")]
    Sync(#[from] SyncError),
    /// A value read back does not fit its schema (or is not readable).
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The server does not have a value it should.
    #[error("the sync server does not have {0}")]
    NotOnServer(CoID),
}

/// The sync options of these peers: generous timeouts, for a busy machine.
pub fn sync_options() -> SyncOptions {
    SyncOptions::default()
        .with_load_timeout(Duration::from_secs(20))
        .with_ack_timeout(Duration::from_secs(30))
}

/// A fresh account on a node of its own.
pub struct Peer {
    /// Its node.
    pub node: LocalNode,
    /// Its account.
    pub account: CoID,
    /// Its agent secret.
    pub secret: AgentSecret,
}

impl Peer {
    /// A new account called `name`.
    ///
    /// # Errors
    /// [`SyncEventError::Secret`], [`SyncEventError::Node`].
    pub fn fresh(name: &str) -> Result<Self, SyncEventError> {
        let secret = new_random_agent_secret()?;
        let (node, account) = LocalNode::create_account(secret.clone(), name)?;
        Ok(Self {
            node,
            account,
            secret,
        })
    }

    /// Its account's content, as `exportCoValue` gives it.
    ///
    /// # Errors
    /// [`SyncEventError::Node`].
    pub fn account_pieces(&self) -> Result<Vec<ContentMessage>, SyncEventError> {
        Ok(self.node.export(&self.account, &ResolveQuery::Value)?)
    }

    /// Its account and secret, as a worker takes them.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            account: self.account.clone(),
            secret: self.secret.clone(),
        }
    }
}

/// Pushes `content` to the sync server at `url` and waits until it acknowledged all of it.
///
/// # Errors
/// [`SyncEventError::Sync`].
pub async fn upload(url: &str, content: Vec<ContentMessage>) -> Result<(), SyncEventError> {
    let client = SyncClient::connect(url, sync_options()).await?;
    client.push(content).await?;
    client.shutdown().await?;
    Ok(())
}

/// A new account called `name`, uploaded to the sync server at `url` (as `jazz-req account
/// create --sync-server` does), with its content.
///
/// # Errors
/// Those of [`Peer::fresh`] and [`upload`].
pub async fn account_on_server(
    url: &str,
    name: &str,
) -> Result<(Peer, Vec<ContentMessage>), SyncEventError> {
    let peer = Peer::fresh(name)?;
    let pieces = peer.account_pieces()?;
    upload(url, pieces.clone()).await?;
    Ok((peer, pieces))
}

/// An event on the sync server.
#[derive(Clone, Debug)]
pub struct OrganisedEvent {
    /// The event.
    pub event: CoID,
    /// Its reservations list.
    pub reservations: CoID,
    /// The event with its (empty) reservations, as its organiser exported them.
    pub pieces: Vec<ContentMessage>,
}

impl OrganisedEvent {
    /// What a buyer's app imports to book: `worker_pieces` (the worker's account) and the
    /// event with its reservations, as JSON.
    pub fn client_pieces(&self, worker_pieces: &[ContentMessage]) -> Vec<Value> {
        worker_pieces
            .iter()
            .chain(&self.pieces)
            .map(ContentMessage::to_json)
            .collect()
    }
}

/// A new organiser creates the event `name` of `capacity` seats on the sync server at `url`,
/// in a group everyone reads and the worker (`worker`, whose account is `worker_pieces`)
/// writes, and waits until the server has it.
///
/// # Errors
/// Those of [`Peer::fresh`] and [`upload`]; [`SyncEventError::Node`].
pub async fn organise_event(
    url: &str,
    worker: &CoID,
    worker_pieces: &[ContentMessage],
    name: &str,
    capacity: u32,
) -> Result<OrganisedEvent, SyncEventError> {
    let mut organiser = Peer::fresh("Organiser")?;
    for piece in worker_pieces {
        organiser.node.import(piece.clone())?;
    }
    let event = organiser.node.atomically(|node| -> Result<_, NodeError> {
        let event = create_event(&mut Tx::new(node), name, capacity)?;
        // The worker writes the reservations: a writer of the event's group.
        if let Some(group) = owner_group(node, event.id()) {
            Tx::new(node).add_member(&group, worker, Role::Writer)?;
        }
        Ok(event)
    })?;
    let with_list = Event::resolve().reservations(|r| r).into_query();
    let pieces = organiser.node.export(event.id(), &with_list)?;
    upload(url, pieces.clone()).await?;
    Ok(OrganisedEvent {
        event: event.id().clone(),
        reservations: event.reservations.id().clone(),
        pieces,
    })
}

/// The group that owns `id`, if `node` holds it and a group owns it.
fn owner_group(node: &LocalNode, id: &CoID) -> Option<Group> {
    match &node.get(id)?.header().ruleset {
        Ruleset::OwnedByGroup { group, .. } => Some(Group::new(group.clone())),
        _ => None,
    }
}

/// Loads `id` with what it depends on from the server into `node`.
async fn load_into(
    client: &SyncClient,
    node: &mut LocalNode,
    id: &CoID,
) -> Result<(), SyncEventError> {
    let content = client
        .load(id)
        .await?
        .ok_or_else(|| SyncEventError::NotOnServer(id.clone()))?;
    for message in content {
        node.import(message)?;
    }
    Ok(())
}

/// A reservation as a third account reads it from the sync server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerReservation {
    /// The ticket.
    pub ticket: CoID,
    /// The accounts the ticket's group lets read it and nothing more (the handler makes its
    /// buyer one): its buyer, when exactly one.
    pub readers: Vec<CoID>,
}

/// The reservations of `event` on the sync server at `url`, in list order, as a new account
/// that never talked to the worker reads them (ticket contents are for their buyer and the
/// worker only; the ticket's group, public, names its readers).
///
/// # Errors
/// Those of [`Peer::fresh`]; [`SyncEventError::Sync`], [`SyncEventError::NotOnServer`],
/// [`SyncEventError::Node`], [`SyncEventError::Schema`].
pub async fn read_reservations(
    url: &str,
    event: &CoID,
) -> Result<Vec<ServerReservation>, SyncEventError> {
    let mut reader = Peer::fresh("Reader")?;
    let client = SyncClient::connect(url, sync_options()).await?;
    load_into(&client, &mut reader.node, event).await?;
    // The list's id, to load it too (a load brings what a value depends on, not what it
    // refers to).
    let list = reader.node.read(event)?.value["reservations"]
        .as_str()
        .and_then(|id| CoID::parse(id).ok());
    if let Some(list) = list {
        load_into(&client, &mut reader.node, &list).await?;
    }
    let with_list = Event::resolve().reservations(|r| r).into_query();
    let tickets: Vec<CoID> = read_loaded::<Event>(&reader.node, event, &with_list)?
        .reservations
        .items()
        .map_err(SchemaError::from)?
        .iter()
        .map(|ticket| ticket.id().clone())
        .collect();
    let mut read = Vec::new();
    for ticket in tickets {
        load_into(&client, &mut reader.node, &ticket).await?;
        let roles: BTreeMap<String, Role> = match owner_group(&reader.node, &ticket) {
            Some(group) => reader.node.read(group.id())?.roles.unwrap_or_default(),
            None => BTreeMap::new(),
        };
        let readers = roles
            .into_iter()
            .filter(|(_, role)| *role == Role::Reader)
            .filter_map(|(member, _)| CoID::parse(&member).ok())
            .collect();
        read.push(ServerReservation { ticket, readers });
    }
    client.shutdown().await?;
    Ok(read)
}

/// `ticket` as its owner (`owner`, whose agent secret is `secret`) reads it from the sync
/// server at `url` on a fresh node: its account and event.
///
/// # Errors
/// [`SyncEventError::Sync`], [`SyncEventError::NotOnServer`], [`SyncEventError::Node`],
/// [`SyncEventError::Schema`] (e.g. when the owner cannot decrypt it).
pub async fn read_ticket_as(
    url: &str,
    owner: &CoID,
    secret: &AgentSecret,
    ticket: &CoID,
) -> Result<(CoID, CoID), SyncEventError> {
    let mut node = LocalNode::new(Reader::new(Some(owner.clone()), secret.clone()));
    let client = SyncClient::connect(url, sync_options()).await?;
    load_into(&client, &mut node, owner).await?;
    load_into(&client, &mut node, ticket).await?;
    client.shutdown().await?;
    let read = read_loaded::<Ticket>(&node, ticket, &Ticket::resolve().into_query())?;
    Ok((read.account.id().clone(), read.event.id().clone()))
}
