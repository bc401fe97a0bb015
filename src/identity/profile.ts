import { requireOwnAttachment } from "../attachments/manage.js";
import { InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import { quote } from "../shared/quote.js";
import type { IdentityContext } from "./context.js";
import { assertCyphrIdFormat } from "./cyphr-id.js";
import { normalizeAvatarRef, normalizeDisplayName, normalizeEncryptedSettings } from "./profile-fields.js";
import { findIdentityByCyphrId, type IdentityRow, type ProfileChanges, searchDiscoverable, updateIdentityProfile } from "./repo.js";
import type { Caller } from "./tokens.js";

/** What anyone may know about an account. */
export interface PublicProfile {
  userId: string;
  cyphrId: string;
  displayName: string | null;
  avatarRef: string | null;
  identityPublicKey: Uint8Array;
  mlKemPublicKey: Uint8Array;
  createdAt: Date;
}

/** The caller's own profile, with its private settings. */
export interface OwnProfile {
  profile: PublicProfile;
  encryptedSettings: Uint8Array | null;
  discoverable: boolean;
  sharePresence: boolean;
}

export const PROFILE_PATHS = ["display_name", "avatar_ref", "encrypted_settings", "discoverable", "share_presence"] as const;
export type ProfilePath = (typeof PROFILE_PATHS)[number];

export interface ProfileUpdate {
  paths: readonly string[];
  displayName: string;
  avatarRef: string;
  encryptedSettings: Uint8Array;
  discoverable: boolean;
  sharePresence: boolean;
}

export const SEARCH_DEFAULT_LIMIT = 20;
export const SEARCH_MAX_LIMIT = 50;

export async function getProfile(ctx: IdentityContext, cyphrId: string): Promise<PublicProfile> {
  assertCyphrIdFormat(cyphrId);
  const row = await findIdentityByCyphrId(ctx.pool, cyphrId);
  if (!row) throw new NotFoundError(`no user with cyphr_id ${quote(cyphrId)}`);
  return toPublicProfile(row);
}

export async function updateProfile(ctx: IdentityContext, caller: Caller, update: ProfileUpdate): Promise<OwnProfile> {
  if (update.paths.length === 0) {
    throw new InvalidArgumentError(`update_paths must name at least one of ${PROFILE_PATHS.join(", ")}`);
  }
  const changes: ProfileChanges = {};
  for (const path of update.paths) {
    switch (path as ProfilePath) {
      case "display_name":
        changes.displayName = normalizeDisplayName(update.displayName);
        break;
      case "avatar_ref":
        changes.avatarRef = normalizeAvatarRef(update.avatarRef);
        break;
      case "encrypted_settings":
        changes.encryptedSettings = normalizeEncryptedSettings(update.encryptedSettings);
        break;
      case "discoverable":
        changes.discoverable = update.discoverable;
        break;
      case "share_presence":
        changes.sharePresence = update.sharePresence;
        break;
      default:
        throw new InvalidArgumentError(`update_paths: unknown field ${quote(path)}; allowed: ${PROFILE_PATHS.join(", ")}`);
    }
  }
  // An avatar is one of the caller's own attachments, kept from deletion until this update commits.
  const row = await ctx.pool.transaction(async (tx) => {
    if (changes.avatarRef) changes.avatarRef = await requireOwnAttachment(tx, caller.userId, changes.avatarRef, "avatar_ref");
    return updateIdentityProfile(tx, caller.userId, changes);
  });
  if (changes.sharePresence !== undefined) await ctx.onPresenceSharingChanged?.(caller.userId, row.share_presence);
  return {
    profile: toPublicProfile(row),
    encryptedSettings: row.encrypted_settings,
    discoverable: row.discoverable,
    sharePresence: row.share_presence,
  };
}

export async function searchUsers(
  ctx: IdentityContext,
  searcherId: string,
  query: { prefix: string; limit: number; pageToken: string },
): Promise<{ profiles: PublicProfile[]; nextPageToken: string }> {
  if (!/^[a-z0-9_]{2,30}$/.test(query.prefix)) {
    throw new InvalidArgumentError("prefix must be 2-30 characters of [a-z0-9_]");
  }
  if (query.limit > SEARCH_MAX_LIMIT) throw new InvalidArgumentError(`limit must be at most ${SEARCH_MAX_LIMIT}`);
  const limit = query.limit === 0 ? SEARCH_DEFAULT_LIMIT : query.limit;
  const after = decodePageToken(query.pageToken);
  const rows = await searchDiscoverable(ctx.pool, searcherId, query.prefix, after, limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    profiles: page.map(toPublicProfile),
    nextPageToken: rows.length > limit && last ? encodePageToken(last.cyphr_id) : "",
  };
}

function toPublicProfile(row: IdentityRow): PublicProfile {
  return {
    userId: row.id,
    cyphrId: row.cyphr_id,
    displayName: row.display_name,
    avatarRef: row.avatar_ref,
    identityPublicKey: row.identity_public_key,
    mlKemPublicKey: row.ml_kem_public_key,
    createdAt: row.created_at,
  };
}

function encodePageToken(lastCyphrId: string): string {
  return Buffer.from(`u1:${lastCyphrId}`, "utf8").toString("base64url");
}

function decodePageToken(token: string): string {
  if (token === "") return "";
  const decoded = Buffer.from(token, "base64url").toString("utf8");
  const match = /^u1:([a-z0-9_]{3,30})$/.exec(decoded);
  if (!match) throw new InvalidArgumentError("page_token is not a token returned by SearchUsers");
  return match[1]!;
}
