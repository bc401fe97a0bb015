import { notifySessionRevoked } from "../events/notify.js";
import { assertCyphrIdFormat } from "../identity/cyphr-id.js";
import type { Caller } from "../identity/tokens.js";
import { FailedPreconditionError, NotFoundError } from "../shared/errors.js";
import { assertDeviceId, assertDeviceName } from "./certificates.js";
import type { DevicesContext } from "./context.js";
import { recordDevicesChanged } from "./events.js";
import type { Device } from "./model.js";
import { deleteDevice, findAccount, findDevice, listDevices, lockAccountDevices, renameDevice } from "./repo.js";

export interface DeviceList {
  userId: string;
  identityPublicKey: Uint8Array;
  devices: Device[];
  nextDeviceId: number;
}

/** Any account's current devices, with what a client needs to verify them. */
export async function listAccountDevices(ctx: DevicesContext, cyphrId: string): Promise<DeviceList> {
  assertCyphrIdFormat(cyphrId);
  const account = await findAccount(ctx.pool, cyphrId);
  if (!account) throw new NotFoundError("no such user");
  const devices = await listDevices(ctx.pool, account.userId);
  return { ...account, devices };
}

/**
 * Removes a device of the caller's account, at once: its sessions and MLS key packages
 * (deleted with the device row by their foreign keys), its place in every instance's
 * active-session cache and its streams (the session-revoked notices), and records
 * devices_changed, all in one transaction.
 */
export async function removeDevice(ctx: DevicesContext, caller: Caller, deviceId: number): Promise<void> {
  assertDeviceId("device_id", deviceId);
  const sessions = await ctx.pool.transaction(async (tx) => {
    const account = await lockAccountDevices(tx, caller.userId);
    if (!(await findDevice(tx, caller.userId, deviceId))) throw new NotFoundError(`the account has no device ${deviceId}`);
    if (account.deviceCount <= 1) throw new FailedPreconditionError("cannot remove the last device of the account");
    const revoked = (await deleteDevice(tx, caller.userId, deviceId)) ?? [];
    for (const sessionId of revoked) await notifySessionRevoked(tx, caller.userId, sessionId);
    await recordDevicesChanged(tx, caller.userId, account.cyphrId);
    return revoked;
  });
  for (const sessionId of sessions) ctx.activeSessions.revoke(sessionId);
}

/** Replaces the client-encrypted name of a device of the caller's account. */
export async function renameAccountDevice(ctx: DevicesContext, caller: Caller, deviceId: number, encryptedName: Uint8Array): Promise<Device> {
  assertDeviceId("device_id", deviceId);
  assertDeviceName("encrypted_name", encryptedName);
  const device = await renameDevice(ctx.pool, caller.userId, deviceId, encryptedName);
  if (!device) throw new NotFoundError(`the account has no device ${deviceId}`);
  return device;
}
