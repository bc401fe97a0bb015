/**
 * The consent and block checks other domains call from the one place each flow decides
 * delivery: messaging after a send and in receipts, realtime for typing and call signals,
 * groups and MLS commits when adding members, MLS chats when one starts. Each answers "who
 * may get this" so a blocked or not-yet-accepted user gets exactly what they would get from
 * someone offline who never reads.
 */
import type { Db } from "../db/types.js";
import { BoundedMap } from "../shared/bounded-map.js";
import { PermissionDeniedError } from "../shared/errors.js";
import { quote } from "../shared/quote.js";
import { GroupAddPolicy } from "./model.js";
import { addContact, chatAudience, hasAccepted, hasBlocked, notBlocking, type Shared } from "./relations-repo.js";
import { openRequest, recordDirectSend, requestStates } from "./requests-repo.js";
import { readSettings } from "./settings-repo.js";

export { chatAudience, notBlocking, requestStates, type Shared };

/** (chat, sender) pairs whose consent effects are recorded: a sender's later sends in the chat change nothing more. */
const recordedSenders = new BoundedMap<string, true>(100_000);
/** (chat, sender) pairs whose consent statement is running; at most as many as sends in flight. */
const recording = new Map<string, Promise<string | null>>();

/**
 * For a message being stored: writing accepts the peer, a reply accepts a request, and a first
 * message to someone who has not accepted the sender makes the chat a request for them.
 * Once per (chat, sender) per process; the statement is idempotent. Answers the peer the
 * sender accepted by this message, if it is the first time.
 */
export async function messageStored(db: Db, chatId: string, senderId: string): Promise<string | null> {
  const key = `${chatId}:${senderId}`;
  if (recordedSenders.get(key)) return null;
  // A burst of sends to one chat (a Connect stream starts the next once the previous is
  // queued) records once: the others wait for that statement instead of each writing the same rows.
  const pending = recording.get(key);
  if (pending) return pending.then(() => null);
  const recorded = recordDirectSend(db, chatId, senderId).finally(() => recording.delete(key));
  recording.set(key, recorded);
  const accepted = await recorded;
  recordedSenders.set(key, true);
  return accepted;
}

/**
 * For a direct chat `creatorId` just created (MlsChatsService.CreateMlsChat), in its
 * transaction: as a first message, the creator accepts the peer and the chat is a request
 * for the peer unless the peer accepted the creator; a declined one when the peer blocked the
 * creator, so that it never shows for the blocker (recordDirectSend).
 */
export async function directChatCreated(db: Db, chatId: string, creatorId: string): Promise<string | null> {
  return recordDirectSend(db, chatId, creatorId);
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
async function decideGroupAdd(db: Db, adderId: string, memberId: string): Promise<GroupAddDecision> {
  if (await hasBlocked(db, memberId, adderId)) return "refused";
  const settings = await readSettings(db, memberId);
  const policy = settings?.settings.groupAdds ?? GroupAddPolicy.Contacts;
  if (policy === GroupAddPolicy.Nobody) return "refused";
  if (policy === GroupAddPolicy.Everyone) return "member";
  return (await hasAccepted(db, memberId, adderId)) ? "member" : "request";
}

/** How each user added goes when it goes through: by user id. */
export type GroupAddConsents = Map<string, Exclude<GroupAddDecision, "refused">>;

/**
 * The one rule for every way of adding users to a group (GroupsService.CreateGroup and
 * AddMember, MlsChatsService.CommitMlsChat): decides each add of `added` (Cyphr ID → user
 * id) before anything is written, and refuses the whole change with PERMISSION_DENIED naming
 * the first user who does not take adds from the adder (a block answers as NOBODY does).
 */
export async function requireGroupAdds(db: Db, adderId: string, added: ReadonlyMap<string, string>): Promise<GroupAddConsents> {
  const consents: GroupAddConsents = new Map();
  for (const [cyphrId, userId] of added) {
    const decision = await decideGroupAdd(db, adderId, userId);
    if (decision === "refused") throw new PermissionDeniedError(`${quote(cyphrId)} does not accept group adds from you`);
    consents.set(userId, decision);
  }
  return consents;
}

/** Records a group add that went through: the adder accepts the member; a request add opens a request. */
export async function groupAddRecorded(
  db: Db,
  chatId: string,
  adderId: string,
  memberId: string,
  decision: Exclude<GroupAddDecision, "refused">,
): Promise<void> {
  await addContact(db, adderId, memberId);
  if (decision === "request") await openRequest(db, chatId, memberId, adderId);
}

/** Of `candidates` (members of `chatId`), those it still reaches: not those who declined it (for them it is gone). */
export async function notDeclined(db: Db, chatId: string, candidates: readonly string[]): Promise<string[]> {
  const states = await requestStates(db, chatId, candidates);
  return candidates.filter((u) => states.get(u) !== "declined");
}
