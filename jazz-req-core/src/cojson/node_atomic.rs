//! All-or-nothing writes: [`LocalNode::atomically`] runs a closure whose own writes are
//! undone if it fails.
//!
//! Nothing is copied up front. Each open scope records, on this node's first write to a
//! session inside it, a [`SessionMark`] of that session (its length, hasher and signatures:
//! O(1) whatever the length of the log), and the CoValues created inside it. Undoing cuts
//! each marked session back to its mark and removes the created CoValues. Content imported
//! meanwhile is verified content of others and stays.
//!
//! Scopes nest. A mark is taken in every open scope that has none for that session yet, so
//! an inner scope having a mark implies that all outer ones have one: checking the innermost
//! scope is enough, and a write that is not the first to its session inside the scope costs
//! one hash look-up.

use std::collections::{HashMap, HashSet};

use super::node::LocalNode;
use super::node_error::NodeError;
use super::session_log::SessionMark;
use crate::crypto::{CoID, SessionID};

/// The open scopes of one node, innermost last.
#[derive(Debug, Default)]
pub(crate) struct AtomicScopes {
    stack: Vec<Scope>,
}

/// What one scope undoes on failure.
#[derive(Debug, Default)]
struct Scope {
    /// CoValues created inside the scope, removed on failure.
    created: Vec<CoID>,
    /// CoValues that existed (or were created) before this node's first write to them
    /// inside the scope.
    touched: HashMap<CoID, Touched>,
}

/// One CoValue this node wrote to inside a scope.
#[derive(Debug)]
struct Touched {
    /// Whether it was waiting to be stored before the scope wrote to it.
    was_dirty: bool,
    /// Each session written to, with where it stood before (`None`: it had no log).
    marks: Vec<(SessionID, Option<SessionMark>)>,
}

impl Scope {
    fn has_mark(&self, id: &CoID, session: &SessionID) -> bool {
        self.touched
            .get(id)
            .is_some_and(|t| t.marks.iter().any(|(s, _)| s == session))
    }
}

impl AtomicScopes {
    /// Notes a CoValue newly added by this node: the innermost scope removes it on failure.
    pub(crate) fn created(&mut self, id: &CoID) {
        if let Some(scope) = self.stack.last_mut() {
            scope.created.push(id.clone());
        }
    }

    /// Whether the innermost scope (and so every scope) has a mark for `session` of `id`;
    /// true outside any scope, where nothing needs one.
    fn marked(&self, id: &CoID, session: &SessionID) -> bool {
        self.stack.last().is_none_or(|s| s.has_mark(id, session))
    }

    /// Gives every scope that has none the mark `mark` for `session` of `id`.
    fn record(&mut self, id: &CoID, session: &SessionID, mark: Option<SessionMark>, dirty: bool) {
        for scope in self.stack.iter_mut().rev() {
            if scope.has_mark(id, session) {
                // Outer scopes have one too (see the module comment).
                break;
            }
            scope
                .touched
                .entry(id.clone())
                .or_insert_with(|| Touched {
                    was_dirty: dirty,
                    marks: Vec::new(),
                })
                .marks
                .push((session.clone(), mark.clone()));
        }
    }

    /// Opens a scope; returns its depth, for [`Self::close`].
    fn open(&mut self) -> usize {
        self.stack.push(Scope::default());
        self.stack.len() - 1
    }

    /// Closes the scope opened at `depth`. Scopes above it are only left open by a closure
    /// that panicked and was caught: what they recorded becomes this scope's.
    fn close(&mut self, depth: usize) -> Option<Scope> {
        let mut closed = self
            .stack
            .split_off(depth.min(self.stack.len()))
            .into_iter();
        let mut scope = closed.next()?;
        for inner in closed {
            scope.created.extend(inner.created);
        }
        Some(scope)
    }

    /// Hands what a successful scope created to the enclosing scope, which then removes it
    /// if it fails. (Its marks are the enclosing scope's already.)
    fn keep(&mut self, scope: Scope) {
        if let Some(outer) = self.stack.last_mut() {
            outer.created.extend(scope.created);
        }
    }
}

impl LocalNode {
    /// Runs `writes` as one unit: its own transactions are signed once at the end (as
    /// [`LocalNode::batch`]), and if it returns `Err`, every own write made inside it is
    /// undone and memory is as before.
    ///
    /// Undone on `Err`: CoValues created inside (groups, maps, lists…), removed with
    /// everything that names them; transactions this node appended to other CoValues, cut
    /// back (sessions it started are removed); the list of CoValues to store. Kept: content
    /// imported inside (from peers or storage), which is verified content of others. Only
    /// the node's writing methods are tracked, not writes made directly on a CoValue taken
    /// with [`LocalNode::get_mut`].
    ///
    /// Scopes nest: an inner scope that fails undoes only its own writes, an outer one all
    /// of them. Inside a scope [`LocalNode::flush`] and [`LocalNode::take_unsaved`] store and
    /// take nothing (everything waits for the first flush after the outermost scope), so no
    /// write that may still be undone reaches storage. What `writes`
    /// exports and sends elsewhere before failing cannot be recalled: only transactions
    /// signed at a checkpoint (over 100 KiB in one session) can be in an export made inside.
    pub fn atomically<T, E: From<NodeError>>(
        &mut self,
        writes: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        let outer_deferring = self.deferring;
        let depth = self.atomic.open();
        self.deferring = true;
        let result = writes(self);
        self.deferring = outer_deferring;
        if let Some(scope) = self.atomic.close(depth) {
            match &result {
                Ok(_) => self.atomic.keep(scope),
                Err(_) => self.undo(scope),
            }
        }
        if !outer_deferring {
            self.sign_pending();
        }
        result
    }

    /// Whether a [`LocalNode::atomically`] scope is open.
    pub fn in_atomic_scope(&self) -> bool {
        !self.atomic.stack.is_empty()
    }

    /// Called before every own write to `session` of `id`: marks the session in the open
    /// scopes that have no mark for it yet.
    pub(crate) fn before_own_write(&mut self, id: &CoID, session: &SessionID) {
        if self.atomic.marked(id, session) {
            return;
        }
        let Some(value) = self.get(id) else {
            return;
        };
        let mark = value.session_mark(session);
        let dirty = self.dirty.contains(id);
        self.atomic.record(id, session, mark, dirty);
    }

    /// Undoes what `scope` recorded.
    fn undo(&mut self, scope: Scope) {
        let created: HashSet<CoID> = scope.created.into_iter().collect();
        let mut not_dirty = HashSet::new();
        for (id, touched) in scope.touched {
            if created.contains(&id) {
                continue;
            }
            let unsigned = self.get_mut(&id).map(|value| {
                for (session, mark) in touched.marks {
                    if let Err(error) = value.rewind_session(&session, mark) {
                        // Only when the CoValue was evicted and loaded again inside the
                        // scope: what it holds now is what storage had.
                        tracing::warn!(%id, %error, "an own write could not be undone");
                    }
                }
                value.has_unsigned()
            });
            // Own transactions of an enclosing batch, from before the scope, wait again.
            match (self.unsigned.iter().position(|u| u == &id), unsigned) {
                (Some(index), Some(false) | None) => {
                    self.unsigned.remove(index);
                }
                (None, Some(true)) => self.unsigned.push(id.clone()),
                _ => {}
            }
            // A rolled-back CoValue has fewer signed transactions than its cached export
            // may have been made at; the next write would reach that count again with
            // different content.
            self.exported.get_mut().remove(&id);
            self.owned_reads.get_mut().remove(&id);
            if !touched.was_dirty {
                not_dirty.insert(id);
            }
        }
        if !not_dirty.is_empty() {
            self.dirty.retain(|id| !not_dirty.contains(id));
        }
        self.forget(&created);
        // Groups may have lost members or keys: rebuild validated group states.
        self.group_generation += 1;
    }
}
