// A jazz-tools 0.20.19 app racing a Rust worker (tests/tests/unique_race_live.rs) to create
// one unique Settings (unique-common.mjs) through a real sync server: its `creator` calls
// Settings.getOrCreateUnique while cut off from the server, so that it creates the value
// without seeing the worker's, and the worker creates it without seeing the creator's;
// once the creator is back, both hold both inits and must read the first writer's.
//
// stdin, line 1: {"url" (ws://… of the sync server), "baseUrl" (the Rust worker),
//   "workerAccountID"} -> two new accounts on the server: `creator` and `caller` (who sends
//   the worker's unique-settings route, and never holds the value itself); the creator makes
//   a group (everyone: reader, the worker: writer) and waits until the server has it ->
//   {"creatorID", "callerID", "groupID"}.
// Then one command per line, one JSON line answering each:
//   {"op":"offline"}: the creator's node drops its sync server peer -> {"ok": true}
//   {"op":"online"}: it connects again and waits until the server has everything it holds
//     -> {"ok": true}
//   {"op":"create","key","label","mark"}: Settings.getOrCreateUnique({value: {label, js: mark},
//     unique: key, owner: group}) -> {"id", "view", "loadedInMs"}
//   {"op":"call","key","label","mark"}: the caller sends the route {owner: group, key, label,
//     mark} -> {"ok": the response's fields} | {"error"}
//   {"op":"read","key","waitForAuthor"}: the creator waits (up to 20 s) until its copy of the
//     value holds a session of the account `waitForAuthor`, then reads it ->
//     {"id", "view", "sessions": [session ids]}
// Logs go to stderr.
import { toStderr, printJsonLine, Settings, view, uniqueSettingsRoute } from "./unique-common.mjs";
import { newAccountOnServer, serverPeer, errorView } from "./interop-sync-common.mjs";
import { Account, Group } from "jazz-tools";
import readline from "node:readline";

const PEER_ID = "sync-server";
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextInput = async () => {
  const { value, done } = await lines.next();
  if (done) process.exit(0);
  return JSON.parse(value);
};

const setup = await nextInput();
const creator = await newAccountOnServer(setup.url, "Unique creator");
const caller = await newAccountOnServer(setup.url, "Unique caller");
const worker = await Account.load(setup.workerAccountID, { loadAs: creator });
if (!worker.$isLoaded) throw new Error(`the worker's account ${setup.workerAccountID} is not on the sync server`);
const group = Group.create({ owner: creator });
group.addMember("everyone", "reader");
group.addMember(worker, "writer");
await creator.$jazz.waitForAllCoValuesSync({ timeout: 20_000 });
const route = uniqueSettingsRoute(setup.baseUrl, setup.workerAccountID);
const node = creator.$jazz.localNode;
printJsonLine({ creatorID: creator.$jazz.id, callerID: caller.$jazz.id, groupID: group.$jazz.id });

const uniqueId = (key) => Settings.findUnique(key, group.$jazz.id, creator);

async function run(command) {
  switch (command.op) {
    case "offline":
      node.syncManager.removePeer(PEER_ID);
      if (node.syncManager.getServerPeers(group.$jazz.id).length !== 0) throw new Error("still connected");
      return { ok: true };
    case "online":
      node.syncManager.addPeer(serverPeer(setup.url, PEER_ID));
      await creator.$jazz.waitForAllCoValuesSync({ timeout: 20_000 });
      return { ok: true };
    case "create": {
      const started = Date.now();
      const settings = await Settings.getOrCreateUnique({
        value: { label: command.label, js: command.mark },
        unique: command.key,
        owner: group,
      });
      if (!settings.$isLoaded) throw new Error(`getOrCreateUnique(${command.key}) did not load: ${settings.$jazz?.loadingState}`);
      return { id: settings.$jazz.id, view: view(settings), loadedInMs: Date.now() - started };
    }
    case "call":
      try {
        const response = await route.send(
          { owner: group.$jazz.id, key: command.key, label: command.label, mark: command.mark },
          { owner: caller },
        );
        const { $jazz: _envelope, ...fields } = response.toJSON();
        return { ok: fields };
      } catch (e) {
        if (!e?.isJazzRequestError) toStderr("unique-race: call failed:", e);
        return { error: errorView(e) };
      }
    case "read": {
      const id = uniqueId(command.key);
      const deadline = Date.now() + 20_000;
      const sessions = () => Object.keys(node.getCoValue(id).knownState().sessions);
      while (!sessions().some((s) => s.startsWith(`${command.waitForAuthor}_session`))) {
        if (Date.now() > deadline) throw new Error(`${id} never got a session of ${command.waitForAuthor}: ${sessions()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const settings = await Settings.loadUnique(command.key, group.$jazz.id, { loadAs: creator });
      if (!settings.$isLoaded) throw new Error(`loadUnique(${command.key}) did not load`);
      return { id: settings.$jazz.id, view: view(settings), sessions: sessions() };
    }
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

while (true) {
  const command = await nextInput();
  try {
    printJsonLine(await run(command));
  } catch (e) {
    toStderr("unique-race:", e);
    printJsonLine({ failed: String(e?.stack ?? e) });
  }
}
