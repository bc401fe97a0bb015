/**
 * The device's key packages: generated here (basic credential of the device, signed by its
 * device signing key), their private keys kept in the Store by KeyPackageRef, the public parts
 * uploaded. ensureKeyPackages keeps `target` one-time packages and one last-resort package on the
 * server; onKeyPackagesLow is the entry point for the realtime `key_packages_low` event. Claiming
 * other devices' packages (to add them to a group) goes through here too.
 */
import type { Client } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import { defaultCapabilities, generateKeyPackageWithKey, type KeyPackage } from "ts-mls";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import type { ClaimedKeyPackage, KeyPackagesService } from "../../gen/cyphr/mls/v1/key_packages_pb.js";
import { deviceCredentialIdentity } from "../../mls/credential.js";
import { DEFAULT_SUITE, suiteImpl, toHex, wire } from "./codec.js";
import type { GroupStore, StoredKeyPackage } from "./group-store.js";

export interface DeviceIdentity {
  cyphrId: string;
  deviceId: number;
  /** The device's Ed25519 signing secret key (its public key is the one the identity key certified). */
  signingSecretKey: Uint8Array;
}

/** The server takes at most 100 packages a call. */
const UPLOAD_BATCH = 100;
/** Key packages are valid this long (the server refuses lifetimes longer than 90 days). */
const LIFETIME_SECONDS = 89n * 86_400n;
export const DEFAULT_KEY_PACKAGE_TARGET = 20;

export class KeyPackages {
  constructor(
    private readonly identity: DeviceIdentity,
    private readonly groups: GroupStore,
    private readonly client: Client<typeof KeyPackagesService>,
    private readonly callOptions: () => Promise<{ headers: Record<string, string> }>,
  ) {}

  /** One key package of each device of each user (of the own account: each other device), as ClaimKeyPackages hands them out. */
  async claim(cyphrIds: string[]): Promise<ClaimedKeyPackage[]> {
    const claimed: ClaimedKeyPackage[] = [];
    for (const cyphrId of cyphrIds) claimed.push(...(await this.client.claimKeyPackages({ cyphrId, ciphersuite: 0 }, await this.callOptions())).keyPackages);
    return claimed;
  }

  /** A new key package of this device; its private keys are in the Store before it is used anywhere. */
  async create(lastResort = false): Promise<StoredKeyPackage> {
    const impl = await suiteImpl(DEFAULT_SUITE);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
      { credentialType: "basic", identity: deviceCredentialIdentity(this.identity.cyphrId, this.identity.deviceId) },
      defaultCapabilities(),
      { notBefore: now - 60n, notAfter: now + LIFETIME_SECONDS },
      [],
      { signKey: this.identity.signingSecretKey, publicKey: ed25519.getPublicKey(this.identity.signingSecretKey) },
      impl,
    );
    const kp = { publicPackage, privatePackage, lastResort };
    await this.groups.saveKeyPackage(await refHex(publicPackage), kp);
    return kp;
  }

  /** Generates and uploads `count` one-time packages (in batches the server accepts). */
  async upload(count: number): Promise<void> {
    for (let left = count; left > 0; left -= UPLOAD_BATCH) {
      const kps = [];
      for (let i = 0; i < Math.min(left, UPLOAD_BATCH); i++) kps.push(await this.create());
      await this.client.uploadKeyPackages({ keyPackages: kps.map((k) => wire.keyPackage(k.publicPackage)) }, await this.callOptions());
    }
  }

  /**
   * Tops the device up to `target` one-time packages (never above the server's maximum) and
   * uploads a last-resort package if it has none. Returns how many one-time packages it uploaded.
   */
  async ensure(target = DEFAULT_KEY_PACKAGE_TARGET): Promise<number> {
    const counts = await this.client.getKeyPackageCounts({}, await this.callOptions());
    const suite = counts.counts.find((c) => c.ciphersuite === 82) ?? counts.counts[0];
    const oneTime = suite?.oneTime ?? 0;
    if (!suite?.hasLastResort) {
      const kp = await this.create(true);
      await this.client.uploadKeyPackages({ keyPackages: [wire.keyPackage(kp.publicPackage)], lastResort: true }, await this.callOptions());
    }
    const missing = Math.max(0, Math.min(target, counts.maxKeyPackages || target) - oneTime);
    if (missing > 0) await this.upload(missing);
    return missing;
  }

  /** What the realtime part calls on a `key_packages_low` event. */
  onKeyPackagesLow(target = DEFAULT_KEY_PACKAGE_TARGET): Promise<number> {
    return this.ensure(target);
  }

  /** The private keys of every key package this device still holds (for audits: never on the server). */
  async privateKeys(): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const ref of await this.groups.keyPackageRefs()) {
      const kp = await this.groups.keyPackage(ref);
      if (kp) out.push(kp.privatePackage.initPrivateKey, kp.privatePackage.hpkePrivateKey);
    }
    return out;
  }
}

export async function refHex(keyPackage: KeyPackage): Promise<string> {
  return toHex(await makeKeyPackageRef(keyPackage, (await suiteImpl(DEFAULT_SUITE)).hash));
}
