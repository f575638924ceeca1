//! Auth tokens for plain HTTP requests: jazz-tools' `generateAuthToken`, `parseAuthToken` and
//! `authenticateRequest` (jazz-tools 0.20.19 `src/tools/coValues/request.ts`).
//!
//! A token is `<signature_z…>~<accountID>~<createdAt>`: the account's agent signs
//! `secureHash({id: accountID, createdAt})` (a `hash_z…` string, quotes included), and
//! `createdAt` is `Date.now()` in milliseconds, written as a decimal integer. A client sends
//! it as `Authorization: Jazz <token>`; the server checks its age, loads the account and
//! verifies the signature with the account's initial agent (the header's `initialAdmin`).
//!
//! ```
//! use jazz_req_core::auth_token::{authenticate_request, generate_auth_token, DEFAULT_EXPIRATION_MS};
//! use jazz_req_core::crypto::{account_id_for_agent, random::new_random_agent_secret};
//!
//! let agent = new_random_agent_secret()?;
//! let account = account_id_for_agent(&agent.agent_id());
//! let token = generate_auth_token(&account, &agent, 1_700_000_000_000);
//! let mut headers = http::HeaderMap::new();
//! headers.insert(http::header::AUTHORIZATION, format!("Jazz {token}").parse()?);
//! let agent_id = agent.agent_id();
//! let lookup = |id: &_| (id == &account).then_some(agent_id);
//! let sender = authenticate_request(&headers, 1_700_000_030_000, DEFAULT_EXPIRATION_MS, lookup)?;
//! assert_eq!(sender, account);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde_json::{Value, json};
use thiserror::Error;

use crate::cojson::LocalNode;
use crate::crypto::{
    AgentID, AgentSecret, CoID, Hash, Signature, secure_hash, sign_hash, verify_hash,
};

/// How long a token is valid after its `createdAt`, as jazz-tools' default (one minute).
pub const DEFAULT_EXPIRATION_MS: u64 = 60_000;

/// The scheme prefix of the `Authorization` header value: `Jazz <token>`.
pub const AUTHORIZATION_SCHEME: &str = "Jazz ";

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a token or a request was not authenticated. The `Display` strings of the four token
/// errors are jazz-tools' `error.message` values.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AuthTokenError {
    /// No `Authorization` header, an empty token, or a scheme other than `Jazz `. jazz-tools
    /// answers this with neither an account nor an error (an anonymous request).
    #[error("No Jazz auth token (expected an `Authorization: Jazz <token>` header)")]
    MissingToken,
    /// The token is not `<signature_z…>~<co_z…>~<decimal ms>`.
    #[error("Invalid token")]
    InvalidToken {
        /// What is wrong with it (not part of jazz-tools' message).
        reason: &'static str,
    },
    /// `createdAt + expiration < now`.
    #[error("Token expired")]
    Expired {
        /// When the token was made (ms since the epoch).
        created_at: u64,
        /// The time it was checked at (ms since the epoch).
        now: u64,
    },
    /// The account is not known here, or is not an account.
    #[error("Failed to load account")]
    AccountNotLoaded {
        /// The account the token names.
        id: CoID,
    },
    /// The signature does not verify with the account's agent.
    #[error("Invalid signature")]
    InvalidSignature,
}

impl AuthTokenError {
    /// The `{message, details?}` object jazz-tools' `authenticateRequest` returns as `error`
    /// (`None` for [`AuthTokenError::MissingToken`], where it returns no error).
    pub fn to_jazz_error(&self) -> Option<Value> {
        match self {
            Self::MissingToken => None,
            Self::AccountNotLoaded { id } => {
                Some(json!({"message": self.to_string(), "details": {"id": id.as_str()}}))
            }
            _ => Some(json!({"message": self.to_string()})),
        }
    }
}

/// The three parts of a well-formed token (its signature not yet checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedAuthToken {
    /// The agent's signature over [`ParsedAuthToken::signed_hash`].
    pub signature: Signature,
    /// The account the token claims to be from.
    pub account: CoID,
    /// When it was made: ms since the epoch (`Date.now()`).
    pub created_at: u64,
}

impl ParsedAuthToken {
    /// `secureHash({id, createdAt})`, the value the signature covers.
    pub fn signed_hash(&self) -> Hash {
        signed_hash(&self.account, self.created_at)
    }

    /// Whether the token is too old at `now_ms` (`createdAt + expiration < now`; a token
    /// from the future is not expired, as in jazz-tools).
    pub fn is_expired(&self, now_ms: u64, expiration_ms: u64) -> bool {
        self.created_at.saturating_add(expiration_ms) < now_ms
    }

    /// Checks expiry, then the signature with the account's agent as `account_agent`
    /// gives it; returns the account.
    ///
    /// # Errors
    /// [`AuthTokenError::Expired`], [`AuthTokenError::AccountNotLoaded`] when
    /// `account_agent` knows no agent for the account, [`AuthTokenError::InvalidSignature`].
    pub fn verify(
        &self,
        now_ms: u64,
        expiration_ms: u64,
        account_agent: impl Fn(&CoID) -> Option<AgentID>,
    ) -> Result<CoID, AuthTokenError> {
        if self.is_expired(now_ms, expiration_ms) {
            return Err(AuthTokenError::Expired {
                created_at: self.created_at,
                now: now_ms,
            });
        }
        let agent =
            account_agent(&self.account).ok_or_else(|| AuthTokenError::AccountNotLoaded {
                id: self.account.clone(),
            })?;
        verify_hash(&self.signature, &self.signed_hash(), &agent.signer)
            .map_err(|_| AuthTokenError::InvalidSignature)?;
        Ok(self.account.clone())
    }
}

fn signed_hash(account: &CoID, created_at: u64) -> Hash {
    secure_hash(&json!({"id": account.as_str(), "createdAt": created_at}))
}

/// `generateAuthToken`: a token for `account`, signed by its agent, made at `now_ms`.
///
/// `now_ms` must be a JS-safe integer (below 2^53) for jazz-tools to accept the token, as
/// every `Date.now()` is.
pub fn generate_auth_token(account: &CoID, agent: &AgentSecret, now_ms: u64) -> String {
    let signature = sign_hash(&agent.signer, &signed_hash(account, now_ms));
    format!("{signature}~{account}~{now_ms}")
}

/// `parseAuthToken`'s shape check: splits `token` on `~` into exactly a signature, a CoValue
/// id and a creation time.
///
/// Stricter than jazz-tools, which converts the last part with JS `Number()`: here it must
/// be 1 to 16 ASCII digits (at most `Number.MAX_SAFE_INTEGER`), so `""`, `" 1"`, `"1e3"`,
/// `"0x10"` and `"abc"` are invalid (jazz-tools would read `NaN`, which never expires), and
/// the signature and id must decode as base58.
///
/// # Errors
/// [`AuthTokenError::InvalidToken`].
pub fn parse_auth_token(token: &str) -> Result<ParsedAuthToken, AuthTokenError> {
    let invalid = |reason| AuthTokenError::InvalidToken { reason };
    let mut parts = token.split('~');
    let (Some(signature), Some(account), Some(created_at), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("expected three parts separated by `~`"));
    };
    let signature =
        Signature::parse(signature).map_err(|_| invalid("the first part is not a signature"))?;
    let account =
        CoID::parse(account).map_err(|_| invalid("the second part is not a CoValue id"))?;
    if created_at.is_empty()
        || created_at.len() > 16
        || !created_at.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid("the third part is not a decimal time in ms"));
    }
    let created_at = created_at
        .parse::<u64>()
        .ok()
        .filter(|ms| *ms <= MAX_SAFE_INTEGER)
        .ok_or(invalid("the third part is not a decimal time in ms"))?;
    Ok(ParsedAuthToken {
        signature,
        account,
        created_at,
    })
}

/// The token of an `Authorization: Jazz <token>` header (jazz-tools' `defaultGetToken`).
///
/// # Errors
/// [`AuthTokenError::MissingToken`] without such a header or with an empty token;
/// [`AuthTokenError::InvalidToken`] when there are several `Authorization` headers (a
/// Fetch `Request` joins them with `, `, which never yields a valid token) or the token is
/// not UTF-8.
pub fn token_from_headers(headers: &http::HeaderMap) -> Result<&str, AuthTokenError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthTokenError::MissingToken);
    };
    let Some(token) = value
        .as_bytes()
        .strip_prefix(AUTHORIZATION_SCHEME.as_bytes())
    else {
        return Err(AuthTokenError::MissingToken);
    };
    if values.next().is_some() {
        return Err(AuthTokenError::InvalidToken {
            reason: "several Authorization headers",
        });
    }
    if token.is_empty() {
        return Err(AuthTokenError::MissingToken);
    }
    std::str::from_utf8(token).map_err(|_| AuthTokenError::InvalidToken {
        reason: "the token is not UTF-8",
    })
}

/// `parseAuthToken`: parses `token` and verifies it at `now_ms` (see
/// [`ParsedAuthToken::verify`]); returns the account it authenticates.
///
/// # Errors
/// As [`parse_auth_token`] and [`ParsedAuthToken::verify`].
pub fn authenticate_token(
    token: &str,
    now_ms: u64,
    expiration_ms: u64,
    account_agent: impl Fn(&CoID) -> Option<AgentID>,
) -> Result<CoID, AuthTokenError> {
    parse_auth_token(token)?.verify(now_ms, expiration_ms, account_agent)
}

/// `authenticateRequest`: the account that signed the `Authorization: Jazz <token>` header,
/// checked in jazz-tools' order (shape, expiry, account, signature).
///
/// `expiration_ms` is usually [`DEFAULT_EXPIRATION_MS`]; `account_agent` gives the agent of
/// an account (e.g. [`loaded_account_agent`] over a [`LocalNode`]), or `None` when it cannot
/// be loaded.
///
/// # Errors
/// [`AuthTokenError::MissingToken`] for an anonymous request (jazz-tools returns neither an
/// account nor an error then); otherwise as [`authenticate_token`].
pub fn authenticate_request(
    headers: &http::HeaderMap,
    now_ms: u64,
    expiration_ms: u64,
    account_agent: impl Fn(&CoID) -> Option<AgentID>,
) -> Result<CoID, AuthTokenError> {
    authenticate_token(
        token_from_headers(headers)?,
        now_ms,
        expiration_ms,
        account_agent,
    )
}

/// The agent of the account `id` if `node` has it loaded and it is an account (the
/// `initialAdmin` of its header, as `RawAccount.currentAgentID()` reads it).
pub fn loaded_account_agent(node: &LocalNode, id: &CoID) -> Option<AgentID> {
    node.get(id)?.header().account_agent().copied()
}
