import { ed25519 } from "@noble/curves/ed25519.js";
import { createCommit, createGroup, encodeMlsMessage, type KeyPackage } from "ts-mls";
import { signKeyPackage } from "ts-mls/keyPackage.js";
import { signLeafNodeKeyPackage } from "ts-mls/leafNode.js";
import { describe, expect, it } from "vitest";
import { deviceCredentialIdentity, parseDeviceCredentialIdentity } from "../src/mls/credential.js";
import { readFraming, readGroupInfo, readWelcome } from "../src/mls/framing.js";
import { checkKeyPackage, type KeyPackageOwner, KeyPackageRejection, MAX_KEY_PACKAGE_BYTES } from "../src/mls/key-package.js";
import { SUPPORTED_CIPHERSUITES } from "../src/mls/suites.js";
import { DEFAULT_SUITE, deviceKeyPackage, keyPackageBytes, nowSeconds, suiteImpl } from "./helpers/mls.js";

const accepted = [...SUPPORTED_CIPHERSUITES];

function device(cyphrId = "alice_mls", deviceId = 2) {
  const signingSecretKey = ed25519.utils.randomSecretKey();
  const owner: KeyPackageOwner = { cyphrId, deviceId, signingKey: ed25519.getPublicKey(signingSecretKey) };
  return { signingSecretKey, owner };
}

async function rejection(bytes: Uint8Array, owner: KeyPackageOwner, suites = accepted): Promise<string> {
  const error = await checkKeyPackage(bytes, owner, suites, nowSeconds()).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyPackageRejection);
  return (error as Error).message;
}

/** Re-signs a modified package with the device key, as a client that built it so would. */
async function resigned(kp: KeyPackage, signingSecretKey: Uint8Array, change: (kp: KeyPackage) => KeyPackage): Promise<Uint8Array> {
  const impl = await suiteImpl(kp.cipherSuite);
  const changed = change(kp);
  const { signature: _leafSig, ...leafTbs } = changed.leafNode;
  const leafNode = await signLeafNodeKeyPackage(leafTbs, signingSecretKey, impl.signature);
  const { signature: _sig, ...tbs } = { ...changed, leafNode };
  return keyPackageBytes(await signKeyPackage(tbs, signingSecretKey, impl.signature));
}

describe("MLS credential identity of a device", () => {
  it("is cyphr_id, 0x00, device_id as u32 big-endian, and parses back", () => {
    const bytes = deviceCredentialIdentity("bob_1", 258);
    expect([...bytes]).toEqual([...new TextEncoder().encode("bob_1"), 0, 0, 0, 1, 2]);
    expect(parseDeviceCredentialIdentity(bytes)).toEqual({ cyphrId: "bob_1", deviceId: 258 });
  });

  it("refuses identities of another shape", () => {
    expect(parseDeviceCredentialIdentity(new TextEncoder().encode("bob_1"))).toBeUndefined();
    expect(parseDeviceCredentialIdentity(new Uint8Array([0, 0, 0, 0, 1]))).toBeUndefined();
    expect(parseDeviceCredentialIdentity(new Uint8Array([0x62, 0, 0x62, 0, 0, 0, 0, 1]))).toBeUndefined();
    expect(parseDeviceCredentialIdentity(new Uint8Array([0xff, 0, 0, 0, 0, 1]))).toBeUndefined();
  });
});

describe("checking an uploaded key package", () => {
  it.each(SUPPORTED_CIPHERSUITES)("accepts a device's own package in %s and computes its KeyPackageRef", async (suite) => {
    const { signingSecretKey, owner } = device();
    const kp = await deviceKeyPackage({ ...owner, signingSecretKey, suite });
    const checked = await checkKeyPackage(kp.bytes, owner, accepted, nowSeconds());
    expect(checked.ciphersuite).toBe(suite);
    expect(checked.ref.length).toBe(64); // SHA-512 RefHash
    // The ref is the one a Welcome names the member by.
    const impl = await suiteImpl(suite);
    const creator = await deviceKeyPackage({ cyphrId: "carol_mls", deviceId: 1, signingSecretKey: ed25519.utils.randomSecretKey(), suite });
    const group = await createGroup(new Uint8Array(16), creator.publicPackage, creator.privatePackage, [], impl);
    const commit = await createCommit(
      { state: group, cipherSuite: impl },
      { extraProposals: [{ proposalType: "add", add: { keyPackage: kp.publicPackage } }] },
    );
    const welcome = readWelcome(encodeMlsMessage({ welcome: commit.welcome!, wireformat: "mls_welcome", version: "mls10" }));
    expect(typeof welcome).toBe("object");
    expect(Buffer.from((welcome as { newMembers: Uint8Array[] }).newMembers[0]!).equals(Buffer.from(checked.ref))).toBe(true);
  });

  it("refuses bytes that are not an MLS message, trailing bytes and oversized input", async () => {
    const { signingSecretKey, owner } = device();
    const kp = await deviceKeyPackage({ ...owner, signingSecretKey });
    expect(await rejection(new Uint8Array([1, 2, 3, 4]), owner)).toMatch(/not an MLS message/);
    expect(await rejection(new Uint8Array([...kp.bytes, 0]), owner)).toMatch(/not an MLS message/);
    expect(await rejection(new Uint8Array(MAX_KEY_PACKAGE_BYTES + 1), owner)).toMatch(/larger than 16384 bytes/);
  });

  it("refuses an MLS message that is not a KeyPackage", async () => {
    const { signingSecretKey, owner } = device();
    const kp = await deviceKeyPackage({ ...owner, signingSecretKey });
    const impl = await suiteImpl();
    const group = await createGroup(new Uint8Array(16), kp.publicPackage, kp.privatePackage, [], impl);
    const commit = await createCommit({ state: group, cipherSuite: impl }, {});
    expect(await rejection(encodeMlsMessage(commit.commit), owner)).toMatch(/not a KeyPackage \(wire format mls_private_message\)/);
  });

  it("refuses a ciphersuite the server does not accept", async () => {
    const { signingSecretKey, owner } = device();
    const classic = await deviceKeyPackage({ ...owner, signingSecretKey, suite: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519" });
    expect(await rejection(classic.bytes, owner)).toMatch(/ciphersuite MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, which this server does not accept/);
    const xwing = await deviceKeyPackage({ ...owner, signingSecretKey, suite: "MLS_256_XWING_CHACHA20POLY1305_SHA512_Ed25519" });
    expect(await rejection(xwing.bytes, owner, ["MLS_256_MLKEM1024_CHACHA20POLY1305_SHA512_Ed25519"])).toMatch(/does not accept/);
  });

  it("refuses a credential of another account or another device", async () => {
    const { signingSecretKey, owner } = device("alice_mls", 2);
    const other = await deviceKeyPackage({ ...owner, signingSecretKey, identity: deviceCredentialIdentity("alice_mls", 3) });
    expect(await rejection(other.bytes, owner)).toMatch(/credential that does not name this device \(alice_mls, device 2\)/);
    const mallory = await deviceKeyPackage({ ...owner, signingSecretKey, identity: deviceCredentialIdentity("mallory", 2) });
    expect(await rejection(mallory.bytes, owner)).toMatch(/does not name this device/);
    const free = await deviceKeyPackage({ ...owner, signingSecretKey, identity: new TextEncoder().encode("alice_mls") });
    expect(await rejection(free.bytes, owner)).toMatch(/does not name this device/);
  });

  it("refuses a leaf that signs with a key other than the certified device key", async () => {
    const { owner } = device();
    const kp = await deviceKeyPackage({ ...owner, signingSecretKey: ed25519.utils.randomSecretKey() });
    expect(await rejection(kp.bytes, owner)).toMatch(/not signed with this device's certified signing key/);
  });

  it("refuses a bad package signature and a bad leaf signature", async () => {
    const { signingSecretKey, owner } = device();
    const kp = await deviceKeyPackage({ ...owner, signingSecretKey });
    const badPackage = { ...kp.publicPackage, signature: kp.publicPackage.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    expect(await rejection(keyPackageBytes(badPackage), owner)).toMatch(/bad signature/);
    const leaf = kp.publicPackage.leafNode;
    // A leaf whose own signature is broken, in a package validly signed over it: only the leaf check catches it.
    const { signature: _sig, ...tbs } = { ...kp.publicPackage, leafNode: { ...leaf, signature: leaf.signature.map((b, i) => (i === 5 ? b ^ 1 : b)) } };
    const badLeaf = await signKeyPackage(tbs, signingSecretKey, (await suiteImpl()).signature);
    expect(await rejection(keyPackageBytes(badLeaf), owner)).toMatch(/bad signature/);
  });

  it("refuses an expired lifetime and one that starts in the future", async () => {
    const { signingSecretKey, owner } = device();
    const expired = await deviceKeyPackage({ ...owner, signingSecretKey, lifetime: { notBefore: 0n, notAfter: nowSeconds() - 10n } });
    expect(await rejection(expired.bytes, owner)).toMatch(/has expired/);
    const future = await deviceKeyPackage({
      ...owner,
      signingSecretKey,
      lifetime: { notBefore: nowSeconds() + 86_400n, notAfter: nowSeconds() + 2n * 86_400n },
    });
    expect(await rejection(future.bytes, owner)).toMatch(/not valid yet/);
  });

  it("refuses the same key as init key and encryption key, and capabilities without its own suite", async () => {
    const { signingSecretKey, owner } = device();
    const kp = await deviceKeyPackage({ ...owner, signingSecretKey });
    const sameKey = await resigned(kp.publicPackage, signingSecretKey, (p) => ({ ...p, initKey: p.leafNode.hpkePublicKey }));
    expect(await rejection(sameKey, owner)).toMatch(/same key as init key and encryption key/);
    const noSuite = await resigned(kp.publicPackage, signingSecretKey, (p) => ({
      ...p,
      leafNode: { ...p.leafNode, capabilities: { ...p.leafNode.capabilities, ciphersuites: ["MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"] } },
    }));
    expect(await rejection(noSuite, owner)).toMatch(/capabilities that do not list its own version, ciphersuite/);
    // The re-signing itself is sound: an unchanged re-signed package passes.
    const same = await resigned(kp.publicPackage, signingSecretKey, (p) => p);
    await expect(checkKeyPackage(same, owner, accepted, nowSeconds())).resolves.toMatchObject({ ciphersuite: DEFAULT_SUITE });
  });
});

describe("reading a group message's public framing", () => {
  it("gives group id, epoch and content type of a commit and an application message, and refuses other messages", async () => {
    const { signingSecretKey, owner } = device();
    const kp = await deviceKeyPackage({ ...owner, signingSecretKey });
    const impl = await suiteImpl();
    const groupId = new TextEncoder().encode("chat-0123456789ab");
    const group = await createGroup(groupId, kp.publicPackage, kp.privatePackage, [], impl);
    const commit = await createCommit({ state: group, cipherSuite: impl }, {});
    const framing = readFraming(encodeMlsMessage(commit.commit));
    expect(framing).toMatchObject({ wireFormat: "private", epoch: 0n, contentType: "commit" });
    expect(Buffer.from((framing as { groupId: Uint8Array }).groupId).toString()).toBe("chat-0123456789ab");
    expect(readFraming(kp.bytes)).toMatch(/not a PrivateMessage or PublicMessage \(wire format mls_key_package\)/);
    expect(readFraming(new Uint8Array([0, 1, 0, 2]))).toMatch(/not an MLS message/);
    expect(readWelcome(kp.bytes)).toMatch(/not a Welcome/);
    expect(readGroupInfo(kp.bytes)).toMatch(/not a GroupInfo/);
  });
});
