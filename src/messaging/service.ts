import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { LeftReason } from "../chats/model.js";
import { ChatListFilter, type ChatSchema, Direction, MembershipState, type MessagingService } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import { requireCaller } from "../rpc/caller.js";
import { InvalidArgumentError } from "../shared/errors.js";
import { listChats } from "./chat-list.js";
import type { ChatSummary } from "./chat-list-repo.js";
import type { MessagingContext } from "./context.js";
import { deleteMessage, editMessage } from "./edit.js";
import { listHistory } from "./history.js";
import { markReceipt } from "./receipts.js";
import { sendMessage } from "./send.js";
import { setChatTimer } from "./timer.js";
import { messageMessage, sendInputOf, sendResultMessage } from "./wire.js";

/** Thin mapping between MessagingService messages and the messaging use cases. */
export function messagingService(ctx: MessagingContext): ServiceImpl<typeof MessagingService> {
  return {
    async sendMessage(req, context) {
      return sendResultMessage(await sendMessage(ctx, requireCaller(context), sendInputOf(req)));
    },
    async listMessages(req, context) {
      const page = await listHistory(ctx, requireCaller(context), {
        chatId: req.chatId,
        cursorSeq: req.cursorSeq,
        limit: req.limit,
        forward: req.direction === Direction.FORWARD,
      });
      return { messages: page.messages.map(messageMessage), nextCursorSeq: BigInt(page.nextCursorSeq) };
    },
    async listChats(req, context) {
      const filter = req.filter === ChatListFilter.ACCEPTED ? "accepted" : req.filter === ChatListFilter.REQUESTS ? "requests" : "all";
      if (req.filter > ChatListFilter.REQUESTS) throw new InvalidArgumentError(`filter ${req.filter} is not a ChatListFilter`);
      const page = await listChats(ctx, requireCaller(context), { pageToken: req.pageToken, limit: req.limit, filter });
      return { chats: page.chats.map(chatMessage), nextPageToken: page.nextPageToken };
    },
    async markDelivered(req, context) {
      const positions = await markReceipt(ctx, requireCaller(context), {
        chatId: req.chatId,
        upToSeq: req.upToSeq,
        read: false,
      });
      return { deliveredSeq: BigInt(positions.deliveredSeq) };
    },
    async markRead(req, context) {
      const positions = await markReceipt(ctx, requireCaller(context), {
        chatId: req.chatId,
        upToSeq: req.upToSeq,
        read: true,
      });
      return { readSeq: BigInt(positions.readSeq), deliveredSeq: BigInt(positions.deliveredSeq) };
    },
    async editMessage(req, context) {
      const message = await editMessage(ctx, requireCaller(context), { messageId: req.messageId, payload: req.payload });
      return { message: messageMessage(message) };
    },
    async deleteMessage(req, context) {
      return { message: messageMessage(await deleteMessage(ctx, requireCaller(context), req.messageId)) };
    },
    async setChatTimer(req, context) {
      const result = await setChatTimer(ctx, requireCaller(context), { chatId: req.chatId, timerSeconds: req.timerSeconds });
      return { timerSeconds: result.timerSeconds, seq: BigInt(result.seq) };
    },
  };
}

function chatMessage(c: ChatSummary): MessageInitShape<typeof ChatSchema> {
  return {
    chatId: c.chatId,
    kind: c.kind,
    peerUserId: c.peer?.userId ?? "",
    peerCyphrId: c.peer?.cyphrId ?? "",
    peerDisplayName: c.peer?.displayName ?? "",
    encryptedGroupName: c.encryptedName ?? new Uint8Array(0),
    lastSeq: BigInt(c.lastSeq),
    unreadCount: c.unreadCount,
    memberCount: c.memberCount,
    role: c.role,
    timerSeconds: c.timerSeconds ?? 0,
    lastActivityAt: timestampFromDate(c.lastActivityAt),
    readSeq: BigInt(c.readSeq),
    deliveredSeq: BigInt(c.deliveredSeq),
    membership:
      c.leftReason === LeftReason.left ? MembershipState.LEFT : c.leftReason === LeftReason.removed ? MembershipState.REMOVED : MembershipState.ACTIVE,
    groupVersion: BigInt(c.groupVersion),
    protocol: c.protocol,
    mlsEpoch: c.mls?.epoch ?? 0n,
    mlsCiphersuite: c.mls?.ciphersuite ?? 0,
    request: c.request,
  };
}
