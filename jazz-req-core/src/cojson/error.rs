//! Errors of the verified CoValue core: malformed headers, transactions and content
//! messages, and session logs that do not verify.
//!
//! Every check on input returns one of these; nothing in this layer panics on input.

use thiserror::Error;

use crate::crypto::{CoID, CryptoError, Hash, ParseError, SessionID};

/// A CoValue header that is malformed or does not hash to the id it came with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    /// The header is not a JSON object.
    #[error("CoValue header is not a JSON object")]
    NotAnObject,
    /// A required field is absent (e.g. `uniqueness`).
    #[error("CoValue header field `{0}` is missing")]
    MissingField(&'static str),
    /// A field has the wrong type or value.
    #[error("CoValue header field `{field}` is invalid: {reason}")]
    BadField {
        /// The field, as a dotted path (e.g. `ruleset.initialAdmin`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The canonical header hashes to another id (extra or altered fields).
    #[error("CoValue ID mismatch: expected {expected}, header hashes to {actual}")]
    IdMismatch {
        /// The id the header came with.
        expected: CoID,
        /// The id of the header as parsed.
        actual: CoID,
    },
}

/// A transaction that is malformed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransactionError {
    /// The transaction is not a JSON object.
    #[error("transaction is not a JSON object")]
    NotAnObject,
    /// A required field is absent.
    #[error("transaction field `{0}` is missing")]
    MissingField(&'static str),
    /// A field has the wrong type.
    #[error("transaction field `{field}` is invalid: {reason}")]
    BadField {
        /// The field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `privacy` is neither `"private"` nor `"trusting"`.
    #[error("transaction privacy {0:?} is neither \"private\" nor \"trusting\"")]
    UnknownPrivacy(String),
    /// `madeAt` is not a non-negative integer (cojson: "Failed to convert made_at to u64").
    #[error("transaction madeAt {0} is not a non-negative integer")]
    MadeAtNotInteger(String),
    /// A new transaction's changes exceed what cojson agrees to sync (1 MiB).
    #[error("Transaction too large to be synced: {bytes} bytes > {limit} bytes limit")]
    TooLarge {
        /// The size of the changes JSON in bytes.
        bytes: usize,
        /// The limit ([`super::transaction::MAX_TRANSACTION_BYTES`]).
        limit: usize,
    },
}

/// New transactions that cannot be appended to a session log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionLogError {
    /// The content starts after transactions this log does not have.
    #[error("gap in session {session}: content starts after {after} transactions, we have {known}")]
    Gap {
        /// The session.
        session: Box<SessionID>,
        /// How many transactions we have.
        known: usize,
        /// The `after` of the content.
        after: usize,
    },
    /// The signature does not verify over the hash after the new transactions.
    #[error("invalid signature for session {session} (hash after the new transactions: {hash})")]
    InvalidSignature {
        /// The session.
        session: Box<SessionID>,
        /// The hash the signature should have covered.
        hash: Hash,
    },
    /// A verified append was committed to a log that changed since it was verified.
    #[error(
        "stale append to session {session}: verified against {expected} transactions, log has {actual}"
    )]
    Stale {
        /// The session.
        session: Box<SessionID>,
        /// The length the append was verified against.
        expected: usize,
        /// The length of the log at commit time.
        actual: usize,
    },
    /// A verified append was committed to a log of the same length holding other
    /// transactions than those it was verified after (its running hash differs).
    #[error("append to session {session} was verified after other transactions than the log holds")]
    Forked {
        /// The session.
        session: Box<SessionID>,
    },
    /// A verified append was committed to another session's log.
    #[error("append verified for session {verified} committed to session {target}")]
    WrongSession {
        /// The session the append was verified for.
        verified: Box<SessionID>,
        /// The session it was committed to.
        target: Box<SessionID>,
    },
    /// A new transaction is invalid (e.g. too large).
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

/// Why the signer of a session's author is not available.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignerUnavailable {
    /// The author is an account whose CoValue is not loaded.
    #[error("account {0} is not available")]
    AccountNotLoaded(CoID),
    /// The author's CoValue is not an account (or its initial admin is not an agent).
    #[error("{0} is not an account")]
    NotAnAccount(CoID),
    /// The agent's signer id is not a valid Ed25519 public key.
    #[error("invalid signer key: {0}")]
    InvalidKey(#[from] CryptoError),
}

/// A content message that is malformed, does not fit this CoValue, or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContentError {
    /// The message is not a JSON object.
    #[error("content message is not a JSON object")]
    NotAnObject,
    /// The JSON text does not parse.
    #[error("content message is not valid JSON: {0}")]
    NotJson(String),
    /// `action` is not `"content"`.
    #[error("message action {0:?} is not \"content\"")]
    WrongAction(String),
    /// A required field is absent.
    #[error("content message field `{0}` is missing")]
    MissingField(&'static str),
    /// A field has the wrong type or value.
    #[error("content message field `{field}` is invalid: {reason}")]
    BadField {
        /// The field, as a dotted path.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A session id (a key of `new` or `expectContentUntil`) does not parse.
    #[error("invalid session id {text:?}: {source}")]
    BadSessionID {
        /// The key as received.
        text: String,
        /// Why it does not parse.
        source: ParseError,
    },
    /// The header is malformed or does not hash to the message id.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A transaction of the message is malformed.
    #[error("session {session}, new transaction {index}: {source}")]
    Transaction {
        /// The session.
        session: Box<SessionID>,
        /// The index in the message's `newTransactions`.
        index: usize,
        /// What is wrong with it.
        source: TransactionError,
    },
    /// The message is about another CoValue.
    #[error("content for {actual} applied to CoValue {expected}")]
    WrongCoValue {
        /// The CoValue the content was applied to.
        expected: CoID,
        /// The id of the message.
        actual: CoID,
    },
    /// The first content of a CoValue came without its header.
    #[error("content for {0} has no header and the CoValue is not known")]
    MissingHeader(CoID),
    /// The same session appears twice in one message (only possible for hand-built messages).
    #[error("session {0} appears twice in one content message")]
    DuplicateSession(Box<SessionID>),
    /// The signer of a session cannot be resolved.
    #[error("signer of session {session} unavailable: {source}")]
    SignerUnavailable {
        /// The session.
        session: Box<SessionID>,
        /// Why.
        source: SignerUnavailable,
    },
    /// Content verified beforehand was checked with another key than the one that signs its
    /// session here.
    #[error("content of session {session} was verified with another key than its signer's")]
    OtherSigner {
        /// The session.
        session: Box<SessionID>,
    },
    /// A session's new transactions do not verify or do not line up.
    #[error(transparent)]
    Session(#[from] SessionLogError),
}
