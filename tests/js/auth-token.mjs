// jazz-tools 0.20.19's generateAuthToken / authenticateRequest, driven from the Rust tests.
//
// stdin: {"generateFor"?: "sealerSecret_z…/signerSecret_z…",   // make a token as this agent's account
//         "pieces"?: [content messages…],                      // imported into the verifying account
//         "authenticate"?: [{"authorization"?: "Jazz …",       // header value (absent: no header)
//                            "expiration"?: ms}]}               // default: jazz-tools' 60 s
// stdout: one JSON line
//   {"generated"?: {"token": "signature_z…~co_z…~<ms>", "accountID": "co_z…",
//                   "pieces": [the account's content pieces, exportCoValue(Account, id)]},
//    "results": [for each `authenticate` entry: {"account": "co_z…"} | {"error": {message, details?}} | {}]}
//
// Tokens are checked at the real Date.now(). The verifier is a fresh account with no peers:
// it knows exactly the accounts in `pieces` (plus the one made for `generateFor`).
import { LocalNode } from "cojson";
import { NapiCrypto } from "cojson/crypto/NapiCrypto";
import { Account, authenticateRequest, exportCoValue, generateAuthToken, importContentPieces } from "jazz-tools";
import { printJsonLine, readJsonFromStdin } from "./peer-common.mjs";

const crypto = await NapiCrypto.create();

async function accountFor(agentSecret, name) {
  const { node } = await LocalNode.withNewlyCreatedAccount({ creationProps: { name }, crypto, initialAgentSecret: agentSecret, peers: [] });
  return Account.fromNode(node);
}

const input = await readJsonFromStdin();
const verifier = await accountFor(crypto.newRandomAgentSecret(), "Verifier");
importContentPieces(input.pieces ?? [], verifier);

const out = { results: [] };
if (typeof input.generateFor === "string") {
  const account = await accountFor(input.generateFor, "Token maker");
  const token = generateAuthToken(account);
  const pieces = await exportCoValue(Account, account.$jazz.id, { loadAs: account });
  importContentPieces(pieces ?? [], verifier);
  out.generated = { token, accountID: account.$jazz.id, pieces: pieces ?? [] };
}

for (const check of input.authenticate ?? []) {
  const headers = check.authorization === undefined ? {} : { Authorization: check.authorization };
  const request = new Request("http://localhost/api/auth", { headers });
  const { account, error } = await authenticateRequest(request, { loadAs: verifier, expiration: check.expiration });
  if (error) out.results.push({ error: { message: error.message, details: error.details } });
  else if (account) out.results.push({ account: account.$jazz.id });
  else out.results.push({});
}

printJsonLine(out, () => process.exit(0));
