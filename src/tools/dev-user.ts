/**
 * Development helper: registers a Cyphr ID with freshly generated keys (or logs in again
 * with keys saved earlier) and prints an access token, so that grpcurl and curl sessions
 * can make authenticated calls. Keys are saved under .cyphr-dev/<cyphr_id>.json.
 *
 *   npx tsx src/tools/dev-user.ts alice [http://localhost:8080]
 */

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ed25519 } from "@noble/curves/ed25519.js";
import { ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { deviceCertificateBytes, loginSignedBytes, registerSignedBytes } from "../devices/signed-bytes.js";
import { IdentityService } from "../gen/cyphr/identity/v1/identity_pb.js";

const [cyphrId, baseUrl = "http://localhost:8080"] = process.argv.slice(2);
if (!cyphrId) {
  console.error("usage: npx tsx src/tools/dev-user.ts <cyphr_id> [base url]");
  process.exit(2);
}
const client = createClient(IdentityService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
const file = path.join(".cyphr-dev", `${cyphrId}.json`);

interface SavedKeys {
  secretKey: string;
  fingerprint: string;
}

let token: string;
if (fs.existsSync(file)) {
  const saved = JSON.parse(fs.readFileSync(file, "utf8")) as SavedKeys;
  const secretKey = Buffer.from(saved.secretKey, "hex");
  const { nonce } = await client.createChallenge({ cyphrId });
  const res = await client.login({
    cyphrId,
    deviceId: 1,
    nonce,
    signature: ed25519.sign(loginSignedBytes(cyphrId, 1, nonce), secretKey),
  });
  token = res.session!.accessToken;
} else {
  const secretKey = ed25519.utils.randomSecretKey();
  const identityPublicKey = ed25519.getPublicKey(secretKey);
  const { publicKey: mlKemPublicKey } = ml_kem1024.keygen();
  const fingerprint = new Uint8Array(randomBytes(32));
  const res = await client.register({
    cyphrId,
    identityPublicKey,
    mlKemPublicKey,
    deviceFingerprint: fingerprint,
    signature: ed25519.sign(registerSignedBytes(cyphrId, identityPublicKey, mlKemPublicKey, fingerprint), secretKey),
    // Device 1 signs with the identity key itself: one key to keep for this helper.
    deviceSigningKey: identityPublicKey,
    deviceCertificate: ed25519.sign(deviceCertificateBytes(cyphrId, 1, identityPublicKey), secretKey),
  });
  fs.mkdirSync(".cyphr-dev", { recursive: true, mode: 0o700 });
  const saved: SavedKeys = { secretKey: Buffer.from(secretKey).toString("hex"), fingerprint: Buffer.from(fingerprint).toString("hex") };
  fs.writeFileSync(file, JSON.stringify(saved), { mode: 0o600 });
  token = res.session!.accessToken;
}
process.stdout.write(`${token}\n`);
