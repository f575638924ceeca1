//! Deciding what storing one session's new content changes, the same way for every backend:
//! which transactions are new, and whether their last signature becomes a checkpoint.
//!
//! As in cojson's storage, a session keeps its last signature and remembers the signature
//! at the end of a stored run as an in-between signature ("checkpoint") once more than
//! [`MAX_RECOMMENDED_TX_SIZE`] bytes of changes accumulated since the previous one. Loading
//! splits the session at those checkpoints, so every loaded piece ends at a signature the
//! writer made for exactly that position.

use super::error::StorageError;
use crate::cojson::{CoValueHeader, ContentMessage, MAX_RECOMMENDED_TX_SIZE};
use crate::crypto::{CoID, SessionID};

/// What is stored of one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SessionTip {
    /// How many transactions are stored.
    pub count: usize,
    /// Bytes of changes stored since the last checkpoint.
    pub bytes_since_checkpoint: usize,
}

/// The effect of storing one session's new content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AppendPlan {
    /// How many of the content's transactions are already stored (skipped).
    pub skip: usize,
    /// The new tip of the session.
    pub tip: SessionTip,
    /// The transaction index after which the content's last signature is a checkpoint.
    pub checkpoint_after: Option<usize>,
}

/// Plans appending `sizes.len()` transactions (of `sizes` bytes of changes each) that follow
/// the first `after` of `session` onto what is stored (`tip`). `Ok(None)` when none is new.
pub(crate) fn plan_append(
    id: &CoID,
    session: &SessionID,
    tip: SessionTip,
    after: usize,
    sizes: &[usize],
) -> Result<Option<AppendPlan>, StorageError> {
    if after > tip.count {
        return Err(StorageError::Gap {
            id: id.clone(),
            session: Box::new(session.clone()),
            stored: tip.count,
            after,
        });
    }
    let skip = tip.count - after;
    let Some(new) = sizes.get(skip..).filter(|new| !new.is_empty()) else {
        return Ok(None);
    };
    let count = tip.count + new.len();
    let bytes = tip.bytes_since_checkpoint + new.iter().sum::<usize>();
    let (bytes_since_checkpoint, checkpoint_after) = if bytes > MAX_RECOMMENDED_TX_SIZE {
        (0, Some(count - 1))
    } else {
        (bytes, None)
    };
    Ok(Some(AppendPlan {
        skip,
        tip: SessionTip {
            count,
            bytes_since_checkpoint,
        },
        checkpoint_after,
    }))
}

/// The header of the first message of a CoValue: present, and hashing to the message id.
pub(crate) fn checked_header(message: &ContentMessage) -> Result<CoValueHeader, StorageError> {
    let header = message
        .header
        .clone()
        .ok_or_else(|| StorageError::MissingHeader(message.id.clone()))?;
    let actual = header.id();
    if actual != message.id {
        return Err(StorageError::HeaderMismatch {
            expected: message.id.clone(),
            actual,
        });
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{AgentSecret, SessionAuthor, agent_secret_from_seed};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn ids() -> Result<(CoID, SessionID), crate::crypto::CryptoError> {
        let agent: AgentSecret = agent_secret_from_seed(&[7; 32])?;
        let session = SessionID::new_active(&SessionAuthor::Agent(agent.agent_id()), &[1; 8]);
        Ok((CoID::from_bytes(&[1; 19]), session))
    }

    #[test]
    fn skips_what_is_stored_and_refuses_gaps() -> TestResult {
        let (id, session) = ids()?;
        let tip = SessionTip {
            count: 2,
            bytes_since_checkpoint: 10,
        };
        let plan = plan_append(&id, &session, tip, 1, &[5, 6, 7])?.ok_or("nothing to append")?;
        assert_eq!(plan.skip, 1);
        assert_eq!(plan.tip.count, 4);
        assert_eq!(plan.tip.bytes_since_checkpoint, 23);
        assert_eq!(plan.checkpoint_after, None);
        assert!(plan_append(&id, &session, tip, 0, &[5, 6])?.is_none());
        assert!(matches!(
            plan_append(&id, &session, tip, 3, &[5]),
            Err(StorageError::Gap {
                stored: 2,
                after: 3,
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn a_checkpoint_once_the_bytes_exceed_the_recommended_size() -> TestResult {
        let (id, session) = ids()?;
        let tip = SessionTip {
            count: 3,
            bytes_since_checkpoint: MAX_RECOMMENDED_TX_SIZE - 1,
        };
        let plan = plan_append(&id, &session, tip, 3, &[1, 1])?.ok_or("nothing to append")?;
        assert_eq!(plan.checkpoint_after, Some(4));
        assert_eq!(plan.tip.bytes_since_checkpoint, 0);
        Ok(())
    }
}
