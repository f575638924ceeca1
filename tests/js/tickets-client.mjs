// jazz-tools 0.20.19 buyers booking through any worker's book-event-ticket route (tickets-common.mjs):
// each buyer is a fresh account, all buyers send at once (Promise.all).
//
// stdin:  {"baseUrl": "http://127.0.0.1:…", "workerAccountID": "co_z…", "workerPieces": [...],
//          "eventID": "co_z…", "eventPieces": [...], "buyers"?: 1}
// stdout: ONE JSON line
//   {"results": [{"buyer": "co_z…" (the buyer's account),
//                 "ok": {"ticket": {"id", "loaded", "account", "event", "owner"}, "eventName"}} |
//                {"buyer": "co_z…", "error": {"message", "code", "details", "isJazzRequestError"}}]}
//   `ticket` is the response's ticket as jazz-tools loaded it (ids as stored in the CoMap);
//   `eventName` is read through ticket.event, loaded from the buyer's node afterwards.
import { toStderr, readJsonFromStdin, printJsonLine, Event, Ticket, bookEventTicket, ticketView } from "./tickets-common.mjs";
import { importContentPieces } from "jazz-tools";
import { newAccount } from "./generator/lib.mjs";

const input = await readJsonFromStdin();
for (const key of ["baseUrl", "workerAccountID", "eventID"]) {
  if (typeof input[key] !== "string") throw new Error(`input.${key} must be a string`);
}
for (const key of ["workerPieces", "eventPieces"]) {
  if (!Array.isArray(input[key])) throw new Error(`input.${key} must be an array`);
}

const route = bookEventTicket(input.baseUrl, input.workerAccountID);

async function buy(i) {
  const buyer = await newAccount(`Buyer ${i}`);
  importContentPieces(structuredClone(input.workerPieces), buyer);
  importContentPieces(structuredClone(input.eventPieces), buyer);
  const event = await Event.load(input.eventID, { loadAs: buyer, resolve: { reservations: true } });
  if (!event.$isLoaded) throw new Error(`event ${input.eventID} could not be loaded from eventPieces`);
  try {
    const { ticket } = await route.send({ event }, { owner: buyer });
    const withEvent = await Ticket.load(ticket.$jazz.id, { loadAs: buyer, resolve: { event: true } });
    return { buyer: buyer.$jazz.id, ok: { ticket: ticketView(ticket), eventName: withEvent.$isLoaded ? withEvent.event.name : null } };
  } catch (e) {
    if (!e?.isJazzRequestError) toStderr(`tickets-client: buyer ${i} failed:`, e);
    return {
      buyer: buyer.$jazz.id,
      error: { message: String(e?.message ?? e), code: e?.code ?? null, details: e?.details ?? null, isJazzRequestError: Boolean(e?.isJazzRequestError) },
    };
  }
}

const buyers = input.buyers ?? 1;
const results = await Promise.all(Array.from({ length: buyers }, (_, i) => buy(i)));
// Exit once flushed (fetch's keep-alive sockets would otherwise keep Node running a while).
printJsonLine({ results }, () => process.exit(0));
