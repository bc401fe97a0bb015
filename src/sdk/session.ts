import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { SessionTokens } from "../gen/cyphr/identity/v1/identity_pb.js";
import { decodeJson, encodeJson } from "./bytes.js";
import { CyphrError } from "./errors.js";
import type { Store } from "./store.js";

const SESSION_KEY = "device/session";
/** At most this long before expiry the access token is refreshed (less for short lifetimes: half of it). */
const DEFAULT_REFRESH_BEFORE_MS = 60_000;

interface SessionRecord {
  sessionId: string;
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
  receivedAt: number;
}

export interface SessionOptions {
  /** Milliseconds since the epoch (default Date.now): tests move it forward. */
  clock?: () => number;
  /** Refresh this long before the access token expires (default min(60 s, half its lifetime)). */
  refreshBeforeMs?: number;
}

/**
 * The device's session tokens, kept in the Store: hands out an access token, refreshing it
 * before it expires, one refresh at a time (callers during a refresh wait for the same one:
 * a refresh token is single-use, so two refreshes would end the session).
 */
export class SessionKeeper {
  private refreshing: Promise<string> | undefined;
  private readonly clock: () => number;

  constructor(
    private readonly store: Store,
    private readonly refresh: (refreshToken: string) => Promise<SessionTokens>,
    private readonly options: SessionOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
  }

  async save(tokens: SessionTokens | undefined): Promise<void> {
    if (tokens === undefined || tokens.accessTokenExpiresAt === undefined || tokens.refreshTokenExpiresAt === undefined) {
      throw new CyphrError("internal", "The server answered without session tokens: try again later.");
    }
    const record: SessionRecord = {
      sessionId: tokens.sessionId,
      accessToken: tokens.accessToken,
      accessExpiresAt: timestampMs(tokens.accessTokenExpiresAt),
      refreshToken: tokens.refreshToken,
      refreshExpiresAt: timestampMs(tokens.refreshTokenExpiresAt),
      receivedAt: this.clock(),
    };
    await this.store.set(SESSION_KEY, encodeJson(record));
  }

  async clear(): Promise<void> {
    await this.store.delete(SESSION_KEY);
  }

  async sessionId(): Promise<string | undefined> {
    return (await this.load())?.sessionId;
  }

  /** A valid access token, refreshed first when it is about to expire. */
  async accessToken(): Promise<string> {
    if (this.refreshing) return this.refreshing;
    const record = await this.load();
    if (record === undefined) throw new CyphrError("unauthenticated", "This device is not signed in: log in first.");
    if (this.clock() < record.accessExpiresAt - this.margin(record)) return record.accessToken;
    if (this.refreshing) return this.refreshing;
    this.refreshing = this.renew(record).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async renew(record: SessionRecord): Promise<string> {
    if (this.clock() >= record.refreshExpiresAt) {
      await this.clear();
      throw new CyphrError("unauthenticated", "The session expired: log in again.");
    }
    let tokens: SessionTokens;
    try {
      tokens = await this.refresh(record.refreshToken);
    } catch (error) {
      if (error instanceof CyphrError && error.code === "unauthenticated") {
        await this.clear();
        throw new CyphrError("unauthenticated", "The session has ended (its refresh token was already used, revoked or expired): log in again.", undefined, {
          cause: error,
        });
      }
      throw error;
    }
    await this.save(tokens);
    return tokens.accessToken;
  }

  private margin(record: SessionRecord): number {
    if (this.options.refreshBeforeMs !== undefined) return this.options.refreshBeforeMs;
    return Math.min(DEFAULT_REFRESH_BEFORE_MS, (record.accessExpiresAt - record.receivedAt) / 2);
  }

  private async load(): Promise<SessionRecord | undefined> {
    const bytes = await this.store.get(SESSION_KEY);
    return bytes && decodeJson<SessionRecord>(bytes);
  }
}
