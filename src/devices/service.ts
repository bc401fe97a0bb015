import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { type DeviceSchema, DevicesService } from "../gen/cyphr/devices/v1/devices_pb.js";
import { requireCaller } from "../rpc/caller.js";
import { sourceAddress } from "../rpc/peer.js";
import type { DevicesContext } from "./context.js";
import { approveDeviceLink, beginDeviceLink } from "./link.js";
import { listAccountDevices, removeDevice, renameAccountDevice } from "./manage.js";
import type { Device } from "./model.js";
import { waitDeviceLink } from "./wait.js";

/** DevicesService methods callable without a token (the new device has none yet). */
export const DEVICES_PUBLIC_METHODS = ["BeginDeviceLink", "WaitDeviceLink"].map((m) => `${DevicesService.typeName}/${m}`);

/** Thin mapping between DevicesService messages and the device use cases. */
export function devicesService(ctx: DevicesContext): ServiceImpl<typeof DevicesService> {
  return {
    async beginDeviceLink(req, context) {
      const link = await beginDeviceLink(ctx, {
        deviceSigningKey: req.deviceSigningKey,
        deviceFingerprint: req.deviceFingerprint,
        source: sourceAddress(context, ctx.sourcePolicy),
      });
      return { linkId: link.linkId, linkSecret: link.linkSecret, expiresAt: timestampFromDate(link.expiresAt) };
    },
    async *waitDeviceLink(req, context) {
      for await (const state of waitDeviceLink(ctx, { linkId: req.linkId, linkSecret: req.linkSecret }, context.signal)) {
        if (state.kind === "pending") {
          yield { state: { case: "pending", value: { expiresAt: timestampFromDate(state.expiresAt) } } };
        } else {
          yield { state: { case: "approved", value: { ...state.approval } } };
        }
      }
    },
    async approveDeviceLink(req, context) {
      const device = await approveDeviceLink(ctx, requireCaller(context), {
        linkId: req.linkId,
        linkSecret: req.linkSecret,
        deviceId: req.deviceId,
        certificate: req.certificate,
        provisioningBlob: req.provisioningBlob,
        encryptedName: req.encryptedName,
      });
      return { device: deviceMessage(device) };
    },
    async listDevices(req, context) {
      requireCaller(context);
      const list = await listAccountDevices(ctx, req.cyphrId);
      return {
        userId: list.userId,
        identityPublicKey: list.identityPublicKey,
        devices: list.devices.map(deviceMessage),
        nextDeviceId: list.nextDeviceId,
      };
    },
    async removeDevice(req, context) {
      await removeDevice(ctx, requireCaller(context), req.deviceId);
      return {};
    },
    async renameDevice(req, context) {
      return { device: deviceMessage(await renameAccountDevice(ctx, requireCaller(context), req.deviceId, req.encryptedName)) };
    },
  };
}

function deviceMessage(device: Device): MessageInitShape<typeof DeviceSchema> {
  return {
    deviceId: device.deviceId,
    signingKey: device.signingKey,
    certificate: device.certificate ?? new Uint8Array(0),
    encryptedName: device.encryptedName,
    createdAt: timestampFromDate(device.createdAt),
    lastActiveDate: timestampFromDate(device.lastActiveDate),
  };
}
