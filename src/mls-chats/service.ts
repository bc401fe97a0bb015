import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MlsChatsService } from "../gen/cyphr/mls/v1/mls_chats_pb.js";
import { requireCaller } from "../rpc/caller.js";
import { InvalidArgumentError } from "../shared/errors.js";
import { commitMlsChat } from "./commit.js";
import type { MlsChatsContext } from "./context.js";
import { createMlsChat } from "./create.js";
import { getGroupInfo, listWelcomes } from "./group-info.js";

/** Thin mapping between MlsChatsService messages and the MLS chat use cases. */
export function mlsChatsService(ctx: MlsChatsContext): ServiceImpl<typeof MlsChatsService> {
  return {
    async createMlsChat(req, context) {
      const caller = requireCaller(context);
      const kind = req.kind;
      if (kind.case === undefined) throw new InvalidArgumentError("kind is required: set peer_cyphr_id or group");
      const created = await createMlsChat(
        ctx,
        caller,
        kind.case === "peerCyphrId"
          ? { kind: "direct", peerCyphrId: kind.value, ciphersuite: req.ciphersuite }
          : { kind: "group", encryptedName: kind.value.encryptedName, encryptedSettings: kind.value.encryptedSettings, ciphersuite: req.ciphersuite },
      );
      return { chatId: created.chatId, groupId: created.groupId, ciphersuite: created.ciphersuite, epoch: 0n };
    },
    async commitMlsChat(req, context) {
      const out = await commitMlsChat(ctx, requireCaller(context), {
        chatId: req.chatId,
        clientMessageId: req.clientMessageId,
        commit: req.commit,
        welcome: req.welcome,
        groupInfo: req.groupInfo,
        addCyphrIds: req.addCyphrIds,
        removeCyphrIds: req.removeCyphrIds,
      });
      return {
        messageId: out.messageId,
        seq: BigInt(out.seq),
        epoch: out.epoch,
        welcomed: [...out.welcomed],
        duplicate: out.duplicate,
        groupVersion: BigInt(out.groupVersion),
      };
    },
    async getGroupInfo(req, context) {
      const info = await getGroupInfo(ctx, requireCaller(context), req.chatId);
      return { groupInfo: info.groupInfo, epoch: info.epoch, ciphersuite: info.ciphersuite };
    },
    async joinMlsChat(req, context) {
      const out = await commitMlsChat(
        ctx,
        requireCaller(context),
        {
          chatId: req.chatId,
          clientMessageId: req.clientMessageId,
          commit: req.commit,
          welcome: new Uint8Array(0),
          groupInfo: req.groupInfo,
          addCyphrIds: [],
          removeCyphrIds: [],
        },
        true,
      );
      return { messageId: out.messageId, seq: BigInt(out.seq), epoch: out.epoch, duplicate: out.duplicate };
    },
    async listWelcomes(req, context) {
      const caller = requireCaller(context);
      const { welcomes, truncated } = await listWelcomes(ctx, caller, req.chatId);
      return {
        truncated,
        welcomes: welcomes.map((w) => ({
          chatId: w.chat_id,
          deviceId: caller.deviceId,
          welcome: w.welcome,
          commitSeq: BigInt(w.commit_seq),
          createdAt: timestampFromDate(w.created_at),
          request: w.request,
        })),
      };
    },
  };
}
