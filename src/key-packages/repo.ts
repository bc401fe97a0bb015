import { sql } from "slonik";
import { z } from "zod";
import { bytes, type Db } from "../db/types.js";
import { CLAIMED_REF_RETENTION_DAYS } from "./limits.js";

export interface NewKeyPackage {
  ciphersuite: number;
  ref: Uint8Array;
  keyPackage: Uint8Array;
  notAfter: bigint;
}

/** Serialises uploads of one device, so that its per-suite maximum holds under concurrency. */
export async function lockDevice(db: Db, userId: string, deviceId: number): Promise<boolean> {
  const row = await db.maybeOne(sql.type(z.object({ device_id: z.number() }))`
    /* lockKeyPackageDevice */
    SELECT device_id FROM devices WHERE user_id = ${userId} AND device_id = ${deviceId} FOR UPDATE`);
  return row !== null;
}

/** Which of these refs are already stored (for any device: a package is never reused). */
export async function storedRefs(db: Db, refs: readonly Uint8Array[]): Promise<Set<string>> {
  const rows = await db.any(sql.type(z.object({ ref: bytes }))`
    /* storedKeyPackageRefs */
    SELECT ref FROM key_packages WHERE ref = ANY(${sql.array(
      refs.map((r) => Buffer.from(r)),
      "bytea",
    )})`);
  return new Set(rows.map((r) => r.ref.toString("hex")));
}

export async function insertKeyPackages(db: Db, userId: string, deviceId: number, packages: readonly NewKeyPackage[], lastResort: boolean): Promise<void> {
  await db.query(sql.unsafe`
    /* insertKeyPackages */
    INSERT INTO key_packages (user_id, device_id, ciphersuite, ref, key_package, not_after, last_resort)
    SELECT ${userId}, ${deviceId}, s, r, k, n, ${lastResort}
    FROM unnest(
      ${sql.array(
        packages.map((p) => p.ciphersuite),
        "int4",
      )}::int4[],
      ${sql.array(
        packages.map((p) => Buffer.from(p.ref)),
        "bytea",
      )}::bytea[],
      ${sql.array(
        packages.map((p) => Buffer.from(p.keyPackage)),
        "bytea",
      )}::bytea[],
      ${sql.array(
        packages.map((p) => p.notAfter.toString()),
        "numeric",
      )}::numeric[]
    ) AS t (s, r, k, n)`);
}

/** Removes the device's last-resort package of a suite (it is about to be replaced). */
export async function deleteLastResort(db: Db, userId: string, deviceId: number, ciphersuite: number): Promise<void> {
  await db.query(sql.unsafe`
    /* deleteLastResortKeyPackage */
    DELETE FROM key_packages
    WHERE user_id = ${userId} AND device_id = ${deviceId} AND ciphersuite = ${ciphersuite} AND last_resort`);
}

const countRow = z.object({ ciphersuite: z.number(), one_time: z.number(), has_last_resort: z.boolean() });
export type KeyPackageCounts = Map<number, { oneTime: number; hasLastResort: boolean }>;

/** Unclaimed, unexpired one-time packages and last-resort presence of a device, per suite. */
export async function countKeyPackages(db: Db, userId: string, deviceId: number): Promise<KeyPackageCounts> {
  const rows = await db.any(sql.type(countRow)`
    /* countKeyPackages */
    SELECT ciphersuite,
      (count(*) FILTER (WHERE NOT last_resort AND claimed_at IS NULL AND not_after >= extract(epoch FROM now())))::int AS one_time,
      bool_or(last_resort) AS has_last_resort
    FROM key_packages
    WHERE user_id = ${userId} AND device_id = ${deviceId} AND (claimed_at IS NULL OR last_resort)
    GROUP BY ciphersuite`);
  return new Map(rows.map((r) => [r.ciphersuite, { oneTime: r.one_time, hasLastResort: r.has_last_resort }]));
}

const claimedRow = z.object({ device_id: z.number(), key_package: bytes, ref: bytes, last_resort: z.boolean(), left: z.number() });
export type ClaimedRow = z.infer<typeof claimedRow>;

/**
 * Takes one package of the suite for each of the user's devices but `exceptDevice`: the
 * oldest unclaimed, unexpired one-time package, marked claimed and stripped of its bytes
 * in the statement that reads them (rows other claims hold are skipped, so no package is
 * given twice), else the device's last-resort package. `left` is the device's one-time
 * count after the claim.
 */
export async function claimKeyPackages(db: Db, userId: string, ciphersuite: number, exceptDevice: number): Promise<readonly ClaimedRow[]> {
  return db.any(sql.type(claimedRow)`
    /* claimKeyPackages */
    WITH devices_of AS (
      SELECT device_id FROM devices WHERE user_id = ${userId} AND device_id <> ${exceptDevice}
    ), picked AS (
      SELECT p.id, p.key_package FROM devices_of d
      CROSS JOIN LATERAL (
        SELECT k.id, k.key_package FROM key_packages k
        WHERE k.user_id = ${userId} AND k.device_id = d.device_id AND k.ciphersuite = ${ciphersuite}
          AND k.claimed_at IS NULL AND NOT k.last_resort AND k.not_after >= extract(epoch FROM now())
        ORDER BY k.id LIMIT 1
        FOR UPDATE SKIP LOCKED
      ) p
    ), claimed AS (
      UPDATE key_packages k SET claimed_at = now(), key_package = NULL
      FROM picked WHERE k.id = picked.id
      RETURNING k.device_id, picked.key_package, k.ref, false AS last_resort
    ), fallback AS (
      SELECT k.device_id, k.key_package, k.ref, true AS last_resort FROM key_packages k
      JOIN devices_of d ON d.device_id = k.device_id
      WHERE k.user_id = ${userId} AND k.ciphersuite = ${ciphersuite} AND k.last_resort
        AND k.not_after >= extract(epoch FROM now())
        AND k.device_id NOT IN (SELECT device_id FROM claimed)
    ), handed AS (
      SELECT * FROM claimed UNION ALL SELECT * FROM fallback
    )
    SELECT h.device_id, h.key_package, h.ref, h.last_resort,
      (SELECT count(*)::int FROM key_packages k
       WHERE k.user_id = ${userId} AND k.device_id = h.device_id AND k.ciphersuite = ${ciphersuite}
         AND k.claimed_at IS NULL AND NOT k.last_resort AND k.not_after >= extract(epoch FROM now())
         AND NOT EXISTS (SELECT 1 FROM claimed c WHERE c.ref = k.ref)) AS left
    FROM handed h ORDER BY h.device_id`);
}

export async function deviceIds(db: Db, userId: string, exceptDevice: number): Promise<number[]> {
  const rows = await db.any(sql.type(z.object({ device_id: z.number() }))`
    /* keyPackageDeviceIds */
    SELECT device_id FROM devices WHERE user_id = ${userId} AND device_id <> ${exceptDevice} ORDER BY device_id`);
  return rows.map((r) => r.device_id);
}

/** The devices that the given refs were claimed from (for routing a Welcome). */
export async function devicesOfRefs(db: Db, refs: readonly Uint8Array[]): Promise<{ ref: Buffer; userId: string; deviceId: number }[]> {
  const rows = await db.any(sql.type(z.object({ ref: bytes, user_id: z.string(), device_id: z.number() }))`
    /* devicesOfKeyPackageRefs */
    SELECT ref, user_id, device_id FROM key_packages
    WHERE ref = ANY(${sql.array(
      refs.map((r) => Buffer.from(r)),
      "bytea",
    )})
      AND (claimed_at IS NOT NULL OR last_resort)`);
  return rows.map((r) => ({ ref: r.ref, userId: r.user_id, deviceId: r.device_id }));
}

/**
 * Deletes up to `batch` rows that serve no one: expired packages, and claimed rows older
 * than the Welcome routing window.
 */
export async function purgeKeyPackages(db: Db, now: Date, batch: number): Promise<number> {
  const at = sql.timestamp(now);
  const result = await db.query(sql.unsafe`
    /* purgeKeyPackages */
    DELETE FROM key_packages WHERE id IN (
      SELECT id FROM key_packages
      WHERE not_after < extract(epoch FROM ${at})
         OR claimed_at < ${at} - make_interval(days => ${CLAIMED_REF_RETENTION_DAYS})
      LIMIT ${batch})`);
  return result.rowCount;
}
