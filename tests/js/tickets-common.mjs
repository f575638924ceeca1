// The schemas of issue 7 in jazz-tools 0.20.19, shared by tickets-worker.mjs, tickets-client.mjs and
// schema-roundtrip.mjs. Each mirrors a Rust `#[derive(CoMap)]`:
//   - Event, Ticket and the book-event-ticket route: examples/src/event_tickets.rs;
//   - Sample (one field of every kind the derive supports), Venue and Status:
//     tests/src/tickets_peer.rs.
// Importing peer-common.mjs first sends every console method and cojson's logger to stderr.
import { toStderr, readJsonFromStdin, printJsonLine } from "./peer-common.mjs";
import { experimental_defineRequest, co, z } from "jazz-tools";

export { toStderr, readJsonFromStdin, printJsonLine };

// ---- the seed's schemas: mutually recursive, so Ticket reaches Event through a getter ----
export const Ticket = co.map({
  account: co.account(),
  get event() {
    return Event;
  },
});
export const Event = co.map({
  name: z.string(),
  capacity: z.number(),
  reservations: co.list(Ticket),
});

/** The path of the route (`#[jazz_request(url = "/api/book-event-ticket", …)]`). */
export const BOOK_EVENT_TICKET_PATH = "/api/book-event-ticket";

/** The seed's route, for a worker at `baseUrl` (only `send` uses the URL). */
export function bookEventTicket(baseUrl, workerId) {
  return experimental_defineRequest({
    url: baseUrl + BOOK_EVENT_TICKET_PATH,
    workerId,
    request: { schema: { event: Event }, resolve: { event: { reservations: true } } },
    response: { schema: { ticket: Ticket }, resolve: { ticket: true } },
  });
}

/** What a client shows of a booked ticket: ids as stored, and whether jazz-tools loaded it. */
export function ticketView(ticket) {
  return {
    id: ticket.$jazz.id,
    loaded: ticket.$isLoaded === true,
    account: ticket.$jazz.raw.get("account") ?? null,
    event: ticket.$jazz.raw.get("event") ?? null,
    owner: ticket.$jazz.owner.$jazz.id,
  };
}

// ---- every field kind of #[derive(CoMap)] (Rust: `Sample` in tests/src/tickets_peer.rs) ----
export const Status = z.enum(["open", "sold-out", "closed"]);
export const Venue = co.map({ city: z.string(), seats: z.number() });
export const Sample = co.map({
  title: z.string(), // String
  seatsLeft: z.number(), // u32
  maxSafe: z.number(), // i64
  minSafe: z.number(), // i64
  delta: z.number(), // i32
  ratio: z.number(), // f64
  negativeZero: z.number(), // f64
  open: z.boolean(), // bool
  subtitle: z.string().optional(), // Option<String>
  rating: z.number().optional(), // Option<f64>
  status: Status, // #[derive(CoEnum)]
  meta: z.object({ tier: z.string(), priceCents: z.number(), perks: z.array(z.string()) }), // Json<Map>
  extra: z.json(), // serde_json::Value
  where: Venue, // Ref<Venue>, #[co(rename = "where")]
  tags: co.list(z.string()), // CoList<String>
  venues: co.list(Venue), // CoList<Ref<Venue>>
  host: co.account(), // Account
  team: co.group(), // Group
  backup: Venue.optional(), // Option<Ref<Venue>>
});

/** Loads a Sample with everything it references. */
export const SAMPLE_RESOLVE = {
  where: true,
  tags: true,
  venues: { $each: true },
  host: true,
  team: true,
  backup: true,
};

const venueView = (venue) => ({ id: venue.$jazz.id, city: venue.city, seats: venue.seats });

/**
 * A loaded Sample as plain JSON: every present key (an absent optional key is left out, as
 * in the CoMap), references expanded to {id, …fields}, lists to arrays. `keys` lists the
 * keys the CoMap holds, `isMinusZero` the number fields that hold -0 (JSON shows it as 0),
 * and `schemaIssues` the plain fields whose value the zod schema refuses (jazz-tools does not
 * validate what it reads, so this is checked here).
 */
export function sampleView(sample) {
  const out = { id: sample.$jazz.id };
  for (const key of Object.keys(Sample.shape)) {
    if (!sample.$jazz.has(key)) continue;
    const value = sample[key];
    switch (key) {
      case "where":
      case "backup":
        out[key] = value?.$isLoaded ? venueView(value) : { unloaded: sample.$jazz.raw.get(key) };
        break;
      case "tags":
        out[key] = [...value];
        break;
      case "venues":
        out[key] = [...value].map(venueView);
        break;
      case "host":
      case "team":
        out[key] = { id: value.$jazz.id };
        break;
      default:
        out[key] = value;
    }
  }
  out.keys = Object.keys(sample.$jazz.raw.toJSON()).sort();
  out.isMinusZero = Object.keys(Sample.shape).filter((k) => Object.is(sample[k], -0));
  out.schemaIssues = [];
  for (const [key, schema] of Object.entries(Sample.shape)) {
    if (schema.collaborative) continue;
    const parsed = schema.safeParse(sample[key]);
    if (!parsed.success) out.schemaIssues.push({ key, issues: parsed.error.issues });
  }
  return out;
}
