import type { Db } from "../db/types.js";
import { recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";
import { devicesOfRefs } from "../key-packages/repo.js";
import type { WelcomeFraming } from "../mls/framing.js";
import { requestStates } from "../privacy/consent.js";
import { InvalidArgumentError } from "../shared/errors.js";
import { insertWelcome } from "./repo.js";

export interface WelcomeTarget {
  userId: string;
  deviceId: number;
}

/**
 * The devices a Welcome goes to: the owners of the KeyPackageRefs it names, each a
 * handed-out package of a device of a user who is a member once the change is applied;
 * every user added must have at least one device welcomed.
 */
export async function welcomeTargets(db: Db, welcome: WelcomeFraming, membersAfter: ReadonlySet<string>, added: Iterable<string>): Promise<WelcomeTarget[]> {
  const owners = new Map((await devicesOfRefs(db, welcome.newMembers)).map((o) => [o.ref.toString("hex"), o]));
  const targets: WelcomeTarget[] = [];
  for (const [i, ref] of welcome.newMembers.entries()) {
    const owner = owners.get(Buffer.from(ref).toString("hex"));
    if (!owner) throw new InvalidArgumentError(`welcome: secrets[${i}] names a key package this server did not hand out`);
    if (!membersAfter.has(owner.userId)) throw new InvalidArgumentError(`welcome: secrets[${i}] names a device of a user who is not a member of the chat`);
    if (!targets.some((t) => t.userId === owner.userId && t.deviceId === owner.deviceId)) targets.push({ userId: owner.userId, deviceId: owner.deviceId });
  }
  for (const userId of added) {
    if (!targets.some((t) => t.userId === userId)) throw new InvalidArgumentError("welcome: every user added needs at least one of their devices welcomed");
  }
  return targets;
}

/**
 * Stores the Welcome for its devices and records one durable mls_welcome event per device, in
 * the commit's transaction (after the membership change, so that the event says whether the
 * chat is a request for its user). A user who declined the chat gets no event, and the Welcome
 * is kept for them only as for a device that never asks (ListWelcomes of that chat by id).
 */
export async function routeWelcome(db: Db, chatId: string, commitSeq: number, welcome: Uint8Array, targets: readonly WelcomeTarget[]): Promise<void> {
  await insertWelcome(db, chatId, commitSeq, welcome, targets);
  const requests = await requestStates(db, chatId, [...new Set(targets.map((t) => t.userId))]);
  await recordEvents(
    db,
    targets
      .filter((t) => requests.get(t.userId) !== "declined")
      .map((t) => ({
        kind: DurableKind.mlsWelcome,
        chatId,
        seq: commitSeq,
        data: requests.get(t.userId) === "open" ? { device: t.deviceId, request: true } : { device: t.deviceId },
        recipients: [t.userId],
      })),
  );
}
