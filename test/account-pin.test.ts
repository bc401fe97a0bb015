import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountService } from "../src/gen/cyphr/account/v1/account_pb.js";
import { accountClient } from "./helpers/account.js";
import { clientFor } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { participants } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import type { RegisteredUser } from "./helpers/users.js";
import { WIRES } from "./helpers/wires.js";

/** SetPin / RemovePin, argon2id storage, and the attempt limits (5 free failures, then 30 s doubling). */

const CHEAP = { PIN_ARGON2_MEMORY_KIB: "1024", PIN_ARGON2_TIME_COST: "1" };
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: CHEAP });
});
afterAll(() => server.close());

async function pinHash(user: RegisteredUser): Promise<string | undefined> {
  const rows = await queryDatabase<{ pin_hash: string }>(server.databaseUrl, "SELECT pin_hash FROM account_pins WHERE user_id = $1", [user.userId]);
  return rows[0]?.pin_hash;
}

/** Moves the server's attempt-limit clock to `at` (ms since the epoch). */
function setClock(target: TestServer, at: number): void {
  target.app.account.now = () => at;
}

describe.each(WIRES)("PIN over $name", (wire) => {
  it("SetPin stores an argon2id hash (never the PIN); changing needs the current PIN; RemovePin needs it too", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const account = clientFor(AccountService, wire.protocol, server.baseUrl, { token: alice.accessToken, httpVersion: wire.httpVersion });
    await account.setPin({ pin: "4821" });
    const hash = await pinHash(alice);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
    expect(hash).not.toContain("4821");

    await expectRpcError(account.setPin({ pin: "9999" }), Code.PermissionDenied, "wrong PIN: current_pin is required to change the PIN");
    await expectRpcError(account.setPin({ pin: "9999", currentPin: "0000" }), Code.PermissionDenied, "wrong PIN");
    await account.setPin({ pin: "correct horse", currentPin: "4821" });
    await expectRpcError(account.removePin({ currentPin: "4821" }), Code.PermissionDenied, "wrong PIN");
    await account.removePin({ currentPin: "correct horse" });
    expect(await pinHash(alice)).toBeUndefined();
    await expectRpcError(account.removePin({ currentPin: "correct horse" }), Code.FailedPrecondition, "no PIN is set");
  });

  it("a PIN has 4 to 64 characters (code points)", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const account = clientFor(AccountService, wire.protocol, server.baseUrl, { token: alice.accessToken, httpVersion: wire.httpVersion });
    await expectRpcError(account.setPin({ pin: "123" }), Code.InvalidArgument, "pin must be 4 to 64 characters, got 3");
    await expectRpcError(account.setPin({ pin: "x".repeat(65) }), Code.InvalidArgument, "pin must be 4 to 64 characters, got 65");
    await account.setPin({ pin: "😀😀😀😀" });
  });
});

describe("PIN attempt limits", () => {
  it("four wrong PINs cost nothing; the fifth locks for 30 s, the sixth for 60 s; a locked attempt is refused unchecked; the right PIN resets", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const account = accountClient(server.baseUrl, alice);
    await account.setPin({ pin: "2468" });
    let now = Date.UTC(2030, 0, 1);
    setClock(server, now);
    try {
      for (let i = 0; i < 5; i++) await expectRpcError(account.removePin({ currentPin: "0000" }), Code.PermissionDenied, "wrong PIN");
      // Locked: even the right PIN is refused, with when to retry.
      const locked = await expectRpcError(account.removePin({ currentPin: "2468" }), Code.ResourceExhausted, "too many wrong PIN attempts; try again in 30 s");
      expect(locked.metadata.get("retry-after-ms") ?? locked.details.length).toBeTruthy();
      now += 29_000;
      setClock(server, now);
      await expectRpcError(account.removePin({ currentPin: "2468" }), Code.ResourceExhausted, "try again in 1 s");
      now += 1_000;
      setClock(server, now);
      // The sixth failure doubles the lock.
      await expectRpcError(account.removePin({ currentPin: "1111" }), Code.PermissionDenied, "wrong PIN");
      await expectRpcError(account.removePin({ currentPin: "2468" }), Code.ResourceExhausted, "try again in 60 s");
      now += 60_000;
      setClock(server, now);
      await account.setPin({ pin: "1357", currentPin: "2468" });
      const rows = await queryDatabase(server.databaseUrl, "SELECT 1 FROM account_attempts WHERE user_id = $1", [alice.userId]);
      expect(rows).toHaveLength(0);
    } finally {
      server.app.account.now = () => Date.now();
    }
  });

  it("the count lives in PostgreSQL: a lock survives a restart and holds on another instance", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    await accountClient(server.baseUrl, alice).setPin({ pin: "2468" });
    const first = await startTestServer({ databaseUrl: server.databaseUrl, dataDir: server.dataDir, env: CHEAP });
    for (let i = 0; i < 5; i++) await expectRpcError(accountClient(first.baseUrl, alice).removePin({ currentPin: "0000" }), Code.PermissionDenied, "wrong PIN");
    await first.close();
    const restarted = await startTestServer({ databaseUrl: server.databaseUrl, dataDir: server.dataDir, env: CHEAP });
    try {
      await expectRpcError(accountClient(restarted.baseUrl, alice).removePin({ currentPin: "2468" }), Code.ResourceExhausted, "too many wrong PIN attempts");
      await expectRpcError(accountClient(server.baseUrl, alice).removePin({ currentPin: "2468" }), Code.ResourceExhausted, "too many wrong PIN attempts");
    } finally {
      await restarted.close();
    }
  });
});

describe("PIN attempts in parallel", () => {
  it("ten wrong PINs sent at once are all counted: each attempt sees the ones before it, so at most five are checked before the lock", async () => {
    // Costly hashes, so that the ten checks overlap in time if nothing serialises them.
    const slow = await startTestServer({
      databaseUrl: server.databaseUrl,
      dataDir: server.dataDir,
      env: { PIN_ARGON2_MEMORY_KIB: "32768", PIN_ARGON2_TIME_COST: "3" },
    });
    try {
      await tenAtOnce(slow);
    } finally {
      await slow.close();
    }
  });
});

async function tenAtOnce(slow: TestServer): Promise<void> {
  {
    const [alice] = await participants(slow.baseUrl, 1);
    const account = accountClient(slow.baseUrl, alice);
    await account.setPin({ pin: "2468" });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => account.removePin({ currentPin: `00${i}0` })));
    const codes = results.map((r) => (r.status === "rejected" ? Code[(r.reason as { code: Code }).code] : "OK"));
    expect(codes.filter((c) => c === "PermissionDenied")).toHaveLength(5);
    expect(codes.filter((c) => c === "ResourceExhausted")).toHaveLength(5);
    const [row] = await queryDatabase<{ failures: number }>(server.databaseUrl, "SELECT failures FROM account_attempts WHERE user_id = $1", [alice.userId]);
    expect(row!.failures).toBe(5);
  }
}
