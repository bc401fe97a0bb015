import { fileURLToPath } from "node:url";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountService, TotpState } from "../src/gen/cyphr/account/v1/account_pb.js";
import { ErrorInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";
import { accountClient, newRecoveryKey, setRecoveryKeyRequest, totpCode, wrongCode } from "./helpers/account.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { grpcAddress, grpcJsClientConstructor, unary } from "./helpers/grpc-js.js";
import { participants } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { loginRequest, type RegisteredUser } from "./helpers/users.js";
import { WIRES } from "./helpers/wires.js";

/** GetSecuritySettings (what is set on the account) and the ErrorInfo reason of Login's TOTP failures. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { PIN_ARGON2_MEMORY_KIB: "1024", PIN_ARGON2_TIME_COST: "1" } });
});
afterAll(() => server.close());

/** Runs the server's attempt-limit and TOTP clock at `ms` for the body. */
async function at<T>(ms: number, body: () => Promise<T>): Promise<T> {
  server.app.account.now = () => ms;
  try {
    return await body();
  } finally {
    server.app.account.now = () => Date.now();
  }
}

const date = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : undefined);
/** Midnight UTC of today, as the server reports days. */
const today = () => `${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`;

async function login(user: RegisteredUser, totp = "", protocol: "connect" | "grpc" | "grpc-web" = "connect", httpVersion: "1.1" | "2" = "2") {
  const identity = identityClient(protocol, server.baseUrl, { httpVersion });
  const { nonce } = await identity.createChallenge({ cyphrId: user.cyphrId });
  return identity.login({ ...loginRequest(user.device, user.cyphrId, nonce), totpCode: totp });
}

describe.each(WIRES)("GetSecuritySettings over $name", (wire) => {
  it("reports nothing set on a new account, then each change: recovery key, PIN set and removed, TOTP pending, on, off", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const account = clientFor(AccountService, wire.protocol, server.baseUrl, { token: alice.accessToken, httpVersion: wire.httpVersion });
    const status = async () => {
      const s = await account.getSecuritySettings({});
      return {
        recovery: [s.recoveryKeySet, date(s.recoveryKeySetDate)],
        pin: [s.pinSet, date(s.pinSetDate), date(s.pinLockedUntil)],
        totp: [TotpState[s.totpState], date(s.totpEnabledDate), date(s.totpLockedUntil)],
      };
    };
    expect(await status()).toEqual({ recovery: [false, undefined], pin: [false, undefined, undefined], totp: ["OFF", undefined, undefined] });

    await account.setRecoveryKey(setRecoveryKeyRequest(alice, newRecoveryKey().publicKey));
    await account.setPin({ pin: "2468" });
    expect(await status()).toEqual({ recovery: [true, today()], pin: [true, today(), undefined], totp: ["OFF", undefined, undefined] });
    await account.removePin({ currentPin: "2468" });
    expect((await status()).pin).toEqual([false, undefined, undefined]);

    const { secret } = await account.enableTotp({});
    expect((await status()).totp).toEqual(["PENDING", undefined, undefined]);
    const t0 = Date.now();
    await at(t0, () => account.confirmTotp({ code: totpCode(secret, t0) }));
    expect((await status()).totp).toEqual(["ON", today(), undefined]);
    const t1 = t0 + 30_000;
    await at(t1, () => account.disableTotp({ code: totpCode(secret, t1) }));
    expect(await status()).toEqual({ recovery: [true, today()], pin: [false, undefined, undefined], totp: ["OFF", undefined, undefined] });
  });
});

describe("GetSecuritySettings and the attempt limits", () => {
  it("shows until when the PIN is locked after 5 wrong PINs, and nothing once the lock has run out; TOTP locks likewise", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const account = accountClient(server.baseUrl, alice);
    await account.setPin({ pin: "2468" });
    const t0 = Date.UTC(2032, 2, 1, 12, 0, 0);
    await at(t0, async () => {
      for (let i = 0; i < 4; i++) await expectRpcError(account.removePin({ currentPin: "0000" }), Code.PermissionDenied, "wrong PIN");
      expect((await account.getSecuritySettings({})).pinLockedUntil).toBeUndefined();
      await expectRpcError(account.removePin({ currentPin: "0000" }), Code.PermissionDenied, "wrong PIN");
      const locked = await account.getSecuritySettings({});
      expect([locked.pinSet, date(locked.pinLockedUntil), date(locked.totpLockedUntil)]).toEqual([true, new Date(t0 + 30_000).toISOString(), undefined]);
    });
    await at(t0 + 30_000, async () => expect((await account.getSecuritySettings({})).pinLockedUntil).toBeUndefined());

    const { secret } = await account.enableTotp({});
    await at(t0, () => account.confirmTotp({ code: totpCode(secret, t0) }));
    const t1 = t0 + 60_000;
    await at(t1, async () => {
      for (let i = 0; i < 5; i++) await expectRpcError(login(alice, wrongCode(totpCode(secret, t1))), Code.Unauthenticated, "invalid TOTP code");
      expect(date((await account.getSecuritySettings({})).totpLockedUntil)).toBe(new Date(t1 + 30_000).toISOString());
    });
  });

  it("needs a session", async () => {
    await expectRpcError(accountClient(server.baseUrl).getSecuritySettings({}), Code.Unauthenticated, "missing authorization");
  });
});

/** Turns TOTP on for `user` at a fixed moment; returns the secret and a later moment to log in at. */
async function withTotp(user: RegisteredUser): Promise<{ secret: string; later: number }> {
  const account = accountClient(server.baseUrl, user);
  const { secret } = await account.enableTotp({});
  const t0 = Date.UTC(2032, 3, 1, 12, 0, 0);
  await at(t0, () => account.confirmTotp({ code: totpCode(secret, t0) }));
  return { secret, later: t0 + 90_000 };
}

const reasons = (error: ConnectError) => error.findDetails(ErrorInfoSchema).map((d) => `${d.domain}/${d.reason}`);

describe.each(WIRES)("Login's TOTP failures carry a google.rpc.ErrorInfo over $name", (wire) => {
  it("TOTP_REQUIRED without a code, TOTP_INVALID for a wrong or reused one; other failures carry none", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const { secret, later } = await withTotp(alice);
    await at(later, async () => {
      const required = await expectRpcError(login(alice, "", wire.protocol, wire.httpVersion), Code.Unauthenticated, "a TOTP code is required");
      expect(reasons(required)).toEqual(["cyphr.im/TOTP_REQUIRED"]);
      const wrong = await expectRpcError(
        login(alice, wrongCode(totpCode(secret, later)), wire.protocol, wire.httpVersion),
        Code.Unauthenticated,
        "invalid TOTP code",
      );
      expect(reasons(wrong)).toEqual(["cyphr.im/TOTP_INVALID"]);
      await login(alice, totpCode(secret, later), wire.protocol, wire.httpVersion);
      const reused = await expectRpcError(login(alice, totpCode(secret, later), wire.protocol, wire.httpVersion), Code.Unauthenticated, "invalid TOTP code");
      expect(reasons(reused)).toEqual(["cyphr.im/TOTP_INVALID"]);
    });
    const identity = identityClient(wire.protocol, server.baseUrl, { httpVersion: wire.httpVersion });
    const { nonce } = await identity.createChallenge({ cyphrId: alice.cyphrId });
    const forged = { ...loginRequest(alice.device, alice.cyphrId, nonce), signature: new Uint8Array(64) };
    expect(reasons(await expectRpcError(identity.login(forged), Code.Unauthenticated, "invalid login credentials"))).toEqual([]);
  });
});

describe("the ErrorInfo as an independent gRPC client decodes it", () => {
  it("grpc-js gets grpc-status-details-bin: a google.rpc.Status whose detail is an ErrorInfo (TOTP_REQUIRED, domain cyphr.im)", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const { later } = await withTotp(alice);
    const IdentityService = grpcJsClientConstructor("cyphr/identity/v1/identity.proto", "cyphr.identity.v1.IdentityService");
    const client = new IdentityService(grpcAddress(server.baseUrl), grpc.credentials.createInsecure());
    try {
      const { nonce } = await unary<{ nonce: Buffer }>(client, "CreateChallenge", { cyphr_id: alice.cyphrId });
      const signed = loginRequest(alice.device, alice.cyphrId, nonce);
      const request = { cyphr_id: alice.cyphrId, device_id: signed.deviceId, nonce, signature: Buffer.from(signed.signature), totp_code: "" };
      const error = await at(later, () =>
        unary(client, "Login", request).then(
          () => undefined,
          (e: grpc.ServiceError) => e,
        ),
      );
      expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
      const [bin] = error!.metadata.get("grpc-status-details-bin");
      expect(decodeStatus(bin as Buffer)).toEqual({
        code: grpc.status.UNAUTHENTICATED,
        message: "a TOTP code is required",
        details: [{ type: "type.googleapis.com/google.rpc.ErrorInfo", info: { reason: "TOTP_REQUIRED", domain: "cyphr.im", metadata: {} } }],
      });
    } finally {
      client.close();
    }
  });
});

/**
 * google.rpc.Status (code, message, repeated google.protobuf.Any details) read with protobufjs and the vendored
 * proto/google/rpc/error_details.proto: no code shared with the server.
 */
function decodeStatus(bytes: Buffer) {
  const root = protobuf.loadSync(fileURLToPath(new URL("../proto/google/rpc/error_details.proto", import.meta.url)));
  root.add(new protobuf.Type("Any").add(new protobuf.Field("type_url", 1, "string")).add(new protobuf.Field("value", 2, "bytes")));
  root.add(
    new protobuf.Type("Status")
      .add(new protobuf.Field("code", 1, "int32"))
      .add(new protobuf.Field("message", 2, "string"))
      .add(new protobuf.Field("details", 3, "Any", "repeated")),
  );
  const ErrorInfo = root.lookupType("google.rpc.ErrorInfo");
  const status = root.lookupType("Status").toObject(root.lookupType("Status").decode(bytes), { defaults: true }) as {
    code: number;
    message: string;
    details: { type_url: string; value: Uint8Array }[];
  };
  return {
    code: status.code,
    message: status.message,
    details: status.details.map((d) => ({ type: d.type_url, info: ErrorInfo.toObject(ErrorInfo.decode(d.value), { defaults: true, objects: true }) })),
  };
}
