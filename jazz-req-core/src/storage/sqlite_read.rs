//! Reading CoValues back from SQLite, one read transaction per call. Every row is checked as
//! it is parsed: a row that does not parse, a missing transaction or a header that does not
//! hash to its id is a [`StorageError::Corrupt`].

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use super::error::StorageError;
use super::pieces::{LoadedCoValue, LoadedSession};
use super::sqlite_store::to_sql;
use crate::cojson::{CoValueHeader, KnownState, Transaction};
use crate::crypto::{CoID, SessionID, Signature};

/// A stored session row.
struct SessionRow {
    row_id: i64,
    session: SessionID,
    count: usize,
    last_signature: String,
}

fn count(value: i64, table: &'static str, row: &str) -> Result<usize, StorageError> {
    usize::try_from(value)
        .map_err(|_| StorageError::corrupt(table, row, format!("negative count {value}")))
}

fn session_rows(
    connection: &Connection,
    id: &CoID,
    covalue: i64,
) -> Result<Vec<SessionRow>, StorageError> {
    let mut statement = connection.prepare_cached(
        "SELECT row_id, session_id, tx_count, last_signature FROM sessions
         WHERE covalue = ?1 ORDER BY row_id",
    )?;
    let rows = statement.query_map([covalue], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    let mut sessions = Vec::new();
    for row in rows {
        let (row_id, session, tx_count, last_signature) = row?;
        let where_ = format!("{id} {session}");
        sessions.push(SessionRow {
            row_id,
            session: SessionID::parse(&session)
                .map_err(|e| StorageError::corrupt("sessions", &where_, e))?,
            count: count(tx_count, "sessions", &where_)?,
            last_signature,
        });
    }
    Ok(sessions)
}

fn parse_transaction(text: &str, where_: &str) -> Result<Transaction, StorageError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| StorageError::corrupt("transactions", where_, e))?;
    Transaction::from_json(&value).map_err(|e| StorageError::corrupt("transactions", where_, e))
}

fn load_session(
    connection: &Connection,
    id: &CoID,
    row: SessionRow,
) -> Result<LoadedSession, StorageError> {
    let where_ = format!("{id} {}", row.session);
    let mut transactions = Vec::with_capacity(row.count);
    let mut statement = connection
        .prepare_cached("SELECT idx, tx FROM transactions WHERE session = ?1 ORDER BY idx")?;
    let mut rows = statement.query([row.row_id])?;
    while let Some(tx_row) = rows.next()? {
        let index: i64 = tx_row.get(0)?;
        let text: String = tx_row.get(1)?;
        let at = format!("{where_} #{index}");
        if usize::try_from(index).ok() != Some(transactions.len()) {
            return Err(StorageError::corrupt(
                "transactions",
                at,
                format!("expected index {}", transactions.len()),
            ));
        }
        transactions.push(parse_transaction(&text, &at)?);
    }
    if transactions.len() != row.count {
        return Err(StorageError::corrupt(
            "sessions",
            where_,
            format!(
                "tx_count {} but {} transactions stored",
                row.count,
                transactions.len()
            ),
        ));
    }
    let signature = |text: &str, at: &str, table| {
        Signature::parse(text).map_err(|e| StorageError::corrupt(table, at, e))
    };
    let mut checkpoints = BTreeMap::new();
    let mut statement = connection.prepare_cached(
        "SELECT idx, signature FROM signature_after WHERE session = ?1 ORDER BY idx",
    )?;
    let mut rows = statement.query([row.row_id])?;
    while let Some(checkpoint) = rows.next()? {
        let index: i64 = checkpoint.get(0)?;
        let text: String = checkpoint.get(1)?;
        let at = format!("{where_} #{index}");
        let index = count(index, "signature_after", &at)?;
        checkpoints.insert(index, signature(&text, &at, "signature_after")?);
    }
    Ok(LoadedSession {
        last_signature: signature(&row.last_signature, &where_, "sessions")?,
        session: row.session,
        transactions,
        checkpoints,
    })
}

fn covalue_row(connection: &Connection, id: &CoID) -> Result<Option<(i64, String)>, StorageError> {
    Ok(connection
        .prepare_cached("SELECT row_id, header FROM covalues WHERE id = ?1")?
        .query_row([id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

/// Everything stored of `id`.
pub(crate) fn load(
    connection: &mut Connection,
    id: &CoID,
) -> Result<Option<LoadedCoValue>, StorageError> {
    let transaction = connection.transaction()?;
    let Some((row_id, header_text)) = covalue_row(&transaction, id)? else {
        return Ok(None);
    };
    let header_json: Value = serde_json::from_str(&header_text)
        .map_err(|e| StorageError::corrupt("covalues", id.as_str(), e))?;
    let header = CoValueHeader::from_json_with_id(&header_json, id)
        .map_err(|e| StorageError::corrupt("covalues", id.as_str(), e))?;
    let sessions = session_rows(&transaction, id, row_id)?
        .into_iter()
        .map(|row| load_session(&transaction, id, row))
        .collect::<Result<Vec<_>, _>>()?;
    transaction.finish()?;
    Ok(Some(LoadedCoValue {
        id: id.clone(),
        header,
        sessions,
    }))
}

/// What is stored of `id`.
pub(crate) fn known_state(
    connection: &mut Connection,
    id: &CoID,
) -> Result<Option<KnownState>, StorageError> {
    let transaction = connection.transaction()?;
    let Some((row_id, _)) = covalue_row(&transaction, id)? else {
        return Ok(None);
    };
    let sessions = session_rows(&transaction, id, row_id)?
        .into_iter()
        .map(|row| (row.session, row.count))
        .collect();
    transaction.finish()?;
    Ok(Some(KnownState {
        id: id.clone(),
        header: true,
        sessions,
    }))
}

/// The stored ids, in the order they were first stored.
pub(crate) fn ids(connection: &Connection) -> Result<Vec<CoID>, StorageError> {
    let mut statement = connection.prepare_cached("SELECT id FROM covalues ORDER BY row_id")?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    let mut ids = Vec::new();
    for row in rows {
        let text = row?;
        ids.push(CoID::parse(&text).map_err(|e| StorageError::corrupt("covalues", &text, e))?);
    }
    Ok(ids)
}

/// The claims of `namespace` expiring after `now_ms`.
pub(crate) fn live_claims(
    connection: &Connection,
    namespace: &str,
    now_ms: u64,
) -> Result<Vec<(String, u64)>, StorageError> {
    let mut statement = connection.prepare_cached(
        "SELECT key, expires_at FROM claims WHERE namespace = ?1 AND expires_at > ?2",
    )?;
    let rows = statement.query_map(rusqlite::params![namespace, to_sql(now_ms)], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    let mut claims = Vec::new();
    for row in rows {
        let (key, expires_at) = row?;
        claims.push((key, u64::try_from(expires_at).unwrap_or_default()));
    }
    Ok(claims)
}
