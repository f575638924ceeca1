// The reference figure for the README: jazz-tools 0.20.19 request handling, in-process.
// One worker, one repeat client (accounts created once and introduced), an echo route with
// 3 fields in ({name, email, age}) and 3 out ({bio, avatar, age}). fetch is intercepted as in
// generator/gen-vectors.mjs (no network): it times the server side `route.handle(...)`. Each
// iteration is a fresh signed request (new envelope group + map, new signature).
// Usage: node bench-request.mjs [ITERATIONS=500] [WARMUP=100]
import { toStderr } from "./peer-common.mjs"; // first: keeps cojson's logging off stdout
import { experimental_defineRequest, z } from "jazz-tools";
import { newAccount, introduce } from "./generator/lib.mjs";

const iterations = +(process.argv[2] ?? 500);
const warmup = +(process.argv[3] ?? 100);

const worker = await newAccount("Worker");
const client = await newAccount("Client");
await introduce(worker, client);

const echo = experimental_defineRequest({
  url: "https://api.example.com/api/echo", workerId: worker.$jazz.id,
  request: { schema: { name: z.string(), email: z.string(), age: z.number() } },
  response: { schema: { bio: z.string(), avatar: z.string(), age: z.number() } },
});
const handler = async (u, madeBy) => ({ bio: `Profile for ${u.name} by ${madeBy.$jazz.id}`, avatar: `https://example.com/a/${u.email}.jpg`, age: u.age });

let handleNs = []; // per request, ns
globalThis.fetch = async (url, init) => {
  const request = new Request(url, init);
  const t0 = process.hrtime.bigint();
  const response = await echo.handle(request, worker, handler);
  handleNs.push(Number(process.hrtime.bigint() - t0));
  return response;
};

async function run(n) {
  handleNs = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = await echo.send({ name: `John ${i}`, email: `john${i}@example.com`, age: 30 + (i % 50) }, { owner: client });
    if (r.age !== 30 + (i % 50)) throw new Error(`bad response ${JSON.stringify(r.toJSON())}`);
  }
  const sorted = handleNs.map((ns) => ns / 1e6).sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { sendMs: Number(process.hrtime.bigint() - t0) / 1e6 / n, handleMs: sorted.reduce((a, b) => a + b, 0) / n, median: at(0.5), p95: at(0.95) };
}

await run(warmup);
const { sendMs, handleMs, median, p95 } = await run(iterations);
console.log = (...a) => process.stdout.write(a.join(" ") + "\n"); // results on stdout
console.log(`jazz-tools handle(): ${handleMs.toFixed(3)} ms per request (mean of ${iterations}, after ${warmup} warm-up; median ${median.toFixed(3)}, p95 ${p95.toFixed(3)})`);
console.log(`jazz-tools send() total (client sign + handle() + client verify/load): ${sendMs.toFixed(3)} ms per request`);
toStderr(`node ${process.version}`);
process.exit(0);
