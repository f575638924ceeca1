//! Envelopes: the CoMap that carries a request's or a response's values, in a group made for
//! it, and the steps that take a received envelope apart.

use serde_json::{Map, Value, json};

use super::body::SignedBody;
use super::error::JazzRequestError;
use crate::cojson::permissions_role::Role;
use crate::cojson::{ContentMessage, LocalNode, NodeError, PreparedImport, Privacy, ResolveQuery};
use crate::crypto::{CoID, SessionAuthor};
use crate::schema::{LoadError, load_resolved_below};

/// The key a worker sets on a request envelope it has handled (to its account id).
pub const HANDLED_KEY: &str = "$handled";

/// Builds an envelope in `node`: a new group (this node's account admin) where `recipient`
/// gets `recipient_role`, and a CoMap in it holding `values` in one private transaction.
/// Returns the envelope's id. A client's request names the worker (writer); a worker's
/// responses go in a group kept per sender instead ([`response_group`],
/// [`create_envelope_in`]).
pub fn create_envelope(
    node: &mut LocalNode,
    recipient: &CoID,
    recipient_role: Role,
    values: &Map<String, Value>,
) -> Result<CoID, NodeError> {
    node.batch(|node| {
        let group = node.create_group()?;
        node.add_member(&group, recipient.as_str(), recipient_role)?;
        create_private_map(node, &group, values)
    })
}

fn create_private_map(
    node: &mut LocalNode,
    group: &CoID,
    values: &Map<String, Value>,
) -> Result<CoID, NodeError> {
    let init: Vec<(&str, Value)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    node.create_map(group, &init, Privacy::Private)
}

/// A response envelope in an existing group (see [`response_group`]): a private map of
/// `values`.
pub fn create_envelope_in(
    node: &mut LocalNode,
    group: &CoID,
    values: &Map<String, Value>,
) -> Result<CoID, NodeError> {
    node.batch(|node| create_private_map(node, group, values))
}

/// A group for responses to `recipient`: this node's account its admin, `recipient` a
/// reader.
pub fn response_group(node: &mut LocalNode, recipient: &CoID) -> Result<CoID, NodeError> {
    node.batch(|node| {
        let group = node.create_group()?;
        node.add_member(&group, recipient.as_str(), Role::Reader)?;
        Ok(group)
    })
}

/// Exports the envelope `id` with `resolve` and signs a body over its pieces.
pub fn sign_envelope(
    node: &LocalNode,
    id: &CoID,
    resolve: &ResolveQuery,
    created_at_ms: u64,
) -> Result<SignedBody, NodeError> {
    let pieces = node.export_json(id, resolve)?;
    Ok(SignedBody::sign(
        pieces,
        id.clone(),
        created_at_ms,
        &node.reader().agent.signer,
    ))
}

/// Parses the body's pieces. With `filter`, keeps only what a worker accepts from a request:
/// the pieces of the envelope itself and of its direct dependencies (owner group, branch
/// source, the accounts authoring its sessions), as jazz-tools does.
pub fn pieces_to_import(
    body: &SignedBody,
    filter: bool,
) -> Result<Vec<ContentMessage>, JazzRequestError> {
    let mut messages = Vec::with_capacity(body.content_pieces.len());
    for (index, piece) in body.content_pieces.iter().enumerate() {
        let message = ContentMessage::from_json(piece).map_err(|e| {
            JazzRequestError::invalid_payload(Some(
                json!({"piece": index, "reason": e.to_string()}),
            ))
        })?;
        messages.push(message);
    }
    if !filter {
        return Ok(messages);
    }
    let Some(envelope) = messages
        .iter()
        .find(|m| m.id == body.id && m.header.is_some())
    else {
        return Ok(Vec::new());
    };
    let mut keep = vec![body.id.clone()];
    if let Some(header) = &envelope.header {
        keep.extend(header.named_dependencies());
    }
    for message in messages.iter().filter(|m| m.id == body.id) {
        for (session, _) in &message.new {
            if let SessionAuthor::Account(account) = session.author()
                && !keep.contains(account)
            {
                keep.push(account.clone());
            }
        }
    }
    messages.retain(|m| keep.contains(&m.id));
    Ok(messages)
}

/// Imports pieces into `node`; a piece that does not verify makes the payload invalid, and
/// then what the pieces before it brought leaves memory again. Content still waiting for
/// dependencies the body did not bring is dropped again. Returns the CoValues that were new
/// to the node (what the request brought, and only that, may be evicted once it is
/// answered).
pub fn import_pieces(
    node: &mut LocalNode,
    pieces: Vec<ContentMessage>,
) -> Result<Vec<CoID>, JazzRequestError> {
    import_prepared_pieces(node, PreparedImport::unverified(pieces))
}

/// Like [`import_pieces`], for pieces verified (and maybe decoded) beforehand without the
/// node (see [`crate::cojson::prepared`]): what still stands as it was verified is committed
/// without verifying it again.
pub fn import_prepared_pieces(
    node: &mut LocalNode,
    pieces: PreparedImport,
) -> Result<Vec<CoID>, JazzRequestError> {
    let ids: Vec<CoID> = pieces
        .messages()
        .iter()
        .map(|m| m.message().id.clone())
        .collect();
    let mut fresh: Vec<CoID> = Vec::new();
    for id in &ids {
        if node.get(id).is_none() && !fresh.contains(id) {
            fresh.push(id.clone());
        }
    }
    let queued_before = node.queued_count();
    if let Err((index, error)) = node.import_all_prepared(pieces) {
        node.discard_pending(&ids);
        // Nor is anything the pieces before it added stored (a newer copy of an account
        // the node holds stays in memory, valid, but not queued).
        let added = node.queued_since(queued_before);
        node.unqueue(&added);
        // Nothing in flight can use what was absent before this import began.
        node.evict_with_accounts(&fresh);
        return Err(JazzRequestError::invalid_payload(Some(
            json!({"piece": index, "reason": error.to_string()}),
        )));
    }
    node.discard_pending(&ids);
    fresh.retain(|id| node.get(id).is_some());
    Ok(fresh)
}

/// Refuses content that verifies but does not decrypt or read: a valid transaction of one of
/// `ids` (the CoValues a request brought) that the node cannot decrypt, or whose changes are
/// not a JSON list, would silently take the values it carries away from the handler. 400
/// naming the CoValue.
pub fn check_decryptable(node: &LocalNode, ids: &[CoID]) -> Result<(), JazzRequestError> {
    for id in ids {
        let Some(value) = node.get(id) else {
            continue;
        };
        if value.header().account_agent().is_some() {
            continue;
        }
        let undecryptable = node
            .undecryptable(id)
            .map_err(|e| unreadable(id, &e.to_string()))?;
        if let Some(first) = undecryptable.first() {
            tracing::debug!(covalue = %id, count = undecryptable.len(), "undecryptable content refused");
            return Err(JazzRequestError::invalid_payload(Some(json!({
                "covalue": id.as_str(),
                "reason": format!(
                    "{} valid transaction(s) of {id} cannot be decrypted or read (the first: {} #{})",
                    undecryptable.len(),
                    first.session_id,
                    first.tx_index
                ),
            }))));
        }
    }
    Ok(())
}

/// 400: the request's content for `id` cannot be read or written as it must be.
pub(crate) fn unreadable(id: &CoID, reason: &str) -> JazzRequestError {
    JazzRequestError::invalid_payload(Some(json!({
        "covalue": id.as_str(),
        "reason": reason,
    })))
}

/// A received envelope, read once: its sender (`madeBy`, the account that made its first
/// valid transaction) and its fields.
pub struct ReadEnvelope {
    /// `madeBy`.
    pub sender: CoID,
    /// The envelope's fields, `$handled` included.
    pub fields: Map<String, Value>,
}

/// Reads the envelope `id` and finds its sender, with jazz-tools' errors.
pub fn read_envelope(node: &LocalNode, envelope: &CoID) -> Result<ReadEnvelope, JazzRequestError> {
    if node.get(envelope).is_none() {
        return Err(JazzRequestError::new(
            "Unable to load the request payload",
            400,
        ));
    }
    let (read, creator) = node
        .read_with_creator(envelope)
        .map_err(|e| JazzRequestError::invalid_payload(Some(json!({"reason": e.to_string()}))))?;
    let creator = creator.ok_or_else(|| {
        JazzRequestError::new(
            "Request payload is not valid, creator session ID not found",
            400,
        )
    })?;
    let account = CoID::parse(&creator).map_err(|_| {
        JazzRequestError::new(
            "Request payload is not valid, the creator is not a valid account",
            400,
        )
    })?;
    if node
        .get(&account)
        .is_none_or(|v| v.header().account_agent().is_none())
    {
        return Err(JazzRequestError::new("Creator account not found", 400));
    }
    let Value::Object(fields) = read.value else {
        return Err(JazzRequestError::new("Value not found", 400));
    };
    Ok(ReadEnvelope {
        sender: account,
        fields,
    })
}

/// The envelope's values (without the `$handled` mark), once everything `resolve` asks for
/// is loaded: what the node lacks (a CoValue, or what a loaded one depends on) is loaded from
/// its storage, else "Value not found". A storage that fails is the worker's fault (500).
pub fn envelope_values(
    node: &mut LocalNode,
    envelope: &CoID,
    fields: &Map<String, Value>,
    resolve: &ResolveQuery,
) -> Result<Map<String, Value>, JazzRequestError> {
    // The envelope itself was just read (its `fields`): only what they reference is loaded.
    let read = Value::Object(fields.clone());
    load_resolved_below(node, envelope, &read, resolve).map_err(|error| match error {
        LoadError::NotFound(_) => JazzRequestError::new("Value not found", 400),
        LoadError::Storage(e) => JazzRequestError::internal_while("loading from storage", e),
    })?;
    let Value::Object(mut values) = read else {
        return Err(JazzRequestError::new("Value not found", 400));
    };
    values.remove(HANDLED_KEY);
    Ok(values)
}
