import { randomBytes, randomUUID } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CallSignalType } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { GroupAddPolicy } from "../src/gen/cyphr/privacy/v1/privacy_pb.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { startLoggedServer, type LoggedServer } from "./helpers/logged-server.js";
import { participant, type Participant } from "./helpers/messaging.js";
import { privacyOf } from "./helpers/privacy.js";
import { closeAllStreams, grpcJsConnect } from "./helpers/realtime.js";
import { MessagingService } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";

/**
 * The privacy flows run with distinctive plaintexts, SDP and keys the clients hold; then
 * every column of every table and every log line is searched for them and for the
 * client's address: nothing may be found.
 */

let server: LoggedServer;
beforeAll(async () => {
  server = await startLoggedServer();
});
afterAll(async () => {
  await closeAllStreams();
  await server?.close();
});

const TAG_BYTES = 16;
const secrets: Uint8Array[] = [];

/** Encrypts to the recipient's published ML-KEM key, as a client does; remembers the plaintext and shared secret as needles. */
async function sealFor(to: Participant, text: string) {
  const plaintext = Buffer.from(text);
  const { profile } = await identityClient("connect", server.baseUrl).getProfile({ cyphrId: to.cyphrId });
  const { cipherText: kemCiphertext, sharedSecret } = ml_kem1024.encapsulate(profile!.mlKemPublicKey);
  const nonce = randomBytes(12);
  const sealed = chacha20poly1305(sharedSecret, nonce).encrypt(plaintext);
  secrets.push(plaintext, sharedSecret);
  return { kemCiphertext, ciphertext: sealed.subarray(0, sealed.length - TAG_BYTES), tag: sealed.subarray(sealed.length - TAG_BYTES), nonce };
}

async function send(from: Participant, to: Participant, text: string, chatId?: string) {
  const destination = chatId ? { case: "chatId" as const, value: chatId } : { case: "recipientCyphrId" as const, value: to.cyphrId };
  return from.messaging.sendMessage({ destination, clientMessageId: randomUUID(), payload: await sealFor(to, text), messageType: 1 });
}

it("after requests, accepts, declines, blocks, settings, typing, receipts, calls and limits, no column and no log line holds a plaintext, a private key or an address", async () => {
  const [alice, bob, carol] = [await participant(server.baseUrl, "connect", "scan_a"), await participant(server.baseUrl, "grpc", "scan_b"), await participant(server.baseUrl, "grpc-web", "scan_c")];
  for (const u of [alice, bob, carol]) secrets.push(u.device.identitySecretKey, u.device.deviceSecretKey, u.device.mlKemSecretKey);

  const first = await send(alice, bob, "zq-privacy-scan request plaintext one");
  await privacyOf(server.baseUrl, bob).acceptChat({ chatId: first.chatId });
  await send(bob, alice, "zq-privacy-scan reply plaintext two", first.chatId);
  const declined = await send(carol, bob, "zq-privacy-scan declined plaintext three");
  await privacyOf(server.baseUrl, bob).declineChat({ chatId: declined.chatId });
  await privacyOf(server.baseUrl, bob).blockUser({ cyphrId: carol.cyphrId });
  await send(carol, bob, "zq-privacy-scan blocked plaintext four", declined.chatId);
  await privacyOf(server.baseUrl, bob).updatePrivacySettings({ updatePaths: ["discoverable", "group_adds"], settings: { discoverable: true, groupAdds: GroupAddPolicy.EVERYONE } });
  await identityClient("connect", server.baseUrl, { token: alice.accessToken }).searchUsers({ prefix: "scan_" });

  const aliceStream = grpcJsConnect(server.baseUrl, alice.accessToken);
  const bobStream = grpcJsConnect(server.baseUrl, bob.accessToken);
  await Promise.all([aliceStream.caughtUp(), bobStream.caughtUp()]);
  bobStream.typing(first.chatId, true);
  await bob.messaging.markRead({ chatId: first.chatId, upToSeq: 2n });
  await aliceStream.take("receipt");
  const sdp = Buffer.from(`v=0 zq-privacy-scan-sdp ${randomBytes(8).toString("hex")}`);
  secrets.push(sdp);
  aliceStream.send({ requestId: "offer", frame: { case: "callSignal", value: { callId: randomUUID(), chatId: first.chatId, type: CallSignalType.OFFER, payload: sdp } } });
  await bobStream.take("callSignal");
  await clientFor(MessagingService, "connect", server.baseUrl, { token: carol.accessToken }).listChats({});
  for (const job of server.app.jobs.names()) await server.app.jobs.run(job);

  const addresses = ["127.0.0.1", "::ffff:127.0.0.1"].map((a) => Buffer.from(a));
  const needles = [...secrets, ...addresses];
  const hits = await findAllEverywhere(server.databaseUrl, needles);
  expect(hits.map((h) => ({ ...h, needle: Buffer.from(needles[h.needle]!).toString("hex").slice(0, 32) }))).toEqual([]);

  const logs = server.logText();
  expect(logs.length).toBeGreaterThan(1000);
  for (const needle of needles) {
    const bytes = Buffer.from(needle);
    for (const form of [bytes.toString("hex"), bytes.toString("base64"), bytes.toString("utf8")]) {
      if (form.length >= 8) expect(logs.includes(form), `log holds ${form.slice(0, 24)}…`).toBe(false);
    }
  }
});
