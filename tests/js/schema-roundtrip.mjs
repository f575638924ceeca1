// jazz-tools 0.20.19 reading and writing CoValues of the `Sample` schema (tickets-common.mjs), the
// same schema as the Rust `#[derive(CoMap)] Sample` of tests/src/tickets_peer.rs.
//
// stdin: {"agentSecret"?: "…",              // this jazz-tools account (a fresh one when absent)
//         "pieces"?: [...],                // content imported first (e.g. made in Rust)
//         "read"?: "co_z…",                // a Sample to load with SAMPLE_RESOLVE -> "read"
//         "edit"?: {"set"?: {key: value}, "delete"?: [key], "pushTags"?: [string],
//                   "pushVenues"?: [{city, seats}]},
//                  // applied to the read Sample through the schema ($jazz.set / $jazz.delete /
//                  // $jazz.push; a `where`/`backup` value {city, seats} is a new Venue in the
//                  // Sample's group) -> "edited"
//         "create"?: {<init>},             // a new Sample -> "created"
//         "corrupt"?: [{"key", "value"} | {"key", "delete": true} | {"pushTag": <any>}]}
//                  // for each, a new Sample from `create`, then ONE raw cojson write that the
//                  // schema would not allow -> "corrupted": [id, …] in the same order
// Writes through the schema are validated strictly; raw writes are not.
// <init>: the Sample's plain fields as JSON; `where`/`backup` and the items of `venues` are
//   {city, seats} (new Venues), `tags` an array of strings; `host` is this account and `team` a
//   new group. Everything is owned by one new group where everyone is writer.
// stdout: ONE JSON line {"account": "co_z…", "read"?, "edited"?, "created"? (sampleView of
//   tickets-common.mjs), "corrupted"?, "pieces": [this account, then exportCoValue of every Sample
//   read, created or corrupted, with SAMPLE_RESOLVE (best effort: what a corrupted field names is
//   skipped)]}
import { readJsonFromStdin, printJsonLine, Sample, Venue, SAMPLE_RESOLVE, sampleView } from "./tickets-common.mjs";
import { Account, Group, exportCoValue, importContentPieces, setDefaultValidationMode } from "jazz-tools";
import { newAccount } from "./generator/lib.mjs";

// Writes through the schema throw when a value does not fit it (the default only warns).
setDefaultValidationMode("strict");

const input = await readJsonFromStdin();
const me = await newAccount("Schema peer", input.agentSecret);
if (Array.isArray(input.pieces)) importContentPieces(structuredClone(input.pieces), me);

const out = { account: me.$jazz.id };
const exported = [];

async function load(id) {
  const sample = await Sample.load(id, { loadAs: me, resolve: SAMPLE_RESOLVE });
  if (!sample.$isLoaded) throw new Error(`Sample ${id} could not be loaded (${sample.$jazz?.loadingState ?? "no state"})`);
  return sample;
}

if (typeof input.read === "string") {
  const sample = await load(input.read);
  out.read = sampleView(sample);
  exported.push(sample.$jazz.id);
  if (input.edit) {
    const { set = {}, delete: deleted = [], pushTags = [], pushVenues = [] } = input.edit;
    const group = sample.$jazz.owner;
    for (const [key, value] of Object.entries(set)) {
      const isVenue = key === "where" || key === "backup";
      sample.$jazz.set(key, isVenue ? Venue.create(value, group) : value);
    }
    for (const key of deleted) sample.$jazz.delete(key);
    if (pushTags.length) sample.tags.$jazz.push(...pushTags);
    for (const venue of pushVenues) sample.venues.$jazz.push(Venue.create(venue, group));
    out.edited = sampleView(await load(sample.$jazz.id));
  }
}

/** A new Sample from `init`, in a new group everyone may write. */
function create(init) {
  const group = Group.create(me);
  group.addMember("everyone", "writer");
  const venue = (v) => Venue.create(v, group);
  const value = {
    ...init,
    where: venue(init.where),
    tags: Sample.shape.tags.create(init.tags, group),
    venues: Sample.shape.venues.create(init.venues.map(venue), group),
    host: me,
    team: Group.create(me),
  };
  if (init.backup !== undefined) value.backup = venue(init.backup);
  return Sample.create(value, group);
}

if (input.create) {
  const sample = create(input.create);
  out.created = sampleView(await load(sample.$jazz.id));
  exported.push(sample.$jazz.id);
  if (Array.isArray(input.corrupt)) {
    out.corrupted = [];
    for (const change of input.corrupt) {
      const bad = create(input.create);
      if (change.pushTag !== undefined) bad.tags.$jazz.raw.append(change.pushTag);
      else if (change.delete) bad.$jazz.raw.delete(change.key);
      else bad.$jazz.raw.set(change.key, change.value);
      out.corrupted.push(bad.$jazz.id);
      exported.push(bad.$jazz.id);
    }
  }
}

out.pieces = (await exportCoValue(Account, me.$jazz.id, { loadAs: me })) ?? [];
for (const id of exported) {
  // Best effort: a corrupted reference must not stop the export of the rest.
  const pieces = await exportCoValue(Sample, id, { loadAs: me, resolve: SAMPLE_RESOLVE, bestEffortResolution: true });
  if (!pieces) throw new Error(`Sample ${id} could not be exported`);
  out.pieces.push(...pieces);
}
printJsonLine(out, () => process.exit(0));
