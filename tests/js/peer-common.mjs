// Shared by ts-worker.mjs, ts-client.mjs and bench-request.mjs: quiet logging, stdin
// reading, and the three request routes, defined exactly as in generator/gen-vectors.mjs.
import { logger } from "cojson";
import { experimental_defineRequest, z, co } from "jazz-tools";

// stdout carries exactly one JSON line. cojson's ConsoleLogSystem uses console.info/debug,
// which Node writes to stdout, so every console method and cojson's logger go to stderr.
export const toStderr = (...args) =>
  process.stderr.write(args.map((a) => (typeof a === "string" ? a : safeJson(a))).join(" ") + "\n");
function safeJson(a) {
  try { return a instanceof Error ? a.stack ?? String(a) : JSON.stringify(a); } catch { return String(a); }
}
console.log = console.info = console.debug = console.warn = console.error = toStderr;
logger.setLogSystem({
  debug: (m, a) => toStderr("cojson debug:", m, a ?? {}),
  info: (m, a) => toStderr("cojson info:", m, a ?? {}),
  warn: (m, a) => toStderr("cojson warn:", m, a ?? {}),
  error: (m, a) => toStderr("cojson error:", m, a ?? {}),
});

/** Reads stdin until it holds one complete JSON value (stdin may stay open afterwards). */
export function readJsonFromStdin() {
  // Not `for await`: leaving that loop early would destroy (close) stdin.
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk) => {
      text += chunk.toString("utf8");
      try { const value = JSON.parse(text); done(); resolve(value); } catch { /* not complete yet */ }
    };
    const onEnd = () => {
      done();
      try { resolve(JSON.parse(text)); } catch (e) { reject(new Error(`stdin is not one JSON value: ${e.message}`)); }
    };
    const done = () => { process.stdin.off("data", onData).off("end", onEnd); process.stdin.pause(); };
    process.stdin.on("data", onData).on("end", onEnd);
  });
}

/** Prints one JSON line on stdout and calls `then` once it is flushed (pipes take 64 KiB at a time). */
export function printJsonLine(value, then = () => {}) {
  process.stdout.write(JSON.stringify(value) + "\n", then);
}

// ---- schemas and routes (same as gen-vectors.mjs) ----
export const Event = co.map({ name: z.string(), capacity: z.number(), reservations: co.list(co.map({ seat: z.number() })) });
export const Ticket = co.map({ seat: z.number(), event: Event });
const person = { name: z.string(), email: z.string(), age: z.number() };

/** The route name -> URL path of every route the worker serves. */
export const ROUTE_PATHS = { echo: "/api/echo", fail: "/api/fail", "book-event-ticket": "/api/book-event-ticket" };

/** The three routes, for a worker at `baseUrl` (only `send` uses the URL). */
export function defineRoutes(baseUrl, workerId) {
  return {
    echo: experimental_defineRequest({ url: baseUrl + ROUTE_PATHS.echo, workerId,
      request: { schema: person },
      response: { schema: { bio: z.string(), avatar: z.string().optional() } } }),
    fail: experimental_defineRequest({ url: baseUrl + ROUTE_PATHS.fail, workerId,
      request: { schema: person },
      response: { schema: { bio: z.string(), avatar: z.string().optional() } } }),
    "book-event-ticket": experimental_defineRequest({ url: baseUrl + ROUTE_PATHS["book-event-ticket"], workerId,
      request: { schema: { event: Event }, resolve: { event: { reservations: true } } },
      response: { schema: { ticket: Ticket }, resolve: { ticket: true } } }),
  };
}
