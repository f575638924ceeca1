//! The protocol state machine, event by event, without a socket.

use serde_json::json;
use tokio::sync::oneshot;

use super::error::SyncError;
use super::message::{KnownMessage, SyncMessage};
use super::state::{Action, Question, Reason, SyncState};
use crate::cojson::{ContentMessage, KnownState, LocalNode, Privacy, ResolveQuery};
use crate::crypto::CoID;
use crate::crypto::random::new_random_agent_secret;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A node with an account, a group and a map in it, and the map's export (account, group,
/// map: dependencies first).
fn exported_map() -> Result<(LocalNode, CoID, Vec<ContentMessage>), Box<dyn std::error::Error>> {
    let (mut node, _account) = LocalNode::create_account(new_random_agent_secret()?, "Tester")?;
    let group = node.create_group()?;
    let map = node.create_map(&group, &[("title", json!("hello"))], Privacy::Trusting)?;
    let content = node.export(&map, &ResolveQuery::Value)?;
    Ok((node, map, content))
}

fn sent(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(m) => Some(format!("{} {}", m.action(), m.covalue()?.as_str())),
            _ => None,
        })
        .collect()
}

fn known(state: KnownState) -> SyncMessage {
    SyncMessage::Known(KnownMessage {
        state,
        is_correction: false,
        as_dependency_of: None,
    })
}

fn correction(state: KnownState) -> SyncMessage {
    SyncMessage::Known(KnownMessage {
        state,
        is_correction: true,
        as_dependency_of: None,
    })
}

/// The state a server reaches by accepting `pieces` of one CoValue.
fn state_of(pieces: &[ContentMessage]) -> KnownState {
    let mut state = KnownState::empty(pieces[0].id.clone());
    state.header = true;
    for piece in pieces {
        for (session, count) in piece.known_state().sessions {
            state.sessions.insert(session, count);
        }
    }
    state
}

#[test]
fn a_push_resolves_once_the_server_covers_it() -> TestResult {
    let (_node, _map, content) = exported_map()?;
    let mut state = SyncState::default();
    state.on_connected();
    let (reply, mut outcome) = oneshot::channel();
    let actions = state.push(content.clone(), reply);
    assert_eq!(sent(&actions).len(), content.len());
    assert!(outcome.try_recv().is_err(), "not acknowledged yet");
    // The server acknowledges the pieces one by one.
    for piece in &content {
        state.handle(known(state_of(std::slice::from_ref(piece))));
    }
    assert!(matches!(outcome.try_recv(), Ok(Ok(()))));
    assert!(state.unacknowledged().is_empty());
    Ok(())
}

#[test]
fn a_push_completes_with_the_acknowledgement_of_its_last_covalue() -> TestResult {
    let (_node, _map, content) = exported_map()?;
    let [account, group, map] = &content[..] else {
        return Err("expected the account, the group and the map".into());
    };
    let mut state = SyncState::default();
    state.on_connected();
    let (first, mut first_outcome) = oneshot::channel();
    state.push(vec![account.clone(), group.clone()], first);
    let (second, mut second_outcome) = oneshot::channel();
    state.push(vec![group.clone(), map.clone()], second);
    let pending =
        |outcome: &mut oneshot::Receiver<Result<(), SyncError>>| outcome.try_recv().is_err();
    // Acknowledgements in another order than the pushes: each push waits for all of its own.
    state.handle(known(state_of(std::slice::from_ref(map))));
    assert!(pending(&mut first_outcome) && pending(&mut second_outcome));
    state.handle(known(state_of(std::slice::from_ref(account))));
    assert!(pending(&mut first_outcome) && pending(&mut second_outcome));
    assert_eq!(state.unacknowledged(), vec![group.id.clone()]);
    state.handle(known(state_of(std::slice::from_ref(group))));
    assert!(matches!(first_outcome.try_recv(), Ok(Ok(()))));
    assert!(matches!(second_outcome.try_recv(), Ok(Ok(()))));
    assert!(state.unacknowledged().is_empty());
    // What the server holds already is not sent again, and its push is done at once.
    let (again, mut again_outcome) = oneshot::channel();
    assert!(state.push(vec![map.clone()], again).is_empty());
    assert!(matches!(again_outcome.try_recv(), Ok(Ok(()))));
    Ok(())
}

#[test]
fn a_push_made_offline_is_sent_on_connection() -> TestResult {
    let (_node, map, content) = exported_map()?;
    let mut state = SyncState::default();
    let (reply, mut outcome) = oneshot::channel();
    assert!(state.push(content.clone(), reply).is_empty());
    assert_eq!(state.unacknowledged().len(), content.len());
    let actions = state.on_connected();
    // Every followed CoValue is loaded again (dependencies first), then the content goes.
    let sent = sent(&actions);
    assert_eq!(sent.len(), 2 * content.len());
    assert!(sent[..content.len()].iter().all(|s| s.starts_with("load ")));
    assert_eq!(sent.last(), Some(&format!("content {map}")));
    for piece in &content {
        state.handle(known(state_of(std::slice::from_ref(piece))));
    }
    assert!(matches!(outcome.try_recv(), Ok(Ok(()))));
    Ok(())
}

#[test]
fn a_load_collects_dependencies_then_its_own_content() -> TestResult {
    let (_node, map, content) = exported_map()?;
    let mut state = SyncState::default();
    state.on_connected();
    let (reply, mut answer) = oneshot::channel();
    let actions = state.load(KnownState::empty(map.clone()), reply);
    assert_eq!(sent(&actions), vec![format!("load {map}")]);
    for piece in &content {
        let actions = state.handle(SyncMessage::Content(Box::new(piece.clone())));
        assert!(actions.is_empty(), "dependencies of a load are not updates");
    }
    let loaded = answer.try_recv()??.ok_or("found")?;
    assert_eq!(loaded, content);
    // Later content of the map is an update.
    let actions = state.handle(SyncMessage::Content(Box::new(
        content[content.len() - 1].clone(),
    )));
    assert!(matches!(actions.as_slice(), [Action::Update(_)]));
    Ok(())
}

#[test]
fn a_load_since_a_known_state_ends_with_what_the_server_has_beyond_it() -> TestResult {
    let (mut node, map, content) = exported_map()?;
    let before = node.get(&map).ok_or("held")?.known_state();
    node.map_set(&map, "title", json!("changed"), Privacy::Trusting)?;
    let beyond = node
        .get(&map)
        .ok_or("held")?
        .new_content_since(Some(&before));
    assert!(beyond.iter().all(|piece| piece.header.is_none()));
    let mut state = SyncState::default();
    state.on_connected();
    // What the server holds of the map: everything before the change.
    for piece in &content {
        state.handle(SyncMessage::Content(Box::new(piece.clone())));
    }
    let (reply, mut answer) = oneshot::channel();
    let actions = state.load(before, reply);
    assert_eq!(sent(&actions), vec![format!("load {map}")]);
    // The server answers with the change alone, without the header the load said it holds.
    for piece in &beyond {
        state.handle(SyncMessage::Content(Box::new(piece.clone())));
    }
    assert_eq!(answer.try_recv()??.ok_or("found")?, beyond);
    Ok(())
}

#[test]
fn a_load_of_what_the_server_lacks_is_none() -> TestResult {
    let (_node, map, _content) = exported_map()?;
    let mut state = SyncState::default();
    state.on_connected();
    let (reply, mut answer) = oneshot::channel();
    state.load(KnownState::empty(map.clone()), reply);
    state.handle(known(KnownState::empty(map)));
    assert_eq!(answer.try_recv()??, None);
    Ok(())
}

#[test]
fn a_streamed_load_waits_for_every_piece() -> TestResult {
    let (_node, map, content) = exported_map()?;
    let own = content.last().ok_or("map")?.clone();
    let (session, session_content) = own.new.first().ok_or("session")?.clone();
    // Split the map's one transaction run into a header piece and a transactions piece.
    let mut first = own.clone();
    first.new.clear();
    first.expect_content_until = Some([(session.clone(), session_content.after + 1)].into());
    let mut second = own.clone();
    second.header = None;
    let mut state = SyncState::default();
    state.on_connected();
    let (reply, mut answer) = oneshot::channel();
    state.load(KnownState::empty(map), reply);
    state.handle(SyncMessage::Content(Box::new(first)));
    assert!(answer.try_recv().is_err(), "still streaming");
    state.handle(SyncMessage::Content(Box::new(second)));
    assert_eq!(answer.try_recv()??.map(|m| m.len()), Some(2));
    Ok(())
}

#[test]
fn a_server_load_is_answered_from_the_source_or_with_known() -> TestResult {
    let (node, map, _content) = exported_map()?;
    let mut state = SyncState::default();
    state.on_connected();
    let asked = KnownState::empty(map.clone());
    let actions = state.handle(SyncMessage::Load(asked.clone()));
    let [Action::Ask(question)] = actions.as_slice() else {
        return Err("expected a question".into());
    };
    assert_eq!(question.reason, Reason::ServerLoad);
    // No source: we do not have it.
    let actions = state.answered(question.clone(), None, None);
    let [Action::Send(SyncMessage::Known(reply))] = actions.as_slice() else {
        return Err("expected known".into());
    };
    assert!(!reply.state.header && !reply.is_correction);
    // A source that holds it sends its content.
    let value = node.get(&map).ok_or("map")?;
    let content = value.new_content_since(Some(&asked));
    let actions = state.answered(question.clone(), Some(value.known_state()), Some(content));
    assert_eq!(sent(&actions), vec![format!("content {map}")]);
    // A source with nothing new answers with its known state.
    let actions = state.answered(
        question.clone(),
        Some(value.known_state()),
        Some(Vec::new()),
    );
    let [Action::Send(SyncMessage::Known(reply))] = actions.as_slice() else {
        return Err("expected known".into());
    };
    assert_eq!(reply.state, value.known_state());
    Ok(())
}

#[test]
fn a_correction_resends_what_fits_or_fails_the_push() -> TestResult {
    let (mut node, map, content) = exported_map()?;
    let mut state = SyncState::default();
    state.on_connected();
    let (reply, _outcome) = oneshot::channel();
    state.push(content.clone(), reply);
    // The server lost the map: our pieces carry its header, so they fit.
    let actions = state.handle(correction(KnownState::empty(map.clone())));
    let [Action::Ask(question)] = actions.as_slice() else {
        return Err("expected a question".into());
    };
    let actions = state.answered(question.clone(), None, None);
    assert_eq!(sent(&actions), vec![format!("content {map}")]);

    // A later write, pushed alone: it starts after the first transaction.
    let before = node.get(&map).ok_or("map")?.known_state();
    node.map_set(&map, "title", json!("again"), Privacy::Trusting)?;
    let update = node
        .get(&map)
        .ok_or("map")?
        .new_content_since(Some(&before));
    let mut state = SyncState::default();
    state.on_connected();
    let (reply, mut outcome) = oneshot::channel();
    state.push(update, reply);
    let question = Question {
        server: KnownState::empty(map.clone()),
        reason: Reason::Correction,
    };
    state.handle(correction(KnownState::empty(map.clone())));
    assert!(state.answered(question, None, None).is_empty());
    assert!(matches!(
        outcome.try_recv(),
        Ok(Err(SyncError::MissingEarlierContent { id })) if id == map
    ));
    assert!(state.unacknowledged().is_empty());
    Ok(())
}

#[test]
fn after_a_reconnection_what_the_server_lost_is_uploaded() -> TestResult {
    let (_node, map, content) = exported_map()?;
    let mut state = SyncState::default();
    state.on_connected();
    let (reply, _outcome) = oneshot::channel();
    state.push(content.clone(), reply);
    let acknowledged = state_of(&content[content.len() - 1..]);
    state.handle(known(acknowledged.clone()));
    state.on_disconnected();
    let actions = state.on_connected();
    // We tell the server what it held; it answers that it has nothing (it restarted).
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Send(SyncMessage::Load(s)) if s == &acknowledged
    )));
    let actions = state.handle(known(KnownState::empty(map.clone())));
    let [Action::Ask(question)] = actions.as_slice() else {
        return Err("expected a question".into());
    };
    assert_eq!(question.reason, Reason::Reconcile);
    assert_eq!(question.server, KnownState::empty(map));
    Ok(())
}

#[test]
fn loads_waiting_offline_are_sent_on_connection_and_pruned_when_abandoned() -> TestResult {
    let (_node, map, _content) = exported_map()?;
    let mut state = SyncState::default();
    let (reply, answer) = oneshot::channel();
    assert!(state.load(KnownState::empty(map.clone()), reply).is_empty());
    let actions = state.on_connected();
    assert_eq!(sent(&actions), vec![format!("load {map}")]);
    drop(answer);
    state.prune();
    assert_eq!(state.pending_loads(), 0);
    Ok(())
}

#[test]
fn forgotten_while_unacknowledged_is_followed_until_acknowledged_then_not_reloaded() -> TestResult {
    let (_node, map, content) = exported_map()?;
    let group = content
        .iter()
        .map(|piece| piece.id.clone())
        .find(|id| id != &map && content.first().is_some_and(|first| &first.id != id))
        .ok_or("the export holds a group")?;
    let mut state = SyncState::default();
    state.on_connected();
    let (reply, mut outcome) = oneshot::channel();
    state.push(content.clone(), reply);
    state.forget(&[map.clone(), group.clone()]);
    // Not acknowledged yet: a reconnection still loads them (and sends them again).
    state.on_disconnected();
    let again = sent(&state.on_connected());
    for id in [&map, &group] {
        assert!(
            again.contains(&format!("load {}", id.as_str())),
            "{id} reloaded before its acknowledgement: {again:?}"
        );
    }
    for piece in &content {
        state.handle(known(state_of(std::slice::from_ref(piece))));
    }
    assert!(
        matches!(outcome.try_recv(), Ok(Ok(()))),
        "the push still resolves"
    );
    // Acknowledged: forgotten, so a reconnection loads only what is still followed.
    state.on_disconnected();
    let after = sent(&state.on_connected());
    for id in [&map, &group] {
        assert!(
            !after.iter().any(|line| line.ends_with(id.as_str())),
            "{id} still followed after its acknowledgement: {after:?}"
        );
    }
    assert_eq!(
        after.len(),
        1,
        "the account alone is still followed: {after:?}"
    );
    Ok(())
}

#[test]
fn what_the_server_lacks_is_not_followed_after_its_load() -> TestResult {
    let (_node, map, content) = exported_map()?;
    let mut state = SyncState::default();
    state.on_connected();
    // Followed: the account, loaded and found.
    let account = content.first().ok_or("the export holds the account")?;
    let (reply, mut found) = oneshot::channel();
    state.load(KnownState::empty(account.id.clone()), reply);
    state.handle(SyncMessage::Content(Box::new(account.clone())));
    assert!(found.try_recv()??.is_some());
    // Ids the server does not have (a request naming random ids): none stays followed.
    for _ in 0..10 {
        let absent = CoID::from_bytes(&crate::crypto::random::random_bytes::<16>()?);
        let (reply, mut answer) = oneshot::channel();
        state.load(KnownState::empty(absent.clone()), reply);
        state.handle(known(KnownState::empty(absent)));
        assert_eq!(answer.try_recv()??, None);
    }
    // Nor the map, asked for before it was on the server.
    let (reply, mut answer) = oneshot::channel();
    state.load(KnownState::empty(map.clone()), reply);
    state.handle(known(KnownState::empty(map.clone())));
    assert_eq!(answer.try_recv()??, None);
    assert_eq!(state.followed_count(), 1, "the account alone is followed");
    state.on_disconnected();
    let again = sent(&state.on_connected());
    assert_eq!(again, vec![format!("load {}", account.id.as_str())]);
    Ok(())
}

#[test]
fn a_load_of_what_was_followed_already_keeps_following_it_when_not_found() -> TestResult {
    let (_node, map, content) = exported_map()?;
    let mut state = SyncState::default();
    state.on_connected();
    // Pushed, not yet acknowledged: the server answers a load with nothing meanwhile.
    let (reply, _outcome) = oneshot::channel();
    state.push(content.clone(), reply);
    let (reply, mut answer) = oneshot::channel();
    state.load(KnownState::empty(map.clone()), reply);
    state.handle(known(KnownState::empty(map.clone())));
    assert_eq!(answer.try_recv()??, None);
    state.on_disconnected();
    let again = sent(&state.on_connected());
    assert!(
        again.contains(&format!("load {}", map.as_str())),
        "the pushed map is still followed: {again:?}"
    );
    Ok(())
}

#[test]
fn what_we_brought_to_the_server_is_forgotten_once_acknowledged_what_we_loaded_is_not() -> TestResult
{
    let (mut node, map, content) = exported_map()?;
    let mut state = SyncState::default();
    state.on_connected();
    // The account was loaded from the server; the group and the map are ours (pushed with
    // their headers).
    let account = content.first().ok_or("the export holds the account")?;
    let (reply, mut found) = oneshot::channel();
    state.load(KnownState::empty(account.id.clone()), reply);
    state.handle(SyncMessage::Content(Box::new(account.clone())));
    assert!(found.try_recv()??.is_some());
    let (reply, mut outcome) = oneshot::channel();
    state.push(content.clone(), reply);
    let ids: Vec<CoID> = content.iter().map(|piece| piece.id.clone()).collect();
    state.forget_created(&ids);
    for piece in &content {
        state.handle(known(state_of(std::slice::from_ref(piece))));
    }
    assert!(matches!(outcome.try_recv(), Ok(Ok(()))));
    assert_eq!(
        state.followed_count(),
        1,
        "the loaded account stays followed"
    );

    // Content pushed without its header (what the server had before, e.g. a list the worker
    // stored earlier) is not ours to forget.
    let list = node.create_list(&content[1].id, &[json!(1)], Privacy::Trusting)?;
    let mut pieces = node.export(&list, &ResolveQuery::Value)?;
    pieces.retain(|piece| piece.id == list);
    let mut headerless = pieces.clone();
    for piece in &mut headerless {
        piece.header = None;
    }
    let (reply, _outcome) = oneshot::channel();
    state.push(headerless, reply);
    state.forget_created(std::slice::from_ref(&list));
    state.handle(known(state_of(&pieces)));
    state.on_disconnected();
    let again = sent(&state.on_connected());
    assert!(
        again.contains(&format!("load {}", list.as_str())),
        "{again:?}"
    );
    assert!(
        !again.contains(&format!("load {}", map.as_str())),
        "{again:?}"
    );
    Ok(())
}
