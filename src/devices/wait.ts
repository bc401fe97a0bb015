import { timingSafeEqual } from "node:crypto";
import { DeadlineExceededError, NotFoundError } from "../shared/errors.js";
import type { DevicesContext } from "./context.js";
import { LINK_POLL_MS } from "./limits.js";
import { hashLinkSecret, requireLinkRef, UNKNOWN_LINK } from "./link.js";
import { deleteDeliveredLink, readLink, type WaitedLink } from "./link-repo.js";
import type { LinkApproval } from "./model.js";

export type LinkState = { kind: "pending"; expiresAt: Date } | { kind: "approved"; approval: LinkApproval };

/**
 * The new device's wait: `pending` at once and again every heartbeat interval, then `approved` when a device of the account
 * approves the link on any instance (the row is read every LINK_POLL_MS, or at once when
 * the approval happens here). The link is deleted once the approval has been handed over.
 * Ends NOT_FOUND for an unknown id or a wrong secret, DEADLINE_EXCEEDED when the link expires.
 */
export async function* waitDeviceLink(ctx: DevicesContext, input: { linkId: string; linkSecret: Uint8Array }, signal: AbortSignal): AsyncGenerator<LinkState> {
  const linkId = requireLinkRef(input.linkId, input.linkSecret);
  const secretHash = hashLinkSecret(input.linkSecret);
  let wake: (() => void) | undefined;
  const leave = ctx.waiters.enter(linkId, () => wake?.());
  try {
    let link = await readLink(ctx.pool, linkId);
    if (!link || !timingSafeEqual(secretHash, link.secret_hash) || (link.expired && !approvalOf(link))) {
      throw new NotFoundError(UNKNOWN_LINK);
    }
    let lastSentMs = 0;
    for (;;) {
      const approval = approvalOf(link);
      if (approval) {
        yield { kind: "approved", approval };
        await deleteDeliveredLink(ctx.pool, linkId);
        return;
      }
      if (link.expired) throw new DeadlineExceededError("device link expired");
      // At once, then every heartbeat interval: proxies see a live stream.
      if (Date.now() - lastSentMs >= ctx.heartbeatIntervalMs) {
        lastSentMs = Date.now();
        yield { kind: "pending", expiresAt: link.expires_at };
      }
      const untilExpiry = link.expires_at.getTime() - Date.now();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, Math.min(LINK_POLL_MS, untilExpiry + 1)));
        function done() {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          wake = undefined;
          resolve();
        }
        wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
      signal.throwIfAborted();
      link = await readLink(ctx.pool, linkId);
      // Deleted meanwhile: delivered to another wait of the same link, or swept.
      if (!link) throw new NotFoundError(UNKNOWN_LINK);
    }
  } finally {
    leave();
  }
}

function approvalOf(link: WaitedLink): LinkApproval | null {
  if (link.device_id === null || link.user_id === null || link.cyphr_id === null) return null;
  return {
    cyphrId: link.cyphr_id,
    userId: link.user_id,
    deviceId: link.device_id,
    certificate: link.certificate ?? new Uint8Array(0),
    provisioningBlob: link.provisioning_blob ?? new Uint8Array(0),
  };
}
