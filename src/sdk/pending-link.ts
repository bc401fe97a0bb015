import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { type DeviceLinkApproved, DevicesService } from "../gen/cyphr/devices/v1/devices_pb.js";
import { equalBytes } from "./bytes.js";
import { CyphrError, call } from "./errors.js";
import { type AccountKeys, type DeviceKeys, newDeviceKeys, verifyDeviceCertificate } from "./keys.js";
import { encodeLinkPayload, type LinkPayload, newProvisioningSecret, openProvisioning } from "./link.js";

/**
 * A new device waiting to be linked: `code` is what it shows (text or QR) to a device of the
 * account; `wait()` follows WaitDeviceLink until that device approves, checks the certificate
 * with the identity key from the provisioning blob, then saves the keys and signs in.
 * The device's private key stays in memory until then; nothing is stored before approval.
 */
export class PendingLink<A> {
  private constructor(
    private readonly api: Client<typeof DevicesService>,
    private readonly payload: LinkPayload,
    private readonly device: DeviceKeys,
    private readonly finish: (keys: AccountKeys, device: DeviceKeys) => Promise<A>,
    /** The code to show to an existing device of the account. */
    readonly code: string,
    /** When the server forgets the link (10 minutes after it began). */
    readonly expiresAt: Date | undefined,
  ) {}

  static async begin<A>(options: { transport: Transport }, finish: (keys: AccountKeys, device: DeviceKeys) => Promise<A>): Promise<PendingLink<A>> {
    const api = createClient(DevicesService, options.transport);
    const device = newDeviceKeys();
    const res = await call(() => api.beginDeviceLink({ deviceSigningKey: device.signingPublicKey, deviceFingerprint: device.fingerprint }));
    const payload: LinkPayload = {
      linkId: res.linkId,
      linkSecret: res.linkSecret,
      deviceSigningKey: device.signingPublicKey,
      provisioningSecret: newProvisioningSecret(),
    };
    return new PendingLink(api, payload, device, finish, encodeLinkPayload(payload), res.expiresAt && timestampDate(res.expiresAt));
  }

  /** Waits for the approval (abort with `signal`), then returns the signed-in account. */
  async wait(signal?: AbortSignal): Promise<A> {
    const approved = await call(async () => {
      const stream = this.api.waitDeviceLink({ linkId: this.payload.linkId, linkSecret: this.payload.linkSecret }, { signal });
      for await (const message of stream) {
        if (message.state.case === "approved") return message.state.value;
      }
      return undefined;
    });
    if (approved === undefined) {
      throw new CyphrError("deadline_exceeded", "The link ended before a device of the account approved it: begin linking again.");
    }
    return this.finish(this.accountOf(approved), { ...this.device, deviceId: approved.deviceId });
  }

  private accountOf(approved: DeviceLinkApproved): AccountKeys {
    const keys = openProvisioning(this.payload, approved.provisioningBlob);
    const certified = verifyDeviceCertificate(approved.cyphrId, keys.identityPublicKey, {
      deviceId: approved.deviceId,
      signingKey: this.device.signingPublicKey,
      certificate: approved.certificate,
    });
    if (
      !certified ||
      keys.cyphrId !== approved.cyphrId ||
      keys.userId !== approved.userId ||
      !equalBytes(this.device.signingPublicKey, this.payload.deviceSigningKey)
    ) {
      throw new CyphrError("data_loss", "The approval does not match this device's key or the account's identity key: begin linking again.");
    }
    return keys;
  }
}
