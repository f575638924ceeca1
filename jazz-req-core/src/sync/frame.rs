//! WebSocket framing of cojson-transport-ws: a text frame holds one or more JSON messages
//! separated by `"\n"` (compact JSON never contains a raw newline); an empty frame is
//! nothing. Senders batch queued messages into frames of at most
//! [`MAX_FRAME_CHARS`] characters; a larger message goes alone.

use super::error::MessageError;
use super::message::Incoming;

/// cojson-transport-ws' `MAX_OUTGOING_MESSAGES_CHUNK_BYTES`: the size a batched frame stays
/// under (a single larger message is sent alone).
pub const MAX_FRAME_CHARS: usize = 25_000;

/// Splits a text frame into its messages, each parsed on its own: one malformed message does
/// not hide the others (cojson drops the whole frame; keeping the rest loses less). Empty
/// lines are skipped.
pub fn parse_frame(frame: &str) -> impl Iterator<Item = Result<Incoming, MessageError>> + '_ {
    frame
        .split('\n')
        .filter(|line| !line.trim().is_empty())
        .map(Incoming::parse)
}

/// Batches message texts into frames as cojson-transport-ws does when it queues: joined by
/// `"\n"` while the frame stays within the limit.
#[derive(Debug)]
pub struct FrameBatcher {
    limit: usize,
    frames: Vec<String>,
    current: String,
}

impl FrameBatcher {
    /// A batcher making frames of at most `limit` characters (except single larger messages).
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            frames: Vec::new(),
            current: String::new(),
        }
    }

    /// Adds one message's JSON text.
    pub fn push(&mut self, message: &str) {
        if !self.current.is_empty() && self.current.len() + 1 + message.len() > self.limit {
            self.frames.push(std::mem::take(&mut self.current));
        }
        if !self.current.is_empty() {
            self.current.push('\n');
        }
        self.current.push_str(message);
        if self.current.len() >= self.limit {
            self.frames.push(std::mem::take(&mut self.current));
        }
    }

    /// Whether nothing was pushed since the last [`Self::take`].
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.current.is_empty()
    }

    /// The frames made so far (the batcher is empty afterwards).
    pub fn take(&mut self) -> Vec<String> {
        let mut frames = std::mem::take(&mut self.frames);
        if !self.current.is_empty() {
            frames.push(std::mem::take(&mut self.current));
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_with_several_messages_and_a_bad_one() {
        let frame = concat!(
            r#"{"type":"ping","time":1,"dc":"unknown"}"#,
            "\n",
            r#"{"action":"done","id":"co_zPxnzZ632P5PcYU32PEoNLrMTf"}"#,
            "\n\n",
            "{broken",
            "\n",
            r#"{"action":"reconcile-ack","id":"b"}"#
        );
        let parsed: Vec<_> = parse_frame(frame).collect();
        assert_eq!(parsed.len(), 4);
        assert!(parsed[0].is_ok() && parsed[1].is_ok() && parsed[3].is_ok());
        assert!(matches!(parsed[2], Err(MessageError::NotJson(_))));
        assert_eq!(parse_frame("").count(), 0);
    }

    #[test]
    fn batches_stay_under_the_limit() {
        let mut batcher = FrameBatcher::new(20);
        for message in ["aaaaaaaa", "bbbbbbbb", "cccccccc", &"x".repeat(30), "dd"] {
            batcher.push(message);
        }
        assert_eq!(
            batcher.take(),
            vec![
                "aaaaaaaa\nbbbbbbbb".to_owned(),
                "cccccccc".to_owned(),
                "x".repeat(30),
                "dd".to_owned()
            ]
        );
        assert!(batcher.is_empty());
    }
}
