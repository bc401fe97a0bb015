import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { IdentityService, type ProfileSchema, UnavailableReason } from "../gen/cyphr/identity/v1/identity_pb.js";
import { requireCaller } from "../rpc/caller.js";
import type { IdentityContext } from "./context.js";
import { createChallenge, login } from "./login.js";
import { getProfile, type PublicProfile, searchUsers, updateProfile } from "./profile.js";
import { type Availability, checkAvailability, register } from "./register.js";
import { logout, refreshSession } from "./sessions.js";
import { sessionMessage } from "./wire.js";

/** Methods of IdentityService callable without an access token. */
export const IDENTITY_PUBLIC_METHODS = ["CheckAvailability", "Register", "CreateChallenge", "Login", "RefreshSession", "GetProfile"].map(
  (name) => `${IdentityService.typeName}/${name}`,
);

const REASONS: Record<Availability, UnavailableReason> = {
  available: UnavailableReason.UNSPECIFIED,
  invalid_format: UnavailableReason.INVALID_FORMAT,
  quarantined: UnavailableReason.QUARANTINED,
  reserved: UnavailableReason.RESERVED,
  taken: UnavailableReason.TAKEN,
};

/** Thin mapping between IdentityService messages and the identity use cases. */
export function identityService(ctx: IdentityContext): ServiceImpl<typeof IdentityService> {
  return {
    async checkAvailability(req) {
      const availability = await checkAvailability(ctx, req.cyphrId);
      return { available: availability === "available", reason: REASONS[availability] };
    },
    async register(req) {
      const { userId, deviceId, session } = await register(ctx, req);
      return { userId, deviceId, session: sessionMessage(session) };
    },
    async createChallenge(req) {
      const { nonce, expiresAt } = await createChallenge(ctx, req.cyphrId);
      return { nonce, expiresAt: timestampFromDate(expiresAt) };
    },
    async login(req) {
      const { userId, deviceId, session } = await login(ctx, req);
      return { userId, deviceId, session: sessionMessage(session) };
    },
    async refreshSession(req) {
      return { session: sessionMessage(await refreshSession(ctx, req.refreshToken)) };
    },
    async logout(_req, context) {
      await logout(ctx, requireCaller(context));
      return {};
    },
    async getProfile(req) {
      return { profile: profileMessage(await getProfile(ctx, req.cyphrId)) };
    },
    async updateProfile(req, context) {
      const own = await updateProfile(ctx, requireCaller(context), {
        paths: req.updatePaths,
        displayName: req.displayName,
        avatarRef: req.avatarRef,
        encryptedSettings: req.encryptedSettings,
        discoverable: req.discoverable,
        sharePresence: req.sharePresence,
      });
      return {
        profile: profileMessage(own.profile),
        encryptedSettings: own.encryptedSettings ?? new Uint8Array(0),
        discoverable: own.discoverable,
        sharePresence: own.sharePresence,
      };
    },
    async searchUsers(req, context) {
      const page = await searchUsers(ctx, requireCaller(context).userId, { prefix: req.prefix, limit: req.limit, pageToken: req.pageToken });
      return { profiles: page.profiles.map(profileMessage), nextPageToken: page.nextPageToken };
    },
  };
}

function profileMessage(profile: PublicProfile): MessageInitShape<typeof ProfileSchema> {
  return {
    userId: profile.userId,
    cyphrId: profile.cyphrId,
    displayName: profile.displayName ?? "",
    avatarRef: profile.avatarRef ?? "",
    identityPublicKey: profile.identityPublicKey,
    mlKemPublicKey: profile.mlKemPublicKey,
    createdAt: timestampFromDate(profile.createdAt),
  };
}
