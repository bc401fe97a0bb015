import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountClient, newRecoveryKey, setRecoveryKeyRequest } from "./helpers/account.js";
import { PROTOCOLS } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { createGroupOf, type Participant, participants, sendTo } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import type { RegisteredUser } from "./helpers/users.js";

/** ExportAccountData: a JSON document of everything stored about the caller, and nothing about anyone else. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { PIN_ARGON2_MEMORY_KIB: "1024", PIN_ARGON2_TIME_COST: "1" } });
});
afterAll(() => server.close());

type Export = Record<string, unknown> & { messages: Record<string, unknown>[] };

async function exportOf(user: RegisteredUser, protocol: (typeof PROTOCOLS)[number] = "connect"): Promise<{ doc: Export; chunks: number[] }> {
  const parts: Uint8Array[] = [];
  for await (const { chunk } of accountClient(server.baseUrl, user, protocol).exportAccountData({})) parts.push(chunk);
  return { doc: JSON.parse(Buffer.concat(parts).toString("utf8")) as Export, chunks: parts.map((p) => p.length) };
}

async function columnsOf(table: string): Promise<string[]> {
  const rows = await queryDatabase<{ column_name: string }>(
    server.databaseUrl,
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY 1",
    [table],
  );
  return rows.map((r) => r.column_name);
}

describe("ExportAccountData", () => {
  it.each(PROTOCOLS)("streams the caller's profile, devices, sessions, factors, chats, memberships and own ciphertexts over %s", async (protocol) => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const account = accountClient(server.baseUrl, alice);
    await account.setPin({ pin: "2468" });
    await account.setRecoveryKey(setRecoveryKeyRequest(alice, newRecoveryKey().publicKey));
    const mine = await sendTo(alice, bob as Participant);
    const theirs = await sendTo(bob, alice as Participant);
    const group = await createGroupOf(alice, [bob]);

    const { doc } = await exportOf(alice, protocol);
    expect(doc.format).toBe("cyphr-account-export-v1");
    expect(doc.identities).toMatchObject({
      id: alice.userId,
      cyphr_id: alice.cyphrId,
      identity_public_key: Buffer.from(alice.device.identityPublicKey).toString("base64"),
    });
    expect((doc.devices as { device_id: number }[]).map((d) => d.device_id)).toEqual([1]);
    expect((doc.sessions as { id: string }[]).map((s) => s.id)).toEqual([alice.sessionId]);
    expect(doc.account_pins).toHaveProperty("set_at");
    expect(JSON.stringify(doc)).not.toContain("argon2");
    expect(doc.account_recovery_keys).toHaveProperty("public_key");
    expect(doc.account_totp).toBeNull();
    expect((doc.chats as { id: string }[]).map((c) => c.id).sort()).toEqual([mine.chatId, group].sort());
    const own = doc.messages.find((m) => m.id === mine.messageId)!;
    expect(own).toMatchObject({ chat_id: mine.chatId, seq: Number(mine.seq) });
    const [stored] = await queryDatabase<{ ciphertext: Buffer }>(server.databaseUrl, "SELECT ciphertext FROM messages WHERE id = $1", [mine.messageId]);
    expect(own.ciphertext).toBe(Buffer.from(stored!.ciphertext).toString("base64"));

    // Nothing about Bob: not his Cyphr ID, his keys or his message; his id only in Alice's own contact list.
    const { contacts, ...rest } = doc;
    expect(contacts).toEqual([expect.objectContaining({ contact_id: bob.userId })]);
    const text = JSON.stringify(rest);
    for (const secret of [bob.userId, bob.cyphrId, Buffer.from(bob.device.identityPublicKey).toString("base64"), theirs.messageId]) {
      expect(text).not.toContain(secret);
    }
  });

  it("names every stored column of the caller's rows as in the database (the README's storage table)", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    await sendTo(alice, bob as Participant);
    const { doc } = await exportOf(alice);
    const keysOf = (value: unknown) => Object.keys(value as object).sort();
    expect(keysOf(doc.identities)).toEqual(await columnsOf("identities"));
    const without = async (table: string, implied: string[]) => (await columnsOf(table)).filter((c) => !implied.includes(c));
    expect(keysOf((doc.devices as object[])[0])).toEqual(await without("devices", ["user_id"]));
    expect(keysOf((doc.sessions as object[])[0])).toEqual(await without("sessions", ["user_id"]));
    // The caller's own messages: sender_id is the caller; system_event belongs to system messages only.
    expect(keysOf(doc.messages[0])).toEqual(await without("messages", ["sender_id", "system_event"]));
    expect(keysOf((doc.chat_members as object[])[0])).toEqual(await without("chat_members", ["user_id"]));
    expect(keysOf((doc.chats as object[])[0])).toEqual(await without("chats", ["direct_user_low", "direct_user_high", "mls_group_info"]));
  });

  it("comes in chunks of at most 64 KiB that concatenate to the document, however many messages", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const big = { ciphertext: Buffer.alloc(30_000, 7), nonce: Buffer.alloc(12), tag: Buffer.alloc(16) };
    for (let i = 0; i < 12; i++) await sendTo(alice, bob as Participant, big);
    const { doc, chunks } = await exportOf(alice, "grpc-web");
    expect(doc.messages).toHaveLength(12);
    expect(chunks.length).toBeGreaterThan(6);
    expect(Math.max(...chunks)).toBeLessThanOrEqual(65_536);
  });
});
