/**
 * The consent and block checks other domains call from the one place each flow decides
 * delivery: messaging after a send and in receipts, realtime for typing and call signals,
 * groups when adding members. Each answers "who may get this" so a blocked or not-yet-
 * accepted user gets exactly what they would get from someone offline who never reads.
 */
import type { Db } from "../db/types.js";
import { BoundedMap } from "../shared/bounded-map.js";
import { GroupAddPolicy } from "./model.js";
import { addContact, chatAudience, contactAudience, hasAccepted, hasBlocked, notBlocking, type Shared } from "./relations-repo.js";
import { openRequest, recordDirectSend } from "./requests-repo.js";
import { readSettings } from "./settings-repo.js";

export { chatAudience, contactAudience, notBlocking, type Shared };

/** (chat, sender) pairs whose consent effects are recorded: a sender's later sends in the chat change nothing more. */
const recordedSenders = new BoundedMap<string, true>(100_000);

/**
 * For a message being stored: writing accepts the peer, a reply accepts a request, and a first
 * message to someone who has not accepted the sender makes the chat a request for them.
 * Once per (chat, sender) per process; the statement is idempotent.
 */
export async function messageStored(db: Db, chatId: string, senderId: string): Promise<void> {
  const key = `${chatId}:${senderId}`;
  if (recordedSenders.get(key)) return;
  await recordDirectSend(db, chatId, senderId);
  recordedSenders.set(key, true);
}

/** Forgets recorded senders of a user (their relations changed: a block, an unblock, a decline). */
export function relationsChanged(): void {
  recordedSenders.clear();
}

/** How `adderId` adding `memberId` to a group goes: refused (as for someone who does not take adds), a request, or a plain add. */
export type GroupAddDecision = "refused" | "request" | "member";

/**
 * Group adds: a blocker never gets a group add from the user they blocked (refused, as a
 * NOBODY policy would refuse it); NOBODY refuses everyone; CONTACTS lets accepted contacts
 * add directly and makes anyone else's add a request; EVERYONE adds directly.
 */
export async function decideGroupAdd(db: Db, adderId: string, memberId: string): Promise<GroupAddDecision> {
  if (await hasBlocked(db, memberId, adderId)) return "refused";
  const settings = await readSettings(db, memberId);
  const policy = settings?.settings.groupAdds ?? GroupAddPolicy.Contacts;
  if (policy === GroupAddPolicy.Nobody) return "refused";
  if (policy === GroupAddPolicy.Everyone) return "member";
  return (await hasAccepted(db, memberId, adderId)) ? "member" : "request";
}

/** Records a group add that went through: the adder accepts the member; a request add opens a request. */
export async function groupAddRecorded(db: Db, chatId: string, adderId: string, memberId: string, decision: Exclude<GroupAddDecision, "refused">): Promise<void> {
  await addContact(db, adderId, memberId);
  if (decision === "request") await openRequest(db, chatId, memberId, adderId);
}
