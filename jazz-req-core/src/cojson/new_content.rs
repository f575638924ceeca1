//! `newContentSince`: the content messages that bring a peer from what it knows to what we
//! have, split into pieces exactly as cojson 0.20.19 splits them.
//!
//! Sessions are visited in the order they were first seen. A session's run is closed at each
//! in-between signature and moved to a piece of its own, placed before the piece being
//! filled; a session whose new part (counted in UTF-16 units, as JS counts) exceeds
//! [`MAX_RECOMMENDED_TX_SIZE`] gets a piece of its own, and a piece that would exceed it is
//! closed after the session that fills it. The header goes in the first piece when the peer
//! lacks it; `expectContentUntil` too, when there is more than one piece.

use std::collections::BTreeMap;

use super::content::{ContentMessage, SessionNewContent};
use super::known_state::KnownState;
use super::session_log::SessionLog;
use super::transaction::MAX_RECOMMENDED_TX_SIZE;
use super::verified_state::VerifiedCoValue;
use crate::crypto::Signature;

/// A run of one session's transactions in a piece being built.
struct Run<'a> {
    log: &'a SessionLog,
    start: usize,
    end: usize,
    signature: Option<&'a Signature>,
}

/// Pieces under construction; the last one is the one being filled.
struct Pieces<'a> {
    pieces: Vec<Vec<Run<'a>>>,
}

impl<'a> Pieces<'a> {
    fn current(&mut self) -> &mut Vec<Run<'a>> {
        if self.pieces.is_empty() {
            self.pieces.push(Vec::new());
        }
        let last = self.pieces.len() - 1;
        &mut self.pieces[last]
    }

    /// Adds transaction `index` of `log` to the current piece, with the signature after it
    /// (none while the run is still open).
    fn add(&mut self, log: &'a SessionLog, index: usize, signature: Option<&'a Signature>) {
        let current = self.current();
        match current.last_mut() {
            Some(run) if std::ptr::eq(run.log, log) => {
                run.end = index + 1;
                run.signature = signature;
            }
            _ => current.push(Run {
                log,
                start: index,
                end: index + 1,
                signature,
            }),
        }
    }

    /// Moves the run of `log` out of the current piece into a new piece placed just before it.
    fn move_to_own_piece(&mut self, log: &'a SessionLog) {
        let current = self.current();
        let Some(position) = current.iter().position(|run| std::ptr::eq(run.log, log)) else {
            return;
        };
        let run = current.remove(position);
        let before_current = self.pieces.len() - 1;
        self.pieces.insert(before_current, vec![run]);
    }

    fn start_new_piece(&mut self) {
        self.pieces.push(Vec::new());
    }
}

impl VerifiedCoValue {
    /// The content messages a peer that knows `known` (nothing, when `None`) needs to catch
    /// up, as cojson's `newContentSince` builds them. Empty when there is nothing to send.
    pub fn new_content_since(&self, known: Option<&KnownState>) -> Vec<ContentMessage> {
        let mut pieces = Pieces {
            pieces: vec![Vec::new()],
        };
        let mut piece_size = 0usize;
        for log in self.sessions() {
            let start_from = known.map_or(0, |k| k.count(log.session_id()));
            let last_index = log.len().saturating_sub(1);
            let mut session_size = 0usize;
            for (index, tx) in log.transactions().iter().enumerate().skip(start_from) {
                session_size += tx.size_utf16();
                if let Some(signature) = log.signature_after(index) {
                    pieces.add(log, index, Some(signature));
                    pieces.move_to_own_piece(log);
                    session_size = 0;
                } else if index == last_index {
                    pieces.add(log, index, log.last_signature());
                    if session_size > MAX_RECOMMENDED_TX_SIZE {
                        pieces.move_to_own_piece(log);
                    } else if piece_size + session_size > MAX_RECOMMENDED_TX_SIZE {
                        pieces.start_new_piece();
                        piece_size = 0;
                    } else {
                        piece_size += session_size;
                    }
                } else {
                    pieces.add(log, index, None);
                }
            }
        }
        self.to_messages(pieces.pieces, known)
    }

    fn to_messages(
        &self,
        pieces: Vec<Vec<Run<'_>>>,
        known: Option<&KnownState>,
    ) -> Vec<ContentMessage> {
        let include_header = !known.is_some_and(|k| k.header);
        let mut messages = Vec::with_capacity(pieces.len());
        for (i, runs) in pieces.into_iter().enumerate() {
            let mut message = ContentMessage::new(self.id().clone(), self.priority());
            if i == 0 && include_header {
                message.header = Some(self.header().clone());
            }
            // Every run ends at a checkpoint or at the session's last transaction, so it has a
            // signature (a log with transactions always has a last signature).
            message.new = runs
                .into_iter()
                .filter_map(|run| {
                    let signature = *run.signature?;
                    let transactions = run.log.transactions().get(run.start..run.end)?;
                    Some((
                        run.log.session_id().clone(),
                        SessionNewContent {
                            after: run.start,
                            new_transactions: transactions.to_vec(),
                            last_signature: signature,
                        },
                    ))
                })
                .collect();
            if message.header.is_some() || !message.new.is_empty() {
                messages.push(message);
            }
        }
        if messages.len() > 1 {
            let until: BTreeMap<_, _> = self
                .sessions()
                .filter(|log| log.len() > known.map_or(0, |k| k.count(log.session_id())))
                .map(|log| (log.session_id().clone(), log.len()))
                .collect();
            if let Some(first) = messages.first_mut() {
                first.expect_content_until = Some(until);
            }
        }
        messages
    }
}
