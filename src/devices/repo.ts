import { sql } from "slonik";
import { z } from "zod";
import { bytes, type Db, timestamp, uniqueViolation, uuid } from "../db/types.js";
import { AlreadyExistsError } from "../shared/errors.js";
import type { Device } from "./model.js";

const deviceRow = z.object({
  device_id: z.number(),
  signing_key: bytes,
  certificate: bytes.nullable(),
  encrypted_name: bytes,
  created_at: timestamp,
  last_active_on: z.string(),
});

const DEVICE_COLUMNS = sql.fragment`device_id, signing_key, certificate, encrypted_name, created_at,
  to_char(last_active_on, 'YYYY-MM-DD') AS last_active_on`;

function toDevice(row: z.infer<typeof deviceRow>): Device {
  return {
    deviceId: row.device_id,
    signingKey: row.signing_key,
    certificate: row.certificate,
    encryptedName: row.encrypted_name,
    createdAt: row.created_at,
    lastActiveDate: new Date(`${row.last_active_on}T00:00:00Z`),
  };
}

export interface NewDevice {
  userId: string;
  deviceId: number;
  signingKey: Uint8Array;
  certificate: Uint8Array;
  fingerprintHmac: Buffer;
  encryptedName: Uint8Array;
}

/** Adds a device; the same key twice in one account is ALREADY_EXISTS. */
export async function insertDevice(db: Db, device: NewDevice): Promise<Device> {
  try {
    const row = await db.one(sql.type(deviceRow)`
      /* insertDevice */
      INSERT INTO devices (user_id, device_id, signing_key, certificate, fingerprint_hmac, encrypted_name)
      VALUES (${device.userId}, ${device.deviceId}, ${sql.binary(Buffer.from(device.signingKey))},
              ${sql.binary(Buffer.from(device.certificate))}, ${sql.binary(device.fingerprintHmac)},
              ${sql.binary(Buffer.from(device.encryptedName))})
      RETURNING ${DEVICE_COLUMNS}`);
    return toDevice(row);
  } catch (error) {
    if (uniqueViolation(error) === "devices_user_signing_key_key") {
      throw new AlreadyExistsError("device_signing_key is already a device of this account");
    }
    throw error;
  }
}

export async function findDevice(db: Db, userId: string, deviceId: number): Promise<Device | null> {
  const row = await db.maybeOne(sql.type(deviceRow)`
    /* findDevice */
    SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ${userId} AND device_id = ${deviceId}`);
  return row ? toDevice(row) : null;
}

export async function listDevices(db: Db, userId: string): Promise<Device[]> {
  const rows = await db.any(sql.type(deviceRow)`
    /* listDevices */
    SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ${userId} ORDER BY device_id`);
  return rows.map(toDevice);
}

/** Moves last_active_on to today; writes at most once a day per device (the WHERE clause). */
export async function markDeviceActiveToday(db: Db, userId: string, deviceId: number): Promise<void> {
  await db.query(sql.unsafe`
    /* markDeviceActiveToday */
    UPDATE devices SET last_active_on = current_date
    WHERE user_id = ${userId} AND device_id = ${deviceId} AND last_active_on < current_date`);
}

const accountRow = z.object({
  cyphr_id: z.string(),
  identity_public_key: bytes,
  next_device_id: z.number(),
  device_count: z.number(),
});
export interface LockedAccount {
  cyphrId: string;
  identityPublicKey: Buffer;
  nextDeviceId: number;
  deviceCount: number;
}

/** The account's device counter and device count, its identity row locked: device changes of one account run one at a time. */
export async function lockAccountDevices(db: Db, userId: string): Promise<LockedAccount> {
  const row = await db.one(sql.type(accountRow)`
    /* lockAccountDevices */
    SELECT i.cyphr_id, i.identity_public_key, i.next_device_id,
      (SELECT count(*)::int FROM devices d WHERE d.user_id = i.id) AS device_count
    FROM identities i WHERE i.id = ${userId}
    FOR UPDATE`);
  return { cyphrId: row.cyphr_id, identityPublicKey: row.identity_public_key, nextDeviceId: row.next_device_id, deviceCount: row.device_count };
}

export async function advanceNextDeviceId(db: Db, userId: string, assigned: number): Promise<void> {
  await db.query(sql.unsafe`
    /* advanceNextDeviceId */
    UPDATE identities SET next_device_id = ${assigned + 1} WHERE id = ${userId}`);
}

/**
 * Deletes the device and (by cascade) its sessions and refresh tokens; returns the ids of
 * its sessions that were not revoked yet, whose streams must end, or null for no such device.
 */
export async function deleteDevice(db: Db, userId: string, deviceId: number): Promise<string[] | null> {
  const sessions = await db.anyFirst(sql.type(z.object({ id: uuid }))`
    /* deviceSessionIds */
    SELECT id FROM sessions WHERE user_id = ${userId} AND device_id = ${deviceId} AND revoked_at IS NULL`);
  const deleted = await db.query(sql.unsafe`
    /* deleteDevice */
    DELETE FROM devices WHERE user_id = ${userId} AND device_id = ${deviceId}`);
  return deleted.rowCount === 0 ? null : [...sessions];
}

export async function renameDevice(db: Db, userId: string, deviceId: number, encryptedName: Uint8Array): Promise<Device | null> {
  const row = await db.maybeOne(sql.type(deviceRow)`
    /* renameDevice */
    UPDATE devices SET encrypted_name = ${sql.binary(Buffer.from(encryptedName))}
    WHERE user_id = ${userId} AND device_id = ${deviceId}
    RETURNING ${DEVICE_COLUMNS}`);
  return row ? toDevice(row) : null;
}

/** Everyone who must hear that the account's devices changed: the account and its chat peers. */
export async function deviceAudience(db: Db, userId: string): Promise<string[]> {
  const peers = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* deviceAudience */
    SELECT unnest(cyphr_chat_peers(${userId})) AS user_id`);
  return [userId, ...peers.filter((p) => p !== userId)];
}

const publicAccountRow = z.object({ id: uuid, identity_public_key: bytes, next_device_id: z.number() });

export async function findAccount(db: Db, cyphrId: string): Promise<{ userId: string; identityPublicKey: Buffer; nextDeviceId: number } | null> {
  const row = await db.maybeOne(sql.type(publicAccountRow)`
    /* findDeviceAccount */
    SELECT id, identity_public_key, next_device_id FROM identities WHERE cyphr_id = ${cyphrId}`);
  return row ? { userId: row.id, identityPublicKey: row.identity_public_key, nextDeviceId: row.next_device_id } : null;
}
