//! Storing content in SQLite: the rows a content message adds. Messages are serialised by the
//! caller ([`PreparedContent::new`]) so that the writer thread only runs SQL.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreSummary;
use super::error::StorageError;
use super::plan::{SessionTip, plan_append};
use crate::cojson::{CoValueHeader, ContentMessage, Transaction};
use crate::crypto::{CoID, SessionID};

/// One session's new content, serialised by the caller (off the writer thread).
pub(crate) struct PreparedSession {
    session: SessionID,
    after: usize,
    transactions: Vec<String>,
    sizes: Vec<usize>,
    last_signature: String,
}

/// The header of a content message, as the writer needs it.
enum PreparedHeader {
    /// The message has none.
    Absent,
    /// Its canonical JSON text.
    Canonical(String),
    /// It hashes to another id than the message's.
    Mismatch(CoID),
}

/// A content message serialised for the writer.
pub(crate) struct PreparedContent {
    id: CoID,
    header: PreparedHeader,
    sessions: Vec<PreparedSession>,
}

impl PreparedContent {
    /// Serialises `message`: transactions as their wire text, the header as canonical JSON
    /// (a header that does not hash to the id is reported only if the CoValue is new).
    pub(crate) fn new(message: &ContentMessage) -> Self {
        Self {
            id: message.id.clone(),
            header: match &message.header {
                None => PreparedHeader::Absent,
                Some(header) => {
                    let canonical = header.canonical_json();
                    match CoValueHeader::id_of_canonical(&canonical) {
                        actual if actual == message.id => PreparedHeader::Canonical(canonical),
                        actual => PreparedHeader::Mismatch(actual),
                    }
                }
            },
            sessions: message
                .new
                .iter()
                .map(|(session, new)| PreparedSession {
                    session: session.clone(),
                    after: new.after,
                    transactions: new
                        .new_transactions
                        .iter()
                        .map(Transaction::canonical_json)
                        .collect(),
                    sizes: new
                        .new_transactions
                        .iter()
                        .map(Transaction::size_bytes)
                        .collect(),
                    last_signature: new.last_signature.to_string(),
                })
                .collect(),
        }
    }
}

/// Clamps a count or time into SQLite's integer range.
pub(crate) fn to_sql(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

pub(crate) fn store_message(
    connection: &Connection,
    message: &PreparedContent,
) -> Result<StoreSummary, StorageError> {
    let mut summary = StoreSummary::default();
    let existing: Option<i64> = connection
        .prepare_cached("SELECT row_id FROM covalues WHERE id = ?1")?
        .query_row([message.id.as_str()], |row| row.get(0))
        .optional()?;
    let covalue = match existing {
        Some(row_id) => row_id,
        None => {
            let header = match &message.header {
                PreparedHeader::Canonical(header) => header,
                PreparedHeader::Mismatch(actual) => {
                    return Err(StorageError::HeaderMismatch {
                        expected: message.id.clone(),
                        actual: actual.clone(),
                    });
                }
                PreparedHeader::Absent => {
                    return Err(StorageError::MissingHeader(message.id.clone()));
                }
            };
            connection
                .prepare_cached("INSERT INTO covalues (id, header) VALUES (?1, ?2)")?
                .execute([message.id.as_str(), header.as_str()])?;
            summary.covalues_created += 1;
            connection.last_insert_rowid()
        }
    };
    for session in &message.sessions {
        summary.transactions_added += store_session(connection, &message.id, covalue, session)?;
    }
    Ok(summary)
}

fn store_session(
    connection: &Connection,
    id: &CoID,
    covalue: i64,
    session: &PreparedSession,
) -> Result<usize, StorageError> {
    let stored: Option<(i64, i64, i64)> = connection
        .prepare_cached(
            "SELECT row_id, tx_count, bytes_since_checkpoint FROM sessions
             WHERE covalue = ?1 AND session_id = ?2",
        )?
        .query_row(params![covalue, session.session.as_str()], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let tip = match stored {
        Some((_, count, bytes)) => SessionTip {
            count: usize::try_from(count)
                .map_err(|e| StorageError::corrupt("sessions", session.session.as_str(), e))?,
            bytes_since_checkpoint: usize::try_from(bytes)
                .map_err(|e| StorageError::corrupt("sessions", session.session.as_str(), e))?,
        },
        None => SessionTip::default(),
    };
    let Some(plan) = plan_append(id, &session.session, tip, session.after, &session.sizes)? else {
        return Ok(0);
    };
    let row_id = match stored {
        Some((row_id, _, _)) => row_id,
        None => {
            connection
                .prepare_cached(
                    "INSERT INTO sessions
                     (covalue, session_id, tx_count, last_signature, bytes_since_checkpoint)
                     VALUES (?1, ?2, 0, ?3, 0)",
                )?
                .execute(params![
                    covalue,
                    session.session.as_str(),
                    session.last_signature
                ])?;
            connection.last_insert_rowid()
        }
    };
    let new = session.transactions.get(plan.skip..).unwrap_or_default();
    let mut insert = connection
        .prepare_cached("INSERT INTO transactions (session, idx, tx) VALUES (?1, ?2, ?3)")?;
    for (offset, text) in new.iter().enumerate() {
        insert.execute(params![row_id, to_sql(tip.count + offset), text])?;
    }
    if let Some(index) = plan.checkpoint_after {
        connection
            .prepare_cached(
                "INSERT INTO signature_after (session, idx, signature) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![row_id, to_sql(index), session.last_signature])?;
    }
    connection
        .prepare_cached(
            "UPDATE sessions SET tx_count = ?2, last_signature = ?3, bytes_since_checkpoint = ?4
             WHERE row_id = ?1",
        )?
        .execute(params![
            row_id,
            to_sql(plan.tip.count),
            session.last_signature,
            to_sql(plan.tip.bytes_since_checkpoint)
        ])?;
    Ok(new.len())
}
