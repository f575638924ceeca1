//! The protocol state of one client towards its sync server, without any I/O: what the server
//! holds of each CoValue, the loads waiting for an answer, and pushed content waiting for an
//! acknowledgement. Each event (a command, a message from the server, a (re)connection, an
//! answer of the [`ContentSource`](super::ContentSource)) returns the [`Action`]s to carry out,
//! so the whole protocol is tested without a socket.
//!
//! It follows cojson's `SyncManager` as a client peer sees it:
//! - the server's view of a CoValue is confirmed by its `known` messages (and by content it
//!   sends), and optimistically extended by what we send;
//! - pushed content is acknowledged when the server's confirmed state covers it (header and
//!   every session count: cojson's "uploaded");
//! - `known` + `isCorrection` resets the server's view; we send again from there;
//! - on every (re)connection the server starts from nothing: we `load` every CoValue we
//!   follow (dependencies first, as they were first followed), resend loads still waiting
//!   and content not yet acknowledged, and upload what the server turns out to lack.
//!
//! What is followed is what the caller needs: a load the server answers "not found" leaves
//! nothing followed behind (a request may name any id), and the caller lets go of what it
//! pushed and no longer needs ([`SyncState::forget`], [`SyncState::forget_created`]), once
//! the server acknowledged it.

use std::collections::{BTreeMap, HashMap, HashSet};

use tokio::sync::oneshot;

use super::error::SyncError;
use super::message::{KnownMessage, SyncMessage};
use crate::cojson::{ContentMessage, KnownState};
use crate::crypto::{CoID, SessionID};

/// Where the answer of a load goes: everything the server sent for it, or `None` when the
/// server does not have the CoValue.
pub(crate) type LoadReply = oneshot::Sender<Result<Option<Vec<ContentMessage>>, SyncError>>;

/// Where the outcome of a push goes.
pub(crate) type PushReply = oneshot::Sender<Result<(), SyncError>>;

/// Why the server's state of a CoValue is put to the content source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The server sent `load`: it needs this CoValue (e.g. a dependency of our content).
    ServerLoad,
    /// The server sent `known` + `isCorrection`: our content did not fit.
    Correction,
    /// After a reconnection the server holds less than it held before.
    Reconcile,
}

/// A question for the content source: what of `server.id` does the server lack?
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Question {
    /// What the server holds.
    pub server: KnownState,
    /// Why it is asked.
    pub reason: Reason,
}

/// What the connection task has to do after an event.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send this message to the server.
    Send(SyncMessage),
    /// Ask the content source, then call [`SyncState::answered`].
    Ask(Question),
    /// Content the server pushed unasked (an update of a CoValue we follow).
    Update(Box<ContentMessage>),
}

/// What the server holds of one CoValue, as far as we know.
#[derive(Debug)]
struct ServerView {
    /// Confirmed by the server (its `known` messages, content it sent).
    confirmed: KnownState,
    /// `confirmed` plus what we sent since.
    sent: KnownState,
    /// After a reconnection: what the server held before, until its first answer.
    claimed: Option<KnownState>,
    /// First followed by a push that carried its header (we brought it to the server, e.g.
    /// the caller created it), and neither loaded nor sent by the server since: see
    /// [`SyncState::forget_created`].
    pushed_first: bool,
}

impl ServerView {
    fn new(id: &CoID) -> Self {
        Self {
            confirmed: KnownState::empty(id.clone()),
            sent: KnownState::empty(id.clone()),
            claimed: None,
            pushed_first: false,
        }
    }
}

/// A load waiting for the server's answer.
#[derive(Debug)]
struct PendingLoad {
    /// The known state we sent (the least of those asked for).
    since: KnownState,
    waiters: Vec<LoadReply>,
    /// Answers still expected: one per `load` sent.
    outstanding: usize,
    /// Content received meanwhile: dependencies first, then the CoValue's own pieces.
    collected: Vec<ContentMessage>,
    /// When the server streams the CoValue in several pieces: the counts it ends with.
    streaming: Option<BTreeMap<SessionID, usize>>,
    /// Counts of the CoValue's own pieces received so far.
    received: KnownState,
    /// Whether this load started following the CoValue: if the server does not have it, it
    /// is not followed after the answer (a request naming a random id must not make every
    /// later reconnection load it).
    newly_followed: bool,
}

/// A pushed piece the server has not acknowledged, with the state that acknowledges it.
#[derive(Debug)]
struct Unacked {
    piece: ContentMessage,
    state: KnownState,
}

/// Pushed content waiting for the server's acknowledgement.
#[derive(Debug)]
struct PendingPush {
    targets: Vec<KnownState>,
    reply: PushReply,
}

/// The protocol state of a client towards its sync server.
#[derive(Debug, Default)]
pub(crate) struct SyncState {
    connected: bool,
    /// CoValues we follow (loaded or pushed), in the order they were first followed.
    followed: Vec<CoID>,
    views: HashMap<CoID, ServerView>,
    loads: Vec<(CoID, PendingLoad)>,
    /// Pushed pieces the server has not acknowledged, in push order.
    unacked: Vec<Unacked>,
    pushes: Vec<PendingPush>,
    /// CoValues to forget once what was pushed of them is acknowledged (and their loads
    /// answered).
    forget_when_done: HashSet<CoID>,
    /// How many of those there must be before an acknowledgement looks at them again (see
    /// [`SyncState::settle`]).
    forget_check_at: usize,
}

/// The fewest CoValues waiting to be forgotten that an acknowledgement looks at while more
/// are unacknowledged.
const FORGET_BATCH: usize = 64;

/// Whether `state` holds everything `target` names (the header, and at least as many
/// transactions of every session).
pub(crate) fn covers(state: &KnownState, target: &KnownState) -> bool {
    (state.header || !target.header)
        && target
            .sessions
            .iter()
            .all(|(session, &count)| state.count(session) >= count)
}

/// Whether the server confirmed everything `targets` name (a push's acknowledgement).
fn server_holds(views: &HashMap<CoID, ServerView>, targets: &[KnownState]) -> bool {
    targets.iter().all(|t| {
        views
            .get(&t.id)
            .is_some_and(|view| covers(&view.confirmed, t))
    })
}

/// Adds what `other` knows to `state` (cojson's `combineKnownStates`).
fn combine(state: &mut KnownState, other: &KnownState) {
    state.header |= other.header;
    for (session, &count) in &other.sessions {
        let entry = state.sessions.entry(session.clone()).or_insert(0);
        *entry = (*entry).max(count);
    }
}

/// What a server knows once it holds `piece` (it needs the header for anything).
fn piece_state(piece: &ContentMessage) -> KnownState {
    let mut state = piece.known_state();
    state.header = true;
    state
}

impl SyncState {
    /// The CoValues whose pushed content the server has not acknowledged.
    pub fn unacknowledged(&self) -> Vec<CoID> {
        let mut ids: Vec<CoID> = Vec::new();
        for Unacked { piece, .. } in &self.unacked {
            if !ids.contains(&piece.id) {
                ids.push(piece.id.clone());
            }
        }
        ids
    }

    /// How many CoValues are followed (loaded again on every reconnection).
    pub fn followed_count(&self) -> usize {
        self.followed.len()
    }

    /// How many loads wait for an answer.
    #[cfg(test)]
    pub fn pending_loads(&self) -> usize {
        self.loads.len()
    }

    fn follow(&mut self, id: &CoID) -> &mut ServerView {
        if !self.views.contains_key(id) {
            self.followed.push(id.clone());
        }
        self.views
            .entry(id.clone())
            .or_insert_with(|| ServerView::new(id))
    }

    /// Stops following these CoValues: no reload on reconnection (the server may still send
    /// their updates until it is restarted). One with pushed content not yet acknowledged, or
    /// a load waiting, is followed until that is done, then forgotten.
    pub fn forget(&mut self, ids: &[CoID]) {
        let (later, now): (Vec<&CoID>, Vec<&CoID>) = ids.iter().partition(|id| self.is_busy(id));
        let now: HashSet<CoID> = now.into_iter().cloned().collect();
        let later: Vec<CoID> = later.into_iter().cloned().collect();
        self.forget_when_done.extend(later);
        self.unfollow(&now);
    }

    /// Stops following those of `ids` that were first followed by a push carrying their
    /// header and were neither loaded nor sent by the server since (what the caller created
    /// and only it wrote), once what was pushed of them is acknowledged. The others (what was
    /// loaded, what others write) stay followed.
    pub fn forget_created(&mut self, ids: &[CoID]) {
        let created: Vec<CoID> = ids
            .iter()
            .filter(|id| self.views.get(id).is_some_and(|view| view.pushed_first))
            .cloned()
            .collect();
        self.forget(&created);
    }

    /// Whether `id` has pushed content not yet acknowledged, a push waiting for it, or a load
    /// waiting (as [`SyncState::busy`], for a few ids without collecting all of them).
    fn is_busy(&self, id: &CoID) -> bool {
        self.unacked.iter().any(|u| u.piece.id == *id)
            || self
                .pushes
                .iter()
                .any(|p| p.targets.iter().any(|t| t.id == *id))
            || self.loads.iter().any(|(l, _)| l == id)
    }

    /// The CoValues with pushed content not yet acknowledged, a push waiting for them, or a
    /// load waiting.
    fn busy(&self) -> HashSet<&CoID> {
        self.unacked
            .iter()
            .map(|u| &u.piece.id)
            .chain(
                self.pushes
                    .iter()
                    .flat_map(|p| p.targets.iter().map(|t| &t.id)),
            )
            .chain(self.loads.iter().map(|(id, _)| id))
            .collect()
    }

    fn unfollow(&mut self, ids: &HashSet<CoID>) {
        if ids.is_empty() {
            return;
        }
        self.followed.retain(|id| !ids.contains(id));
        self.views.retain(|id, _| !ids.contains(id));
    }

    /// Forgets what was to be forgotten once its pushes and loads were done, now that they are.
    fn forget_what_is_done(&mut self) {
        if self.forget_when_done.is_empty() {
            return;
        }
        let busy = self.busy();
        let done: HashSet<CoID> = self
            .forget_when_done
            .iter()
            .filter(|id| !busy.contains(id))
            .cloned()
            .collect();
        self.forget_when_done.retain(|id| !done.contains(id));
        self.unfollow(&done);
        self.forget_check_at = (2 * self.forget_when_done.len()).max(FORGET_BATCH);
    }

    // ---- commands ----

    /// A load of `since.id` from `since`: the answer collects everything the server sends
    /// until its answer for the CoValue itself is complete.
    pub fn load(&mut self, since: KnownState, reply: LoadReply) -> Vec<Action> {
        let id = since.id.clone();
        let newly_followed = !self.views.contains_key(&id);
        // Loaded: wanted for itself, whoever brought it.
        self.follow(&id).pushed_first = false;
        let connected = self.connected;
        if let Some((_, pending)) = self.loads.iter_mut().find(|(l, _)| l == &id) {
            pending.waiters.push(reply);
            // A waiter that knows less than the load in flight needs its own answer.
            if !covers(&since, &pending.since) {
                pending.since = since.clone();
                if connected {
                    pending.outstanding += 1;
                    return vec![Action::Send(SyncMessage::Load(since))];
                }
            }
            return Vec::new();
        }
        let pending = PendingLoad {
            since: since.clone(),
            waiters: vec![reply],
            outstanding: usize::from(connected),
            collected: Vec::new(),
            streaming: None,
            received: KnownState::empty(id.clone()),
            newly_followed,
        };
        self.loads.push((id, pending));
        if connected {
            vec![Action::Send(SyncMessage::Load(since))]
        } else {
            Vec::new()
        }
    }

    /// Pushes content; `reply` gets `Ok` once the server's known state covers all of it.
    pub fn push(&mut self, content: Vec<ContentMessage>, reply: PushReply) -> Vec<Action> {
        let mut targets: Vec<KnownState> = Vec::new();
        let mut actions = Vec::new();
        let connected = self.connected;
        for piece in content {
            let state = piece_state(&piece);
            match targets.iter_mut().find(|t| t.id == piece.id) {
                Some(target) => combine(target, &state),
                None => targets.push(state.clone()),
            }
            let first = !self.views.contains_key(&piece.id);
            let view = self.follow(&piece.id);
            if first && piece.header.is_some() {
                view.pushed_first = true;
            }
            if covers(&view.confirmed, &state) {
                continue;
            }
            if connected {
                combine(&mut view.sent, &state);
                actions.push(Action::Send(SyncMessage::Content(Box::new(piece.clone()))));
            }
            self.unacked.push(Unacked { piece, state });
        }
        // Done at once if the server holds all of it already; otherwise acknowledgements
        // complete it (see `settle`).
        if server_holds(&self.views, &targets) {
            let _ = reply.send(Ok(()));
        } else {
            self.pushes.push(PendingPush { targets, reply });
        }
        actions
    }

    // ---- connection ----

    /// A connection opened: the server starts from nothing.
    pub fn on_connected(&mut self) -> Vec<Action> {
        self.connected = true;
        let mut actions = Vec::new();
        for id in &self.followed {
            let Some(view) = self.views.get_mut(id) else {
                continue;
            };
            let before = std::mem::replace(&mut view.confirmed, KnownState::empty(id.clone()));
            view.sent = KnownState::empty(id.clone());
            view.claimed = before.header.then(|| before.clone());
            if self.loads.iter().any(|(l, _)| l == id) {
                continue;
            }
            // Subscribes again, and tells the server what it held, so it sends only what
            // arrived meanwhile, or reveals (by answering with less) that it lost content.
            actions.push(Action::Send(SyncMessage::Load(before)));
        }
        for (_, pending) in &mut self.loads {
            pending.outstanding = 1;
            pending.collected.clear();
            pending.streaming = None;
            pending.received = KnownState::empty(pending.since.id.clone());
            actions.push(Action::Send(SyncMessage::Load(pending.since.clone())));
        }
        for Unacked { piece, state } in &self.unacked {
            if let Some(view) = self.views.get_mut(&piece.id) {
                combine(&mut view.sent, state);
            }
            actions.push(Action::Send(SyncMessage::Content(Box::new(piece.clone()))));
        }
        actions
    }

    /// The connection closed.
    pub fn on_disconnected(&mut self) {
        self.connected = false;
    }

    // ---- messages from the server ----

    /// Handles one message from the server.
    pub fn handle(&mut self, message: SyncMessage) -> Vec<Action> {
        match message {
            SyncMessage::Known(known) if known.is_correction => self.on_correction(known.state),
            SyncMessage::Known(known) => self.on_known(known.state),
            SyncMessage::Load(state) => self.on_server_load(state),
            SyncMessage::Content(content) => self.on_content(*content),
            SyncMessage::Done(_) => Vec::new(),
            SyncMessage::Reconcile { batch, .. } => {
                // Only a client with storage sends these, to a server; we are neither.
                tracing::debug!(batch, "ignoring a reconcile batch from the server");
                Vec::new()
            }
            SyncMessage::ReconcileAck { .. } => Vec::new(),
        }
    }

    fn on_known(&mut self, state: KnownState) -> Vec<Action> {
        let id = state.id.clone();
        let mut actions = Vec::new();
        if let Some(view) = self.views.get_mut(&id) {
            combine(&mut view.confirmed, &state);
            combine(&mut view.sent, &state);
            if let Some(claimed) = view.claimed.take()
                && !covers(&state, &claimed)
            {
                actions.push(Action::Ask(Question {
                    server: view.confirmed.clone(),
                    reason: Reason::Reconcile,
                }));
            }
        }
        if let Some(index) = self.loads.iter().position(|(l, _)| l == &id) {
            // In bounds: `index` was just found in `self.loads`.
            let pending = &mut self.loads[index].1;
            pending.outstanding = pending.outstanding.saturating_sub(1);
            if pending.outstanding == 0 {
                let (_, pending) = self.loads.remove(index);
                let has_own = pending.collected.iter().any(|m| m.id == id);
                let result = (state.header || has_own).then_some(pending.collected);
                reply_all(pending.waiters, &result);
                if result.is_none() && pending.newly_followed {
                    self.unfollow_if_absent(&id);
                }
            }
        }
        self.settle(&id);
        actions
    }

    /// A load found that the server does not have `id`: it stops being followed, unless
    /// something of ours is on its way there (pushed content, another load) or the server
    /// holds some of it after all.
    fn unfollow_if_absent(&mut self, id: &CoID) {
        let absent = self
            .views
            .get(id)
            .is_some_and(|view| !view.confirmed.header && view.confirmed.sessions.is_empty());
        if absent && !self.is_busy(id) {
            self.unfollow(&HashSet::from([id.clone()]));
        }
    }

    fn on_correction(&mut self, state: KnownState) -> Vec<Action> {
        let view = self.follow(&state.id);
        view.confirmed = state.clone();
        view.sent = state.clone();
        view.claimed = None;
        self.settle(&state.id);
        vec![Action::Ask(Question {
            server: state,
            reason: Reason::Correction,
        })]
    }

    fn on_server_load(&mut self, state: KnownState) -> Vec<Action> {
        // As cojson's `handleLoad`: the server's state is taken as given.
        if let Some(view) = self.views.get_mut(&state.id) {
            view.confirmed = state.clone();
            view.sent = state.clone();
        }
        self.settle(&state.id);
        vec![Action::Ask(Question {
            server: state,
            reason: Reason::ServerLoad,
        })]
    }

    fn on_content(&mut self, content: ContentMessage) -> Vec<Action> {
        let id = content.id.clone();
        let mut actions = Vec::new();
        let followed = self.views.contains_key(&id);
        // What the server sends, it holds, and it sends us its later changes: follow it.
        {
            let view = self.follow(&id);
            // The server sends it: others write it (or we loaded it), it is wanted.
            view.pushed_first = false;
            let state = piece_state(&content);
            combine(&mut view.confirmed, &state);
            combine(&mut view.sent, &state);
            // Content in answer to the load sent on reconnection is what the server has
            // beyond what we told it: it still holds that (cojson assumes so too).
            if let Some(claimed) = view.claimed.take() {
                combine(&mut view.confirmed, &claimed);
                combine(&mut view.sent, &claimed);
            }
        }
        if let Some(index) = self.loads.iter().position(|(l, _)| l == &id) {
            self.own_piece(index, content);
        } else {
            if followed || self.loads.is_empty() {
                actions.push(Action::Update(Box::new(content.clone())));
            }
            // While loads wait, other content is what they depend on.
            for (_, pending) in &mut self.loads {
                pending.collected.push(content.clone());
            }
        }
        self.settle(&id);
        actions
    }

    /// A piece of the CoValue a load waits for.
    fn own_piece(&mut self, index: usize, content: ContentMessage) {
        // In bounds: the caller found `index` in `self.loads` just before.
        let pending = &mut self.loads[index].1;
        combine(&mut pending.received, &content.known_state());
        // The server answers a load from what it was told (cojson's `handleLoad`): content
        // since it, with the header only for a load that lacked it.
        let starts_answer = pending.since.header || content.header.is_some();
        if pending.streaming.is_none() && starts_answer {
            match &content.expect_content_until {
                Some(until) if !until.is_empty() => pending.streaming = Some(until.clone()),
                _ => pending.outstanding = pending.outstanding.saturating_sub(1),
            }
        }
        pending.collected.push(content);
        if let Some(until) = &pending.streaming
            && until
                .iter()
                .all(|(session, &count)| pending.received.count(session) >= count)
        {
            pending.streaming = None;
            pending.outstanding = pending.outstanding.saturating_sub(1);
        }
        if pending.outstanding == 0 && pending.streaming.is_none() {
            let (_, pending) = self.loads.remove(index);
            reply_all(pending.waiters, &Some(pending.collected));
        }
    }

    // ---- answers of the content source ----

    /// The content source's answer to `question`: what it holds of the CoValue (`ours`) and
    /// the content the server lacks (`content`; `None` when the source does not hold it, or
    /// there is no source).
    pub fn answered(
        &mut self,
        question: Question,
        ours: Option<KnownState>,
        content: Option<Vec<ContentMessage>>,
    ) -> Vec<Action> {
        if !self.connected {
            return Vec::new();
        }
        let server = question.server;
        let id = server.id.clone();
        let mut actions = Vec::new();
        match content {
            Some(content) if !content.is_empty() => {
                for piece in content {
                    if let Some(view) = self.views.get_mut(&id) {
                        combine(&mut view.sent, &piece_state(&piece));
                    }
                    actions.push(Action::Send(SyncMessage::Content(Box::new(piece))));
                }
            }
            found => {
                // The source has nothing beyond the server's state, or does not hold it:
                // what was pushed and not acknowledged may still fill the gap.
                let fits = self.unacked_fit(&server);
                if fits {
                    for Unacked { piece, .. } in self.unacked.iter().filter(|u| u.piece.id == id) {
                        actions.push(Action::Send(SyncMessage::Content(Box::new(piece.clone()))));
                    }
                } else if question.reason == Reason::Correction
                    && self.unacked.iter().any(|u| u.piece.id == id)
                {
                    tracing::warn!(%id, "the server lacks earlier content that no source holds");
                    self.unacked.retain(|u| u.piece.id != id);
                    self.fail_pushes_of(&id);
                }
                if question.reason == Reason::ServerLoad && !fits {
                    let state = match (found, ours) {
                        (Some(_), Some(ours)) => ours,
                        _ => KnownState::empty(id),
                    };
                    actions.push(Action::Send(SyncMessage::Known(KnownMessage {
                        state,
                        is_correction: false,
                        as_dependency_of: None,
                    })));
                }
            }
        }
        actions
    }

    /// Whether the unacknowledged pieces of `server.id` apply on top of what the server holds
    /// (the header is among them if the server lacks it; no session starts after a gap).
    fn unacked_fit(&self, server: &KnownState) -> bool {
        let mut pieces = self
            .unacked
            .iter()
            .map(|u| &u.piece)
            .filter(|p| p.id == server.id)
            .peekable();
        if pieces.peek().is_none() {
            return false;
        }
        let mut header = server.header;
        let mut starts: HashMap<&SessionID, usize> = HashMap::new();
        for piece in pieces {
            header |= piece.header.is_some();
            for (session, content) in &piece.new {
                let start = starts.entry(session).or_insert(content.after);
                *start = (*start).min(content.after);
            }
        }
        header
            && starts
                .iter()
                .all(|(session, &after)| after <= server.count(session))
    }

    fn fail_pushes_of(&mut self, id: &CoID) {
        let (failed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pushes)
            .into_iter()
            .partition(|push| push.targets.iter().any(|t| &t.id == id));
        self.pushes = kept;
        for push in failed {
            // The caller may have stopped waiting; nothing else to tell.
            let _ = push
                .reply
                .send(Err(SyncError::MissingEarlierContent { id: id.clone() }));
        }
    }

    /// After what the server confirmed of `id` changed: drops the acknowledged pieces of `id`
    /// and completes the pushes waiting for `id` that the server now covers entirely. (Only
    /// what names `id` can have changed: each acknowledgement looks at nothing else, which
    /// under a steady load of pushes would otherwise cost a pass over all of them.)
    fn settle(&mut self, id: &CoID) {
        let views = &self.views;
        if let Some(view) = views.get(id) {
            self.unacked
                .retain(|u| u.piece.id != *id || !covers(&view.confirmed, &u.state));
            let done = self.pushes.extract_if(.., |push| {
                push.targets.iter().any(|t| t.id == *id) && server_holds(views, &push.targets)
            });
            for push in done {
                // The caller may have stopped waiting (timed out); the content is delivered
                // anyway.
                let _ = push.reply.send(Ok(()));
            }
        }
        // Looking costs a pass over everything unacknowledged: done when nothing is (cheap
        // then), or once enough wait that the pass is shared by many (under a steady load
        // each acknowledgement would otherwise pay it).
        if self.unacked.is_empty() || self.forget_when_done.len() >= self.forget_check_at {
            self.forget_what_is_done();
        }
    }

    /// Forgets waiters that stopped waiting (timed out or dropped), and loads nobody waits for.
    pub fn prune(&mut self) {
        self.pushes.retain(|push| !push.reply.is_closed());
        for (_, pending) in &mut self.loads {
            pending.waiters.retain(|w| !w.is_closed());
        }
        self.loads
            .retain(|(_, pending)| !pending.waiters.is_empty());
    }

    /// Ends every load and push with `error` (the client is shutting down).
    pub fn close(&mut self, error: impl Fn() -> SyncError) {
        for (_, pending) in std::mem::take(&mut self.loads) {
            for waiter in pending.waiters {
                let _ = waiter.send(Err(error()));
            }
        }
        for push in std::mem::take(&mut self.pushes) {
            let _ = push.reply.send(Err(error()));
        }
    }
}

fn reply_all(waiters: Vec<LoadReply>, result: &Option<Vec<ContentMessage>>) {
    for waiter in waiters {
        // A waiter that timed out is gone; the others still get the answer.
        let _ = waiter.send(Ok(result.clone()));
    }
}
