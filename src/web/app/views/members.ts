/** A group's members: listed by the server, added and removed through MLS commits. */
import { ChatRole } from "../../../gen/cyphr/messaging/v1/messaging_pb.js";
import type { Session } from "../client.js";
import { busy, field, h, replace, statusLine } from "../dom.js";
import { openDialog } from "./dialog.js";

export async function membersDialog(session: Session, chatId: string): Promise<void> {
  const list = h("ul", { class: "members" });
  const status = statusLine();
  const input = h("input", { name: "add-member", placeholder: "cyphr_id", autocapitalize: "none", spellcheck: "false", required: true });
  const add = h("button", { type: "submit" }, "Add");
  const form = h("form", { class: "row" }, field("Add a member", input), add);
  const refresh = async () => {
    const members = await session.members(chatId);
    const me = members.find((m) => m.cyphrId === session.account.cyphrId);
    const admin = me?.role === ChatRole.ADMIN;
    replace(
      list,
      ...members.map((m) => {
        const remove =
          admin &&
          m.cyphrId !== session.account.cyphrId &&
          h("button", { type: "button", class: "ghost danger", "aria-label": `Remove ${m.cyphrId}` }, "Remove");
        if (remove)
          remove.addEventListener(
            "click",
            () => void busy(remove, "Removing…", status, async () => (await session.mls.removeMembers(chatId, [m.cyphrId]), await refresh())),
          );
        return h(
          "li",
          {},
          h("span", {}, m.displayName ? `${m.displayName} (${m.cyphrId})` : m.cyphrId),
          m.role === ChatRole.ADMIN && h("span", { class: "tag" }, "admin"),
          remove,
        );
      }),
    );
    form.hidden = !admin;
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void busy(add, "Adding…", status, async () => {
      await session.mls.addMembers(chatId, [input.value.trim()]);
      input.value = "";
      await refresh();
    });
  });
  openDialog("Members", list, form, status);
  await refresh().catch((e: unknown) => status.show(String(e instanceof Error ? e.message : e), "error"));
}

/** Creates a group with the given members; resolves with its chat id. */
export function newGroupDialog(session: Session, onCreated: (chatId: string) => void): void {
  const status = statusLine();
  const input = h("input", { name: "group-members", placeholder: "bob, carol", autocapitalize: "none", spellcheck: "false", required: true });
  const create = h("button", { type: "submit", class: "primary" }, "Create group");
  const form = h("form", {}, field("Members (Cyphr IDs, comma-separated)", input), create, status);
  const dialog = openDialog("New group", form);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const ids = input.value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    void busy(create, "Creating…", status, async () => {
      const { chatId } = await session.mls.createGroup(ids);
      dialog.close();
      onCreated(chatId);
    });
  });
}
