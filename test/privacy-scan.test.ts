import { randomBytes, randomUUID } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AttachmentsService } from "../src/gen/cyphr/attachments/v1/attachments_pb.js";
import { MessagingService } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { GroupAddPolicy } from "../src/gen/cyphr/privacy/v1/privacy_pb.js";
import { CallSignalType } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { accountClient, newRecoveryKey, recoverRequest, setRecoveryKeyRequest, totpCode } from "./helpers/account.js";
import { uploadBytes } from "./helpers/attachments.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { linkDevice } from "./helpers/devices.js";
import { type LoggedServer, startLoggedServer } from "./helpers/logged-server.js";
import { createGroupOf, type Participant, participant } from "./helpers/messaging.js";
import { MlsDevice } from "./helpers/mls-client.js";
import { privacyOf } from "./helpers/privacy.js";
import { closeAllStreams, grpcJsConnect } from "./helpers/realtime.js";

/**
 * The privacy flows, then every other service's (messaging over unary calls and stream
 * frames, groups, MLS chats and key packages, device links, attachments in the PostgreSQL
 * blob store, PIN, TOTP, recovery and export, calls and typing), run with distinctive
 * plaintexts, SDP and keys the clients hold; then every column of every table and every
 * log line is searched for them and for the client's address: nothing may be found.
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
  const [alice, bob, carol] = [
    await participant(server.baseUrl, "connect", "scan_a"),
    await participant(server.baseUrl, "grpc", "scan_b"),
    await participant(server.baseUrl, "grpc-web", "scan_c"),
  ];
  for (const u of [alice, bob, carol]) secrets.push(u.device.identitySecretKey, u.device.deviceSecretKey, u.device.mlKemSecretKey);

  const first = await send(alice, bob, "zq-privacy-scan request plaintext one");
  await privacyOf(server.baseUrl, bob).acceptChat({ chatId: first.chatId });
  await send(bob, alice, "zq-privacy-scan reply plaintext two", first.chatId);
  const declined = await send(carol, bob, "zq-privacy-scan declined plaintext three");
  await privacyOf(server.baseUrl, bob).declineChat({ chatId: declined.chatId });
  await privacyOf(server.baseUrl, bob).blockUser({ cyphrId: carol.cyphrId });
  await send(carol, bob, "zq-privacy-scan blocked plaintext four", declined.chatId);
  await privacyOf(server.baseUrl, bob).updatePrivacySettings({
    updatePaths: ["discoverable", "group_adds"],
    settings: { discoverable: true, groupAdds: GroupAddPolicy.EVERYONE },
  });
  await identityClient("connect", server.baseUrl, { token: alice.accessToken }).searchUsers({ prefix: "scan_" });

  const aliceStream = grpcJsConnect(server.baseUrl, alice.accessToken);
  const bobStream = grpcJsConnect(server.baseUrl, bob.accessToken);
  await Promise.all([aliceStream.caughtUp(), bobStream.caughtUp()]);
  bobStream.typing(first.chatId, true);
  await bob.messaging.markRead({ chatId: first.chatId, upToSeq: 2n });
  await aliceStream.take("receipt");
  const sdp = Buffer.from(`v=0 zq-privacy-scan-sdp ${randomBytes(8).toString("hex")}`);
  secrets.push(sdp);
  aliceStream.send({
    requestId: "offer",
    frame: { case: "callSignal", value: { callId: randomUUID(), chatId: first.chatId, type: CallSignalType.OFFER, payload: sdp } },
  });
  await bobStream.take("callSignal");
  await clientFor(MessagingService, "connect", server.baseUrl, { token: carol.accessToken }).listChats({});
  for (const job of server.app.jobs.names()) await server.app.jobs.run(job);

  await expectNothingStored();
});

it("after messaging (unary and frames), groups, MLS chats, key packages, device links, attachments, PIN, TOTP, recovery, export, calls and typing, no column and no log line holds a plaintext, a private key or an address", async () => {
  const [alice, bob, carol] = [
    await participant(server.baseUrl, "connect", "scan_d"),
    await participant(server.baseUrl, "grpc", "scan_e"),
    await participant(server.baseUrl, "grpc-web", "scan_f"),
  ];
  for (const u of [alice, bob, carol]) secrets.push(u.device.identitySecretKey, u.device.deviceSecretKey, u.device.mlKemSecretKey);

  // Messaging: a unary send and a reply, then a send as a stream frame.
  const direct = await send(alice, bob, "zq-services-scan unary plaintext");
  await send(bob, alice, "zq-services-scan reply plaintext", direct.chatId);
  const aliceStream = grpcJsConnect(server.baseUrl, alice.accessToken);
  const bobStream = grpcJsConnect(server.baseUrl, bob.accessToken);
  await Promise.all([aliceStream.caughtUp(), bobStream.caughtUp()]);
  aliceStream.send({
    requestId: "frame-send",
    frame: {
      case: "sendMessage",
      value: {
        destination: { case: "chatId", value: direct.chatId },
        clientMessageId: randomUUID(),
        payload: await sealFor(bob, "zq-services-scan frame plaintext"),
        messageType: 1,
      },
    },
  });
  await bobStream.take("messageNew", (m) => m.senderCyphrId === alice.cyphrId && m.seq > direct.seq + 1n);
  await bob.messaging.markRead({ chatId: direct.chatId, upToSeq: direct.seq + 2n });

  // Groups: created, a message, typing, a call offer and answer.
  const groupId = await createGroupOf(alice, [bob, carol]);
  await send(alice, bob, "zq-services-scan group plaintext", groupId);
  aliceStream.typing(groupId, true);
  await bobStream.take("typing", (t) => t.chatId === groupId);
  const callId = randomUUID();
  const offer = Buffer.from(`v=0 zq-services-scan-offer ${randomBytes(8).toString("hex")}`);
  const answer = Buffer.from(`v=0 zq-services-scan-answer ${randomBytes(8).toString("hex")}`);
  secrets.push(offer, answer);
  aliceStream.send({ requestId: "offer", frame: { case: "callSignal", value: { callId, chatId: direct.chatId, type: CallSignalType.OFFER, payload: offer } } });
  await bobStream.take("callSignal");
  bobStream.send({
    requestId: "answer",
    frame: { case: "callSignal", value: { callId, chatId: direct.chatId, type: CallSignalType.ANSWER, payload: answer } },
  });
  await aliceStream.take("callSignal", (c) => c.type === CallSignalType.ANSWER);

  // A linked device, key packages and an MLS direct chat with an application message.
  const aliceLaptop = await linkDevice(server.baseUrl, alice);
  secrets.push(aliceLaptop.device.identitySecretKey, aliceLaptop.device.deviceSecretKey, aliceLaptop.device.mlKemSecretKey);
  const a1 = new MlsDevice(alice, server.baseUrl);
  const b1 = new MlsDevice(bob, server.baseUrl, "grpc");
  await b1.uploadKeyPackages(2);
  const created = await a1.chats.createMlsChat({ kind: { case: "peerCyphrId", value: bob.cyphrId }, ciphersuite: 0 });
  await a1.startGroup(created.chatId, created.groupId);
  const forBob = await a1.keys.claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: 0 });
  await a1.commit(created.chatId, { add: forBob.keyPackages });
  await b1.acceptWelcome(created.chatId);
  const mlsText = `zq-services-scan mls plaintext ${randomBytes(4).toString("hex")}`;
  secrets.push(Buffer.from(mlsText));
  await a1.send(created.chatId, mlsText);
  expect(await b1.sync(created.chatId)).toContain(mlsText);
  secrets.push(...(await a1.privateKeys()), ...(await b1.privateKeys()));

  // An attachment, encrypted by its client, in the PostgreSQL blob store, read back by the sender.
  const fileKey = randomBytes(32);
  const fileText = Buffer.from(`zq-services-scan attachment plaintext ${randomBytes(8).toString("hex")}`.repeat(64));
  secrets.push(fileKey, fileText);
  const attachments = clientFor(AttachmentsService, "connect", server.baseUrl, { token: alice.accessToken });
  const nonce = randomBytes(12);
  const attachmentId = await uploadBytes(attachments, Buffer.concat([nonce, chacha20poly1305(fileKey, nonce).encrypt(fileText)]));
  for await (const _part of attachments.getAttachment({ attachmentId })) void _part;

  // Account lifecycle: PIN, TOTP, recovery key, export; recovery onto a new device for carol.
  const pin = `zq-pin-${randomBytes(4).toString("hex")}`;
  secrets.push(Buffer.from(pin));
  await accountClient(server.baseUrl, alice).setPin({ pin });
  const { secret: totpSecret } = await accountClient(server.baseUrl, alice).enableTotp({});
  secrets.push(Buffer.from(totpSecret));
  await accountClient(server.baseUrl, alice).confirmTotp({ code: totpCode(totpSecret, Date.now()) });
  const recoveryKey = newRecoveryKey();
  secrets.push(recoveryKey.secretKey);
  await accountClient(server.baseUrl, carol, "grpc-web").setRecoveryKey(setRecoveryKeyRequest(carol, recoveryKey.publicKey));
  const challenge = await accountClient(server.baseUrl).createRecoveryChallenge({ cyphrId: carol.cyphrId });
  const recovery = recoverRequest(carol.cyphrId, recoveryKey.secretKey, challenge);
  secrets.push(recovery.device.identitySecretKey, recovery.device.deviceSecretKey, recovery.device.mlKemSecretKey);
  await accountClient(server.baseUrl).recoverAccount(recovery.request);
  for await (const _chunk of accountClient(server.baseUrl, alice).exportAccountData({})) void _chunk;
  for (const job of server.app.jobs.names()) await server.app.jobs.run(job);

  await expectNothingStored();
});

/** Every column of every table and every log line, searched for each secret and the client's address. */
async function expectNothingStored(): Promise<void> {
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
}
