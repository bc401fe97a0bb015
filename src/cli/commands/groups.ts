/** group create|add|remove|leave|members: MLS groups, each change with its commit and Welcome. */
import type { Command } from "commander";
import { ChatRole } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { call } from "../../sdk/errors.js";
import { ensureJoined, isChatId } from "../chat-directory.js";
import { action } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { openSession } from "../session.js";

export function groupCommands(program: Command): void {
  const group = program.command("group").description("create MLS groups and change their members");

  group
    .command("create")
    .description("create a group with you as its admin, adding the users named")
    .argument("[members...]", "cyphr ids of the users to add")
    .action(
      action(async ({ globals, out }, members: string[]) => {
        const session = await openSession(globals.profile);
        const created = await session.mls.createGroup(unique(members));
        out.data(
          { chatId: created.chatId, members: [session.account.cyphrId, ...unique(members)], epoch: created.epoch.toString() },
          (v) => `Created group ${v.chatId} with ${v.members.join(", ")}.`,
        );
      }),
    );

  group
    .command("add")
    .description("add users to a group (admins only)")
    .argument("<chat>", "the group's chat id")
    .argument("<users...>", "cyphr ids to add")
    .action(
      action(async ({ globals, out }, chat: string, users: string[]) => {
        const chatId = requireChatId(chat);
        const session = await openSession(globals.profile);
        await ensureJoined(session, chatId);
        const result = await session.mls.addMembers(chatId, unique(users));
        out.data(
          { chatId, added: unique(users), epoch: result.epoch.toString(), welcomedDevices: result.welcomed.length },
          (v) => `Added ${v.added.join(", ")} to ${v.chatId}.`,
        );
      }),
    );

  group
    .command("remove")
    .description("remove users from a group (admins only): every device of theirs leaves the MLS group")
    .argument("<chat>", "the group's chat id")
    .argument("<users...>", "cyphr ids to remove")
    .action(
      action(async ({ globals, out }, chat: string, users: string[]) => {
        const chatId = requireChatId(chat);
        const session = await openSession(globals.profile);
        await ensureJoined(session, chatId);
        const result = await session.mls.removeMembers(chatId, unique(users));
        out.data({ chatId, removed: unique(users), epoch: result.epoch.toString() }, (v) => `Removed ${v.removed.join(", ")} from ${v.chatId}.`);
      }),
    );

  group
    .command("leave")
    .description("leave a group (the last admin names another admin first)")
    .argument("<chat>", "the group's chat id")
    .action(
      action(async ({ globals, out }, chat: string) => {
        const chatId = requireChatId(chat);
        const session = await openSession(globals.profile);
        await call(async () => session.groups.leaveGroup({ chatId }, await session.auth()));
        out.data({ chatId, left: true }, (v) => `You left ${v.chatId}.`);
      }),
    );

  group
    .command("members")
    .description("list a group's current members")
    .argument("<chat>", "the group's chat id")
    .action(
      action(async ({ globals, out }, chat: string) => {
        const chatId = requireChatId(chat);
        const session = await openSession(globals.profile);
        const res = await call(async () => session.groups.listMembers({ chatId, limit: 1000 }, await session.auth()));
        const members = res.members.map((m) => ({ cyphrId: m.cyphrId, role: m.role === ChatRole.ADMIN ? "admin" : "member" }));
        out.data({ chatId, members }, (v) => v.members.map((m) => `${m.cyphrId}${m.role === "admin" ? " (admin)" : ""}`));
      }),
    );
}

function requireChatId(text: string): string {
  if (!isChatId(text)) throw new CliError(`Invalid chat id "${text}": give the group's id (\`cyphr chats\` lists them).`, EXIT.usage);
  return text.toLowerCase();
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}
