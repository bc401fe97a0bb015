import { assertCyphrIdFormat } from "../identity/cyphr-id.js";
import { findIdentityByCyphrId } from "../identity/repo.js";
import type { Caller } from "../identity/tokens.js";
import { ciphersuiteById, ciphersuiteId } from "../mls/suites.js";
import { InvalidArgumentError, NotFoundError, ResourceExhaustedError } from "../shared/errors.js";
import type { KeyPackagesContext } from "./context.js";
import { recordKeyPackagesLow } from "./events.js";
import { type ClaimedRow, claimKeyPackages, deviceIds } from "./repo.js";

export interface ClaimRequest {
  cyphrId: string;
  /** RFC 9420 code point; 0 for the server's default. */
  ciphersuite: number;
}

export interface Claimed {
  userId: string;
  packages: readonly ClaimedRow[];
  devicesWithout: number[];
}

/** One key package per device of the user (the caller's own device excluded), each one-time package once. */
export async function claim(ctx: KeyPackagesContext, caller: Caller, req: ClaimRequest): Promise<Claimed> {
  const suite = req.ciphersuite === 0 ? ctx.ciphersuites[0]! : ciphersuiteById(req.ciphersuite);
  if (!suite || !ctx.ciphersuites.includes(suite)) {
    const accepted = ctx.ciphersuites.map((s) => `${ciphersuiteId(s)} (${s})`).join(", ");
    throw new InvalidArgumentError(`ciphersuite: ${req.ciphersuite} is not accepted here (accepted: ${accepted})`);
  }
  assertCyphrIdFormat(req.cyphrId);
  const target = await findIdentityByCyphrId(ctx.pool, req.cyphrId);
  if (!target) throw new NotFoundError("cyphr_id: no such user");
  const retryAfterMs = ctx.claimLimiter.take(`${caller.userId}:${target.id}`);
  if (retryAfterMs > 0) throw new ResourceExhaustedError("too many key package claims for this user; retry later", retryAfterMs);
  const suiteId = ciphersuiteId(suite);
  const exceptDevice = target.id === caller.userId ? caller.deviceId : 0;
  return ctx.pool.transaction(async (tx) => {
    const packages = await claimKeyPackages(tx, target.id, suiteId, exceptDevice);
    const handed = new Set(packages.map((p) => p.device_id));
    const devicesWithout = (await deviceIds(tx, target.id, exceptDevice)).filter((d) => !handed.has(d));
    // The device learns it is running low once when it drops below the threshold, and once more when it runs out.
    const low = packages.filter((p) => !p.last_resort && (p.left === ctx.lowThreshold - 1 || p.left === 0));
    if (low.length > 0)
      await recordKeyPackagesLow(
        tx,
        target.id,
        suiteId,
        low.map((p) => ({ deviceId: p.device_id, oneTime: p.left })),
      );
    return { userId: target.id, packages, devicesWithout };
  });
}
