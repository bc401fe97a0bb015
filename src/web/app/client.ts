/**
 * One signed-in browser device: the account (keys in an IndexedDB profile behind a passphrase), its
 * MLS engine, and its realtime stream (Subscribe over gRPC-Web: browsers cannot stream requests).
 * Everything the views do to the server goes through here.
 */
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { GroupsService, type Member } from "../../gen/cyphr/groups/v1/groups_pb.js";
import { MessagingService, type Chat } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { PrivacyService } from "../../gen/cyphr/privacy/v1/privacy_pb.js";
import { Account, MlsDevice, type PendingLink } from "../../sdk/index.js";
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

export class Session {
  readonly messaging: Client<typeof MessagingService>;
  readonly groups: Client<typeof GroupsService>;
  readonly privacy: Client<typeof PrivacyService>;
  readonly live: Live;

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

  /** Unlocks a profile of this browser and signs in. */
  static async unlock(profile: string, passphrase: string): Promise<Session> {
    const t = transport();
    const store = await IndexedDbStore.open(profile, passphrase);
    try {
      const account = await Account.open({ transport: t, store });
      return await Session.start(t, store, account);
    } catch (error) {
      store.close();
      throw error;
    }
  }

  /** Begins linking this browser to an existing account: show `pending.code`, then `finish(pending)`. */
  static async beginLink(passphrase: string): Promise<{ pending: PendingLink<Account>; finish: () => Promise<Session>; cancel: () => Promise<void> }> {
    const t = transport();
    const store = await IndexedDbStore.open(crypto.randomUUID(), passphrase, { label: "(linking)" });
    const pending = await Account.beginLink({ transport: t, store });
    const abort = new AbortController();
    return {
      pending,
      finish: async () => {
        const account = await pending.wait(abort.signal);
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

  private static async start(t: Transport, store: IndexedDbStore, account: Account): Promise<Session> {
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

  async close(): Promise<void> {
    await this.live.close();
    this.store.close();
  }
}
