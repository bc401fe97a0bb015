/**
 * SDK devices for the realtime tests: a real Account (registered or linked over the wire), its
 * MlsDevice and a Live stream, all on one MemoryStore, and an event log with waits.
 */
import { expect } from "vitest";
import { Account, Live, type LiveEvent, type LiveOptions, MemoryStore, MlsDevice, type Store } from "../../src/sdk/index.js";
import { type NodeProtocol, nodeTransport, type PingOptions } from "../../src/sdk/node/transport.js";
import { uniqueCyphrId } from "./users.js";

export interface LiveDevice {
  name: string;
  account: Account;
  store: Store;
  mls: MlsDevice;
  live: Live;
  events: LiveEvent[];
  /** Waits until `predicate` holds for the events so far (polling), or fails after `ms`. */
  until(predicate: (events: LiveEvent[]) => boolean, ms?: number): Promise<void>;
  /** The texts of the `message` events, per chat, in arrival order. */
  texts(chatId: string): string[];
}

export type LiveTuning = Partial<Omit<LiveOptions, "transport" | "account" | "mls" | "store">>;

export interface DeviceSpec {
  baseUrl: string;
  protocol?: NodeProtocol;
  /** A transport base URL other than the server's (e.g. a TCP proxy in front of it). */
  viaUrl?: string;
  tuning?: LiveTuning;
  ping?: PingOptions;
}

export async function registerLiveDevice(name: string, spec: DeviceSpec): Promise<LiveDevice> {
  const store = new MemoryStore();
  const account = await Account.register({ transport: nodeTransport(spec.baseUrl, spec.protocol ?? "connect"), store }, uniqueCyphrId(name));
  return liveDevice(name, account, store, spec);
}

export async function linkLiveDevice(name: string, existing: LiveDevice, spec: DeviceSpec): Promise<LiveDevice> {
  const store = new MemoryStore();
  const pending = await Account.beginLink({ transport: nodeTransport(spec.baseUrl, spec.protocol ?? "connect"), store });
  const waiting = pending.wait();
  await existing.account.approveLink(pending.code);
  return liveDevice(name, await waiting, store, spec);
}

/** An MlsDevice and a Live over `viaUrl` (or the server), not started. */
export function liveDevice(name: string, account: Account, store: Store, spec: DeviceSpec): LiveDevice {
  const transport = nodeTransport(spec.viaUrl ?? spec.baseUrl, spec.protocol ?? "connect", spec.ping);
  const mls = new MlsDevice(transport, account, account.deviceIdentity(), store);
  const mode = spec.protocol === "grpc-web" ? "server" : "bidi";
  const live = new Live({ transport, account, mls, store, mode, ...spec.tuning });
  const events: LiveEvent[] = [];
  const kinds = [
    "message",
    "edited",
    "deleted",
    "unreadable",
    "receipt",
    "typing",
    "presence",
    "chat",
    "devices_changed",
    "identity_changed",
    "key_packages",
    "call",
    "state",
    "error",
  ] as const;
  for (const kind of kinds) live.on(kind, (e) => events.push(e));
  return {
    name,
    account,
    store,
    mls,
    live,
    events,
    async until(predicate, ms = 60_000) {
      const deadline = Date.now() + ms;
      while (!predicate(events)) {
        if (Date.now() > deadline) {
          const summary = events
            .map((e) => (e.kind === "state" ? `state:${e.state}` : e.kind === "error" ? `error:${e.error.code}:${e.error.message}` : e.kind))
            .join(", ");
          expect.fail(`${name}: timed out after ${ms} ms; events: ${summary}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    texts(chatId) {
      return events.flatMap((e) => (e.kind === "message" && e.chatId === chatId && e.text !== undefined ? [e.text] : []));
    },
  };
}

export function errorsOf(events: LiveEvent[]): string[] {
  return events.flatMap((e) => (e.kind === "error" ? [`${e.error.code}: ${e.error.message}`] : []));
}

/** A test file's started devices (closed together at the end) and the plaintexts it sent (for the database scan). */
export class LiveFleet {
  readonly devices: LiveDevice[] = [];
  readonly plaintexts: string[] = [];

  /** Starts the device's stream and keeps it for closeAll. */
  async started(d: LiveDevice): Promise<LiveDevice> {
    this.devices.push(d);
    await d.live.start();
    return d;
  }

  /** A text made unique by a random suffix, remembered for the scan. */
  unique(text: string): string {
    const t = `${text} ${crypto.randomUUID().slice(0, 8)}`;
    this.plaintexts.push(t);
    return t;
  }

  async closeAll(): Promise<void> {
    for (const d of this.devices) await d.live.close();
  }
}

/** Waits for: this device joined the chat. */
export const joined = (chatId: string) => (events: LiveEvent[]) => events.some((e) => e.kind === "chat" && e.change === "joined" && e.chatId === chatId);
