//! The seed's example route, `book-event-ticket`: an event with a capacity and a list of
//! reservations; booking checks the capacity and appends a ticket in one atomic step, so
//! concurrent requests can never oversell.

use jazz_req::prelude::*;
use serde_json::{Map, Value, json};

/// The route: the request carries `{event}` (loaded with its reservations), the response
/// `{ticket}`.
pub fn book_route(base_url: &str) -> RouteSpec {
    let resolve = |v: Value| ResolveQuery::from_json(&v).unwrap_or(ResolveQuery::Value);
    RouteSpec::new(format!("{base_url}/api/book-event-ticket"))
        .with_request_resolve(resolve(json!({"event": {"reservations": true}})))
        .with_response_resolve(resolve(json!({"ticket": true})))
}

/// Creates an event (`name`, `capacity`, an empty `reservations` list) that everyone can
/// read, owned by the node's account; returns its id.
pub fn create_event(node: &mut LocalNode, name: &str, capacity: u32) -> Result<CoID, NodeError> {
    node.batch(|node| {
        let group = node.create_group()?;
        node.add_member(&group, "everyone", Role::Reader)?;
        let reservations = node.create_list(&group, &[], Privacy::Private)?;
        node.create_map(
            &group,
            &[
                ("name", json!(name)),
                ("capacity", json!(capacity)),
                ("reservations", json!(reservations.as_str())),
            ],
            Privacy::Private,
        )
    })
}

/// The reservations list of an event.
pub fn reservations_of(node: &LocalNode, event: &CoID) -> Result<CoID, NodeError> {
    node.read(event)?
        .value
        .get("reservations")
        .and_then(Value::as_str)
        .and_then(|s| CoID::parse(s).ok())
        .ok_or_else(|| NodeError::NotLoaded(event.clone()))
}

/// The handler: "Event is full" (400, with the capacity in `details`) once every seat is
/// taken; otherwise a ticket in a new group where the sender is reader, appended to the
/// reservations. Check and write happen under one hold of the worker's node.
pub fn book(ctx: &RequestContext) -> HandlerResult {
    let event = ctx
        .value("event")
        .and_then(Value::as_str)
        .and_then(|s| CoID::parse(s).ok())
        .ok_or_else(|| JazzRequestError::new("event is missing", 400))?;
    let sender = ctx.made_by().clone();
    let booked = ctx
        .with_node(|node| {
            let capacity = node
                .read(&event)?
                .value
                .get("capacity")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let reservations = reservations_of(node, &event)?;
            let taken = node
                .read(&reservations)?
                .value
                .as_array()
                .map_or(0, Vec::len) as u64;
            if taken >= capacity {
                return Ok(Err(capacity));
            }
            let group = node.create_group()?;
            node.add_member(&group, sender.as_str(), Role::Reader)?;
            let ticket = node.create_map(
                &group,
                &[("seat", json!(taken + 1)), ("event", json!(event.as_str()))],
                Privacy::Private,
            )?;
            node.list_append(&reservations, json!(ticket.as_str()), Privacy::Private)?;
            Ok(Ok(ticket))
        })
        .map_err(|e| JazzRequestError::internal(e.to_string()))?;
    match booked {
        Ok(ticket) => Ok(Map::from_iter([(
            "ticket".to_owned(),
            json!(ticket.as_str()),
        )])),
        Err(capacity) => {
            Err(JazzRequestError::new("Event is full", 400)
                .with_details(json!({"capacity": capacity})))
        }
    }
}
