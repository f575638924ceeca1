// The same work as jazz-req-core's `import` criterion bench, on cojson 0.20.19 (N-API crypto):
// import the four content pieces of requests.json exchanges[0] into a fresh LocalNode (the
// worker's), and read the envelope. Usage: node bench-import.mjs [VECTORS_DIR]
import fs from "node:fs";
import path from "node:path";
import { LocalNode } from "cojson";
import { NapiCrypto } from "cojson/crypto/NapiCrypto";

const dir = process.argv[2] ?? path.join(import.meta.dirname, "../fixtures/cojson");
const requests = JSON.parse(fs.readFileSync(path.join(dir, "requests.json"), "utf8"));
const cryptoVectors = JSON.parse(fs.readFileSync(path.join(dir, "crypto.json"), "utf8"));
const crypto = await NapiCrypto.create();
const body = requests.exchanges[0].requestBody;
const agentSecret = cryptoVectors.agents[2].agentSecret;
const worker = requests.workerAccountID;

function freshNode() {
  const sessionID = crypto.newRandomSessionID(worker);
  const node = new LocalNode(agentSecret, sessionID, crypto);
  for (const piece of structuredClone(body.contentPieces)) node.syncManager.handleNewContent(piece, "import");
  return node;
}

async function bench(name, fn) {
  for (let i = 0; i < 50; i++) await fn();
  let n = 0;
  const start = process.hrtime.bigint();
  while (process.hrtime.bigint() - start < 2_000_000_000n) { await fn(); n++; }
  console.log(`${name.padEnd(48)} ${(Number(process.hrtime.bigint() - start) / 1000 / n).toFixed(1)} µs`);
}

await bench("import + verify 4 request pieces (fresh node)", () => freshNode());
await bench("import + read the envelope (fresh node)", async () => {
  const node = freshNode();
  const envelope = await node.load(body.id);
  if (envelope === "unavailable") throw new Error("envelope unavailable");
  if (!envelope.toJSON()) throw new Error("no value");
});
