// A jazz-tools 0.20.19 server worker that is a peer of a real sync server: startWorker({
// syncServer, accountID, accountSecret }) and route.handle() behind a node:http server on
// 127.0.0.1, serving the two routes of issue 8 (interop-sync-common.mjs) with the seed's
// handlers: POST /api/book-event-ticket and POST /api/echo. The event lives on the sync server
// (made by another account that gave this worker write access to its group).
//
// stdin:  one JSON object {"url": "ws://…" (the sync server), "accountID"?, "agentSecret"?,
//         "name"?: "Ticket worker", "crypto"?: "wasm" (startWorker's default) | "napi"}; without
//         credentials an account is created on the server first (as `jazz-run account create`).
//         stdin then stays open and the process exits when it closes (or on SIGTERM).
// stdout: ONE JSON line once listening:
//         {"url": "http://127.0.0.1:<port>", "accountID": "co_z…", "agentSecret": "…"}
// Also GET /stats -> {"handlerRuns": {"book-event-ticket": n, "echo": n}, "heapUsedBytes",
//         "rssBytes"}. Errors handle() throws that are not JazzRequestErrors -> 500 text/plain,
//         logged to stderr.
import {
  toStderr, readJsonFromStdin, printJsonLine, Ticket, bookEventTicket, BOOK_EVENT_TICKET_PATH, echoRoute,
  ECHO_PATH, PLEASE_FAIL, newAccountOnServer, secretOf, login, cryptoNamed,
} from "./interop-sync-common.mjs";
import http from "node:http";
import { Group, JazzRequestError } from "jazz-tools";

const input = await readJsonFromStdin();
if (typeof input.url !== "string") throw new Error("input.url (the sync server) must be a string");
const crypto = await cryptoNamed(input.crypto ?? "wasm");

let { accountID, agentSecret } = input;
if (accountID === undefined || agentSecret === undefined) {
  const made = await newAccountOnServer(input.url, input.name ?? "Ticket worker", crypto);
  accountID = made.$jazz.id;
  agentSecret = secretOf(made);
  made.$jazz.localNode.gracefulShutdown();
}
const { worker } = await login(input.url, accountID, agentSecret, crypto);

const handlerRuns = { "book-event-ticket": 0, echo: 0 };

// The seed's handler.
async function bookTicket({ event }, madeBy) {
  handlerRuns["book-event-ticket"]++;
  if (event.reservations.length >= event.capacity) {
    throw new JazzRequestError("Event is full", 400);
  }
  const ticketGroup = Group.create(worker);
  const ticket = Ticket.create({ account: madeBy, event }, ticketGroup);
  ticketGroup.addMember(madeBy, "reader");
  event.reservations.$jazz.push(ticket);
  return { ticket };
}

async function echo({ text, n, flag, note }, madeBy) {
  handlerRuns.echo++;
  if (text === PLEASE_FAIL) throw new JazzRequestError("Asked to fail", 422, { reason: "test" });
  const out = { text, n, flag, madeBy: madeBy.$jazz.id };
  if (note !== undefined) out.note = note;
  return out;
}

const routes = {
  [BOOK_EVENT_TICKET_PATH]: [bookEventTicket("http://127.0.0.1", accountID), bookTicket],
  [ECHO_PATH]: [echoRoute("http://127.0.0.1", accountID), echo],
};

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
      const memory = process.memoryUsage();
      return await send(res, Response.json({ handlerRuns, heapUsedBytes: memory.heapUsed, rssBytes: memory.rss }));
    }
    const route = routes[path];
    if (!route) return await send(res, new Response("not found", { status: 404 }));
    if (req.method !== "POST") return await send(res, new Response("method not allowed", { status: 405 }));
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: "POST",
      headers: Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
      body: Buffer.concat(chunks),
    });
    const [definition, handler] = route;
    await send(res, await definition.handle(request, worker, handler));
  } catch (error) {
    toStderr(`interop-sync-worker: ${req.method} ${req.url} threw:`, error);
    if (!res.headersSent) await send(res, new Response(String(error?.message ?? error), { status: 500, headers: { "content-type": "text/plain" } }));
    else res.destroy();
  }
});

server.listen(0, "127.0.0.1", () => {
  printJsonLine({ url: `http://127.0.0.1:${server.address().port}`, accountID, agentSecret });
});

process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();
process.on("SIGTERM", () => process.exit(0));
