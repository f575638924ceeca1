// A jazz-tools 0.20.19 worker serving the seed's book-event-ticket route (tickets-common.mjs) with the
// seed's handler, handle() behind a node:http server on 127.0.0.1.
//
// stdin:  one JSON object {"agentSecret"?: "sealerSecret_z…/signerSecret_z…", "name"?: "Ticket worker",
//         "eventName"?: "Jazz night", "capacity"?: 2}; stdin then stays open and the process exits
//         when it closes (or on SIGTERM).
// stdout: ONE JSON line once listening:
//   {"url": "http://127.0.0.1:<port>", "workerAccountID": "co_z…",
//    "workerPieces": [exportCoValue(Account, worker)], "eventID": "co_z…",
//    "eventPieces": [exportCoValue(Event, event, {resolve: {reservations: true}})]}
// Routes: POST /api/book-event-ticket, and GET /stats ->
//   {"handlerRuns": n, "event": {"id", "capacity", "reservations": [{"id", "account", "event"}]}}:
//   how many times the handler callback ran, and the event as the worker holds it now.
// Errors thrown by handle() that are not JazzRequestErrors -> 500 text/plain, logged to stderr.
import {
  toStderr, readJsonFromStdin, printJsonLine, Event, Ticket, bookEventTicket, BOOK_EVENT_TICKET_PATH,
} from "./tickets-common.mjs";
import http from "node:http";
import { Account, Group, JazzRequestError, exportCoValue } from "jazz-tools";
import { newAccount } from "./generator/lib.mjs";

const input = await readJsonFromStdin();
const worker = await newAccount(input.name ?? "Ticket worker", input.agentSecret);

// The event everyone can read, its reservations in the same group; the worker is admin.
const eventGroup = Group.create(worker);
eventGroup.addMember("everyone", "reader");
const event = Event.create({ name: input.eventName ?? "Jazz night", capacity: input.capacity ?? 2, reservations: [] }, eventGroup);

const route = bookEventTicket("http://127.0.0.1", worker.$jazz.id);
let handlerRuns = 0;

// The seed's handler.
async function bookTicket({ event }, madeBy) {
  handlerRuns++;
  if (event.reservations.length >= event.capacity) {
    throw new JazzRequestError("Event is full", 400);
  }
  const ticketGroup = Group.create(worker);
  const ticket = Ticket.create({ account: madeBy, event }, ticketGroup);
  ticketGroup.addMember(madeBy, "reader");
  event.reservations.$jazz.push(ticket);
  return { ticket };
}

async function stats() {
  const now = await Event.load(event.$jazz.id, { loadAs: worker, resolve: { reservations: { $each: true } } });
  return {
    handlerRuns,
    event: {
      id: now.$jazz.id,
      capacity: now.capacity,
      reservations: [...now.reservations].map((t) => ({ id: t.$jazz.id, account: t.$jazz.raw.get("account"), event: t.$jazz.raw.get("event") })),
    },
  };
}

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
    if (req.method === "GET" && path === "/stats") return await send(res, Response.json(await stats()));
    if (path !== BOOK_EVENT_TICKET_PATH) return await send(res, new Response("not found", { status: 404 }));
    if (req.method !== "POST") return await send(res, new Response("method not allowed", { status: 405 }));
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: "POST",
      headers: Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
      body: Buffer.concat(chunks),
    });
    await send(res, await route.handle(request, worker, bookTicket));
  } catch (error) {
    toStderr(`tickets-worker: ${req.method} ${req.url} threw:`, error);
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

process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();
process.on("SIGTERM", () => process.exit(0));
