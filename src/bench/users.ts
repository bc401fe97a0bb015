import { randomBytes } from "node:crypto";
import { createClient, type Transport } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import { ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { deviceCertificateBytes, registerSignedBytes } from "../devices/signed-bytes.js";
import { IdentityService } from "../gen/cyphr/identity/v1/identity_pb.js";
import { authed } from "./rpc.js";

/** A registered benchmark user: what the load generator needs to act as them. */
export interface BenchUser {
  cyphrId: string;
  userId: string;
  accessToken: string;
  /** ML-KEM-1024 encapsulation key (base64), for real-sized first messages. */
  mlKemPublicKey: string;
}

/**
 * One ML-KEM key pair shared by every benchmark user: key generation is the slow part of
 * registering thousands of users, and the server only checks that the key is well formed.
 */
let sharedKem: Uint8Array | undefined;

/** Registers `count` users with real Ed25519 signatures, `concurrency` at a time (setup, not measured). */
export async function registerUsers(
  transport: Transport,
  prefix: string,
  count: number,
  concurrency = 32,
  onProgress?: (done: number) => void,
): Promise<BenchUser[]> {
  const identity = createClient(IdentityService, transport);
  sharedKem ??= ml_kem1024.keygen().publicKey;
  const mlKemPublicKey = sharedKem;
  const users = new Array<BenchUser>(count);
  let next = 0;
  let done = 0;
  const run = async () => {
    for (let i = next++; i < count; i = next++) {
      const cyphrId = `${prefix}_${i}`;
      const secretKey = ed25519.utils.randomSecretKey();
      const identityPublicKey = ed25519.getPublicKey(secretKey);
      const deviceFingerprint = new Uint8Array(randomBytes(32));
      const signature = ed25519.sign(registerSignedBytes(cyphrId, identityPublicKey, mlKemPublicKey, deviceFingerprint), secretKey);
      // Device 1 signs with the identity key itself (allowed; real clients use a separate key).
      const deviceCertificate = ed25519.sign(deviceCertificateBytes(cyphrId, 1, identityPublicKey), secretKey);
      const res = await identity.register({
        cyphrId,
        identityPublicKey,
        mlKemPublicKey,
        deviceFingerprint,
        signature,
        deviceSigningKey: identityPublicKey,
        deviceCertificate,
      });
      users[i] = { cyphrId, userId: res.userId, accessToken: res.session!.accessToken, mlKemPublicKey: Buffer.from(mlKemPublicKey).toString("base64") };
      onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, run));
  return users;
}

/** Turns presence sharing off, so that opening thousands of streams of one group's members does not announce each to all others. */
export async function hidePresence(transport: Transport, users: readonly BenchUser[], concurrency = 32): Promise<void> {
  const identity = createClient(IdentityService, transport);
  let next = 0;
  const run = async () => {
    for (let i = next++; i < users.length; i = next++) {
      await identity.updateProfile({ updatePaths: ["share_presence"], sharePresence: false }, authed(users[i]!.accessToken));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, run));
}

/** A short random tag that keeps cyphr ids unique across runs on one database (≤ 30 characters in all). */
export function runTag(): string {
  return randomBytes(3).toString("hex");
}
