// Unique CoValues (issue 22) in jazz-tools 0.20.19, shared by unique-ids.mjs and
// unique-race.mjs. Each schema mirrors a Rust one of tests/tests/unique_covalues.rs and
// unique_race_live.rs:
//   - Settings: `#[derive(CoMap)] struct Settings { label: String, js: Option<String>,
//     rust: Option<String> }` (who wrote an init leaves its mark in `js` or `rust`);
//   - Tags: `CoList<String>`;
//   - the unique-settings route of the Rust worker (unique_race_live.rs).
// Importing peer-common.mjs first sends every console method and cojson's logger to stderr.
import { toStderr, readJsonFromStdin, printJsonLine } from "./peer-common.mjs";
import { co, experimental_defineRequest, z } from "jazz-tools";

export { toStderr, readJsonFromStdin, printJsonLine };

export const Settings = co.map({ label: z.string(), js: z.string().optional(), rust: z.string().optional() });
export const Tags = co.list(z.string());

/** The schema of a case's kind ("map" or "list"). */
export function schemaOf(kind) {
  if (kind === "map") return Settings;
  if (kind === "list") return Tags;
  throw new Error(`unknown kind ${kind}`);
}

/** What a loaded Settings or Tags holds, as plain JSON (absent fields left out). */
export function view(value) {
  if (Array.isArray(value)) return [...value];
  const out = { label: value.label };
  if (value.js !== undefined) out.js = value.js;
  if (value.rust !== undefined) out.rust = value.rust;
  return out;
}

/** The path of the Rust worker's route (`#[jazz_request(url = "/api/unique-settings")]`). */
export const UNIQUE_SETTINGS_PATH = "/api/unique-settings";

/**
 * The Rust worker's route: get or create the Settings unique by `key` in the group `owner`
 * (init `{label, rust: mark}`), answering what it reads, in plain fields (no reference: the
 * caller must not receive the value itself).
 */
export function uniqueSettingsRoute(baseUrl, workerId) {
  return experimental_defineRequest({
    url: baseUrl + UNIQUE_SETTINGS_PATH,
    workerId,
    request: { schema: { owner: z.string(), key: z.string(), label: z.string(), mark: z.string() } },
    response: { schema: { id: z.string(), label: z.string(), js: z.string().optional(), rust: z.string().optional() } },
  });
}
