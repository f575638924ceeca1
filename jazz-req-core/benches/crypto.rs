//! Criterion benchmarks of the crypto layer: `cargo bench -p jazz-req-core --bench crypto`.

#![allow(missing_docs, clippy::panic)] // criterion_main! generates undocumented items

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jazz_req_core::crypto::{self, KeySecret, SealerSecret, SignerSecret};
use serde_json::{Value, json};

/// A JSON document of about 4 KiB: a list of CoMap-like edits with mixed value types.
fn document_4k() -> Value {
    let items: Vec<Value> = (0..40)
        .map(|i| {
            json!({
                "op": "set",
                "key": format!("field-{i}"),
                "value": { "name": format!("Ticket {i} — Jazz ✓"), "count": i * 7, "ratio": f64::from(i) / 3.0, "ok": i % 2 == 0 },
            })
        })
        .collect();
    Value::Array(items)
}

fn benches(c: &mut Criterion) {
    let doc = document_4k();
    let doc_text = crypto::stable_stringify(&doc);
    assert!(
        doc_text.len() >= 4000,
        "document is {} bytes",
        doc_text.len()
    );

    let signer = SignerSecret::from_bytes([1; 32]);
    let signer_id = signer.signer_id();
    let hash = crypto::secure_hash(&json!("a request")).to_string();
    let message = json!(hash);
    let signature = crypto::sign(&signer, &message);
    let verifying_key = crypto::VerifyingKey::new(&signer_id).unwrap_or_else(|e| panic!("{e}"));

    let from = SealerSecret::from_bytes([2; 32]);
    let to = SealerSecret::from_bytes([3; 32]);
    let to_id = to.sealer_id();
    let from_id = from.sealer_id();
    let nonce = json!({"in": "co_zBenchGroup", "tx": {"sessionID": "co_zBench_session_zBench", "txIndex": 3}});
    let revealed = json!("keySecret_z4ieVmCFvU2HybszH3Q9CYKFuKXYMjvCXh9ZnNYv9qhTm");
    let sealed = crypto::seal(&revealed, &from, &to_id, &nonce);
    let key = KeySecret::from_bytes([4; 32]);
    let changes = json!([{"op": "set", "key": "name", "value": "Jazz concert"}, {"op": "set", "key": "capacity", "value": 120}]);

    c.bench_function("sign hash string", |b| {
        b.iter(|| crypto::sign(&signer, black_box(&message)))
    });
    c.bench_function("verify hash string (decoding the signer id)", |b| {
        b.iter(|| crypto::verify(&signature, black_box(&message), &signer_id))
    });
    c.bench_function("verify hash string (cached verifying key)", |b| {
        b.iter(|| {
            verifying_key.verify_stable(&signature, black_box(&crypto::stable_stringify(&message)))
        })
    });
    c.bench_function("seal key secret", |b| {
        b.iter(|| crypto::seal(black_box(&revealed), &from, &to_id, &nonce))
    });
    c.bench_function("unseal key secret", |b| {
        b.iter(|| crypto::unseal(black_box(&sealed), &to, &from_id, &nonce))
    });
    c.bench_function("encrypt transaction changes", |b| {
        b.iter(|| crypto::encrypt(black_box(&changes), &key, &nonce))
    });
    c.bench_function("secureHash 4 KiB document", |b| {
        b.iter(|| crypto::secure_hash(black_box(&doc)))
    });
    c.bench_function("stableStringify 4 KiB document", |b| {
        b.iter(|| crypto::stable_stringify(black_box(&doc)))
    });
}

criterion_group!(crypto_benches, benches);
criterion_main!(crypto_benches);
