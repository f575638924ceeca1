// An in-memory Jazz sync server, as `jazz-run sync --in-memory` runs one: a cojson LocalNode
// behind a `ws` WebSocketServer, every connection a cojson-transport-ws peer of role "client",
// and a `{"type":"ping"}` frame every 1.5 s on each connection.
//
// Usage: node sync-server.mjs [--port N] [--batch] [--capture FILE]
//   --port N        listen on 127.0.0.1:N (default 0: a free port)
//   --batch         send everything one connection is sent within one tick as one frame
//                   (messages joined by "\n", as cojson-transport-ws batches when queueing)
//   --capture FILE  append every frame, both ways, to FILE as JSON lines {"dir","frame"}
//                   ("out": server to client, "in": client to server)
//
// Prints one JSON line on stdout once listening: {"port": N}. Logs go to stderr. Exits when
// stdin closes, on SIGTERM or SIGINT.
import { appendFileSync } from "node:fs";
import { createServer } from "node:http";
import { LocalNode, logger } from "cojson";
import { createWebSocketPeer } from "cojson-transport-ws";
import { NapiCrypto } from "cojson/crypto/NapiCrypto";
import { WebSocketServer } from "ws";

const log = (...args) => process.stderr.write(args.join(" ") + "\n");
console.log = console.info = console.debug = console.warn = console.error = log;
logger.setLogSystem({
  debug: () => {},
  info: () => {},
  warn: (m, a) => log("cojson warn:", m, JSON.stringify(a ?? {})),
  error: (m, a) => log("cojson error:", m, JSON.stringify(a ?? {})),
});

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = Number(option("--port") ?? 0);
const batch = args.includes("--batch");
const capture = option("--capture");
const record = (dir, frame) => {
  if (capture) appendFileSync(capture, JSON.stringify({ dir, frame }) + "\n");
};

const crypto = await NapiCrypto.create();
const agentSecret = crypto.newRandomAgentSecret();
const node = new LocalNode(agentSecret, crypto.newRandomSessionID(crypto.getAgentID(agentSecret)), crypto);

/** The socket as cojson-transport-ws sees it: sends recorded, and batched per tick with --batch. */
function transportSocket(ws) {
  let queued = [];
  const flush = () => {
    if (queued.length > 0 && ws.readyState === 1) {
      const frame = queued.join("\n");
      record("out", frame);
      ws.send(frame);
    }
    queued = [];
  };
  return {
    addEventListener: (...a) => ws.addEventListener(...a),
    removeEventListener: (...a) => ws.removeEventListener(...a),
    close: () => { flush(); ws.close(); },
    send: (frame) => {
      if (!batch) { record("out", frame); ws.send(frame); return; }
      if (queued.length === 0) setImmediate(flush);
      queued.push(frame);
    },
    get readyState() { return ws.readyState; },
    get bufferedAmount() { return ws.bufferedAmount; },
  };
}

const http = createServer((req, res) => {
  res.writeHead(req.url === "/health" ? 200 : 404);
  res.end(req.url === "/health" ? "ok" : "");
});
const wss = new WebSocketServer({ server: http });
let connections = 0;
wss.on("connection", (ws, req) => {
  const id = `${req.socket.remoteAddress}:${req.socket.remotePort}#${++connections}`;
  ws.on("message", (data) => record("in", data.toString()));
  const pinging = setInterval(() => {
    const frame = JSON.stringify({ type: "ping", time: Date.now(), dc: "unknown" });
    record("out", frame);
    ws.send(frame);
  }, 1500);
  ws.on("close", () => clearInterval(pinging));
  ws.on("error", (e) => log(`connection ${id}:`, e.message));
  node.syncManager.addPeer(createWebSocketPeer({
    id, role: "client", websocket: transportSocket(ws),
    expectPings: false, batchingByDefault: false, deletePeerStateOnClose: true,
  }));
});

const stop = () => {
  for (const client of wss.clients) client.terminate();
  node.gracefulShutdown();
  http.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop).on("close", stop).resume();

http.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: http.address().port }) + "\n");
});
