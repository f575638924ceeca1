//! A tour of the Jazz-compatible crypto layer: `cargo run --example crypto_tour`.
//!
//! Makes two agents, derives their account ids (a pure function of the agent), signs a
//! request-style token, and reveals a read key from one agent to the other with a sealed box,
//! all in the exact string forms a cojson 0.20.19 peer reads.

use jazz_req::crypto::{self, KeyWithID};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let alice = crypto::random::new_random_agent_secret()?;
    let worker = crypto::random::new_random_agent_secret()?;
    let alice_id = alice.agent_id();
    let worker_id = worker.agent_id();
    println!("alice agent    {alice_id}");
    println!("alice account  {}", crypto::account_id_for_agent(&alice_id));
    println!(
        "worker account {}",
        crypto::account_id_for_agent(&worker_id)
    );
    println!("(secrets print redacted: {alice:?})");

    // What a request's authToken signs: the secureHash of the envelope fields.
    let payload = json!({"contentPieces": [], "id": "co_zExample", "createdAt": 1_764_000_000_000_u64, "signerID": alice_id.signer.to_string()});
    let hash = crypto::secure_hash(&payload);
    let token = crypto::sign_hash(&alice.signer, &hash);
    crypto::verify_hash(&token, &hash, &alice_id.signer)?;
    println!("authToken      {token}");
    println!("  over         {hash} — verified");

    // A group read key, revealed to the worker as `<keyID>_for_<worker>` is in a group.
    let (key_id, key_secret) = crypto::random::new_random_key()?;
    let nonce = json!({"in": "co_zSomeGroup", "tx": {"sessionID": "co_zAlice_session_zExample", "txIndex": 1}});
    let secret_text = key_secret.to_secret_string();
    let sealed = crypto::seal(
        &json!(secret_text.as_str()),
        &alice.sealer,
        &worker_id.sealer,
        &nonce,
    );
    let opened = crypto::unseal(&sealed, &worker.sealer, &alice_id.sealer, &nonce)?;
    println!(
        "{key_id} sealed for the worker: {} chars, opens: {}",
        sealed.as_str().len(),
        opened == json!(secret_text.as_str())
    );

    // Transactions encrypted with that key, and the key rotated into a newer one.
    let changes = json!([{"op": "set", "key": "name", "value": "Jazz concert"}]);
    let encrypted = crypto::encrypt(&changes, &key_secret, &nonce);
    println!("changes        {encrypted}");
    let (new_id, new_secret) = crypto::random::new_random_key()?;
    let old_for_new = crypto::encrypt_key_secret(
        &KeyWithID {
            id: &key_id,
            secret: &key_secret,
        },
        &KeyWithID {
            id: &new_id,
            secret: &new_secret,
        },
    );
    let recovered = crypto::decrypt_key_secret(
        &old_for_new,
        &key_id,
        &KeyWithID {
            id: &new_id,
            secret: &new_secret,
        },
    )?;
    println!(
        "{key_id}_for_{new_id} recovers the old key: {}",
        recovered == key_secret
    );
    Ok(())
}
