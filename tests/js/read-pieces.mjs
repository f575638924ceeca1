// Reads CoValues from content pieces with the real cojson 0.20.19 library (N-API crypto).
//
// stdin:  {"agentSecret": "sealerSecret_z…/signerSecret_z…",
//          "accountID"?: "co_z…",            // default: the account whose initial agent is agentSecret
//          "pieces": [content messages…],     // as a peer sends them, in any order
//          "read": ["co_z…", …],
//          "verdicts"?: true}                  // also each transaction's verdict (tx-verdicts.mjs)
// stdout: one JSON object, for each id of `read`:
//   {"<id>": {"type": "comap"|"colist"|"costream"|"coplaintext"|…,   // cojson's content type
//             "ruleset": "group"|"ownedByGroup"|"unsafeAllowAll",
//             "account"?: true,                                      // groups that are accounts
//             "value": <toJSON()>,
//             "roles"?: {<member>: <effective role>},                // groups and accounts
//             "roleEntries"?: {<member>: <raw entry, e.g. "revoked">},
//             "transactions"?: [<txVerdict>…]}}                         // with "verdicts", values owned by a group
//   plus "importErrors": [{errorType, sessionID, …}] when cojson rejected some of its sessions
//   (e.g. "InvalidSignature": cojson drops that session's new transactions and keeps the rest),
//   or {"<id>": {"error": "unavailable", "missingDependencies": […]}} when it cannot be read.
// cojson's log lines go to stderr, never stdout.
import { LocalNode, cojsonInternals, logger } from "cojson";
import { NapiCrypto } from "cojson/crypto/NapiCrypto";
import { transactionVerdicts } from "./tx-verdicts.mjs";

/** cojson errors logged while importing, by CoValue id. */
const importErrors = {};
const toStderr = (...args) => process.stderr.write(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ") + "\n");
// cojson's ConsoleLogSystem uses console.info/debug, which Node writes to stdout.
console.log = console.info = console.debug = toStderr;
logger.setLogSystem({
  debug: (m, a) => toStderr("cojson debug:", m, a ?? {}),
  info: (m, a) => toStderr("cojson info:", m, a ?? {}),
  warn: (m, a) => toStderr("cojson warn:", m, a ?? {}),
  error: (m, a) => {
    toStderr("cojson error:", m, a ?? {});
    if (typeof a?.id === "string") (importErrors[a.id] ??= []).push({ message: m, errorType: a.errorType, sessionID: a.sessionID });
  },
});

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

const input = JSON.parse(await readStdin());
if (typeof input.agentSecret !== "string") throw new Error("input.agentSecret must be an agent secret string");
if (!Array.isArray(input.pieces)) throw new Error("input.pieces must be an array of content messages");
if (!Array.isArray(input.read)) throw new Error("input.read must be an array of CoValue ids");

const crypto = await NapiCrypto.create();
const { accountHeaderForInitialAgentSecret, idforHeader } = cojsonInternals;
const accountID = input.accountID ?? idforHeader(accountHeaderForInitialAgentSecret(input.agentSecret, crypto), crypto);
// Act as the account when its content is among the pieces; otherwise as the bare agent
// (which can still read what `everyone` may read).
const hasAccount = input.pieces.some((p) => p?.id === accountID);
const owner = hasAccount ? accountID : crypto.getAgentID(input.agentSecret);
const node = new LocalNode(input.agentSecret, crypto.newRandomSessionID(owner), crypto);

// Exactly what jazz-tools' importContentPieces does. Pieces whose dependencies (owner group,
// member accounts, parent groups, session authors) are not there yet are queued by cojson and
// handled as soon as those arrive, so the order of `pieces` does not matter.
for (const piece of input.pieces) node.syncManager.handleNewContent(structuredClone(piece), "import");

// The queues drain through callbacks; let them settle.
const pieceIds = [...new Set(input.pieces.map((p) => p.id))];
for (let i = 0; i < 1000; i++) {
  if (pieceIds.every((id) => node.getCoValue(id).newContentQueue.length === 0)) break;
  await new Promise((resolve) => setImmediate(resolve));
}

function describe(id) {
  const core = node.getCoValue(id);
  if (!core.isAvailable()) {
    return { error: "unavailable", missingDependencies: [...core.missingDependencies] };
  }
  const content = core.getCurrentContent();
  const header = core.verified.header;
  const out = { type: content.type, ruleset: header.ruleset.type };
  if (header.ruleset.type === "group") {
    const group = content;
    if (header.meta?.type === "account") out.account = true;
    out.value = content.toJSON();
    const members = [...group.getAllMemberKeysSet()];
    if (group.get("everyone") !== undefined) members.push("everyone");
    out.roles = {};
    out.roleEntries = {};
    for (const m of members) {
      const role = group.roleOf(m);
      if (role !== undefined) out.roles[m] = role;
      const entry = group.get(m);
      if (entry !== undefined) out.roleEntries[m] = entry;
    }
  } else {
    out.value = content.toJSON();
    if (input.verdicts === true) out.transactions = transactionVerdicts(core);
  }
  return out;
}

const result = {};
for (const id of input.read) {
  try {
    result[id] = describe(id);
    if (importErrors[id]) result[id].importErrors = importErrors[id];
  } catch (e) {
    result[id] = { error: String(e?.message ?? e) };
  }
}
// Exit only once stdout is flushed: a pipe takes 64 KiB at a time.
process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(0));
