// A real jazz-tools 0.20.19 request worker behind a node:http server on 127.0.0.1.
//
// stdin:  one JSON object {"agentSecret": "sealerSecret_z…/signerSecret_z…", "name"?: "Worker",
//         "capacity"?: 2, "syncLatencyMs"?: 20}; stdin then stays open and the process exits when it
//         closes (or on SIGTERM). With syncLatencyMs > 0 the worker is connected, as a Jazz worker is
//         in production, to a sync server: an in-process cojson node behind an in-memory channel
//         that delays every message by that many ms each way. Without it the worker has no peers.
// stdout: ONE JSON line once listening:
//   {"url": "http://127.0.0.1:<port>", "workerAccountID": "co_z…",
//    "workerPieces": [exportCoValue(Account, worker)], "eventID": "co_z…",
//    "eventPieces": [exportCoValue(Event, event, {resolve: {reservations: true}})]}
// Routes: POST /api/echo, /api/fail, /api/book-event-ticket (see peer-common.mjs), and
// GET /stats -> {"handlerRuns": {"echo": n, "fail": n, "book-event-ticket": n}}: how many times
// each handler callback actually ran. Errors thrown by handle() that are not JazzRequestErrors
// (e.g. a non-JSON body) -> 500 with the error message as text/plain, logged to stderr.
import { toStderr, readJsonFromStdin, printJsonLine, defineRoutes, ROUTE_PATHS, Event, Ticket } from "./peer-common.mjs";
import http from "node:http";
import { LocalNode, cojsonInternals } from "cojson";
import { Account, Group, JazzRequestError, exportCoValue } from "jazz-tools";
import { crypto } from "./generator/lib.mjs";

const input = await readJsonFromStdin();
if (typeof input.agentSecret !== "string") throw new Error("input.agentSecret must be an agent secret string");
const capacity = input.capacity ?? 2;
const worker = Account.fromNode((await LocalNode.withNewlyCreatedAccount({
  creationProps: { name: input.name ?? "Worker" }, crypto, initialAgentSecret: input.agentSecret,
  peers: input.syncLatencyMs > 0 ? [syncServerPeer(input.syncLatencyMs)] : [],
})).node);

/** A peer (role "server") for an in-process sync server `latencyMs` away. */
function syncServerPeer(latencyMs) {
  // Same-delay timers fire in the order they were set, so messages keep their order.
  class DelayedChannel extends cojsonInternals.ConnectedPeerChannel {
    push(msg) { setTimeout(() => super.push(msg), latencyMs); }
  }
  const secret = crypto.newRandomAgentSecret();
  const server = new LocalNode(secret, crypto.newRandomSessionID(crypto.getAgentID(secret)), crypto);
  const up = new DelayedChannel(), down = new DelayedChannel();
  server.syncManager.addPeer({ id: "worker", incoming: up, outgoing: down, role: "client", persistent: false });
  return { id: "sync-server", incoming: down, outgoing: up, role: "server", persistent: true };
}

// The event: owned by a group where everyone is reader and the worker is admin.
const eventGroup = Group.create(worker);
eventGroup.addMember("everyone", "reader");
const event = Event.create({ name: "Jazz night", capacity, reservations: [] }, eventGroup);

const handlerRuns = { echo: 0, fail: 0, "book-event-ticket": 0 };
const routes = defineRoutes("http://127.0.0.1", worker.$jazz.id);
const handlers = {
  echo: async (u, madeBy) => ({ bio: `Profile for ${u.name} by ${madeBy.$jazz.id}`, avatar: `https://example.com/a/${u.email}.jpg` }),
  fail: async () => { throw new JazzRequestError("Event is full", 400, { capacity: 2 }); },
  "book-event-ticket": async ({ event }, madeBy) => {
    if (event.reservations.length >= event.capacity) throw new JazzRequestError("Event is full", 400, { capacity: event.capacity });
    const tg = Group.create(worker); tg.addMember(madeBy, "reader");
    const ticket = Ticket.create({ seat: event.reservations.length + 1, event }, tg);
    event.reservations.$jazz.push(ticket);
    return { ticket };
  },
};
const routeByPath = Object.fromEntries(Object.entries(ROUTE_PATHS).map(([name, path]) => [path, name]));

/** Writes a WHATWG Response to a node:http response (always with Content-Length). */
async function send(res, response) {
  const body = Buffer.from(await response.arrayBuffer());
  const headers = Object.fromEntries(response.headers.entries());
  headers["content-length"] = String(body.length);
  res.writeHead(response.status, headers).end(body);
}

const server = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, "http://127.0.0.1").pathname;
    if (req.method === "GET" && path === "/stats") {
      return await send(res, Response.json({ handlerRuns }));
    }
    const name = routeByPath[path];
    if (!name) return await send(res, new Response("not found", { status: 404 }));
    if (req.method !== "POST") return await send(res, new Response("method not allowed", { status: 405 }));
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    // node:http -> WHATWG Request; the body goes to handle() as is, JSON or not.
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: "POST",
      headers: Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
      body: Buffer.concat(chunks),
    });
    const handler = handlers[name];
    const response = await routes[name].handle(request, worker, (value, madeBy) => {
      handlerRuns[name]++;
      return handler(value, madeBy);
    });
    await send(res, response);
  } catch (error) {
    // What a framework does with an exception escaping the route: 500.
    toStderr(`ts-worker: ${req.method} ${req.url} threw:`, error);
    if (!res.headersSent) await send(res, new Response(String(error?.message ?? error), { status: 500, headers: { "content-type": "text/plain" } }));
    else res.destroy();
  }
});

server.listen(0, "127.0.0.1", async () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  const workerPieces = (await exportCoValue(Account, worker.$jazz.id, { loadAs: worker })) ?? [];
  const eventPieces = (await exportCoValue(Event, event.$jazz.id, { loadAs: worker, resolve: { reservations: true } })) ?? [];
  printJsonLine({ url, workerAccountID: worker.$jazz.id, workerPieces, eventID: event.$jazz.id, eventPieces });
});

// Exit when the parent closes stdin (or dies) or sends SIGTERM.
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();
process.on("SIGTERM", () => process.exit(0));
