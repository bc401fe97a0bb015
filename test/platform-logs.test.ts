import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityClient } from "./helpers/clients.js";
import { createTestDatabase } from "./helpers/database.js";
import { type ServerProcess, spawnServer } from "./helpers/process.js";
import { loginRequest, type RegisteredUser, registerUser } from "./helpers/users.js";

/**
 * Operators read stdout as JSON lines. Logs say which call ran, how it ended and how long
 * it took, and never what a client could use against a user: no tokens, signatures or
 * client addresses.
 */

interface LogLine {
  level: number;
  msg?: string;
  method?: string;
  code?: string;
  durationMs?: number;
  [key: string]: unknown;
}

let server: ServerProcess;
let databaseUrl: string;
let user: RegisteredUser;
const secrets: Record<string, string> = {};
let output: string;
const lines: LogLine[] = [];
const notJson: string[] = [];

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  server = await spawnServer({ DATABASE_URL: databaseUrl, LOG_LEVEL: "info" });
  try {
    await server.waitUntilReady();
    const anonymous = identityClient("connect", server.baseUrl, { httpVersion: "1.1" });
    user = await registerUser(anonymous);
    secrets.accessToken = user.accessToken;
    secrets.refreshToken = user.refreshToken;

    const { nonce } = await anonymous.createChallenge({ cyphrId: user.cyphrId });
    const login = loginRequest(user.device, user.cyphrId, nonce);
    const loggedIn = await identityClient("grpc", server.baseUrl).login(login);
    for (const [name, bytes] of Object.entries({ signature: login.signature, nonce })) {
      secrets[`${name} (base64)`] = Buffer.from(bytes).toString("base64");
      secrets[`${name} (base64url)`] = Buffer.from(bytes).toString("base64url");
      secrets[`${name} (hex)`] = Buffer.from(bytes).toString("hex");
    }
    secrets.loginAccessToken = loggedIn.session!.accessToken;

    const refreshed = await anonymous.refreshSession({ refreshToken: user.refreshToken });
    secrets.rotatedRefreshToken = refreshed.session!.refreshToken;
    await identityClient("grpc-web", server.baseUrl, { token: refreshed.session!.accessToken }).searchUsers({ prefix: "zz" });
    // A refused login: its (wrong) signature must not be logged either.
    const forged = { ...login, signature: new Uint8Array(randomBytes(64)) };
    secrets["forged signature (base64)"] = Buffer.from(forged.signature).toString("base64");
    await expect(identityClient("grpc", server.baseUrl).login(forged)).rejects.toThrow();
  } finally {
    expect(await server.terminate(15_000)).toEqual({ code: 0, signal: null });
  }
  output = server.stdout() + server.stderr();
  for (const line of server.stdout().split("\n")) {
    if (line.trim() === "") continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      notJson.push(line);
    }
  }
}, 120_000);
afterAll(() => server.kill());

function rpcLine(method: string, code: string): LogLine | undefined {
  return lines.find((line) => line.msg === "rpc" && line.method === `cyphr.identity.v1.IdentityService/${method}` && line.code === code);
}

describe("structured logs of the server process", () => {
  it("writes one JSON object per stdout line, from start-up to shutdown", () => {
    expect(notJson).toEqual([]);
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(typeof line.level).toBe("number");
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(["cyphr serving gRPC, gRPC-Web and Connect", "shutting down", "stopped"]));
  });

  it("logs each RPC with its method, status code and duration in milliseconds", () => {
    const register = rpcLine("Register", "OK");
    expect(register).toBeDefined();
    expect(register!.durationMs).toEqual(expect.any(Number));
    expect(register!.durationMs).toBeGreaterThanOrEqual(0);
    expect(rpcLine("Login", "OK")).toBeDefined();
    expect(rpcLine("SearchUsers", "OK")).toBeDefined();
    expect(rpcLine("Login", "Unauthenticated")).toMatchObject({ durationMs: expect.any(Number) });
  });

  it("never contains access tokens, refresh tokens, nonces or signatures", () => {
    expect(Object.keys(secrets).length).toBeGreaterThan(10);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length, name).toBeGreaterThan(20);
      expect(output.includes(secret), `${name} appears in the logs`).toBe(false);
    }
    // Nor the signature-bearing part of any JWT.
    for (const token of [secrets.accessToken!, secrets.loginAccessToken!]) {
      expect(output).not.toContain(token.split(".")[2]);
    }
  });

  it("never contains IP addresses or the database URL", () => {
    expect(output).not.toContain("127.0.0.1");
    expect(output).not.toMatch(/\b\d{1,3}(\.\d{1,3}){3}\b/);
    expect(output).not.toMatch(/::ffff:|"::1"/);
    expect(output).not.toContain(new URL(databaseUrl).password || "no password in url");
  });
});
