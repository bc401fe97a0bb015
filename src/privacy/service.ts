import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { type PrivacyService, type PrivacySettings as WireSettings, StorageClass as WireStorageClass } from "../gen/cyphr/privacy/v1/privacy_pb.js";
import { requireCaller } from "../rpc/caller.js";
import { blockUser, listBlocked, unblockUser } from "./blocks.js";
import type { PrivacyContext } from "./context.js";
import type { GroupAddPolicy, PrivacySettings } from "./model.js";
import { acceptChat, declineChat } from "./requests.js";
import { getPrivacySettings, updatePrivacySettings } from "./settings.js";
import { STORAGE_INVENTORY, StorageClass } from "./storage-inventory.js";

const WIRE_CLASS: Record<StorageClass, WireStorageClass> = {
  [StorageClass.PublicKey]: WireStorageClass.PUBLIC_KEY,
  [StorageClass.Signature]: WireStorageClass.SIGNATURE,
  [StorageClass.Ciphertext]: WireStorageClass.CIPHERTEXT,
  [StorageClass.KeyedHash]: WireStorageClass.KEYED_HASH,
  [StorageClass.Hash]: WireStorageClass.HASH,
  [StorageClass.RoutingMetadata]: WireStorageClass.ROUTING_METADATA,
  [StorageClass.Timestamp]: WireStorageClass.TIMESTAMP,
  [StorageClass.Counter]: WireStorageClass.COUNTER,
  [StorageClass.Setting]: WireStorageClass.SETTING,
  [StorageClass.PublicProfile]: WireStorageClass.PUBLIC_PROFILE,
  [StorageClass.ServerBookkeeping]: WireStorageClass.SERVER_BOOKKEEPING,
};

const settingsMessage = (s: PrivacySettings) => ({
  discoverable: s.discoverable,
  sharePresence: s.sharePresence,
  readReceipts: s.readReceipts,
  typingIndicators: s.typingIndicators,
  groupAdds: s.groupAdds as number,
});

const settingsOf = (wire: WireSettings | undefined): PrivacySettings => ({
  discoverable: wire?.discoverable ?? false,
  sharePresence: wire?.sharePresence ?? false,
  readReceipts: wire?.readReceipts ?? false,
  typingIndicators: wire?.typingIndicators ?? false,
  groupAdds: (wire?.groupAdds ?? 0) as number as GroupAddPolicy,
});

/** Thin mapping between PrivacyService messages and the privacy use cases. */
export function privacyService(ctx: PrivacyContext): ServiceImpl<typeof PrivacyService> {
  return {
    async getPrivacySettings(_req, context) {
      const own = await getPrivacySettings(ctx, requireCaller(context));
      return {
        settings: settingsMessage(own.settings),
        encryptedSettings: own.encryptedSettings ?? new Uint8Array(0),
        chosenAt: own.chosenAt ? timestampFromDate(own.chosenAt) : undefined,
      };
    },
    async updatePrivacySettings(req, context) {
      const settings = await updatePrivacySettings(ctx, requireCaller(context), req.updatePaths, settingsOf(req.settings));
      return { settings: settingsMessage(settings) };
    },
    async blockUser(req, context) {
      await blockUser(ctx, requireCaller(context), req.cyphrId);
      return {};
    },
    async unblockUser(req, context) {
      await unblockUser(ctx, requireCaller(context), req.cyphrId);
      return {};
    },
    async listBlocked(req, context) {
      const page = await listBlocked(ctx, requireCaller(context), { pageToken: req.pageToken, limit: req.limit });
      return { blocked: page.blocked.map((b) => ({ cyphrId: b.cyphrId, blockedAt: timestampFromDate(b.blockedAt) })), nextPageToken: page.nextPageToken };
    },
    async acceptChat(req, context) {
      await acceptChat(ctx, requireCaller(context), req.chatId);
      return {};
    },
    async declineChat(req, context) {
      await declineChat(ctx, requireCaller(context), req.chatId);
      return {};
    },
    async getStorageInventory(_req, context) {
      requireCaller(context);
      return {
        tables: STORAGE_INVENTORY.map((t) => ({
          name: t.table,
          purpose: t.purpose,
          columns: t.columns.map((c) => ({ name: c.column, class: WIRE_CLASS[c.class], reason: c.why })),
        })),
      };
    },
  };
}
