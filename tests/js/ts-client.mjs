// A real jazz-tools 0.20.19 request client: sends requests to a worker over HTTP, one after another.
//
// stdin:  {"agentSecret": "…", "name"?: "Client", "baseUrl": "http://127.0.0.1:…",
//          "workerAccountID": "co_z…", "workerPieces": [...],
//          "eventPieces"?: [...], "eventID"?: "co_z…",      // needed by book-event-ticket
//          "requests": [{"route": "echo"|"fail"|"book-event-ticket", "values"?: {...}}],
//          "captureOnly"?: true}
//   book-event-ticket sends {event} (the event loaded from eventPieces; eventID defaults to
//   the first ownedByGroup comap among eventPieces); other routes send `values`.
// stdout: ONE JSON line
//   {"clientAccountID": "co_z…", "clientPieces": [exportCoValue(Account, client)],
//    "results": [{"ok": <response.toJSON()>} |
//                {"error": {"message", "code", "details", "isJazzRequestError": bool}}]}
//   With captureOnly nothing is sent: fetch is intercepted and, instead of "results",
//   "bodies": [the parsed request bodies] and "rawBodies": [the exact body strings] are given.
import { toStderr, readJsonFromStdin, printJsonLine, defineRoutes, Event } from "./peer-common.mjs";
import { Account, exportCoValue, importContentPieces } from "jazz-tools";
import { newAccount } from "./generator/lib.mjs";

const input = await readJsonFromStdin();
for (const key of ["agentSecret", "baseUrl", "workerAccountID"]) {
  if (typeof input[key] !== "string") throw new Error(`input.${key} must be a string`);
}
if (!Array.isArray(input.workerPieces)) throw new Error("input.workerPieces must be an array");
if (!Array.isArray(input.requests)) throw new Error("input.requests must be an array");

const client = await newAccount(input.name ?? "Client", input.agentSecret);
importContentPieces(structuredClone(input.workerPieces), client);
const routes = defineRoutes(input.baseUrl, input.workerAccountID);

// The event, only when a request needs it.
let event;
async function loadEvent() {
  if (event) return event;
  if (!Array.isArray(input.eventPieces)) throw new Error("book-event-ticket needs input.eventPieces");
  importContentPieces(structuredClone(input.eventPieces), client);
  const id = input.eventID ?? input.eventPieces.find((p) => p.header?.type === "comap" && p.header.ruleset?.type === "ownedByGroup")?.id;
  event = await Event.load(id, { loadAs: client, resolve: { reservations: true } });
  if (!event.$isLoaded) throw new Error(`event ${id} could not be loaded from eventPieces`);
  return event;
}

// captureOnly: record what send() would POST, then stop it with a sentinel.
const rawBodies = [];
const CAPTURED = Symbol("captured");
if (input.captureOnly) {
  globalThis.fetch = async (_url, init) => { rawBodies.push(init.body); throw CAPTURED; };
}

const results = [];
for (const { route, values } of input.requests) {
  if (!routes[route]) throw new Error(`unknown route ${route}`);
  const payload = route === "book-event-ticket" ? { event: await loadEvent() } : values;
  try {
    const response = await routes[route].send(payload, { owner: client });
    results.push({ ok: response.toJSON() });
  } catch (e) {
    if (e === CAPTURED) continue;
    if (!e?.isJazzRequestError) toStderr(`ts-client: ${route} failed:`, e);
    results.push({ error: { message: String(e?.message ?? e), code: e?.code ?? null, details: e?.details ?? null, isJazzRequestError: Boolean(e?.isJazzRequestError) } });
  }
}

const clientPieces = (await exportCoValue(Account, client.$jazz.id, { loadAs: client })) ?? [];
const out = { clientAccountID: client.$jazz.id, clientPieces };
if (input.captureOnly) Object.assign(out, { bodies: rawBodies.map((b) => JSON.parse(b)), rawBodies });
else out.results = results;
// Exit once flushed (fetch's keep-alive sockets would otherwise keep Node running a while).
printJsonLine(out, () => process.exit(0));
