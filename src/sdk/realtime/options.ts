/** How a Live stream is set up: what it needs from the caller, and its tunable timings (defaults below). */
import type { Transport } from "@connectrpc/connect";
import type { DeviceList } from "../account.js";
import type { MlsDevice } from "../mls/mls-device.js";
import type { Store } from "../store.js";

/** What Live needs of the account (an `Account` is one). */
export interface LiveAccount {
  readonly cyphrId: string;
  readonly userId: string;
  readonly deviceId: number;
  /** This account's identity public key (for safety numbers). */
  readonly identityPublicKey: Uint8Array;
  /** A valid access token (refreshed before expiry): asked again for every stream opened. */
  accessToken(): Promise<string>;
  /** The verified devices of an account (for devices_changed), checked against `expectedIdentityKey` when given. */
  listDevices(cyphrId?: string, expectedIdentityKey?: Uint8Array): Promise<DeviceList>;
}

/**
 * "bidi": one Connect (bidirectional) stream carries events, acks, heartbeats, typing and call
 * signals (Node over HTTP/2 with the Connect or gRPC protocol). "server": a Subscribe stream, and
 * what the client says goes through Publish (gRPC-Web, and browsers, which cannot stream requests).
 */
export type StreamMode = "bidi" | "server";

export interface LiveOptions {
  transport: Transport;
  account: LiveAccount;
  mls: MlsDevice;
  /** Where the stream's cursor is kept ("live/cursor"); the same Store as the account's and MLS engine's. */
  store: Store;
  /** Default "bidi". */
  mode?: StreamMode;
  /** Reconnect backoff: full jitter, delay = random() × min(maxDelayMs, baseDelayMs × 2^(attempt−1)). */
  reconnect?: {
    /** Default 500 ms. */
    baseDelayMs?: number;
    /** Default 30 s. */
    maxDelayMs?: number;
    /** A stream that stayed up this long resets the attempt count. Default 30 s. */
    healthyAfterMs?: number;
    /** Default Math.random (tests pass their own). */
    random?: () => number;
  };
  /** Bidi mode: the client sends a heartbeat this often (the server ends a stream silent for 3 of its intervals). Default 25 s. */
  heartbeatIntervalMs?: number;
  /** No frame from the server for this long while waiting for one: the connection is dead, reconnect. Default 65 s (the server's heartbeat is 25 s). */
  deadAfterMs?: number;
  /** Acks, the stored cursor and automatic delivery receipts are flushed at most this often. Default 500 ms. */
  ackIntervalMs?: number;
  /** Mark messages delivered (MarkDelivered) once handled. Default true. */
  autoDeliver?: boolean;
  /** One-time key packages kept uploaded (key_packages_low top-up). Default 20. */
  keyPackageTarget?: number;
  /** Events an async iterator holds before the stream waits for its reader. Default 1000. */
  iteratorBuffer?: number;
}

export const LIVE_DEFAULTS = {
  mode: "bidi" as StreamMode,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  healthyAfterMs: 30_000,
  heartbeatIntervalMs: 25_000,
  deadAfterMs: 65_000,
  ackIntervalMs: 500,
  autoDeliver: true,
  keyPackageTarget: 20,
  iteratorBuffer: 1000,
};
