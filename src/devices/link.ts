import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { sql } from "slonik";
import { fingerprintHmac } from "../identity/fingerprint.js";
import { assertLength, assertValidEd25519Key, DEVICE_FINGERPRINT_BYTES, ED25519_SIGNATURE_BYTES } from "../identity/keys.js";
import type { Caller } from "../identity/tokens.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, ResourceExhaustedError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import { assertDeviceId, assertDeviceName, requireDeviceCertificate } from "./certificates.js";
import type { DevicesContext } from "./context.js";
import { recordDevicesChanged } from "./events.js";
import { DEVICE_LINK_TTL_MS, LINK_SECRET_BYTES, MAX_PENDING_LINKS, MAX_PROVISIONING_BLOB_BYTES } from "./limits.js";
import { approveLink, countPendingLinks, insertLink, lockLink } from "./link-repo.js";
import type { Device } from "./model.js";
import { advanceNextDeviceId, insertDevice, lockAccountDevices } from "./repo.js";

/** The one answer for an unknown id, a wrong secret, an expired or a used link. */
export const UNKNOWN_LINK = "unknown or expired device link";
/** Compared against when the link does not exist, so timing does not tell. */
const DECOY_HASH = Buffer.alloc(32);

export interface BeginLinkInput {
  deviceSigningKey: Uint8Array;
  deviceFingerprint: Uint8Array;
  /** The caller's network address: only its keyed hash is stored, never logged. */
  source: string;
}

/** Starts a link for a new device (no account yet): bounded per source and in all. */
export async function beginDeviceLink(ctx: DevicesContext, input: BeginLinkInput): Promise<{ linkId: string; linkSecret: Buffer; expiresAt: Date }> {
  assertValidEd25519Key("device_signing_key", input.deviceSigningKey);
  assertLength("device_fingerprint", input.deviceFingerprint, DEVICE_FINGERPRINT_BYTES);
  const sourceHmac = fingerprintHmac(ctx.fingerprintSecret, Buffer.from(`link-source:${input.source}`, "utf8"));
  const retryAfterMs = ctx.beginLimiter.take(sourceHmac.toString("base64"));
  if (retryAfterMs > 0) throw new ResourceExhaustedError("too many device links begun from this address; retry later", retryAfterMs);

  const linkId = randomUUID();
  const linkSecret = randomBytes(LINK_SECRET_BYTES);
  const expiresAt = new Date(Date.now() + DEVICE_LINK_TTL_MS);
  await ctx.pool.transaction(async (tx) => {
    // Begins run one at a time, so the bounds hold exactly across instances.
    await tx.query(sql.unsafe`/* lockDeviceLinkBegin */ SELECT pg_advisory_xact_lock(hashtext('cyphr_device_links'))`);
    const pending = await countPendingLinks(tx, sourceHmac);
    if (pending.fromSource >= ctx.pendingLinksPerSource) {
      throw new ResourceExhaustedError(`at most ${ctx.pendingLinksPerSource} pending device links per address; retry later`, 60_000);
    }
    if (pending.total >= MAX_PENDING_LINKS) throw new ResourceExhaustedError("too many pending device links; retry later", 60_000);
    await insertLink(tx, {
      id: linkId,
      secretHash: hashLinkSecret(linkSecret),
      signingKey: input.deviceSigningKey,
      fingerprintHmac: fingerprintHmac(ctx.fingerprintSecret, input.deviceFingerprint),
      sourceHmac,
      expiresAt,
    });
  });
  return { linkId, linkSecret, expiresAt };
}

export interface ApproveLinkInput {
  linkId: string;
  linkSecret: Uint8Array;
  deviceId: number;
  certificate: Uint8Array;
  provisioningBlob: Uint8Array;
  encryptedName: Uint8Array;
}

/**
 * An existing device of the caller's account approves a link: checks the secret, the
 * id the certificate was signed for, MAX_DEVICES and the certificate, then adds the
 * device, records the approval for the waiter and tells the account's peers, in one transaction.
 */
export async function approveDeviceLink(ctx: DevicesContext, caller: Caller, input: ApproveLinkInput): Promise<Device> {
  const linkId = requireLinkRef(input.linkId, input.linkSecret);
  assertDeviceId("device_id", input.deviceId);
  assertLength("certificate", input.certificate, ED25519_SIGNATURE_BYTES);
  if (input.provisioningBlob.length < 1 || input.provisioningBlob.length > MAX_PROVISIONING_BLOB_BYTES) {
    throw new InvalidArgumentError(`provisioning_blob must be 1 to ${MAX_PROVISIONING_BLOB_BYTES} bytes, got ${input.provisioningBlob.length}`);
  }
  assertDeviceName("encrypted_name", input.encryptedName);

  const device = await ctx.pool.transaction(async (tx) => {
    const account = await lockAccountDevices(tx, caller.userId);
    const link = await lockLink(tx, linkId);
    const secretMatches = timingSafeEqual(hashLinkSecret(input.linkSecret), link?.secret_hash ?? DECOY_HASH);
    if (!link || !secretMatches || link.expired || link.approved) throw new NotFoundError(UNKNOWN_LINK);
    if (account.deviceCount >= ctx.maxDevices) {
      throw new FailedPreconditionError(`the account already has the maximum of ${ctx.maxDevices} devices; remove one first`);
    }
    if (input.deviceId !== account.nextDeviceId) {
      throw new FailedPreconditionError(
        `device_id ${input.deviceId} is not the account's next device id ${account.nextDeviceId}; sign the certificate for ${account.nextDeviceId}`,
      );
    }
    requireDeviceCertificate("certificate", input.certificate, {
      cyphrId: account.cyphrId,
      deviceId: input.deviceId,
      deviceSigningKey: link.signing_key,
      identityPublicKey: account.identityPublicKey,
    });
    const added = await insertDevice(tx, {
      userId: caller.userId,
      deviceId: input.deviceId,
      signingKey: link.signing_key,
      certificate: input.certificate,
      fingerprintHmac: link.fingerprint_hmac,
      encryptedName: input.encryptedName,
    });
    await advanceNextDeviceId(tx, caller.userId, input.deviceId);
    await approveLink(tx, linkId, {
      cyphrId: account.cyphrId,
      userId: caller.userId,
      deviceId: input.deviceId,
      certificate: input.certificate,
      provisioningBlob: input.provisioningBlob,
    });
    await recordDevicesChanged(tx, caller.userId, account.cyphrId);
    return added;
  });
  ctx.waiters.wake(linkId);
  return device;
}

export function hashLinkSecret(secret: Uint8Array): Buffer {
  return createHash("sha256").update(secret).digest();
}

/** Checks link_id and link_secret as every link call takes them; returns the id lower-cased. */
export function requireLinkRef(linkId: string, linkSecret: Uint8Array): string {
  const id = requireUuid("link_id", linkId);
  assertLength("link_secret", linkSecret, LINK_SECRET_BYTES);
  return id;
}
