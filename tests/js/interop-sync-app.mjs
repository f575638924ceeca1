// jazz-tools 0.20.19 apps connected to a real sync server (tests/js/sync-server.mjs) through
// cojson-transport-ws, calling a worker's routes (interop-sync-common.mjs) over HTTP. Every
// account here is new and lives on the sync server; everything read comes from the server.
//
// stdin: one JSON value, by `op` ("url" is always the sync server, ws://…):
//   {"op":"account","url","name"?}: creates an account on the server as `jazz-run account
//     create` does -> {"accountID","agentSecret"}.
//   {"op":"organise","url","workerAccountID","name"?,"capacity"?}: a new organiser account
//     loads the worker's account from the server, creates a group (everyone: reader, the
//     worker: writer), the event's reservations list and the event in it, and waits until the
//     server has them -> {"organiserID","groupID","eventID","reservationsID"}.
//   {"op":"book","url","baseUrl","workerAccountID","eventID","buyers"?:1,"checkOnServer"?:false}:
//     that many new buyer accounts, each loading the event ({reservations: true}) from the
//     server, all booking at once -> {"results":[{"buyer","agentSecret","ok":{"ticket":
//     ticketView,"eventName","onServer"?}} | {"buyer","agentSecret","error":errorView}]}.
//     With checkOnServer, as soon as its response is in, each buyer asks the server on a new
//     node -> onServer: {"ticketLoaded","account","inReservations"}.
//   {"op":"echo","url","baseUrl","workerAccountID","requests":[values…]}: one new account sends
//     each value set on the echo route, one after another ->
//     {"clientID","results":[{"ok":response.toJSON()} | {"error":errorView}]}.
//   {"op":"capture","url","baseUrl","workerAccountID","eventID"?,"requests":[{"route":
//     "echo"|"misfit"|"book","values"?,"skewMs"?}]}: one new account builds what send() would
//     POST, without sending it (fetch is intercepted); skewMs moves Date.now() while it is built
//     (-61000: a body older than the 60 s window) -> {"clientID","bodies":[exact body text…]}.
//   {"op":"read","url","eventID","owners"?:[{"accountID","agentSecret","ticketID"}]}: a new
//     account reads the event and its reservations from the server; then each owner logs in
//     from the server alone (startWorker: a fresh node) and reads its ticket ->
//     {"readerID","event":{"name","capacity","reservationsID","reservations":[ids]},
//      "tickets":[{"ticketID","loaded","account","event"}]}.
//   {"op":"forge","url","baseUrl","workerAccountID","variant","listID"?,"attackers"?:1,
//     "resend"?:false}: that many new attacker accounts, all at once, each makes its own group
//     (everyone: reader; the worker is not a member) and in it an Event of capacity 1000, waits
//     until the server has them, and books through it:
//       variant "forgedParent": the event's reservations is the list `listID`, someone else's
//         (the real event's, or another app's): a forged parent around a real child;
//       variant "ownEvent": the event's reservations is a new list in the attacker's group
//         too, which the worker may read but not write.
//     With resend, the exact body sent is POSTed once more afterwards ->
//     {"results":[{"attacker","groupID","eventID","reservationsID","ok":{"ticket":ticketView}
//      | "error":errorView,"resent"?:{"status","body"}}]}.
//   {"op":"readLists","url","listIDs":[ids]}: a new account reads each list of tickets from
//     the server -> {"readerID","lists":{id:[ticket ids]}}.
// stdout: ONE JSON line; logs go to stderr.
import {
  toStderr, readJsonFromStdin, printJsonLine, Event, Ticket, bookEventTicket, ticketView, echoRoute,
  misfitEchoRoute, newAccountOnServer, secretOf, login, errorView, cryptoNamed,
} from "./interop-sync-common.mjs";
import { Account, Group, co } from "jazz-tools";
import { AsyncLocalStorage } from "node:async_hooks";

const input = await readJsonFromStdin();
const need = (...keys) => {
  for (const key of keys) if (input[key] === undefined) throw new Error(`input.${key} is required for op ${input.op}`);
};
need("op", "url");
const crypto = await cryptoNamed(input.crypto);

async function organise() {
  need("workerAccountID");
  const organiser = await newAccountOnServer(input.url, input.name ?? "Organiser", crypto);
  const worker = await Account.load(input.workerAccountID, { loadAs: organiser });
  if (!worker.$isLoaded) throw new Error(`the worker's account ${input.workerAccountID} is not on the sync server`);
  const group = Group.create({ owner: organiser });
  group.addMember("everyone", "reader");
  group.addMember(worker, "writer");
  const reservations = co.list(Ticket).create([], group);
  const event = Event.create({ name: input.eventName ?? "Jazz night", capacity: input.capacity ?? 3, reservations }, group);
  await organiser.$jazz.waitForAllCoValuesSync({ timeout: 20_000 });
  return { organiserID: organiser.$jazz.id, groupID: group.$jazz.id, eventID: event.$jazz.id, reservationsID: reservations.$jazz.id };
}

/**
 * What the sync server holds right now, asked by the buyer on a new node that holds nothing
 * (startWorker: everything comes from the server): can it read its ticket, and is the ticket
 * in the event's reservations?
 */
async function onServerNow(buyer, ticketID) {
  const { worker: fresh, shutdownWorker } = await login(input.url, buyer.$jazz.id, secretOf(buyer), crypto);
  try {
    const ticket = await Ticket.load(ticketID, { loadAs: fresh });
    const event = await Event.load(input.eventID, { loadAs: fresh, resolve: { reservations: true } });
    return {
      ticketLoaded: ticket.$isLoaded === true,
      account: ticket.$isLoaded ? ticket.$jazz.raw.get("account") ?? null : null,
      inReservations: event.$isLoaded ? event.reservations.$jazz.raw.asArray().includes(ticketID) : null,
    };
  } finally {
    await shutdownWorker();
  }
}

async function book() {
  need("baseUrl", "workerAccountID", "eventID");
  const route = bookEventTicket(input.baseUrl, input.workerAccountID);
  const buy = async (i) => {
    const buyer = await newAccountOnServer(input.url, `Buyer ${i}`, crypto);
    const who = { buyer: buyer.$jazz.id, agentSecret: secretOf(buyer) };
    const event = await Event.load(input.eventID, { loadAs: buyer, resolve: { reservations: true } });
    if (!event.$isLoaded) throw new Error(`buyer ${i}: event ${input.eventID} is not on the sync server`);
    try {
      const { ticket } = await route.send({ event }, { owner: buyer });
      const onServer = input.checkOnServer ? await onServerNow(buyer, ticket.$jazz.id) : undefined;
      const withEvent = await Ticket.load(ticket.$jazz.id, { loadAs: buyer, resolve: { event: true } });
      return { ...who, ok: { ticket: ticketView(ticket), eventName: withEvent.$isLoaded ? withEvent.event.name : null, onServer } };
    } catch (e) {
      if (!e?.isJazzRequestError) toStderr(`interop-sync-app: buyer ${i} failed:`, e);
      return { ...who, error: errorView(e) };
    }
  };
  const results = await Promise.all(Array.from({ length: input.buyers ?? 1 }, (_, i) => buy(i)));
  return { results };
}

async function echo() {
  need("baseUrl", "workerAccountID", "requests");
  const client = await newAccountOnServer(input.url, input.name ?? "Echo client", crypto);
  const route = echoRoute(input.baseUrl, input.workerAccountID);
  const results = [];
  for (const values of input.requests) {
    try {
      const response = await route.send(values, { owner: client });
      results.push({ ok: response.toJSON() });
    } catch (e) {
      if (!e?.isJazzRequestError) toStderr("interop-sync-app: echo failed:", e);
      results.push({ error: errorView(e) });
    }
  }
  return { clientID: client.$jazz.id, results };
}

async function capture() {
  need("baseUrl", "workerAccountID", "requests");
  const client = await newAccountOnServer(input.url, input.name ?? "Capturing client", crypto);
  const routes = {
    echo: echoRoute(input.baseUrl, input.workerAccountID),
    misfit: misfitEchoRoute(input.baseUrl, input.workerAccountID),
    book: bookEventTicket(input.baseUrl, input.workerAccountID),
  };
  const bodies = [];
  const CAPTURED = Symbol("captured");
  globalThis.fetch = async (_url, init) => {
    bodies.push(init.body);
    throw CAPTURED;
  };
  const realNow = Date.now;
  for (const { route, values, skewMs } of input.requests) {
    if (!routes[route]) throw new Error(`unknown route ${route}`);
    let payload = values;
    if (route === "book") {
      need("eventID");
      payload = { event: await Event.load(input.eventID, { loadAs: client, resolve: { reservations: true } }) };
      if (!payload.event.$isLoaded) throw new Error(`event ${input.eventID} is not on the sync server`);
    }
    Date.now = () => realNow() + (skewMs ?? 0);
    try {
      await routes[route].send(payload, { owner: client });
      throw new Error("send() was not intercepted");
    } catch (e) {
      if (e !== CAPTURED) throw e;
    } finally {
      Date.now = realNow;
    }
  }
  // The envelopes stay with the client; the worker gets them from the bodies alone.
  await client.$jazz.waitForAllCoValuesSync({ timeout: 20_000 });
  return { clientID: client.$jazz.id, bodies };
}

async function read() {
  need("eventID");
  const reader = await newAccountOnServer(input.url, input.name ?? "Reader", crypto);
  const event = await Event.load(input.eventID, { loadAs: reader, resolve: { reservations: true } });
  if (!event.$isLoaded) throw new Error(`event ${input.eventID} is not on the sync server`);
  const list = event.reservations.$jazz.raw;
  const out = {
    readerID: reader.$jazz.id,
    event: { name: event.name, capacity: event.capacity, reservationsID: list.id, reservations: list.asArray() },
    tickets: [],
  };
  for (const { accountID, agentSecret, ticketID } of input.owners ?? []) {
    const { worker: owner, shutdownWorker } = await login(input.url, accountID, agentSecret, crypto);
    const ticket = await Ticket.load(ticketID, { loadAs: owner });
    out.tickets.push({
      ticketID,
      as: owner.$jazz.id,
      loaded: ticket.$isLoaded === true,
      account: ticket.$isLoaded ? ticket.$jazz.raw.get("account") ?? null : null,
      event: ticket.$isLoaded ? ticket.$jazz.raw.get("event") ?? null : null,
    });
    await shutdownWorker();
  }
  return out;
}

/**
 * Records each body `fetch` sends (and still sends it), under the key `sender` runs with:
 * what an attacker can POST again. Attackers send concurrently, so the key travels with the
 * async context instead of the order of the calls.
 */
function recordingFetch() {
  const realFetch = globalThis.fetch;
  const sender = new AsyncLocalStorage();
  const bodies = new Map();
  globalThis.fetch = async (url, init) => {
    bodies.set(sender.getStore(), { url: String(url), body: init?.body });
    return await realFetch(url, init);
  };
  return { bodies, sender, realFetch };
}

async function forge() {
  need("baseUrl", "workerAccountID", "variant");
  if (!["forgedParent", "ownEvent"].includes(input.variant)) throw new Error(`unknown variant ${input.variant}`);
  if (input.variant === "forgedParent") need("listID");
  const route = bookEventTicket(input.baseUrl, input.workerAccountID);
  const { bodies, sender, realFetch } = recordingFetch();
  const attack = async (i) => {
    const attacker = await newAccountOnServer(input.url, `Attacker ${i}`, crypto);
    const group = Group.create({ owner: attacker });
    group.addMember("everyone", "reader");
    let reservations;
    if (input.variant === "forgedParent") {
      reservations = await co.list(Ticket).load(input.listID, { loadAs: attacker });
      if (!reservations.$isLoaded) throw new Error(`attacker ${i}: list ${input.listID} is not on the sync server`);
    } else {
      reservations = co.list(Ticket).create([], group);
    }
    const event = Event.create({ name: `Forged night ${i}`, capacity: 1000, reservations }, group);
    await attacker.$jazz.waitForAllCoValuesSync({ timeout: 20_000 });
    const made = { attacker: attacker.$jazz.id, groupID: group.$jazz.id, eventID: event.$jazz.id, reservationsID: reservations.$jazz.id };
    let result;
    try {
      const { ticket } = await sender.run(i, () => route.send({ event }, { owner: attacker }));
      result = { ...made, ok: { ticket: ticketView(ticket) } };
    } catch (e) {
      if (!e?.isJazzRequestError) toStderr(`interop-sync-app: attacker ${i} failed:`, e);
      result = { ...made, error: errorView(e) };
    }
    const sent = bodies.get(i);
    if (input.resend) {
      if (!sent) throw new Error(`attacker ${i}: no body recorded`);
      const again = await realFetch(sent.url, { method: "POST", headers: { "Content-Type": "application/json" }, body: sent.body });
      const text = await again.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      result.resent = { status: again.status, body };
    }
    return result;
  };
  const results = await Promise.all(Array.from({ length: input.attackers ?? 1 }, (_, i) => attack(i)));
  return { results };
}

async function readLists() {
  need("listIDs");
  const reader = await newAccountOnServer(input.url, input.name ?? "Reader", crypto);
  const lists = {};
  for (const id of input.listIDs) {
    const list = await co.list(Ticket).load(id, { loadAs: reader });
    if (!list.$isLoaded) throw new Error(`list ${id} is not on the sync server`);
    lists[id] = list.$jazz.raw.asArray();
  }
  return { readerID: reader.$jazz.id, lists };
}

async function account() {
  const made = await newAccountOnServer(input.url, input.name ?? "Worker", crypto);
  return { accountID: made.$jazz.id, agentSecret: secretOf(made) };
}

const ops = { account, organise, book, echo, capture, read, forge, readLists };
if (!ops[input.op]) throw new Error(`unknown op ${input.op}`);
const output = await ops[input.op]();
// Exit once flushed (the WebSocket and fetch's keep-alive sockets would keep Node running).
printJsonLine(output, () => process.exit(0));
