import { findDevice } from "../devices/repo.js";
import type { Caller } from "../identity/tokens.js";
import { type CheckedKeyPackage, checkKeyPackage, KeyPackageRejection } from "../mls/key-package.js";
import { ciphersuiteId } from "../mls/suites.js";
import { InvalidArgumentError, ResourceExhaustedError, UnauthenticatedError } from "../shared/errors.js";
import type { KeyPackagesContext } from "./context.js";
import { MAX_UPLOAD_PACKAGES } from "./limits.js";
import { countKeyPackages, deleteLastResort, insertKeyPackages, type KeyPackageCounts, lockDevice, storedRefs } from "./repo.js";

export interface UploadRequest {
  keyPackages: readonly Uint8Array[];
  lastResort: boolean;
}

/**
 * Checks every package of the call against the caller's certified device key, then stores
 * them all or none: a one-time batch within the device's per-suite maximum, or one
 * last-resort package replacing the previous one of its suite.
 */
export async function uploadKeyPackages(ctx: KeyPackagesContext, caller: Caller, req: UploadRequest): Promise<KeyPackageCounts> {
  const n = req.keyPackages.length;
  if (n === 0) throw new InvalidArgumentError("key_packages: at least one key package is required");
  if (n > MAX_UPLOAD_PACKAGES) throw new InvalidArgumentError(`key_packages: at most ${MAX_UPLOAD_PACKAGES} per call (got ${n})`);
  if (req.lastResort && n !== 1) throw new InvalidArgumentError(`key_packages: a last_resort upload carries exactly one key package (got ${n})`);
  const retryAfterMs = ctx.uploadLimiter.take(`${caller.userId}:${caller.deviceId}`);
  if (retryAfterMs > 0) throw new ResourceExhaustedError("too many key package uploads; retry later", retryAfterMs);

  const device = await findDevice(ctx.pool, caller.userId, caller.deviceId);
  if (!device) throw new UnauthenticatedError("this device has been removed");
  const owner = { cyphrId: caller.cyphrId, deviceId: caller.deviceId, signingKey: device.signingKey };
  const now = BigInt(Math.floor(Date.now() / 1000));
  const checked: CheckedKeyPackage[] = [];
  const seen = new Map<string, number>();
  for (const [i, bytes] of req.keyPackages.entries()) {
    const kp = await checkKeyPackage(bytes, owner, ctx.ciphersuites, now).catch((error: unknown) => {
      if (error instanceof KeyPackageRejection) throw new InvalidArgumentError(`key_packages[${i}] ${error.message}`);
      throw error;
    });
    const ref = Buffer.from(kp.ref).toString("hex");
    const first = seen.get(ref);
    if (first !== undefined) throw new InvalidArgumentError(`key_packages[${i}] repeats key_packages[${first}]`);
    seen.set(ref, i);
    checked.push(kp);
  }

  return ctx.pool.transaction(async (tx) => {
    if (!(await lockDevice(tx, caller.userId, caller.deviceId))) throw new UnauthenticatedError("this device has been removed");
    const stored = await storedRefs(
      tx,
      checked.map((c) => c.ref),
    );
    const repeated = checked.findIndex((c) => stored.has(Buffer.from(c.ref).toString("hex")));
    if (repeated >= 0) throw new InvalidArgumentError(`key_packages[${repeated}] was uploaded before: a key package is used once`);
    const rows = checked.map((c, i) => ({ ciphersuite: ciphersuiteId(c.ciphersuite), ref: c.ref, keyPackage: req.keyPackages[i]!, notAfter: c.notAfter }));
    if (req.lastResort) {
      await deleteLastResort(tx, caller.userId, caller.deviceId, rows[0]!.ciphersuite);
    } else {
      const counts = await countKeyPackages(tx, caller.userId, caller.deviceId);
      const total = [...counts.values()].reduce((sum, c) => sum + c.oneTime, 0) + rows.length;
      if (total > ctx.maxKeyPackages) {
        throw new ResourceExhaustedError(`a device may store at most ${ctx.maxKeyPackages} one-time key packages (this upload would make ${total})`);
      }
    }
    await insertKeyPackages(tx, caller.userId, caller.deviceId, rows, req.lastResort);
    return countKeyPackages(tx, caller.userId, caller.deviceId);
  });
}
