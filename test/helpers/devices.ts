import { randomBytes } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import { type DeviceLinkApproved, DevicesService, type WaitDeviceLinkResponse } from "../../src/gen/cyphr/devices/v1/devices_pb.js";
import { clientFor, identityClient, type Protocol, type TransportOptions } from "./clients.js";
import { type Device, deviceCertificate, loginUser, type RegisteredUser } from "./users.js";

export function devicesClient(protocol: Protocol, baseUrl: string, options: TransportOptions = {}): Client<typeof DevicesService> {
  return clientFor(DevicesService, protocol, baseUrl, options);
}

/** A new device of an existing account before it is linked: a fresh signing key and fingerprint. */
export function newDeviceOf(account: Device): Device {
  const deviceSecretKey = ed25519.utils.randomSecretKey();
  return {
    ...account,
    fingerprint: new Uint8Array(randomBytes(32)),
    deviceSecretKey,
    deviceSigningKey: ed25519.getPublicKey(deviceSecretKey),
    deviceId: 0,
  };
}

/** The new device's wait: every message it received, and how the stream ended. */
export class LinkWait {
  readonly messages: WaitDeviceLinkResponse[] = [];
  readonly done: Promise<{ approved?: DeviceLinkApproved; error?: unknown }>;

  constructor(stream: AsyncIterable<WaitDeviceLinkResponse>) {
    this.done = (async () => {
      try {
        for await (const message of stream) this.messages.push(message);
        const last = this.messages.at(-1);
        return last?.state.case === "approved" ? { approved: last.state.value } : {};
      } catch (error) {
        return { error };
      }
    })();
  }

  async pending(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.messages.some((m) => m.state.case === "pending")) {
      if (Date.now() > deadline) throw new Error("no pending message on the link wait");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

export interface LinkOptions {
  protocol?: Protocol;
  /** Where the new device begins and waits (default: the approver's server). */
  waiterBaseUrl?: string;
  provisioningBlob?: Uint8Array;
  encryptedName?: Uint8Array;
}

/**
 * Links a new device to `approver`'s account over the wire, as the QR flow does:
 * BeginDeviceLink and WaitDeviceLink by the new device, ApproveDeviceLink by the
 * approver (certificate for ListDevices' next_device_id), then Login as the new device.
 */
export async function linkDevice(
  baseUrl: string,
  approver: RegisteredUser,
  options: LinkOptions = {},
): Promise<RegisteredUser & { approved: DeviceLinkApproved }> {
  const protocol = options.protocol ?? "connect";
  const waiterUrl = options.waiterBaseUrl ?? baseUrl;
  const device = newDeviceOf(approver.device);
  const anonymous = devicesClient(protocol, waiterUrl);
  const link = await anonymous.beginDeviceLink({ deviceSigningKey: device.deviceSigningKey, deviceFingerprint: device.fingerprint });
  const abort = new AbortController();
  const wait = new LinkWait(anonymous.waitDeviceLink({ linkId: link.linkId, linkSecret: link.linkSecret }, { signal: abort.signal }));
  await wait.pending();

  const own = devicesClient(protocol, baseUrl, { token: approver.accessToken });
  const { nextDeviceId } = await own.listDevices({ cyphrId: approver.cyphrId });
  const approval = own.approveDeviceLink({
    linkId: link.linkId,
    linkSecret: link.linkSecret,
    deviceId: nextDeviceId,
    certificate: deviceCertificate(approver.device, approver.cyphrId, nextDeviceId, device.deviceSigningKey),
    provisioningBlob: options.provisioningBlob ?? new Uint8Array(randomBytes(48)),
    encryptedName: options.encryptedName ?? new Uint8Array(0),
  });
  // A refused approval leaves nothing waiting behind.
  await approval.catch((error: unknown) => {
    abort.abort();
    throw error;
  });
  const { approved, error } = await wait.done;
  if (!approved) throw error ?? new Error("the link wait ended without an approval");
  const session = await loginUser(identityClient(protocol, waiterUrl), {
    cyphrId: approver.cyphrId,
    device: { ...device, deviceId: approved.deviceId },
  });
  return { ...session, approved };
}
