// Transaction meta as cojson 0.20.19 reads it: reader branch pointers, first-writer-wins (fww),
// merged branch transactions (meta mi/t/s/b) and an account's role in itself. Real LocalNodes for
// Alice, Bob, Carol, Dave and Erin write with the real API (createBranch, mergeBranch, jazz-tools'
// getOrCreateUnique) or, for what no API writes, with the core's own makeTransaction; content
// travels as peers send it. Each case names an observer and the pieces it receives, in order; the
// expectations are read from a fresh observer LocalNode that imported exactly those pieces.
// Usage: node gen-meta.mjs OUT_DIR [SALT]
import fs from "node:fs";
import path from "node:path";
import { LocalNode, logger } from "cojson";
import { Account, Group, co, z } from "jazz-tools";
import { crypto } from "./lib.mjs";
import { transactionVerdicts } from "../tx-verdicts.mjs";

const out = process.argv[2];
const salt = +(process.argv[3] ?? 0);
if (!out) throw new Error("usage: node gen-meta.mjs OUT_DIR [SALT]");
fs.mkdirSync(out, { recursive: true });
// "Merge commit without session ID" is expected in one case; keep the output for the summary.
logger.setLogSystem({ debug() {}, info() {}, warn() {}, error() {} });

const seed = (n) => Uint8Array.from({ length: 32 }, (_, i) => (i * 31 + n * 17 + 11 + salt * 89) & 0xff);
const names = ["Alice", "Bob", "Carol", "Dave", "Erin"];
const people = {};
for (const [i, name] of names.entries()) {
  const agentSecret = crypto.agentSecretFromSecretSeed(seed(i));
  const { node, accountID } = await LocalNode.withNewlyCreatedAccount({ creationProps: { name }, crypto, initialAgentSecret: agentSecret, peers: [] });
  people[name] = { node, accountID, agentSecret };
}
const nameOf = (accountID) => names.find((n) => people[n].accountID === accountID);
const exportAll = (node, id) => node.expectCoValueLoaded(id).newContentSince(undefined) ?? [];
const give = (from, to, ids) => { for (const id of ids) for (const p of exportAll(people[from].node, id)) people[to].node.syncManager.handleNewContent(structuredClone(p), "import"); };
for (const a of names) for (const b of names) if (a !== b) give(a, b, [people[a].accountID]);
const load = async (who, id) => { const c = await people[who].node.load(id); if (c === "unavailable") throw new Error(`${who} cannot load ${id}`); return c; };
const core = (who, id) => people[who].node.expectCoValueLoaded(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tick = () => sleep(3);

/**
 * The content of `id` as one message per session, each session taken from its author's node
 * (which holds all of it), in the order of `authors` (names; sessions of others follow). The
 * header goes with the first message, so the observer receives the sessions one after another.
 */
function bySession(id, authors) {
  const holders = names.filter((who) => people[who].node.getCoValue(id).isAvailable());
  const all = holders.map((who) => [who, exportAll(people[who].node, id)]);
  const header = all[0][1][0].header;
  const priority = all[0][1][0].priority;
  const sessions = new Map(); // sessionID -> { author, pieces } from the most complete holder
  for (const [who, messages] of all) {
    for (const msg of messages) {
      for (const [sid, piece] of Object.entries(msg.new ?? {})) {
        const author = nameOf(sid.split("_session")[0]);
        const fromAuthor = who === author || !holders.includes(author);
        if (!fromAuthor) continue;
        if (!sessions.has(sid)) sessions.set(sid, { author, pieces: [] });
        sessions.get(sid).pieces.push(piece);
      }
    }
  }
  const rank = (author) => { const i = authors.indexOf(author); return i === -1 ? authors.length : i; };
  const ordered = [...sessions.entries()].sort((a, b) => rank(a[1].author) - rank(b[1].author));
  const messages = [];
  for (const [sid, { pieces }] of ordered) {
    for (const piece of pieces) messages.push({ action: "content", id, ...(messages.length === 0 ? { header } : {}), priority, new: { [sid]: structuredClone(piece) } });
  }
  if (messages.length === 0) messages.push({ action: "content", id, header, priority, new: {} });
  return messages;
}
const accountPieces = () => names.flatMap((n) => exportAll(people[n].node, people[n].accountID));

/** What a fresh LocalNode of `observer` that imported `pieces` in order reads, for each id. */
async function observe(observer, pieces, ids) {
  const { agentSecret, accountID } = people[observer];
  const node = new LocalNode(agentSecret, crypto.newRandomSessionID(accountID), crypto);
  for (const piece of pieces) node.syncManager.handleNewContent(structuredClone(piece), "import");
  const pieceIds = [...new Set(pieces.map((p) => p.id))];
  for (let i = 0; i < 1000 && !pieceIds.every((id) => node.getCoValue(id).newContentQueue.length === 0); i++) await new Promise((r) => setImmediate(r));
  const expected = {};
  for (const [label, id] of Object.entries(ids)) {
    const c = node.getCoValue(id);
    if (!c.isAvailable()) throw new Error(`${observer} cannot read ${label} ${id}`);
    const transactions = transactionVerdicts(c);
    expected[label] = { value: c.getCurrentContent().toJSON(), transactions };
  }
  return { node, expected };
}
const cases = [];
/** Records a case: the observer's expectations, and those of more observers (`also`). */
async function record(name, note, observer, pieces, ids, extra = {}, also = []) {
  const { node, expected } = await observe(observer, pieces, ids);
  const entry = { name, note, observer, ids, pieces, expected };
  if (extra.roles) entry.roles = extra.roles(node);
  if (also.length) {
    entry.alsoSeenBy = [];
    for (const view of also) entry.alsoSeenBy.push({ observer: view.observer, pieces: view.pieces, expected: (await observe(view.observer, view.pieces, ids)).expected });
  }
  if (extra.viewsAgree) entry.viewsAgree = true;
  cases.push(entry);
  return entry;
}
/** A group of Alice with the given members (name: role), known to all of them. */
async function groupOf(members) {
  const g = people.Alice.node.createGroup();
  for (const [who, role] of Object.entries(members)) g.addMember(await load("Alice", people[who].accountID), role);
  giveTo("Alice", Object.keys(members), [g.id]);
  return g;
}
const giveTo = (from, tos, ids) => { for (const to of [tos].flat()) give(from, to, ids); };
const set = (key, value) => ({ op: "set", key, value });

// 1. A reader's branch pointers: cojson keeps a reader's trusting transaction whose meta has
//    branch and ownerId, with its changes dropped and its meta cut to {branch, ownerId}.
{
  const g = await groupOf({ Bob: "writer", Carol: "reader" });
  const m = g.createMap({ title: "Draft" });
  giveTo("Alice", ["Bob", "Carol"], [m.id]);
  await tick();
  const carolsGroup = people.Carol.node.createGroup();
  const bobsGroup = people.Bob.node.createGroup();
  const mc = core("Carol", m.id);
  // The real API: a reader may branch into a group of her own; the pointer is trusting.
  const branch = mc.createBranch("carol-draft", carolsGroup.id);
  branch.getCurrentContent().set("title", "Carol's draft (in her branch)");
  await tick();
  // Forged with the core: changes beside the pointer, more meta, and a pointer without ownerId.
  mc.makeTransaction([set("title", "Carol through a pointer")], "trusting", { branch: "forged", ownerId: carolsGroup.id, note: "dropped" });
  await tick();
  mc.makeTransaction([set("title", "Carol without ownerId")], "trusting", { branch: "no-owner" });
  await tick();
  // A writer's pointer is an ordinary transaction.
  core("Bob", m.id).makeTransaction([set("bob", "kept beside a pointer")], "trusting", { branch: "bobs", ownerId: bobsGroup.id });
  await sleep(10);
  // The role at the transaction's time counts: promoted to writer, Carol's next pointer keeps
  // its changes, her earlier ones stay as they were.
  g.addMember(await load("Alice", people.Carol.accountID), "writer");
  giveTo("Alice", "Carol", [g.id]);
  await sleep(10);
  mc.makeTransaction([set("carol", "written as writer beside a pointer")], "trusting", { branch: "as-writer", ownerId: carolsGroup.id });
  await record("reader-branch-pointer-trusting",
    "Carol (reader) creates a branch with createBranch(name, herGroup): a trusting pointer {branch, ownerId}, valid. Her forged pointer with changes and extra meta is valid with changes dropped and meta cut to {branch, ownerId}; her pointer without ownerId is invalid. Bob (writer) writes a pointer with changes: an ordinary valid transaction. Then Alice promotes Carol to writer: her next pointer with changes is ordinary too, her earlier ones unchanged.",
    "Alice", [...accountPieces(), ...bySession(g.id, ["Alice"]), ...bySession(m.id, ["Alice", "Carol", "Bob"])], { map: m.id });
}
// 2. A private branch pointer is judged before it is decrypted: written by Carol while writer it
//    is an ordinary transaction (changes kept); once she is demoted to reader, her private
//    pointers are invalid and their meta unread (the core's makeTransaction checks no role).
{
  const g = await groupOf({ Carol: "writer" });
  const m = g.createMap({ title: "Private" });
  giveTo("Alice", "Carol", [m.id]);
  await tick();
  const carolsGroup = people.Carol.node.createGroup();
  core("Carol", m.id).makeTransaction([set("title", "Carol, still writer")], "private", { branch: "while-writer", ownerId: carolsGroup.id });
  await sleep(10);
  g.addMember(await load("Alice", people.Carol.accountID), "reader");
  giveTo("Alice", "Carol", [g.id]);
  await sleep(10);
  core("Carol", m.id).makeTransaction([], "private", { branch: "private-pointer", ownerId: carolsGroup.id });
  await tick();
  core("Carol", m.id).makeTransaction([set("title", "Carol, reader, private")], "private", { branch: "private-pointer-2", ownerId: carolsGroup.id });
  await record("reader-branch-pointer-private",
    "Carol writes a private transaction with meta {branch, ownerId} and changes while writer (valid, changes kept); Alice demotes her to reader; her later private pointers (one without changes, one with) are invalid, their meta never decrypted.",
    "Alice", [...accountPieces(), ...bySession(g.id, ["Alice"]), ...bySession(m.id, ["Carol", "Alice"])], { map: m.id });
}
// 3. First writer wins, two writers, one fww key: Bob's earlier transaction arrives after Alice's
//    later one; the content arrives before its group.
{
  const g = await groupOf({ Bob: "writer" });
  const m = g.createMap({ title: "Untitled" });
  giveTo("Alice", "Bob", [m.id]);
  await sleep(10);
  const t = Date.now();
  core("Bob", m.id).makeTransaction([set("title", "Bob's (earlier)"), set("by", "Bob")], "private", { fww: "title" }, t);
  core("Alice", m.id).makeTransaction([set("title", "Alice's (later)"), set("by", "Alice")], "private", { fww: "title" }, t + 5);
  core("Alice", m.id).makeTransaction([set("plain", "not fww")], "private", undefined, t + 6);
  await sleep(10);
  await record("fww-two-writers-later-first",
    "Alice and Bob both write with meta {fww:\"title\"}; Bob's is 5 ms earlier but arrives after Alice's (and the map arrives before its group): Bob's wins, Alice's is invalid.",
    "Alice", [...accountPieces(), ...bySession(m.id, ["Alice", "Bob"]), ...bySession(g.id, ["Alice"])], { map: m.id });
}
// 4. Three writers, several fww keys, one same-session reordering (a later index backdated).
{
  const g = await groupOf({ Bob: "writer", Dave: "writer", Erin: "reader" });
  const m = g.createMap({});
  giveTo("Alice", ["Bob", "Dave", "Erin"], [m.id]);
  await sleep(10);
  const t = Date.now();
  core("Alice", m.id).makeTransaction([set("a", "Alice"), set("x", "Alice a")], "private", { fww: "a" }, t + 2);
  core("Bob", m.id).makeTransaction([set("a", "Bob"), set("x", "Bob a")], "private", { fww: "a" }, t + 1);
  core("Dave", m.id).makeTransaction([set("a", "Dave")], "trusting", { fww: "a" }, t + 3);
  core("Dave", m.id).makeTransaction([set("b", "Dave"), set("y", "Dave b")], "private", { fww: "b" }, t + 1);
  core("Bob", m.id).makeTransaction([set("b", "Bob"), set("y", "Bob b")], "private", { fww: "b" }, t + 5);
  core("Alice", m.id).makeTransaction([set("c", "Alice first index")], "private", { fww: "c" }, t + 8);
  core("Alice", m.id).makeTransaction([set("c", "Alice second index, backdated")], "private", { fww: "c" }, t + 4);
  core("Bob", m.id).makeTransaction([set("d", "Bob, not fww")], "private", undefined, t + 9);
  // A reader's fww transaction is invalid before its meta is parsed: it takes part in no race.
  core("Erin", m.id).makeTransaction([set("a", "Erin, reader")], "trusting", { fww: "a" }, t);
  await sleep(15);
  await record("fww-three-writers-several-keys",
    "Alice, Bob and Dave race on fww keys a (Bob earliest), b (Dave earliest, Bob later) and c (Alice twice in one session, the later index backdated: it wins); Erin (reader) writes fww a earliest of all, invalid, so no contender; arrival Erin, Dave, Alice, Bob.",
    "Bob", [...accountPieces(), ...bySession(g.id, ["Alice"]), ...bySession(m.id, ["Erin", "Dave", "Alice", "Bob"])], { map: m.id });
}
// 5. Ties: equal madeAt in different sessions. cojson's compareTransactions orders them only
//    within a session, so the transaction it parses first stays the winner: the session that
//    arrived first, except that trusting transactions are parsed before private ones (which
//    are decrypted first). Two observers with opposite arrival orders disagree.
{
  const g = await groupOf({ Bob: "writer", Dave: "writer" });
  const m = g.createMap({ title: "Ties" });
  giveTo("Alice", ["Bob", "Dave"], [m.id]);
  await sleep(10);
  const t = Date.now();
  core("Alice", m.id).makeTransaction([set("k", "Alice")], "private", { fww: "k" }, t);
  core("Bob", m.id).makeTransaction([set("k", "Bob")], "private", { fww: "k" }, t);
  core("Alice", m.id).makeTransaction([set("j", "Alice, private")], "private", { fww: "j" }, t + 1);
  core("Dave", m.id).makeTransaction([set("j", "Dave, trusting")], "trusting", { fww: "j" }, t + 1);
  core("Bob", m.id).makeTransaction([set("s", "Bob index 2")], "private", { fww: "s" }, t + 2);
  core("Bob", m.id).makeTransaction([set("s", "Bob index 3")], "private", { fww: "s" }, t + 2);
  await sleep(10);
  const base = [...accountPieces(), ...bySession(g.id, ["Alice"])];
  await record("fww-ties-between-sessions",
    "Equal madeAt: k by Alice and Bob (private, Bob's session arrives first: Bob wins for this observer); j by Alice (private) and Dave (trusting, arrives last: wins, trusting transactions are parsed first); s twice by Bob in one session (the lower index wins). alsoSeenBy: the opposite arrival order, where Alice wins k.",
    "Bob", [...base, ...bySession(m.id, ["Bob", "Alice", "Dave"])], { map: m.id }, {},
    [{ observer: "Alice", pieces: [...base, ...bySession(m.id, ["Alice", "Dave", "Bob"])] }]);
}
// 6. A unique CoMap and CoList created by two clients at once with jazz-tools
//    (getOrCreateUnique: unique header without createdAt, init with meta {fww: "init"}).
{
  const g = await groupOf({ Bob: "writer" });
  const Settings = co.map({ theme: z.string(), by: z.string(), extra: z.optional(z.string()) });
  const Items = co.list(z.string());
  const created = {};
  for (const [who, init, items] of [["Alice", { theme: "dark", by: "Alice" }, ["a1", "a2"]], ["Bob", { theme: "light", by: "Bob", extra: "only Bob's" }, ["b1"]]]) {
    const account = Account.fromNode(people[who].node);
    const group = await Group.load(g.id, { loadAs: account });
    const map = await Settings.getOrCreateUnique({ value: init, unique: "settings", owner: group });
    const list = await Items.getOrCreateUnique({ value: items, unique: { kind: "items", of: "settings" }, owner: group });
    created[who] = { map: map.$jazz.id, list: list.$jazz.id };
    await sleep(5);
  }
  if (created.Alice.map !== created.Bob.map || created.Alice.list !== created.Bob.list) throw new Error("unique ids differ");
  const ids = created.Alice;
  const base = [...accountPieces(), ...bySession(g.id, ["Alice"])];
  const entry = await record("unique-values-two-clients",
    "Alice, then Bob (5 ms later, before seeing Alice's), call jazz-tools getOrCreateUnique for the same CoMap (unique \"settings\") and CoList (unique object): same ids, both inits written with meta {fww:\"init\"}. After exchanging, Alice's init wins on both nodes; alsoSeenBy is Bob's node (his own session first).",
    "Alice", [...base, ...bySession(ids.map, ["Alice", "Bob"]), ...bySession(ids.list, ["Alice", "Bob"])], ids,
    { viewsAgree: true }, [{ observer: "Bob", pieces: [...base, ...bySession(ids.map, ["Bob", "Alice"]), ...bySession(ids.list, ["Bob", "Alice"])] }]);
  for (const label of Object.keys(ids)) {
    if (JSON.stringify(entry.expected[label].value) !== JSON.stringify(entry.alsoSeenBy[0].expected[label].value)) throw new Error(`the two clients disagree on ${label}`);
  }
  entry.uniqueness = { owner: g.id, map: "settings", list: { kind: "items", of: "settings" } };
}
// 7. A real branch of a CoMap, edited by two writers and merged twice (meta mi/t/s/b), with a
//    source edit between the branch edit and the merge (the merged one is older: it loses).
{
  const g = await groupOf({ Bob: "writer" });
  const m = g.createMap({ a: 1, title: "source" });
  giveTo("Alice", "Bob", [m.id]);
  await tick();
  const branch = core("Alice", m.id).createBranch("edit");
  const bm = branch.getCurrentContent();
  bm.set("a", 2); await tick();
  bm.set("inBranch", "Alice"); await tick();
  giveTo("Alice", "Bob", [branch.id]);
  const bobBranch = (await load("Bob", branch.id));
  bobBranch.set("bob", "in branch"); await tick();
  bobBranch.set("title", "Bob's branch title"); await tick();
  giveTo("Bob", "Alice", [branch.id]);
  m.set("a", 3); await tick(); // after the branch edit of a, before the merge
  core("Alice", branch.id).mergeBranch();
  await tick();
  bm.set("late", "second merge"); await tick();
  core("Alice", branch.id).mergeBranch();
  await tick();
  await record("branch-merge-comap",
    "Alice branches a CoMap (createBranch), Alice and Bob edit the branch, Alice sets a on the source, then merges (mergeBranch) twice: merged transactions carry meta {mi,t,s,b}, take their source txID and madeAt; a=3 stays (newer than the merged a=2).",
    "Bob", [...accountPieces(), ...bySession(g.id, ["Alice"]), ...bySession(m.id, ["Alice", "Bob"])], { map: m.id });
}
// 8. A real branch of a CoList: an item appended in the branch after a source item, one inserted
//    after that branch item (its opID carries the branch), a deletion; after the merge the
//    source inserts after the merged item (a reference with `branch`).
{
  const g = await groupOf({ Bob: "writer" });
  const l = g.createList(["x", "y"]);
  giveTo("Alice", "Bob", [l.id]);
  await tick();
  const branch = core("Alice", l.id).createBranch("list-edit");
  const bl = branch.getCurrentContent();
  bl.append("z"); await tick(); // after "y", a source op
  bl.append("w", 2); await tick(); // after "z", a branch op
  bl.delete(0); await tick(); // "x"
  core("Alice", branch.id).mergeBranch();
  await tick();
  const merged = await load("Alice", l.id);
  merged.append("after w", merged.asArray().indexOf("w")); await tick();
  merged.prepend("v", merged.asArray().indexOf("z")); await tick();
  const refs = merged.entries().filter((e) => e.opID.branch).length;
  if (refs === 0) throw new Error("no opID carries a branch");
  await record("branch-merge-colist",
    "Alice branches a CoList [x,y], appends z (after y) and w (after z, a branch op) and deletes x in the branch, merges, then inserts after w and before z on the source: those references carry branch.",
    "Bob", [...accountPieces(), ...bySession(g.id, ["Alice"]), ...bySession(l.id, ["Alice"])], { list: l.id });
}
// 9. Merge meta written by hand with the core (private, as mergeBranch writes a private branch's):
//    t omitted or 0 (the previous transaction's effective madeAt), s naming another session,
//    t negative (sourceMadeAt after madeAt: invalid, its source txID still set from the previous
//    transaction's session) and a t-less one after it (inherits the tampered madeAt: invalid),
//    a session's first transaction without s (no source txID), a reader's merge meta (invalid
//    before its meta is parsed: no source).
{
  const g = await groupOf({ Bob: "writer", Dave: "writer", Carol: "reader" });
  const m = g.createMap({ k: "start" });
  giveTo("Alice", ["Bob", "Dave", "Carol"], [m.id]);
  await sleep(10);
  const a = core("Alice", m.id);
  const bobSession = people.Bob.node.currentSessionID; // a session with no transaction here
  a.makeTransaction([set("m1", "t omitted")], "private", { mi: 7 });
  await tick();
  a.makeTransaction([set("m2", "t = 0")], "private", { mi: 8, t: 0 });
  await tick();
  a.makeTransaction([set("m3", "s = Bob's session, t = 25")], "private", { mi: 2, t: 25, s: bobSession });
  await tick();
  a.makeTransaction([set("k", "tampered: t = -100000")], "private", { mi: 0, t: -100000 });
  await tick();
  a.makeTransaction([set("m4", "t omitted after the tampered one")], "private", { mi: 1 });
  await tick();
  core("Dave", m.id).makeTransaction([set("d", "Dave's first transaction is a merge without s")], "private", { mi: 4, t: 10 });
  await tick();
  core("Carol", m.id).makeTransaction([set("c", "Carol, reader")], "trusting", { mi: 1, t: 10, s: bobSession });
  await tick();
  await record("merge-meta-by-hand",
    "Merged-transaction meta written with makeTransaction: {mi} and {mi,t:0} take the previous transaction's madeAt; {mi,t,s} names another session; {mi,t:-100000} is invalid (sourceMadeAt after madeAt; its source txID still taken from the previous transaction's session) and the {mi} after it inherits its madeAt (invalid too); Dave's first transaction {mi,t} has no session to take (no source txID); Carol's (reader) is invalid before its meta is parsed.",
    "Dave", [...accountPieces(), ...bySession(g.id, ["Alice"]), ...bySession(m.id, ["Alice", "Dave", "Carol"])], { map: m.id });
}
// 9b. The order cojson parses meta in: trusting transactions as they are validated, private ones
//     after decryption. A trusting merged transaction without t after a private merged one takes
//     the previous transaction's madeAt before the private one's meta is parsed, i.e. its
//     madeAt in the log (what a branch mixing trusting and private transactions merges to).
{
  const g = await groupOf({ Bob: "writer" });
  const m = g.createMap({ k: "start" });
  giveTo("Alice", "Bob", [m.id]);
  await sleep(10);
  const a = core("Alice", m.id);
  a.makeTransaction([set("p", "private, t = 40")], "private", { mi: 3, t: 40, s: people.Bob.node.currentSessionID });
  await tick();
  a.makeTransaction([set("q", "trusting, t omitted")], "trusting", { mi: 4 });
  await tick();
  a.makeTransaction([set("r", "private, t omitted")], "private", { mi: 5 });
  await tick();
  await record("merge-meta-parse-order",
    "Alice writes private {mi,t:40,s}, then trusting {mi} and private {mi}: the trusting one is parsed first and takes the previous transaction's madeAt in the log; the private one after it takes the trusting one's effective madeAt.",
    "Bob", [...accountPieces(), ...bySession(g.id, ["Alice"]), ...bySession(m.id, ["Alice"])], { map: m.id });
}
// 10. An account's role in itself is admin: a CoMap owned by Alice's account, written by Alice
//     (valid) and by Bob (invalid).
{
  const aliceAccount = people.Alice.node.expectCoValueLoaded(people.Alice.accountID).getCurrentContent();
  const m = aliceAccount.createMap({ owner: "Alice's account" }, null, "trusting");
  await tick();
  m.set("later", "Alice again", "trusting");
  give("Alice", "Bob", [m.id]);
  await tick();
  core("Bob", m.id).makeTransaction([set("bob", "Bob is no member")], "trusting");
  const roles = (node) => {
    const account = node.expectCoValueLoaded(people.Alice.accountID).getCurrentContent();
    return { group: people.Alice.accountID, of: Object.fromEntries(["Alice", "Bob"].map((who) => [who, account.roleOf(people[who].accountID) ?? null])) };
  };
  await record("account-role-in-itself",
    "roleOf(account.id) on an account is admin (RawAccount.roleOfInternal). A CoMap owned by Alice's account: Alice's transactions are valid, Bob's invalid. roles.of: each person's role in the account roles.group, as the observer's roleOf answers (null: none).",
    "Bob", [...accountPieces(), ...bySession(m.id, ["Alice", "Bob"])], { map: m.id }, { roles });
}

fs.writeFileSync(path.join(out, "meta.json"), JSON.stringify({
  generatedWith: "cojson 0.20.19 / jazz-tools 0.20.19 NapiCrypto, several LocalNodes exchanging content pieces",
  note: "people[*] lets a test act as each person. A case's pieces are what its observer receives, in order (accounts first unless said otherwise); expected[label] holds, for the CoValue ids[label], cojson's toJSON() and, per transaction of core.verifiedTransactions (sessions in arrival order, then index), its position txID, validity, effective madeAt (currentMadeAt is the log's), sourceTxID, the meta as the core holds it after validation (null: none or never decrypted), the number of changes it keeps (null: not decrypted) and, for trusting transactions, in the log. alsoSeenBy: more observers of the same ids (viewsAgree: their values must be equal). roles: {group, of: {person: role as the observer's roleOf answers, null for none}}. uniqueness: the owner and uniqueness the unique values' ids derive from (jazz-tools getUniqueHeader).",
  people: Object.fromEntries(names.map((n) => [n, { accountID: people[n].accountID, agentSecret: people[n].agentSecret }])),
  cases,
}, null, 1) + "\n");
for (const c of cases) {
  const txs = Object.values(c.expected).flatMap((e) => e.transactions);
  console.log(`${c.name}: ${txs.length} transactions, ${txs.filter((t) => !t.isValid).length} invalid; ${JSON.stringify(Object.fromEntries(Object.entries(c.expected).map(([k, e]) => [k, e.value])))}${c.roles ? ` roles ${JSON.stringify(c.roles.of)}` : ""}`.slice(0, 240));
}
process.exit(0);
