//! The CoValue engine: headers and ids, transactions, verified session logs, content
//! messages, and CoValues built from them (cojson 0.20.19, byte-compatible on the wire).
//!
//! - [`header`]: [`CoValueHeader`], its canonical form and id, priority;
//! - [`transaction`]: [`Transaction`], private or trusting, and the canonical form the
//!   session hash covers;
//! - [`session_log`]: [`SessionLog`], the running hash, signatures and checkpoints of one
//!   session;
//! - [`content`]: [`ContentMessage`], parsed from and written to the wire;
//! - [`verified_state`]: [`VerifiedCoValue`], applying and producing content;
//! - [`prepared`]: content verified (and decoded) outside the lock of the node it goes to;
//! - [`signer`]: who signs a session (agents, accounts' initial admins);
//! - [`permissions`], [`group`], [`keys`]: which transactions count, roles over time, and
//!   finding read keys;
//! - [`comap`], [`colist`]: the content of maps and lists.

mod canonical;
pub mod clock;
pub mod colist;
pub mod comap;
pub mod content;
pub mod decoded_changes;
pub mod error;
pub mod group;
pub mod header;
mod join_content;
mod kept_groups;
pub mod keys;
pub mod known_state;
mod new_content;
pub mod node;
mod node_atomic;
pub mod node_error;
pub mod node_export;
mod node_read;
mod node_resolve;
mod node_storage;
pub mod node_unique;
pub mod node_verdicts;
pub mod node_write;
mod owned_read;
pub mod permissions;
pub mod permissions_role;
pub mod prepared;
pub mod session_log;
pub mod signer;
pub mod transaction;
pub mod tx_meta;
pub mod verified_state;

pub use content::{ContentMessage, SessionNewContent};
pub use error::{ContentError, HeaderError, SessionLogError, SignerUnavailable, TransactionError};
pub use header::{CoValueHeader, CoValueType, CreatedAt, Priority, Ruleset, Uniqueness};
pub use known_state::KnownState;
pub use node::{ImportOutcome, LocalNode};
pub use node_error::NodeError;
pub use node_export::{ExportedPiece, ResolveQuery};
pub use node_read::ReadValue;
pub use node_verdicts::TxVerdict;
pub use node_write::Privacy;
pub use prepared::{ImportBasis, PreparedImport, PreparedMessage};
pub use session_log::{SessionBase, SessionLog, SessionMark, SessionPiece, VerifiedAppend};
pub use signer::{AccountSigners, session_signer};
pub use transaction::{MAX_RECOMMENDED_TX_SIZE, MAX_TRANSACTION_BYTES, Transaction};
pub use verified_state::{AppliedContent, VerifiedCoValue, VerifiedContent};
