import fs from "node:fs/promises";
import path from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountService } from "../src/gen/cyphr/account/v1/account_pb.js";
import { accountClient, totpCode, wrongCode } from "./helpers/account.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { type LoggedServer, startLoggedServer } from "./helpers/logged-server.js";
import { participants } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { loginRequest, type RegisteredUser } from "./helpers/users.js";
import { WIRES } from "./helpers/wires.js";

/** Two-factor login with TOTP (RFC 6238): enrolment, Login's code, no replay, attempt limits, the secret at rest. */

let server: LoggedServer;
beforeAll(async () => {
  server = await startLoggedServer();
});
afterAll(() => server.close());

/** Runs the server's TOTP clock at `at` for the body. */
async function at<T>(ms: number, body: () => Promise<T>): Promise<T> {
  server.app.account.now = () => ms;
  try {
    return await body();
  } finally {
    server.app.account.now = () => Date.now();
  }
}

async function login(user: RegisteredUser, totp = "") {
  const identity = identityClient("connect", server.baseUrl);
  const { nonce } = await identity.createChallenge({ cyphrId: user.cyphrId });
  return identity.login({ ...loginRequest(user.device, user.cyphrId, nonce), totpCode: totp });
}

async function enrol(user: RegisteredUser, when: number): Promise<string> {
  const account = accountClient(server.baseUrl, user);
  const { secret } = await account.enableTotp({});
  await at(when, () => account.confirmTotp({ code: totpCode(secret, when) }));
  return secret;
}

describe.each(WIRES)("TOTP enrolment over $name", (wire) => {
  it("EnableTotp returns a base32 secret and its otpauth URI; ConfirmTotp with an independently computed code turns it on", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const account = clientFor(AccountService, wire.protocol, server.baseUrl, { token: alice.accessToken, httpVersion: wire.httpVersion });
    const { secret, otpauthUri } = await account.enableTotp({});
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(otpauthUri);
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(decodeURIComponent(uri.pathname)).toBe(`/Cyphr:${alice.cyphrId}`);
    expect(Object.fromEntries(uri.searchParams)).toEqual({ secret, issuer: "Cyphr", algorithm: "SHA1", digits: "6", period: "30" });

    await expectRpcError(account.confirmTotp({ code: "12345" }), Code.InvalidArgument, "code must be 6 digits");
    const now = Date.now();
    await expectRpcError(
      at(now, () => account.confirmTotp({ code: wrongCode(totpCode(secret, now)) })),
      Code.PermissionDenied,
      "invalid TOTP code",
    );
    await at(now, () => account.confirmTotp({ code: totpCode(secret, now) }));
    await expectRpcError(account.enableTotp({}), Code.FailedPrecondition, "TOTP is already enabled");
    await expectRpcError(account.confirmTotp({ code: "000000" }), Code.FailedPrecondition, "no TOTP enrolment is pending");
  });
});

describe("Login with TOTP", () => {
  it("while TOTP is off Login needs no code; once on, a missing or wrong code is refused and a valid one signs in", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    await login(alice);
    const t0 = Date.UTC(2031, 5, 1, 12, 0, 0);
    const secret = await enrol(alice, t0);
    const later = t0 + 90_000;
    await at(later, async () => {
      await expectRpcError(login(alice), Code.Unauthenticated, "a TOTP code is required");
      await expectRpcError(login(alice, wrongCode(totpCode(secret, later))), Code.Unauthenticated, "invalid TOTP code");
      const ok = await login(alice, totpCode(secret, later));
      expect(ok.userId).toBe(alice.userId);
    });
  });

  it("a code is accepted once: the same code again, or an older step's code, is refused", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const t0 = Date.UTC(2031, 5, 2, 12, 0, 0);
    const secret = await enrol(alice, t0);
    const t1 = t0 + 120_000;
    await at(t1, async () => {
      const code = totpCode(secret, t1);
      await login(alice, code);
      await expectRpcError(login(alice, code), Code.Unauthenticated, "invalid TOTP code");
      // The previous step's code is inside the window but before the accepted step.
      await expectRpcError(login(alice, totpCode(secret, t1 - 30_000)), Code.Unauthenticated, "invalid TOTP code");
    });
    // The confirmation's own code cannot log in either.
    await expectRpcError(
      at(t0, () => login(alice, totpCode(secret, t0))),
      Code.Unauthenticated,
      "invalid TOTP code",
    );
  });

  it("wrong codes are limited like the PIN: the fifth locks TOTP for 30 s, then a valid code works", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const t0 = Date.UTC(2031, 5, 3, 12, 0, 0);
    const secret = await enrol(alice, t0);
    const t1 = t0 + 60_000;
    await at(t1, async () => {
      for (let i = 0; i < 5; i++) await expectRpcError(login(alice, wrongCode(totpCode(secret, t1))), Code.Unauthenticated, "invalid TOTP code");
      await expectRpcError(login(alice, totpCode(secret, t1)), Code.ResourceExhausted, "too many wrong TOTP attempts; try again in 30 s");
    });
    const t2 = t1 + 30_000;
    await at(t2, () => login(alice, totpCode(secret, t2)));
  });

  it("DisableTotp needs a valid unused code; afterwards Login needs none", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const account = accountClient(server.baseUrl, alice);
    await expectRpcError(account.disableTotp({ code: "123456" }), Code.FailedPrecondition, "TOTP is not enabled");
    const t0 = Date.UTC(2031, 5, 4, 12, 0, 0);
    const secret = await enrol(alice, t0);
    await expectRpcError(
      at(t0, () => account.disableTotp({ code: totpCode(secret, t0) })),
      Code.PermissionDenied,
      "invalid TOTP code",
    );
    const t1 = t0 + 30_000;
    await at(t1, () => account.disableTotp({ code: totpCode(secret, t1) }));
    await login(alice);
  });
});

describe("the TOTP secret at rest", () => {
  it("is in no column in any form (only sealed), in no log line, in no file of the data folder but the key", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const account = accountClient(server.baseUrl, alice);
    const { secret, otpauthUri } = await account.enableTotp({});
    const t0 = Date.now();
    await at(t0, () => account.confirmTotp({ code: totpCode(secret, t0) }));
    const raw = base32ToBytes(secret);
    const hits = await findAllEverywhere(server.databaseUrl, [raw, new TextEncoder().encode(secret), new TextEncoder().encode(otpauthUri)]);
    expect(hits).toEqual([]);
    const sealed = await import("./helpers/database.js").then((db) =>
      db.queryDatabase<{ n: number }>(server.databaseUrl, "SELECT octet_length(secret_sealed) AS n FROM account_totp WHERE user_id = $1", [alice.userId]),
    );
    expect(sealed[0]!.n).toBe(48);
    expect(server.logText()).not.toContain(secret);
    expect(server.logText()).not.toContain(Buffer.from(raw).toString("hex"));
    const key = await fs.readFile(path.join(server.dataDir, "totp-key"), "utf8");
    expect(key.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect((await fs.stat(path.join(server.dataDir, "totp-key"))).mode & 0o777).toBe(0o600);
  });
});

function base32ToBytes(text: string): Uint8Array {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of text) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}
