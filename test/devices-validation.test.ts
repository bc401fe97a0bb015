import { randomBytes, randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deviceCertificateBytes } from "../src/devices/signed-bytes.js";
import { identityClient } from "./helpers/clients.js";
import { devicesClient, newDeviceOf } from "./helpers/devices.js";
import { grpcAddress, grpcJsClientConstructor, unary } from "./helpers/grpc-js.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { deviceCertificate, type RegisteredUser, registerUser, uniqueCyphrId } from "./helpers/users.js";

/** Every DevicesService field is validated with INVALID_ARGUMENT naming it; plus one third-party (grpc-js) client. */

let server: TestServer;
let alice: RegisteredUser;
beforeAll(async () => {
  server = await startTestServer({ env: { DEVICE_LINK_BEGIN_BURST: "1000", DEVICE_LINK_BEGIN_PER_MINUTE: "1000", DEVICE_LINKS_PENDING_PER_SOURCE: "1000" } });
  alice = await registerUser(identityClient("connect", server.baseUrl));
});
afterAll(() => server?.close());

const anonymous = () => devicesClient("connect", server.baseUrl);
const own = () => devicesClient("connect", server.baseUrl, { token: alice.accessToken });
/** 32-byte little-endian y with the sign bit clear, as RFC 8032 encodes a point. */
const encodeY = (y: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((y >> BigInt(8 * i)) & 0xffn));

/** A pending link of a new device of alice's, and a valid approval of it for her next device id. */
async function pendingLink() {
  const device = newDeviceOf(alice.device);
  const link = await anonymous().beginDeviceLink({ deviceSigningKey: device.deviceSigningKey, deviceFingerprint: device.fingerprint });
  const { nextDeviceId } = await own().listDevices({ cyphrId: alice.cyphrId });
  const valid = {
    linkId: link.linkId,
    linkSecret: link.linkSecret,
    deviceId: nextDeviceId,
    certificate: deviceCertificate(alice.device, alice.cyphrId, nextDeviceId, device.deviceSigningKey),
    provisioningBlob: new Uint8Array([7]),
    encryptedName: new Uint8Array(0),
  };
  return { device, link, valid };
}

describe("BeginDeviceLink", () => {
  it.each([
    ["a 31-byte key", { deviceSigningKey: new Uint8Array(31) }, "device_signing_key must be 32 bytes, got 31"],
    ["a key not on the curve", { deviceSigningKey: encodeY(2n) }, "device_signing_key is not a valid Ed25519 point"],
    ["a small-order key", { deviceSigningKey: encodeY(1n) }, "device_signing_key is a small-order Ed25519 point"],
    ["a 33-byte fingerprint", { deviceFingerprint: new Uint8Array(33) }, "device_fingerprint must be 32 bytes, got 33"],
    ["no fingerprint", { deviceFingerprint: new Uint8Array(0) }, "device_fingerprint must be 32 bytes, got 0"],
  ])("refuses %s with INVALID_ARGUMENT", async (_, override, message) => {
    const valid = { deviceSigningKey: ed25519.getPublicKey(ed25519.utils.randomSecretKey()), deviceFingerprint: randomBytes(32) };
    await expectRpcError(anonymous().beginDeviceLink({ ...valid, ...override }), Code.InvalidArgument, message);
  });
});

describe("WaitDeviceLink", () => {
  it.each([
    ["a link id that is not a UUID", { linkId: "link-1" }, "link_id must be a UUID"],
    ["a 16-byte secret", { linkSecret: new Uint8Array(16) }, "link_secret must be 32 bytes, got 16"],
  ])("ends with INVALID_ARGUMENT for %s", async (_, override, message) => {
    const call = (async () => {
      for await (const _message of anonymous().waitDeviceLink({ linkId: randomUUID(), linkSecret: randomBytes(32), ...override })) {
        // no message is expected
      }
    })();
    await expectRpcError(call, Code.InvalidArgument, message);
  });
});

describe("ApproveDeviceLink", () => {
  it.each([
    ["a link id that is not a UUID", { linkId: "nope" }, "link_id must be a UUID"],
    ["a 31-byte secret", { linkSecret: new Uint8Array(31) }, "link_secret must be 32 bytes, got 31"],
    ["device id 0", { deviceId: 0 }, "device_id must be between 1 and 2147483647, got 0"],
    ["a 63-byte certificate", { certificate: new Uint8Array(63) }, "certificate must be 64 bytes, got 63"],
    ["an empty provisioning blob", { provisioningBlob: new Uint8Array(0) }, "provisioning_blob must be 1 to 65536 bytes, got 0"],
    ["a provisioning blob over 64 KiB", { provisioningBlob: new Uint8Array(65_537) }, "provisioning_blob must be 1 to 65536 bytes, got 65537"],
    ["an encrypted name over 256 bytes", { encryptedName: new Uint8Array(257) }, "encrypted_name must be at most 256 bytes, got 257"],
  ])("refuses %s with INVALID_ARGUMENT and leaves the link pending", async (_, override, message) => {
    const { valid } = await pendingLink();
    await expectRpcError(own().approveDeviceLink({ ...valid, ...override }), Code.InvalidArgument, message);
    expect((await own().approveDeviceLink(valid)).device!.deviceId).toBe(valid.deviceId);
    await own().removeDevice({ deviceId: valid.deviceId });
  });

  it("a provisioning blob of exactly 65,536 bytes is accepted and delivered whole", async () => {
    const { valid, link } = await pendingLink();
    const blob = randomBytes(65_536);
    await own().approveDeviceLink({ ...valid, provisioningBlob: blob });
    const received: Uint8Array[] = [];
    for await (const message of anonymous().waitDeviceLink({ linkId: link.linkId, linkSecret: link.linkSecret })) {
      if (message.state.case === "approved") received.push(message.state.value.provisioningBlob);
    }
    expect(received).toHaveLength(1);
    expect(Buffer.from(received[0]!).equals(blob)).toBe(true);
    await own().removeDevice({ deviceId: valid.deviceId });
  });
});

describe("ListDevices, RemoveDevice, RenameDevice", () => {
  it("ListDevices refuses a malformed cyphr_id (INVALID_ARGUMENT), answers NOT_FOUND for an unknown one, and needs a token", async () => {
    await expectRpcError(own().listDevices({ cyphrId: "Not Valid" }), Code.InvalidArgument, "cyphr_id must match");
    await expectRpcError(own().listDevices({ cyphrId: uniqueCyphrId("ghost") }), Code.NotFound, "no such user");
    await expectRpcError(anonymous().listDevices({ cyphrId: alice.cyphrId }), Code.Unauthenticated, "missing authorization");
  });

  it("any authenticated user may list another account's devices", async () => {
    const bob = await registerUser(identityClient("connect", server.baseUrl));
    const list = await devicesClient("connect", server.baseUrl, { token: bob.accessToken }).listDevices({ cyphrId: alice.cyphrId });
    expect(list.userId).toBe(alice.userId);
    expect(list.devices.map((d) => d.deviceId)).toEqual([1]);
  });

  it("RemoveDevice and RenameDevice refuse device id 0, and RenameDevice a name over 256 bytes, with INVALID_ARGUMENT", async () => {
    await expectRpcError(own().removeDevice({ deviceId: 0 }), Code.InvalidArgument, "device_id must be between 1 and 2147483647, got 0");
    await expectRpcError(own().renameDevice({ deviceId: 0 }), Code.InvalidArgument, "device_id must be between 1 and 2147483647, got 0");
    await expectRpcError(
      own().renameDevice({ deviceId: 1, encryptedName: new Uint8Array(257) }),
      Code.InvalidArgument,
      "encrypted_name must be at most 256 bytes, got 257",
    );
  });

  it("RemoveDevice and RenameDevice need a token", async () => {
    await expectRpcError(anonymous().removeDevice({ deviceId: 1 }), Code.Unauthenticated, "missing authorization");
    await expectRpcError(anonymous().renameDevice({ deviceId: 1 }), Code.Unauthenticated, "missing authorization");
  });
});

describe("DevicesService through @grpc/grpc-js and proto-loader", () => {
  it("loads devices.proto, finds every RPC, and lists devices with a bearer token; a bad field is INVALID_ARGUMENT", async () => {
    const DevicesService = grpcJsClientConstructor("cyphr/devices/v1/devices.proto", "cyphr.devices.v1.DevicesService");
    const { service } = DevicesService as unknown as { service: grpc.ServiceDefinition };
    expect(Object.keys(service).sort()).toEqual(["ApproveDeviceLink", "BeginDeviceLink", "ListDevices", "RemoveDevice", "RenameDevice", "WaitDeviceLink"]);
    const client = new DevicesService(grpcAddress(server.baseUrl), grpc.credentials.createInsecure());
    try {
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `Bearer ${alice.accessToken}`);
      const list = await unary<{ user_id: string; next_device_id: number; devices: { device_id: number; signing_key: Buffer; certificate: Buffer }[] }>(
        client,
        "ListDevices",
        { cyphr_id: alice.cyphrId },
        metadata,
      );
      expect(list.user_id).toBe(alice.userId);
      expect(list.devices.map((d) => d.device_id)).toEqual([1]);
      const [device] = list.devices;
      const signed = deviceCertificateBytes(alice.cyphrId, 1, device!.signing_key);
      expect(ed25519.verify(device!.certificate, signed, alice.device.identityPublicKey)).toBe(true);

      const error = await unary(client, "BeginDeviceLink", { device_signing_key: Buffer.alloc(5), device_fingerprint: Buffer.alloc(32) }).then(
        () => null,
        (e: grpc.ServiceError) => e,
      );
      expect({ code: error?.code, details: error?.details }).toEqual({
        code: grpc.status.INVALID_ARGUMENT,
        details: "device_signing_key must be 32 bytes, got 5",
      });
    } finally {
      client.close();
    }
  });
});
