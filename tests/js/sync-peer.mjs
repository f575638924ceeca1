// A cojson 0.20.19 client of a sync server (tests/js/sync-server.mjs), connected as a Jazz app
// is: cojson-transport-ws over a `ws` WebSocket, the server as its peer of role "server".
// Each run is a fresh account, so it sees only what it loads from the server.
//
// Input (stdin, one JSON value), by `op`:
//   {"op":"create","url":"ws://…"}: creates a group (admin: this account; everyone: writer),
//     a CoMap and a CoList owned by it, waits until the server has them all, and prints
//     {"account","group","map","list","mapValue","listValue"}.
//   {"op":"read","url":"ws://…","ids":["co_z…",…]}: loads each id and prints
//     {"values":{"co_z…": <toJSON() of the CoValue, or null when unavailable>}}.
//   {"op":"update","url":"ws://…","id":"co_z…","key":"…","value":<json>}: loads the CoMap,
//     sets key (a private transaction, as cojson writes by default), waits until the server
//     has it, and prints {"account","value"} (the map's toJSON() afterwards).
// Output: one JSON line on stdout; logs go to stderr.
import { LocalNode } from "cojson";
import { createWebSocketPeer } from "cojson-transport-ws";
import WebSocket from "ws";
import { toStderr, readJsonFromStdin, printJsonLine } from "./peer-common.mjs";
import { crypto } from "./generator/lib.mjs";

const input = await readJsonFromStdin();

const websocket = new WebSocket(input.url);
const peer = createWebSocketPeer({ id: "sync-server", websocket, role: "server" });
const { node, accountID } = await LocalNode.withNewlyCreatedAccount({
  creationProps: { name: "cojson peer" }, crypto, peers: [peer],
});

async function load(id) {
  const value = await node.load(id);
  return value === "unavailable" ? null : value;
}

let output;
switch (input.op) {
  case "create": {
    const group = node.createGroup();
    group.addMember("everyone", "writer");
    const list = group.createList(["first", "second", { third: 3 }]);
    const map = group.createMap({
      title: "Made by cojson ✓",
      count: 42,
      ratio: -0.5,
      flag: true,
      nothing: null,
      nested: { a: [1, 2, "three"] },
      list: list.id,
    });
    await node.syncManager.waitForAllCoValuesSync();
    output = { account: accountID, group: group.id, map: map.id, list: list.id,
      mapValue: map.toJSON(), listValue: list.toJSON() };
    break;
  }
  case "read": {
    const values = {};
    for (const id of input.ids) values[id] = (await load(id))?.toJSON() ?? null;
    output = { values };
    break;
  }
  case "update": {
    const map = await load(input.id);
    if (!map) throw new Error(`${input.id} is unavailable`);
    map.set(input.key, input.value);
    await node.syncManager.waitForAllCoValuesSync();
    output = { account: accountID, value: map.toJSON() };
    break;
  }
  default:
    throw new Error(`unknown op ${input.op}`);
}

printJsonLine(output, () => {
  node.gracefulShutdown();
  websocket.close();
  process.exit(0);
});
process.on("unhandledRejection", (e) => { toStderr(e); process.exit(1); });
