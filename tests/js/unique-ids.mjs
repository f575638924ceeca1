// Unique CoValues in jazz-tools 0.20.19, both ways, on one local account (no sync server):
// the ids it computes and creates for unique keys, and what it reads of unique values made
// in Rust. Schemas: unique-common.mjs.
//
// stdin: {"cases": [{"kind": "map"|"list", "unique": <key>, "owner": "account"|"group"}],
//         "rust"?: {"groupID", "pieces": [...], "cases": [{"kind", "unique"}]}}
//   For each case, on a new account and a new group of it (everyone: reader):
//     found   = <Schema>.findUnique(unique, ownerID): the id jazz-tools computes;
//     created = the id of <Schema>.getOrCreateUnique({value, unique, owner}) once loaded, or
//               null when it is not (jazz-tools drops a falsy `unique` when creating);
//     view    = what it reads of the value created (Settings {label: "js <n>", js: "<n>"},
//               Tags ["js", "<n>"], n the case's index).
//   With "rust": the pieces are imported, and each of its cases is read with
//     <Schema>.loadUnique(unique, groupID) -> rustReads: [{"id", "view"} | {"id": null}].
// stdout: ONE JSON line {"accountID", "groupID", "cases": [{"found", "created", "view"}],
//   "rustReads"?, "pieces": [the account, the group, every value created]}.
import { readJsonFromStdin, printJsonLine, schemaOf, view } from "./unique-common.mjs";
import { Account, Group, exportCoValue, importContentPieces } from "jazz-tools";
import { newAccount } from "./generator/lib.mjs";

const input = await readJsonFromStdin();
const me = await newAccount("Unique peer");
const group = Group.create({ owner: me });
group.addMember("everyone", "reader");

const cases = [];
const made = [];
for (const [n, { kind, unique, owner }] of input.cases.entries()) {
  const Schema = schemaOf(kind);
  const ownerValue = owner === "account" ? me : group;
  const found = Schema.findUnique(unique, ownerValue.$jazz.id, me);
  const value = kind === "map" ? { label: `js ${n}`, js: `${n}` } : ["js", `${n}`];
  const got = await Schema.getOrCreateUnique({ value, unique, owner: ownerValue });
  const created = got.$isLoaded ? got.$jazz.id : null;
  if (created) made.push({ Schema, id: created });
  cases.push({ found, created, view: got.$isLoaded ? view(got) : null });
}

const out = { accountID: me.$jazz.id, groupID: group.$jazz.id, cases };
if (input.rust) {
  importContentPieces(structuredClone(input.rust.pieces), me);
  out.rustReads = [];
  for (const { kind, unique } of input.rust.cases) {
    const got = await schemaOf(kind).loadUnique(unique, input.rust.groupID, { loadAs: me });
    out.rustReads.push(got.$isLoaded ? { id: got.$jazz.id, view: view(got) } : { id: null });
  }
}

out.pieces = [
  ...((await exportCoValue(Account, me.$jazz.id, { loadAs: me })) ?? []),
  ...((await exportCoValue(Group, group.$jazz.id, { loadAs: me })) ?? []),
];
for (const { Schema, id } of made) {
  const pieces = await exportCoValue(Schema, id, { loadAs: me });
  if (!pieces) throw new Error(`${id} could not be exported`);
  out.pieces.push(...pieces);
}
printJsonLine(out, () => process.exit(0));
