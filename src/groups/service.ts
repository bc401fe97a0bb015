import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Role } from "../chats/model.js";
import type { GroupSchema, GroupsService, MemberSchema } from "../gen/cyphr/groups/v1/groups_pb.js";
import { requireCaller } from "../rpc/caller.js";
import type { GroupsContext } from "./context.js";
import { createGroup } from "./create.js";
import { addMember, changeRole, leaveGroup, removeMember } from "./membership.js";
import type { GroupRow, MemberRow } from "./repo.js";
import { getGroup, listMembers, updateGroup } from "./settings.js";

/** Thin mapping between GroupsService messages and the group use cases. */
export function groupsService(ctx: GroupsContext): ServiceImpl<typeof GroupsService> {
  return {
    async createGroup(req, context) {
      const group = await createGroup(ctx, requireCaller(context), {
        encryptedName: req.encryptedName,
        encryptedSettings: req.encryptedSettings,
        memberCyphrIds: req.memberCyphrIds,
      });
      return { group: groupMessage(group, Role.admin) };
    },
    async getGroup(req, context) {
      const { group, role } = await getGroup(ctx, requireCaller(context), req.chatId);
      return { group: groupMessage(group, role) };
    },
    async updateGroup(req, context) {
      const { group, role } = await updateGroup(ctx, requireCaller(context), {
        chatId: req.chatId,
        paths: req.updatePaths,
        encryptedName: req.encryptedName,
        encryptedSettings: req.encryptedSettings,
      });
      return { group: groupMessage(group, role) };
    },
    async addMember(req, context) {
      const { member, version } = await addMember(ctx, requireCaller(context), req);
      return { member: memberMessage(member), version: BigInt(version) };
    },
    async removeMember(req, context) {
      const { version } = await removeMember(ctx, requireCaller(context), req);
      return { version: BigInt(version) };
    },
    async changeRole(req, context) {
      const { member, version } = await changeRole(ctx, requireCaller(context), req);
      return { member: memberMessage(member), version: BigInt(version) };
    },
    async leaveGroup(req, context) {
      const { version } = await leaveGroup(ctx, requireCaller(context), req.chatId);
      return { version: BigInt(version) };
    },
    async listMembers(req, context) {
      const page = await listMembers(ctx, requireCaller(context), req);
      return { members: page.members.map(memberMessage), nextPageToken: page.nextPageToken };
    },
  };
}

function groupMessage(group: GroupRow, role: number): MessageInitShape<typeof GroupSchema> {
  return {
    chatId: group.id,
    encryptedName: group.encrypted_name ?? new Uint8Array(0),
    encryptedSettings: group.encrypted_settings ?? new Uint8Array(0),
    version: BigInt(group.group_version),
    memberCount: group.member_count,
    createdAt: timestampFromDate(group.created_at),
    myRole: role,
  };
}

function memberMessage(member: MemberRow): MessageInitShape<typeof MemberSchema> {
  return {
    userId: member.user_id,
    cyphrId: member.cyphr_id,
    displayName: member.display_name ?? "",
    role: member.role,
    joinedAt: timestampFromDate(member.joined_at),
    joinedSeq: BigInt(member.joined_seq),
  };
}
