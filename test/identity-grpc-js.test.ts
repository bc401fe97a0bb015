import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcAddress, grpcJsClientConstructor, unary } from "./helpers/grpc-js.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { loginRequest, newDevice, registerRequest, uniqueCyphrId } from "./helpers/users.js";

/**
 * IdentityService through @grpc/grpc-js with descriptors loaded at run time from
 * proto/cyphr/identity/v1/identity.proto by @grpc/proto-loader: a client that shares no
 * code with the server, as a third-party gRPC client would be.
 */

interface Availability {
  available: boolean;
  reason: string;
}
interface Timestamp {
  seconds: string;
  nanos: number;
}
interface SessionTokens {
  session_id: string;
  access_token: string;
  access_token_expires_at: Timestamp | null;
  refresh_token: string;
  refresh_token_expires_at: Timestamp | null;
}
interface Profile {
  user_id: string;
  cyphr_id: string;
  display_name: string;
  avatar_ref: string;
  identity_public_key: Buffer;
  ml_kem_public_key: Buffer;
  created_at: Timestamp | null;
}

let server: TestServer;
let client: grpc.Client;
beforeAll(async () => {
  server = await startTestServer();
  const IdentityService = grpcJsClientConstructor("cyphr/identity/v1/identity.proto", "cyphr.identity.v1.IdentityService");
  client = new IdentityService(grpcAddress(server.baseUrl), grpc.credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await server.close();
});

function bearer(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

/** Awaits a call that must fail and returns its grpc-js error. */
async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  return call.then(
    () => {
      throw new Error("expected the call to fail, but it succeeded");
    },
    (error: grpc.ServiceError) => error,
  );
}

/**
 * The status message exactly as grpc-js shows it to its user. grpc-js decodes
 * grpc-message with decodeURI, so the server must encode it the gRPC spec's way (only
 * bytes outside 0x20-0x7E and "%"): otherwise a comma would read "%2C".
 */
function detailsOf(error: grpc.ServiceError): string {
  return error.details;
}

/** A Register request with snake_case fields and Buffers, as proto-loader expects. */
function snakeRegisterRequest(cyphrId: string, device = newDevice(), displayName = "") {
  const req = registerRequest(device, cyphrId, displayName);
  return {
    device,
    request: {
      cyphr_id: req.cyphrId,
      identity_public_key: Buffer.from(req.identityPublicKey),
      ml_kem_public_key: Buffer.from(req.mlKemPublicKey),
      device_fingerprint: Buffer.from(req.deviceFingerprint),
      display_name: req.displayName,
      signature: Buffer.from(req.signature),
      device_signing_key: Buffer.from(req.deviceSigningKey),
      device_certificate: Buffer.from(req.deviceCertificate),
      device_encrypted_name: Buffer.alloc(0),
    },
  };
}

describe("IdentityService through @grpc/grpc-js and proto-loader", () => {
  it("loads identity.proto with its google/protobuf/timestamp.proto import and finds every RPC", () => {
    const IdentityService = grpcJsClientConstructor("cyphr/identity/v1/identity.proto", "cyphr.identity.v1.IdentityService");
    const { service } = IdentityService as unknown as { service: grpc.ServiceDefinition };
    expect(Object.keys(service).sort()).toEqual([
      "CheckAvailability",
      "CreateChallenge",
      "GetProfile",
      "Login",
      "Logout",
      "RefreshSession",
      "Register",
      "SearchUsers",
      "UpdateProfile",
    ]);
  });

  it("registers, logs in with a signed challenge, and reads the profile", async () => {
    const cyphrId = uniqueCyphrId("grpcjs");
    const { device, request } = snakeRegisterRequest(cyphrId, newDevice(), "Grace");

    const availableBefore = await unary<Availability>(client, "CheckAvailability", { cyphr_id: cyphrId });
    expect(availableBefore).toEqual({ available: true, reason: "UNAVAILABLE_REASON_UNSPECIFIED" });

    const registered = await unary<{ user_id: string; session: SessionTokens }>(client, "Register", request);
    expect(registered.user_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(registered.session.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Number(registered.session.access_token_expires_at!.seconds)).toBeGreaterThan(Date.now() / 1000);

    const availableAfter = await unary<Availability>(client, "CheckAvailability", { cyphr_id: cyphrId });
    expect(availableAfter).toEqual({ available: false, reason: "UNAVAILABLE_REASON_TAKEN" });

    const challenge = await unary<{ nonce: Buffer; expires_at: Timestamp }>(client, "CreateChallenge", { cyphr_id: cyphrId });
    expect(challenge.nonce).toHaveLength(32);
    const login = loginRequest(device, cyphrId, new Uint8Array(challenge.nonce));
    const loggedIn = await unary<{ user_id: string; session: SessionTokens }>(client, "Login", {
      cyphr_id: cyphrId,
      device_id: login.deviceId,
      nonce: challenge.nonce,
      signature: Buffer.from(login.signature),
    });
    expect(loggedIn.user_id).toBe(registered.user_id);
    expect(loggedIn.session.session_id).not.toBe(registered.session.session_id);

    const { profile } = await unary<{ profile: Profile }>(client, "GetProfile", { cyphr_id: cyphrId });
    expect(profile).toMatchObject({ user_id: registered.user_id, cyphr_id: cyphrId, display_name: "Grace", avatar_ref: "" });
    expect(new Uint8Array(profile.identity_public_key)).toEqual(device.identityPublicKey);
    expect(profile.ml_kem_public_key).toHaveLength(1568);
    expect(Math.abs(Number(profile.created_at!.seconds) - Date.now() / 1000)).toBeLessThan(60);
  });

  it("authenticated calls carry the access token as 'authorization: Bearer …' metadata", async () => {
    const cyphrId = uniqueCyphrId("grpcjs");
    const { request } = snakeRegisterRequest(cyphrId);
    const { session } = await unary<{ session: SessionTokens }>(client, "Register", request);

    const updated = await unary<{ profile: Profile; discoverable: boolean }>(
      client,
      "UpdateProfile",
      { update_paths: ["display_name"], display_name: "Via grpc-js" },
      bearer(session.access_token),
    );
    expect(updated.profile.display_name).toBe("Via grpc-js");
    expect(updated.discoverable).toBe(false); // new accounts are not discoverable (secure default)

    const found = await unary<{ profiles: Profile[]; next_page_token: string }>(client, "SearchUsers", { prefix: cyphrId }, bearer(session.access_token));
    expect(found.profiles.map((p) => p.cyphr_id)).toEqual([cyphrId]);
    expect(found.next_page_token).toBe("");

    const refreshed = await unary<{ session: SessionTokens }>(client, "RefreshSession", { refresh_token: session.refresh_token });
    expect(refreshed.session.session_id).toBe(session.session_id);

    await unary<object>(client, "Logout", {}, bearer(refreshed.session.access_token));
    const afterLogout = await failure(unary(client, "SearchUsers", { prefix: cyphrId }, bearer(refreshed.session.access_token)));
    expect(afterLogout.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(detailsOf(afterLogout)).toBe("session has been revoked or has expired");
  });

  it("an authenticated call without metadata fails UNAUTHENTICATED", async () => {
    const error = await failure(unary(client, "SearchUsers", { prefix: "ab" }));
    expect(error.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(detailsOf(error)).toContain("missing authorization");
  });

  it("a login with a wrong signature fails UNAUTHENTICATED 'invalid login credentials'", async () => {
    const cyphrId = uniqueCyphrId("grpcjs");
    await unary(client, "Register", snakeRegisterRequest(cyphrId).request);
    const { nonce } = await unary<{ nonce: Buffer }>(client, "CreateChallenge", { cyphr_id: cyphrId });
    const error = await failure(unary(client, "Login", { cyphr_id: cyphrId, device_id: 1, nonce, signature: Buffer.alloc(64) }));
    expect(error.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(detailsOf(error)).toBe("invalid login credentials");
  });

  it("a malformed Register fails INVALID_ARGUMENT naming the field", async () => {
    const { request } = snakeRegisterRequest(uniqueCyphrId("grpcjs"));
    const error = await failure(unary(client, "Register", { ...request, device_fingerprint: Buffer.alloc(5) }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(detailsOf(error)).toBe("device_fingerprint must be 32 bytes, got 5");
  });

  it("GetProfile of an unknown id fails NOT_FOUND", async () => {
    const error = await failure(unary(client, "GetProfile", { cyphr_id: "nobody_at_all" }));
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(detailsOf(error)).toBe('no user with cyphr_id "nobody_at_all"');
  });

  it("registering a taken id fails ALREADY_EXISTS", async () => {
    const cyphrId = uniqueCyphrId("grpcjs");
    await unary(client, "Register", snakeRegisterRequest(cyphrId).request);
    const error = await failure(unary(client, "Register", snakeRegisterRequest(cyphrId).request));
    expect(error.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(detailsOf(error)).toBe(`cyphr_id "${cyphrId}" is already taken`);
  });
});
