import { randomBytes, randomUUID } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Direction, MessageType } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { identityClient } from "./helpers/clients.js";
import { findEverywhere } from "./helpers/db-scan.js";
import { type Participant, participant } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Zero knowledge, end to end: a client encrypts with the recipient's published ML-KEM-1024
 * key, the recipient decrypts what history returns, and the server's database holds the
 * plaintext nowhere.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const TAG_BYTES = 16;

/** What a sending client does: encapsulate a fresh key to the recipient, seal the text with it. */
async function encryptFor(recipientCyphrId: string, plaintext: Uint8Array) {
  const { profile } = await identityClient("connect", server.baseUrl).getProfile({ cyphrId: recipientCyphrId });
  const { cipherText: kemCiphertext, sharedSecret } = ml_kem1024.encapsulate(profile!.mlKemPublicKey);
  const nonce = randomBytes(12);
  const sealed = chacha20poly1305(sharedSecret, nonce).encrypt(plaintext);
  return {
    kemCiphertext,
    ciphertext: sealed.subarray(0, sealed.length - TAG_BYTES),
    tag: sealed.subarray(sealed.length - TAG_BYTES),
    nonce,
  };
}

/** What a receiving client does with a stored payload and its own secret key. */
function decrypt(recipient: Participant, payload: { kemCiphertext: Uint8Array; ciphertext: Uint8Array; nonce: Uint8Array; tag: Uint8Array }) {
  const sharedSecret = ml_kem1024.decapsulate(payload.kemCiphertext, recipient.device.mlKemSecretKey);
  return chacha20poly1305(sharedSecret, payload.nonce).decrypt(Buffer.concat([payload.ciphertext, payload.tag]));
}

it("a message encrypted to the recipient's published ML-KEM-1024 key decrypts on their side, and its plaintext is stored nowhere", async () => {
  const alice = await participant(server.baseUrl, "connect", "alice");
  const bob = await participant(server.baseUrl, "connect", "bob");
  const plaintext = new TextEncoder().encode(`Meet me by the old mill at midnight, bring the map ${randomUUID()}`);

  const payload = await encryptFor(bob.cyphrId, plaintext);
  expect(payload.kemCiphertext).toHaveLength(1568);
  const sent = await alice.messaging.sendMessage({
    destination: { case: "recipientCyphrId", value: bob.cyphrId },
    clientMessageId: randomUUID(),
    payload,
    messageType: MessageType.TEXT,
  });

  const { messages } = await bob.messaging.listMessages({ chatId: sent.chatId, direction: Direction.FORWARD });
  expect(messages).toHaveLength(1);
  const received = messages[0]!;
  expect(received).toMatchObject({ messageId: sent.messageId, senderCyphrId: alice.cyphrId, messageType: MessageType.TEXT });
  expect(Buffer.from(received.payload!.kemCiphertext)).toEqual(Buffer.from(payload.kemCiphertext));
  expect(new TextDecoder().decode(decrypt(bob, received.payload!))).toBe(new TextDecoder().decode(plaintext));

  // Only Bob's secret key opens it: Alice's own key yields a different secret and the tag check fails.
  expect(() => decrypt(alice, received.payload!)).toThrow();

  // The scan finds what is stored (ciphertext bytes, Cyphr IDs as text) and must not find the plaintext.
  const ciphertextHits = await findEverywhere(server.databaseUrl, payload.ciphertext);
  expect(ciphertextHits.map((h) => `${h.table}.${h.column}`)).toEqual([
    "public.messages.ciphertext",
    expect.stringMatching(/^public\.messages_p\d+\.ciphertext$/),
  ]);
  expect(await findEverywhere(server.databaseUrl, Buffer.from(bob.cyphrId))).toContainEqual(
    expect.objectContaining({ table: "public.identities", column: "cyphr_id" }),
  );
  expect(await findEverywhere(server.databaseUrl, plaintext)).toEqual([]);
});
