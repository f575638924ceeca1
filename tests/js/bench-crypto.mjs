// The same operations as jazz-req-core's `crypto` criterion bench, on cojson 0.20.19's
// N-API crypto (what a Node server worker uses). Usage: node bench-crypto.mjs
// Prints one line per operation: name, mean µs per call over a timed loop.
import { cojsonInternals } from "cojson";
import { NapiCrypto } from "cojson/crypto/NapiCrypto";

const crypto = await NapiCrypto.create();
const { stableStringify } = cojsonInternals;

const doc = Array.from({ length: 40 }, (_, i) => ({
  op: "set",
  key: `field-${i}`,
  value: { name: `Ticket ${i} — Jazz ✓`, count: i * 7, ratio: i / 3, ok: i % 2 === 0 },
}));
const signer = crypto.newRandomSigner();
const signerID = crypto.getSignerID(signer);
const message = crypto.secureHash("a request");
const signature = crypto.sign(signer, message);
const from = crypto.newRandomSealer();
const to = crypto.newRandomSealer();
const nOnceMaterial = { in: "co_zBenchGroup", tx: { sessionID: "co_zBench_session_zBench", txIndex: 3 } };
const revealed = "keySecret_z4ieVmCFvU2HybszH3Q9CYKFuKXYMjvCXh9ZnNYv9qhTm";
const sealed = crypto.seal({ message: revealed, from, to: crypto.getSealerID(to), nOnceMaterial });
const key = crypto.newRandomKeySecret().secret;
const changes = [{ op: "set", key: "name", value: "Jazz concert" }, { op: "set", key: "capacity", value: 120 }];

function bench(name, fn) {
  for (let i = 0; i < 200; i++) fn(); // warm up
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = 2_000_000_000n; // 2 s
  while (process.hrtime.bigint() - start < budget) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  const micros = Number(process.hrtime.bigint() - start) / 1000 / n;
  console.log(`${name.padEnd(40)} ${micros.toFixed(2)} µs`);
}

console.log(`stable JSON of the document: ${stableStringify(doc).length} bytes`);
bench("sign hash string", () => crypto.sign(signer, message));
bench("verify hash string", () => crypto.verify(signature, message, signerID));
bench("seal key secret", () => crypto.seal({ message: revealed, from, to: crypto.getSealerID(to), nOnceMaterial }));
bench("unseal key secret", () => crypto.unseal(sealed, to, crypto.getSealerID(from), nOnceMaterial));
bench("encrypt transaction changes", () => crypto.encrypt(changes, key, nOnceMaterial));
bench("secureHash 4 KiB document", () => crypto.secureHash(doc));
bench("stableStringify 4 KiB document", () => stableStringify(doc));
