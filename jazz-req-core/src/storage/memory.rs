//! [`MemoryStorage`]: everything in memory behind one lock, for tests and ephemeral workers.
//! Nothing survives the process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::pieces::{LoadedCoValue, LoadedSession};
use super::plan::{AppendPlan, SessionTip, checked_header, plan_append};
use super::{Storage, StorageError, StoreSummary};
use crate::cojson::clock::now_ms;
use crate::cojson::{CoValueHeader, ContentMessage, KnownState, Transaction};
use crate::crypto::{CoID, SessionID, Signature};

/// A [`Storage`] kept in memory.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    values: HashMap<CoID, StoredValue>,
    order: Vec<CoID>,
    claims: HashMap<(String, String), u64>,
}

#[derive(Debug)]
struct StoredValue {
    header: CoValueHeader,
    sessions: Vec<StoredSession>,
}

#[derive(Debug)]
struct StoredSession {
    session: SessionID,
    transactions: Vec<Transaction>,
    tip: SessionTip,
    checkpoints: BTreeMap<usize, Signature>,
    last_signature: Signature,
}

/// One change a store makes, planned before anything is changed.
enum Step<'a> {
    Create(&'a ContentMessage, CoValueHeader),
    Append {
        message: &'a ContentMessage,
        index: usize,
        plan: AppendPlan,
    },
}

impl State {
    fn tip(&self, id: &CoID, session: &SessionID) -> SessionTip {
        self.values
            .get(id)
            .and_then(|v| v.sessions.iter().find(|s| &s.session == session))
            .map_or_else(SessionTip::default, |s| s.tip)
    }

    /// Plans every change of `content` against the current state, changing nothing.
    fn plan<'a>(&self, content: &'a [ContentMessage]) -> Result<Vec<Step<'a>>, StorageError> {
        let mut steps = Vec::new();
        let mut created = HashSet::new();
        let mut tips: HashMap<(&CoID, &SessionID), SessionTip> = HashMap::new();
        for message in content {
            if !self.values.contains_key(&message.id) && !created.contains(&message.id) {
                let header = checked_header(message)?;
                created.insert(message.id.clone());
                steps.push(Step::Create(message, header));
            }
            for (index, (session, new)) in message.new.iter().enumerate() {
                let tip = *tips
                    .entry((&message.id, session))
                    .or_insert_with(|| self.tip(&message.id, session));
                let sizes: Vec<usize> = new
                    .new_transactions
                    .iter()
                    .map(Transaction::size_bytes)
                    .collect();
                if let Some(plan) = plan_append(&message.id, session, tip, new.after, &sizes)? {
                    tips.insert((&message.id, session), plan.tip);
                    steps.push(Step::Append {
                        message,
                        index,
                        plan,
                    });
                }
            }
        }
        Ok(steps)
    }

    fn apply(&mut self, steps: Vec<Step<'_>>) -> StoreSummary {
        let mut summary = StoreSummary::default();
        for step in steps {
            match step {
                Step::Create(message, header) => {
                    self.order.push(message.id.clone());
                    self.values.insert(
                        message.id.clone(),
                        StoredValue {
                            header,
                            sessions: Vec::new(),
                        },
                    );
                    summary.covalues_created += 1;
                }
                Step::Append {
                    message,
                    index,
                    plan,
                } => {
                    let (Some(value), Some((session, new))) =
                        (self.values.get_mut(&message.id), message.new.get(index))
                    else {
                        // Planned against this very state: the value and session exist.
                        continue;
                    };
                    let position = match value.sessions.iter().position(|s| &s.session == session) {
                        Some(position) => position,
                        None => {
                            value.sessions.push(StoredSession {
                                session: session.clone(),
                                transactions: Vec::new(),
                                tip: SessionTip::default(),
                                checkpoints: BTreeMap::new(),
                                last_signature: new.last_signature,
                            });
                            value.sessions.len() - 1
                        }
                    };
                    let Some(stored) = value.sessions.get_mut(position) else {
                        continue;
                    };
                    let added = new.new_transactions.get(plan.skip..).unwrap_or_default();
                    summary.transactions_added += added.len();
                    stored.transactions.extend_from_slice(added);
                    stored.tip = plan.tip;
                    stored.last_signature = new.last_signature;
                    if let Some(index) = plan.checkpoint_after {
                        stored.checkpoints.insert(index, new.last_signature);
                    }
                }
            }
        }
        summary
    }
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StorageError> {
        self.state.lock().map_err(|_| StorageError::Poisoned)
    }

    fn loaded(&self, id: &CoID) -> Result<Option<LoadedCoValue>, StorageError> {
        let state = self.lock()?;
        Ok(state.values.get(id).map(|value| LoadedCoValue {
            id: id.clone(),
            header: value.header.clone(),
            sessions: value
                .sessions
                .iter()
                .map(|s| LoadedSession {
                    session: s.session.clone(),
                    transactions: s.transactions.clone(),
                    checkpoints: s.checkpoints.clone(),
                    last_signature: s.last_signature,
                })
                .collect(),
        }))
    }
}

impl Storage for MemoryStorage {
    fn store(&self, content: &[ContentMessage]) -> Result<StoreSummary, StorageError> {
        let mut state = self.lock()?;
        let steps = state.plan(content)?;
        let summary = state.apply(steps);
        tracing::trace!(
            messages = content.len(),
            transactions = summary.transactions_added,
            "stored in memory"
        );
        Ok(summary)
    }

    fn load(&self, id: &CoID) -> Result<Option<Vec<ContentMessage>>, StorageError> {
        Ok(self.loaded(id)?.map(LoadedCoValue::into_messages))
    }

    fn known_state(&self, id: &CoID) -> Result<Option<KnownState>, StorageError> {
        let state = self.lock()?;
        Ok(state.values.get(id).map(|value| KnownState {
            id: id.clone(),
            header: true,
            sessions: value
                .sessions
                .iter()
                .map(|s| (s.session.clone(), s.tip.count))
                .collect(),
        }))
    }

    fn ids(&self) -> Result<Vec<CoID>, StorageError> {
        Ok(self.lock()?.order.clone())
    }

    fn claim(&self, namespace: &str, key: &str, expires_at_ms: u64) -> Result<bool, StorageError> {
        let now = now_ms();
        let mut state = self.lock()?;
        let entry = (namespace.to_owned(), key.to_owned());
        match state.claims.get(&entry) {
            Some(&expiry) if expiry > now => Ok(false),
            _ => {
                state.claims.insert(entry, expires_at_ms);
                Ok(true)
            }
        }
    }

    fn release(&self, namespace: &str, keys: &[String]) -> Result<usize, StorageError> {
        let mut state = self.lock()?;
        let mut removed = 0;
        for key in keys {
            let entry = (namespace.to_owned(), key.clone());
            removed += usize::from(state.claims.remove(&entry).is_some());
        }
        Ok(removed)
    }

    fn purge_expired(&self, now_ms: u64) -> Result<usize, StorageError> {
        let mut state = self.lock()?;
        let before = state.claims.len();
        state.claims.retain(|_, expiry| *expiry > now_ms);
        Ok(before - state.claims.len())
    }

    fn live_claims(
        &self,
        namespace: &str,
        now_ms: u64,
    ) -> Result<Vec<(String, u64)>, StorageError> {
        let state = self.state.lock().map_err(|_| StorageError::Poisoned)?;
        Ok(state
            .claims
            .iter()
            .filter(|((ns, _), expiry)| ns == namespace && **expiry > now_ms)
            .map(|((_, key), expiry)| (key.clone(), *expiry))
            .collect())
    }
}
