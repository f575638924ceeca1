//! A body this side sends, built from exported pieces' cached texts: the token's hash and the
//! JSON text are written without turning the pieces into JSON values again.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::cojson::ExportedPiece;
use crate::crypto::{self, CoID, Signature, SignerID, SignerSecret};

/// A signed body ready to send.
#[derive(Debug)]
pub struct OutgoingBody {
    pieces: Vec<Arc<Vec<ExportedPiece>>>,
    /// The envelope's id.
    pub id: CoID,
    /// When it was made (ms).
    pub created_at: u64,
    /// The token.
    pub auth_token: Signature,
    /// Who signed.
    pub signer_id: SignerID,
}

impl OutgoingBody {
    /// Signs `pieces` (as exported, in order) for envelope `id`, made at `created_at`.
    pub fn sign(
        pieces: Vec<Arc<Vec<ExportedPiece>>>,
        id: CoID,
        created_at: u64,
        signer: &SignerSecret,
    ) -> Self {
        let signer_id = signer.signer_id();
        let total: usize = pieces
            .iter()
            .flat_map(|p| p.iter())
            .map(|p| p.stable.len() + 1)
            .sum();
        let mut text = String::with_capacity(total + 256);
        text.push_str("{\"contentPieces\":[");
        for (i, piece) in pieces.iter().flat_map(|p| p.iter()).enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&piece.stable);
        }
        // Stable JSON of the remaining fields, in sorted key order.
        let _ = write!(text, "],\"createdAt\":{created_at},\"id\":");
        crypto::stable_json::write_escaped(id.as_str(), &mut text);
        text.push_str(",\"signerID\":");
        crypto::stable_json::write_escaped(&signer_id.to_string(), &mut text);
        text.push('}');
        let hash = crypto::hash::secure_hash_of_stable(&text);
        Self {
            auth_token: crypto::sign_hash(signer, &hash),
            pieces,
            id,
            created_at,
            signer_id,
        }
    }

    fn write_payload(&self, out: &mut String) {
        out.push_str("{\"contentPieces\":[");
        for (i, piece) in self.pieces.iter().flat_map(|p| p.iter()).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&piece.wire);
        }
        out.push_str("],\"id\":");
        crypto::stable_json::write_escaped(self.id.as_str(), out);
        let _ = write!(
            out,
            ",\"createdAt\":{},\"authToken\":\"{}\",\"signerID\":\"{}\"}}",
            self.created_at, self.auth_token, self.signer_id
        );
    }

    /// The body as JSON text (`contentPieces, id, createdAt, authToken, signerID`).
    pub fn to_json_text(&self) -> String {
        let mut out = String::with_capacity(self.capacity());
        self.write_payload(&mut out);
        out
    }

    /// The success response's JSON text: `{"type":"success","payload": <body>}`.
    pub fn success_text(&self) -> String {
        let mut out = String::with_capacity(self.capacity() + 32);
        out.push_str("{\"type\":\"success\",\"payload\":");
        self.write_payload(&mut out);
        out.push('}');
        out
    }

    fn capacity(&self) -> usize {
        self.pieces
            .iter()
            .flat_map(|p| p.iter())
            .map(|p| p.wire.len() + 1)
            .sum::<usize>()
            + 256
    }
}
