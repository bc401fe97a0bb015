import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import { loginSignedBytes, registerSignedBytes } from "../devices/signed-bytes.js";
import { DevicesService } from "../gen/cyphr/devices/v1/devices_pb.js";
import { IdentityService } from "../gen/cyphr/identity/v1/identity_pb.js";
import { equalBytes } from "./bytes.js";
import { decryptDeviceName, encryptDeviceName } from "./device-names.js";
import { CyphrError, call } from "./errors.js";
import {
  type AccountKeys,
  certifyDevice,
  type DeviceKeys,
  loadAccountKeys,
  loadDeviceKeys,
  newDeviceKeys,
  newIdentityKeys,
  saveAccountKeys,
  saveDeviceKeys,
  verifyDeviceCertificate,
} from "./keys.js";
import { AccountLifecycle } from "./lifecycle/lifecycle.js";
import { decodeLinkPayload, sealProvisioning } from "./link.js";
import { PendingLink } from "./pending-link.js";
import { SessionKeeper, type SessionOptions } from "./session.js";
import type { Store } from "./store.js";

export interface AccountOptions extends SessionOptions {
  /** A connect-es Transport to the server (Connect, gRPC or gRPC-Web), built by the caller. */
  transport: Transport;
  /** Where this device's keys and session live. */
  store: Store;
}

/** One device of an account, as listDevices reports it after checking its certificate. */
export interface AccountDevice {
  deviceId: number;
  signingKey: Uint8Array;
  certificate: Uint8Array;
  /** The decrypted name (own account only; undefined when none or unreadable). */
  name: string | undefined;
  createdAt: Date | undefined;
  lastActiveDate: Date | undefined;
  /** Whether this is the device the Account runs on. */
  current: boolean;
}

export interface DeviceList {
  cyphrId: string;
  userId: string;
  identityPublicKey: Uint8Array;
  /** Devices whose certificate the identity key verifies: the only ones to trust. */
  devices: AccountDevice[];
  /** Ids of devices the server listed whose certificate does not verify (never to be trusted). */
  rejected: number[];
  nextDeviceId: number;
}

/**
 * A Cyphr account as one of its devices sees it: keys in the Store, a session kept fresh,
 * device management and both sides of linking. Works over any connect-es Transport.
 */
export class Account {
  private readonly identity: Client<typeof IdentityService>;
  private readonly devicesApi: Client<typeof DevicesService>;
  private readonly session: SessionKeeper;

  private constructor(
    private readonly options: AccountOptions,
    private readonly keys: AccountKeys,
    private readonly device: DeviceKeys,
  ) {
    this.identity = createClient(IdentityService, options.transport);
    this.devicesApi = createClient(DevicesService, options.transport);
    this.session = new SessionKeeper(
      options.store,
      (refreshToken) => call(async () => (await this.identity.refreshSession({ refreshToken })).session!),
      options,
    );
  }

  /** Creates the account with this device as device 1, and signs it in. */
  static async register(options: AccountOptions, cyphrId: string, profile: { displayName?: string; deviceName?: string } = {}): Promise<Account> {
    if (await hasAccount(options.store)) throw new CyphrError("already_exists", "This profile already holds an account: use another profile folder.");
    const identity = newIdentityKeys();
    const device = newDeviceKeys(1);
    const pending: AccountKeys = { ...identity, cyphrId, userId: "" };
    const res = await call(() =>
      createClient(IdentityService, options.transport).register({
        cyphrId,
        identityPublicKey: identity.identityPublicKey,
        mlKemPublicKey: identity.mlKemPublicKey,
        deviceFingerprint: device.fingerprint,
        displayName: profile.displayName ?? "",
        signature: ed25519.sign(
          registerSignedBytes(cyphrId, identity.identityPublicKey, identity.mlKemPublicKey, device.fingerprint),
          identity.identitySecretKey,
        ),
        deviceSigningKey: device.signingPublicKey,
        deviceCertificate: certifyDevice(pending, 1, device.signingPublicKey),
        deviceEncryptedName: encryptDeviceName(pending, 1, profile.deviceName ?? ""),
      }),
    );
    const keys = { ...pending, userId: res.userId };
    await saveAccountKeys(options.store, keys);
    await saveDeviceKeys(options.store, device);
    const account = new Account(options, keys, device);
    await account.session.save(res.session);
    return account;
  }

  /** The account this profile's Store already holds (after register or a completed link). */
  static async open(options: AccountOptions): Promise<Account> {
    return new Account(options, await loadAccountKeys(options.store), await loadDeviceKeys(options.store));
  }

  /** The new device's side of linking: a code to show, and a wait that ends signed in. */
  static async beginLink(options: AccountOptions): Promise<PendingLink<Account>> {
    if (await hasAccount(options.store)) throw new CyphrError("already_exists", "This profile already holds an account: use another profile folder.");
    return PendingLink.begin(options, (keys, device) => new Account(options, keys, device).saveAndLogin());
  }

  get cyphrId(): string {
    return this.keys.cyphrId;
  }
  get userId(): string {
    return this.keys.userId;
  }
  get deviceId(): number {
    return this.device.deviceId;
  }
  get identityPublicKey(): Uint8Array {
    return this.keys.identityPublicKey;
  }

  /** What the MLS engine needs to sign as this device. */
  deviceIdentity(): { cyphrId: string; deviceId: number; signingSecretKey: Uint8Array } {
    return { cyphrId: this.keys.cyphrId, deviceId: this.device.deviceId, signingSecretKey: this.device.signingSecretKey.slice() };
  }

  /**
   * A new session for this device: CreateChallenge, then Login signed by the device key (v2),
   * with the current TOTP code when the account has two-factor login on.
   */
  async login(options: { totpCode?: string } = {}): Promise<void> {
    const { cyphrId } = this.keys;
    const { deviceId, signingSecretKey } = this.device;
    const { nonce } = await call(() => this.identity.createChallenge({ cyphrId }));
    const signature = ed25519.sign(loginSignedBytes(cyphrId, deviceId, nonce), signingSecretKey);
    const res = await call(() => this.identity.login({ cyphrId, deviceId, nonce, signature, totpCode: options.totpCode ?? "" }));
    await this.session.save(res.session);
  }

  /** Sessions, PIN, recovery phrase, TOTP, deletion and export of this account. */
  lifecycle(): AccountLifecycle {
    return new AccountLifecycle({
      transport: this.options.transport,
      keys: this.keys,
      authHeaders: () => this.authHeaders(),
      forgetSession: () => this.session.clear(),
    });
  }

  /** A valid access token (refreshed before expiry): what other SDK parts send as the bearer. */
  accessToken(): Promise<string> {
    return this.session.accessToken();
  }

  /** Ends this device's session on the server and forgets its tokens. */
  async logout(): Promise<void> {
    try {
      const headers = await this.authHeaders();
      await call(() => this.identity.logout({}, { headers }));
    } catch (error) {
      if (!(error instanceof CyphrError && error.code === "unauthenticated")) throw error;
    }
    await this.session.clear();
  }

  /**
   * The devices of `cyphrId` (default: this account), each certificate checked against the
   * identity key: the stored one for this account, else `expectedIdentityKey` when given
   * (e.g. a key the user verified), else the key the server reports.
   */
  async listDevices(cyphrId = this.keys.cyphrId, expectedIdentityKey?: Uint8Array): Promise<DeviceList> {
    const headers = await this.authHeaders();
    const res = await call(() => this.devicesApi.listDevices({ cyphrId }, { headers }));
    const own = cyphrId === this.keys.cyphrId;
    const trusted = own ? this.keys.identityPublicKey : expectedIdentityKey;
    if (trusted !== undefined && !equalBytes(trusted, res.identityPublicKey)) {
      throw new CyphrError(
        "data_loss",
        `The server reported a different identity key for ${cyphrId} than the one this device trusts: do not trust its devices; compare keys out of band.`,
      );
    }
    const devices: AccountDevice[] = [];
    const rejected: number[] = [];
    for (const d of res.devices) {
      if (!verifyDeviceCertificate(cyphrId, res.identityPublicKey, { deviceId: d.deviceId, signingKey: d.signingKey, certificate: d.certificate })) {
        rejected.push(d.deviceId);
        continue;
      }
      devices.push({
        deviceId: d.deviceId,
        signingKey: d.signingKey,
        certificate: d.certificate,
        name: own ? decryptDeviceName(this.keys, d.deviceId, d.encryptedName) : undefined,
        createdAt: d.createdAt && timestampDate(d.createdAt),
        lastActiveDate: d.lastActiveDate && timestampDate(d.lastActiveDate),
        current: own && d.deviceId === this.device.deviceId,
      });
    }
    return { cyphrId, userId: res.userId, identityPublicKey: res.identityPublicKey, devices, rejected, nextDeviceId: res.nextDeviceId };
  }

  /** Removes a device of this account (its sessions and key packages end at once). */
  async removeDevice(deviceId: number): Promise<void> {
    const headers = await this.authHeaders();
    await call(() => this.devicesApi.removeDevice({ deviceId }, { headers }));
    if (deviceId === this.device.deviceId) await this.session.clear();
  }

  /** Gives a device of this account a new name, encrypted for the account's devices. */
  async renameDevice(deviceId: number, name: string): Promise<void> {
    const encryptedName = encryptDeviceName(this.keys, deviceId, name);
    const headers = await this.authHeaders();
    await call(() => this.devicesApi.renameDevice({ deviceId, encryptedName }, { headers }));
  }

  /**
   * The existing device's side of linking: reads the code the new device shows, certifies its
   * key for the next device id, and sends it the account keys sealed for it alone.
   */
  async approveLink(code: string, options: { deviceName?: string } = {}): Promise<{ deviceId: number }> {
    const payload = decodeLinkPayload(code);
    const { nextDeviceId } = await this.listDevices();
    const headers = await this.authHeaders();
    const res = await call(() =>
      this.devicesApi.approveDeviceLink(
        {
          linkId: payload.linkId,
          linkSecret: payload.linkSecret,
          deviceId: nextDeviceId,
          certificate: certifyDevice(this.keys, nextDeviceId, payload.deviceSigningKey),
          provisioningBlob: sealProvisioning(payload, this.keys),
          encryptedName: encryptDeviceName(this.keys, nextDeviceId, options.deviceName ?? ""),
        },
        { headers },
      ),
    );
    return { deviceId: res.device?.deviceId ?? nextDeviceId };
  }

  private async authHeaders(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.session.accessToken()}` };
  }

  /** A linked device's first start: its keys go into the Store, then it signs in. */
  private async saveAndLogin(): Promise<Account> {
    await saveAccountKeys(this.options.store, this.keys);
    await saveDeviceKeys(this.options.store, this.device);
    await this.login();
    return this;
  }
}

async function hasAccount(store: Store): Promise<boolean> {
  return (await store.get("account/keys")) !== undefined;
}
