import { createHmac } from "node:crypto";

export interface IceSettings {
  stunUrls: string[];
  turnUrls: string[];
  /** Shared secret of the TURN server (coturn `static-auth-secret`). */
  turnSecret: string | undefined;
  ttlSeconds: number;
}

export interface IceServers {
  servers: { urls: string[]; username: string; credential: string }[];
  ttlSeconds: number;
  expiresAt: Date;
}

/**
 * STUN servers as configured, and TURN servers with ephemeral credentials in the TURN
 * REST API form that coturn accepts with `use-auth-secret`: username
 * "<expiry unix seconds>:<user id>", credential base64(HMAC-SHA1(secret, username)).
 */
export function iceServersFor(settings: IceSettings, userId: string, now = Date.now()): IceServers {
  const expiry = Math.floor(now / 1000) + settings.ttlSeconds;
  const servers: IceServers["servers"] = [];
  if (settings.stunUrls.length > 0) servers.push({ urls: settings.stunUrls, username: "", credential: "" });
  if (settings.turnUrls.length > 0 && settings.turnSecret !== undefined) {
    const username = `${expiry}:${userId}`;
    const credential = createHmac("sha1", settings.turnSecret).update(username).digest("base64");
    servers.push({ urls: settings.turnUrls, username, credential });
  }
  return { servers, ttlSeconds: settings.ttlSeconds, expiresAt: new Date(expiry * 1000) };
}
