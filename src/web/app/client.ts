/**
 * One signed-in browser device: the account (keys in an IndexedDB profile behind a passphrase), its
 * MLS engine, and its realtime stream (Subscribe over gRPC-Web: browsers cannot stream requests).
 * Everything the views do to the server goes through here.
 */
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { GroupsService, type Member } from "../../gen/cyphr/groups/v1/groups_pb.js";
import { type Chat, MessagingService } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { PrivacyService } from "../../gen/cyphr/privacy/v1/privacy_pb.js";
import { Account, CyphrError, MlsDevice, type PendingLink } from "../../sdk/index.js";
import { type AccountLifecycle, recoverAccount } from "../../sdk/lifecycle/index.js";
import { Live } from "../../sdk/realtime/live.js";
import { IndexedDbStore } from "../../sdk/web/index.js";

/** Where the API is: this page's origin, or the one its server wrote into index.html. */
export function apiBaseUrl(): string {
  const meta = document.querySelector('meta[name="cyphr-api"]')?.getAttribute("content") ?? "same-origin";
  return meta === "same-origin" ? location.origin : meta;
}

export function transport(): Transport {
  return createGrpcWebTransport({ baseUrl: apiBaseUrl() });
}

const deviceName = () => `${/Mobi/.test(navigator.userAgent) ? "Phone" : "Browser"} (${navigator.platform || "web"})`;

/** The server's answer to a Login without a code while two-factor login is on: its ErrorInfo reason TOTP_REQUIRED (account.proto). */
export function isTotpRequired(error: unknown): boolean {
  return error instanceof CyphrError && error.reason === "TOTP_REQUIRED";
}

const isUnauthenticated = (error: unknown) => error instanceof CyphrError && error.code === "unauthenticated";

/**
 * A profile whose keys are open but whose session has ended (revoked, expired, or a first login that
 * needs a TOTP code): `login` signs this device in again and starts the Session.
 */
export class SignIn {
  constructor(
    private readonly t: Transport,
    private readonly store: IndexedDbStore,
    private readonly account: Account,
    /** Why the session ended, when known (shown on the sign-in screen). */
    readonly reason?: string,
    /** The server already asked for a TOTP code. */
    readonly needsCode = false,
  ) {}

  get cyphrId(): string {
    return this.account.cyphrId;
  }

  async login(totpCode?: string): Promise<Session> {
    await this.account.login({ totpCode });
    return Session.start(this.t, this.store, this.account);
  }

  close(): void {
    this.store.close();
  }

  /** Deletes this profile (keys, session, chats' state) from the browser: for a device the account no longer has. */
  async removeProfile(): Promise<void> {
    this.store.close();
    await IndexedDbStore.remove(this.store.profile);
  }
}

/** What unlocking or linking ends in: signed in, or keys open and a login still to do. */
export type Opened = Session | SignIn;

export class Session {
  readonly messaging: Client<typeof MessagingService>;
  readonly groups: Client<typeof GroupsService>;
  readonly privacy: Client<typeof PrivacyService>;
  readonly live: Live;
  readonly lifecycle: AccountLifecycle;
  /** Set while this account is being deleted: the stream's end that follows is no sign-out to report. */
  private deleting = false;

  private constructor(
    readonly transport: Transport,
    readonly store: IndexedDbStore,
    readonly account: Account,
    readonly mls: MlsDevice,
  ) {
    this.messaging = createClient(MessagingService, transport);
    this.groups = createClient(GroupsService, transport);
    this.privacy = createClient(PrivacyService, transport);
    this.live = new Live({ transport, account, mls, store, mode: "server" });
    this.lifecycle = account.lifecycle();
  }

  /** Creates a new account in a new profile. */
  static async register(cyphrId: string, passphrase: string, displayName: string): Promise<Session> {
    const t = transport();
    const store = await IndexedDbStore.open(crypto.randomUUID(), passphrase, { label: cyphrId });
    try {
      const account = await Account.register({ transport: t, store }, cyphrId, { displayName, deviceName: deviceName() });
      return await Session.start(t, store, account);
    } catch (error) {
      store.close();
      await IndexedDbStore.remove(store.profile);
      throw error;
    }
  }

  /** Unlocks a profile of this browser: signed in with its stored session, or a SignIn when that session has ended. */
  static async unlock(profile: string, passphrase: string): Promise<Opened> {
    const t = transport();
    const store = await IndexedDbStore.open(profile, passphrase);
    try {
      const account = await Account.open({ transport: t, store });
      return await Session.start(t, store, account).catch((error: unknown) => {
        if (isUnauthenticated(error)) return new SignIn(t, store, account);
        throw error;
      });
    } catch (error) {
      store.close();
      throw error;
    }
  }

  /** Recovers an account whose devices are lost into a new profile: new keys, signed in (docs/account.md). */
  static async recover(cyphrId: string, phrase: string, pin: string, passphrase: string): Promise<Session> {
    const t = transport();
    const store = await IndexedDbStore.open(crypto.randomUUID(), passphrase, { label: cyphrId });
    try {
      const account = await recoverAccount({ transport: t, store }, cyphrId, phrase, { pin, deviceName: deviceName() });
      return await Session.start(t, store, account);
    } catch (error) {
      store.close();
      await IndexedDbStore.remove(store.profile);
      throw error;
    }
  }

  /** Begins linking this browser to an existing account: show `pending.code`, then `finish(pending)`. */
  static async beginLink(passphrase: string): Promise<{ pending: PendingLink<Account>; finish: () => Promise<Opened>; cancel: () => Promise<void> }> {
    const t = transport();
    const store = await IndexedDbStore.open(crypto.randomUUID(), passphrase, { label: "(linking)" });
    const pending = await Account.beginLink({ transport: t, store });
    const abort = new AbortController();
    return {
      pending,
      finish: async () => {
        let account: Account;
        try {
          account = await pending.wait(abort.signal);
        } catch (error) {
          // Approved and its keys saved, but the first login needs the account's TOTP code.
          if (!isTotpRequired(error)) throw error;
          account = await Account.open({ transport: t, store });
          await store.setLabel(account.cyphrId);
          return new SignIn(t, store, account, "This browser is now a device of the account; two-factor login is on.", true);
        }
        await store.setLabel(account.cyphrId);
        // Live joins the account's chats from this new device once its stream is up.
        return Session.start(t, store, account);
      },
      cancel: async () => {
        abort.abort();
        store.close();
        await IndexedDbStore.remove(store.profile);
      },
    };
  }

  /** The Session of a signed-in account: key packages topped up, the stream not yet started. */
  static async start(t: Transport, store: IndexedDbStore, account: Account): Promise<Session> {
    const mls = new MlsDevice(t, account, account.deviceIdentity(), store);
    await mls.ensureKeyPackages();
    return new Session(t, store, account, mls);
  }

  async listChats(): Promise<Chat[]> {
    const chats: Chat[] = [];
    let pageToken = "";
    do {
      const page = await this.messaging.listChats({ pageToken, limit: 200 }, await this.auth());
      chats.push(...page.chats);
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && chats.length < 1000);
    return chats;
  }

  async members(chatId: string): Promise<Member[]> {
    return (await this.groups.listMembers({ chatId, limit: 1000 }, await this.auth())).members;
  }

  /** Accepts a message request (someone not yet a contact started the chat). */
  async acceptChat(chatId: string): Promise<void> {
    await this.privacy.acceptChat({ chatId }, await this.auth());
  }

  /** Declines a message request: this user leaves the chat without the requester seeing it. */
  async declineChat(chatId: string): Promise<void> {
    await this.privacy.declineChat({ chatId }, await this.auth());
  }

  async auth(): Promise<{ headers: Record<string, string> }> {
    return { headers: { authorization: `Bearer ${await this.account.accessToken()}` } };
  }

  /** The stream ended because this session was revoked or expired: the keys stay open for a new login. */
  async signedOut(reason: string): Promise<SignIn | undefined> {
    if (this.deleting) return undefined;
    await this.live.close().catch(() => undefined);
    return new SignIn(this.transport, this.store, this.account, reason);
  }

  /** Deletes the account on the server (signed by the identity key), then this browser's profile. */
  async deleteAccount(): Promise<void> {
    this.deleting = true;
    try {
      await this.lifecycle.deleteAccount();
    } catch (error) {
      this.deleting = false;
      throw error;
    }
    await this.live.close().catch(() => undefined);
    this.store.close();
    await IndexedDbStore.remove(this.store.profile);
  }

  async close(): Promise<void> {
    await this.live.close();
    this.store.close();
  }
}
