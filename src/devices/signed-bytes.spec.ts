import { describe, expect, it } from "vitest";
import { deviceCertificateBytes, loginSignedBytes, registerSignedBytes } from "./signed-bytes.js";

/** The exact bytes every client signs: fixed vectors, so an SDK in another language can check itself against them. */

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const ascii = (text: string) => Buffer.from(text, "ascii").toString("hex");
const key = Uint8Array.from({ length: 32 }, (_, i) => i);

describe("signed byte strings", () => {
  it('device certificate: "cyphr-device-v1" 00 cyphr_id 00 device_id (u32 BE) key', () => {
    expect(hex(deviceCertificateBytes("alice", 258, key))).toBe(`${ascii("cyphr-device-v1")}00${ascii("alice")}0000000102${hex(key)}`);
  });

  it('login: "cyphr-login-v2" 00 cyphr_id 00 device_id (u32 BE) nonce', () => {
    const nonce = new Uint8Array(32).fill(0xab);
    expect(hex(loginSignedBytes("bob_1", 1, nonce))).toBe(`${ascii("cyphr-login-v2")}00${ascii("bob_1")}0000000001${"ab".repeat(32)}`);
  });

  it("device ids are written big-endian over all four bytes, up to 2^32 - 1", () => {
    expect(hex(loginSignedBytes("abc", 0xfffffffe, new Uint8Array(0))).slice(-8)).toBe("fffffffe");
    expect(() => loginSignedBytes("abc", 2 ** 32, new Uint8Array(0))).toThrow(RangeError);
    expect(() => deviceCertificateBytes("abc", -1, key)).toThrow(RangeError);
  });

  it('register: "cyphr-register-v1" 00 cyphr_id 00 identity key, ML-KEM key, fingerprint', () => {
    const kem = new Uint8Array([9, 9]);
    const fingerprint = new Uint8Array([7]);
    expect(hex(registerSignedBytes("carol", key, kem, fingerprint))).toBe(`${ascii("cyphr-register-v1")}00${ascii("carol")}00${hex(key)}090907`);
  });
});
