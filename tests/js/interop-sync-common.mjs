// Shared by interop-sync-app.mjs and interop-sync-worker.mjs: jazz-tools 0.20.19 apps that are
// peers of a real sync server (tests/js/sync-server.mjs), and the two routes of issue 8.
//   - the seed's schemas and book-event-ticket route come from tickets-common.mjs
//     (Rust: examples/src/event_tickets.rs);
//   - the echo route is defined here (Rust: examples/src/echo.rs).
// Importing tickets-common.mjs first sends every console method and cojson's logger to stderr.
import { toStderr, readJsonFromStdin, printJsonLine, Event, Ticket, bookEventTicket, ticketView, BOOK_EVENT_TICKET_PATH } from "./tickets-common.mjs";
import { Account, experimental_defineRequest, z } from "jazz-tools";
import { startWorker } from "jazz-tools/worker";
import { createWebSocketPeer } from "cojson-transport-ws";
import { WasmCrypto } from "cojson/crypto/WasmCrypto";
import WebSocket from "ws";
import { crypto as napiCrypto } from "./generator/lib.mjs";

export { toStderr, readJsonFromStdin, printJsonLine, Event, Ticket, bookEventTicket, ticketView, BOOK_EVENT_TICKET_PATH };

/** The path of the echo route (`#[jazz_request(url = "/api/echo")]`). */
export const ECHO_PATH = "/api/echo";
/** The text that makes the echo handler fail with 422 "Asked to fail". */
export const PLEASE_FAIL = "please fail";

const echoRequest = { text: z.string(), n: z.number(), flag: z.boolean(), note: z.string().optional() };

/** The echo route of issue 8, for a worker at `baseUrl` (only `send` uses the URL). */
export function echoRoute(baseUrl, workerId) {
  return experimental_defineRequest({
    url: baseUrl + ECHO_PATH,
    workerId,
    request: { schema: echoRequest },
    response: { schema: { ...echoRequest, madeBy: z.string() } },
  });
}

/**
 * A route on the echo path whose request schema is NOT the worker's: `text` is a number and
 * `flag` a string. jazz-tools sends whatever its own schema accepts, so this is how a client
 * with a stale or wrong schema reaches a worker (the bad-input case).
 */
export function misfitEchoRoute(baseUrl, workerId) {
  return experimental_defineRequest({
    url: baseUrl + ECHO_PATH,
    workerId,
    request: { schema: { text: z.number(), n: z.number(), flag: z.string() } },
    response: { schema: { text: z.number(), madeBy: z.string() } },
  });
}

/** The crypto a script uses: "napi" (cojson's N-API build, fast) or "wasm" (startWorker's default). */
export async function cryptoNamed(name) {
  if (name === undefined || name === "napi") return napiCrypto;
  if (name === "wasm") return await WasmCrypto.create();
  throw new Error(`unknown crypto ${name}`);
}

/** A cojson-transport-ws peer of the sync server at `url` (role "server"), as a Jazz app has one. */
export function serverPeer(url, id = "sync-server") {
  return createWebSocketPeer({ id, websocket: new WebSocket(url), role: "server" });
}

/**
 * A new account, connected to the sync server at `url`, once the server has it (and its
 * profile): what `jazz-run account create` does, and how a new user of a Jazz app starts.
 */
export async function newAccountOnServer(url, name, crypto) {
  const account = await Account.create({ creationProps: { name }, peers: [serverPeer(url)], crypto: crypto ?? napiCrypto });
  await account.$jazz.waitForAllCoValuesSync({ timeout: 20_000 });
  return account;
}

/** The agent secret of an account's node (`sealerSecret_z…/signerSecret_z…`). */
export function secretOf(account) {
  return account.$jazz.localNode.agentSecret;
}

/**
 * Logs an existing account in from the sync server alone (a fresh node: nothing local), as a
 * Jazz server worker starts: `startWorker({ syncServer, accountID, accountSecret })`.
 */
export async function login(url, accountID, accountSecret, crypto) {
  return await startWorker({
    syncServer: url,
    accountID,
    accountSecret,
    WebSocket,
    crypto: crypto ?? napiCrypto,
    asActiveAccount: false,
    skipInboxLoad: true,
  });
}

/** A JazzRequestError (or anything thrown) as JSON. */
export function errorView(e) {
  return { message: String(e?.message ?? e), code: e?.code ?? null, details: e?.details ?? null, isJazzRequestError: Boolean(e?.isJazzRequestError) };
}
