//! Joining neighbouring content messages of one CoValue into one, where they can travel as
//! one: what a worker takes after a request holds the imported envelope and, right after it,
//! the worker's `$handled` mark on it, in another session. One message instead of two is one
//! store of the CoValue instead of two, and for the sync server one message to take in and
//! one `known` to answer instead of two.
//!
//! Only neighbours are joined, so nothing moves before what it depends on; and only messages
//! that a receiver reads the same way joined: the later one carries no header, neither is
//! a piece of a split content (`expectContentUntil`), they share the priority and no session,
//! and together they stay within [`MAX_RECOMMENDED_TX_SIZE`], the size cojson splits pieces
//! at.

use super::content::ContentMessage;
use super::transaction::MAX_RECOMMENDED_TX_SIZE;

/// `messages` with each message joined into the one before it when both can travel as one
/// (see the module docs). The order of the rest is unchanged.
pub(crate) fn join_neighbours(messages: Vec<ContentMessage>) -> Vec<ContentMessage> {
    let mut joined: Vec<ContentMessage> = Vec::with_capacity(messages.len());
    for message in messages {
        match joined.last_mut() {
            Some(previous) if can_join(previous, &message) => {
                previous.new.extend(message.new);
            }
            _ => joined.push(message),
        }
    }
    joined
}

fn can_join(previous: &ContentMessage, next: &ContentMessage) -> bool {
    previous.id == next.id
        && next.header.is_none()
        && previous.expect_content_until.is_none()
        && next.expect_content_until.is_none()
        && previous.priority == next.priority
        && !next
            .new
            .iter()
            .any(|(session, _)| previous.new.iter().any(|(seen, _)| seen == session))
        && size_utf16(previous) + size_utf16(next) <= MAX_RECOMMENDED_TX_SIZE
}

/// The size cojson counts a message's transactions in (UTF-16 units of their changes).
fn size_utf16(message: &ContentMessage) -> usize {
    message
        .new
        .iter()
        .flat_map(|(_, new)| &new.new_transactions)
        .map(super::transaction::Transaction::size_utf16)
        .sum()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::join_neighbours;
    use crate::cojson::node_write::Privacy;
    use crate::cojson::permissions_role::Role;
    use crate::cojson::{
        ContentMessage, LocalNode, MAX_RECOMMENDED_TX_SIZE, Priority, ResolveQuery,
    };
    use crate::crypto::CoID;
    use crate::crypto::random::new_random_agent_secret;

    type Outcome<T = ()> = Result<T, Box<dyn std::error::Error>>;

    /// A group and a map in it, written by one account and marked by another: the map's two
    /// messages (header + the author's session; the marker's session). `text` is the author's
    /// value, `mark` the marker's.
    fn map_in_two_messages(text: &str, mark: &str) -> Outcome<(CoID, Vec<ContentMessage>)> {
        let (mut marker, marker_id) =
            LocalNode::create_account(new_random_agent_secret()?, "Marker")?;
        let (mut author, _) = LocalNode::create_account(new_random_agent_secret()?, "Author")?;
        for piece in marker.export(&marker_id, &ResolveQuery::Value)? {
            author.import(piece)?;
        }
        let map = author.batch(|node| {
            let group = node.create_group()?;
            node.add_member(&group, marker_id.as_str(), Role::Writer)?;
            node.create_map(&group, &[("text", json!(text))], Privacy::Private)
        })?;
        let pieces = author.export(&map, &ResolveQuery::Value)?;
        marker.queue_imports(true);
        marker.take_unsaved()?;
        for piece in pieces {
            marker.import(piece)?;
        }
        // Taken apart: the import first, then the mark.
        let mut messages: Vec<ContentMessage> = marker.take_unsaved()?;
        marker.map_set(&map, "$handled", json!(mark), Privacy::Private)?;
        messages.extend(marker.take_unsaved()?);
        Ok((map, messages))
    }

    #[test]
    fn a_mark_in_another_session_joins_the_message_before_it() -> Outcome {
        let (map, messages) = map_in_two_messages("hi", "co_zMarker")?;
        let for_map = messages.iter().filter(|m| m.id == map).count();
        assert_eq!(for_map, 2, "the import and the mark, apart");
        let joined = join_neighbours(messages.clone());
        assert_eq!(joined.len(), messages.len() - 1);
        let message = joined
            .iter()
            .find(|m| m.id == map)
            .ok_or("the map's message is gone")?;
        assert!(message.header.is_some());
        assert_eq!(
            message.new.len(),
            2,
            "the author's session, then the marker's"
        );
        let ids: Vec<&CoID> = joined.iter().map(|m| &m.id).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids, unique, "the order of the rest is kept");
        Ok(())
    }

    #[test]
    fn messages_that_do_not_read_the_same_joined_stay_apart() -> Outcome {
        let (map, messages) = map_in_two_messages("hi", "co_zMarker")?;
        let first = messages
            .iter()
            .position(|m| m.id == map)
            .ok_or("no message for the map")?;
        let apart = messages
            .get(first..=first + 1)
            .ok_or("the map's two messages")?
            .to_vec();
        let pair = || apart.clone();

        let mut other_priority = pair();
        other_priority[1].priority = Priority::High;
        assert_eq!(join_neighbours(other_priority).len(), 2);

        let mut split = pair();
        split[0].expect_content_until = Some(BTreeMap::new());
        assert_eq!(join_neighbours(split).len(), 2);

        let mut with_header = pair();
        with_header[1].header = with_header[0].header.clone();
        assert_eq!(join_neighbours(with_header).len(), 2);

        let mut same_session = pair();
        same_session[1].new = same_session[0].new.clone();
        assert_eq!(join_neighbours(same_session).len(), 2);

        let mut not_neighbours = pair();
        let between = messages
            .iter()
            .find(|m| m.id != map)
            .ok_or("no message for the group")?
            .clone();
        not_neighbours.insert(1, between);
        assert_eq!(join_neighbours(not_neighbours).len(), 3);
        Ok(())
    }

    #[test]
    fn messages_too_big_together_stay_apart() -> Outcome {
        let half = "x".repeat(MAX_RECOMMENDED_TX_SIZE / 2);
        let (map, messages) = map_in_two_messages(&half, &half)?;
        let joined = join_neighbours(messages);
        assert_eq!(joined.iter().filter(|m| m.id == map).count(), 2);
        Ok(())
    }
}
