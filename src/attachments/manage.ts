import type { Db } from "../db/types.js";
import type { Caller } from "../identity/tokens.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import { isUuid, requireUuid } from "../shared/ids.js";
import { quote } from "../shared/quote.js";
import type { AttachmentsContext } from "./context.js";
import { deleteEntry, isAvatar, lockOwnEntry, usedBytes } from "./repo.js";

/** Deletes one of the caller's attachments (or abandons an unfinished upload): NOT_FOUND to everyone at once, bytes purged by the job. */
export async function deleteAttachment(ctx: AttachmentsContext, caller: Caller, id: string): Promise<void> {
  const key = requireUuid("id", id);
  await ctx.pool.transaction(async (tx) => {
    const entry = await lockOwnEntry(tx, caller.userId, key, "update");
    if (!entry) throw new NotFoundError("id: no such attachment or unfinished upload of yours");
    if (entry.attachmentId && (await isAvatar(tx, caller.userId, entry.attachmentId))) {
      throw new FailedPreconditionError("id: this attachment is your avatar; clear or change avatar_ref (UpdateProfile) before deleting it");
    }
    await deleteEntry(tx, entry.uploadId);
  });
}

export async function attachmentUsage(ctx: AttachmentsContext, caller: Caller): Promise<number> {
  return usedBytes(ctx.pool, caller.userId);
}

/**
 * Checks that `ref` names one of the owner's live attachments and keeps it from being deleted
 * until the transaction ends (the profile update that makes it the avatar). Returns the id in
 * its stored form. Used by the identity domain for avatar_ref.
 */
export async function requireOwnAttachment(tx: Db, owner: string, ref: string, field: string): Promise<string> {
  const refused = `${field} must be the attachment_id of one of your own live attachments (AttachmentsService), got ${quote(ref)}`;
  if (!isUuid(ref)) throw new InvalidArgumentError(refused);
  const id = ref.toLowerCase();
  const entry = await lockOwnEntry(tx, owner, id, "share");
  if (!entry || entry.attachmentId !== id) throw new InvalidArgumentError(refused);
  return id;
}
