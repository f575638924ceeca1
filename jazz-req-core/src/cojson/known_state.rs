//! What a peer knows of a CoValue: whether it has the header, and how many transactions of
//! each session (`CoValueKnownState`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crypto::{CoID, SessionID};

/// The known state of a CoValue: `{id, header, sessions}`. Sessions are kept sorted, as the
/// cojson core reports them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownState {
    /// The CoValue.
    pub id: CoID,
    /// Whether the header is known.
    pub header: bool,
    /// The number of transactions known per session.
    pub sessions: BTreeMap<SessionID, usize>,
}

impl KnownState {
    /// The header plus these sessions with their transaction counts.
    pub fn from_counts<'a>(id: CoID, counts: impl Iterator<Item = (&'a SessionID, usize)>) -> Self {
        Self {
            id,
            header: true,
            sessions: counts.map(|(session, n)| (session.clone(), n)).collect(),
        }
    }

    /// Knowing nothing of `id`.
    pub fn empty(id: CoID) -> Self {
        Self {
            id,
            header: false,
            sessions: BTreeMap::new(),
        }
    }

    /// The number of transactions known of `session` (0 when unknown).
    pub fn count(&self, session: &SessionID) -> usize {
        self.sessions.get(session).copied().unwrap_or(0)
    }
}
