/**
 * The signed-in app: the chat list beside the open chat or the account screen (one pane at a time
 * on phones), new chats and groups, devices, and the realtime stream's events routed to whatever
 * shows them. A stream refused as unauthenticated (the session was revoked) signs this browser out.
 */
import { ChatKind } from "../../../gen/cyphr/messaging/v1/messaging_pb.js";
import type { Session, SignIn } from "../client.js";
import { busy, field, h, messageOf, replace, statusLine } from "../dom.js";
import { ChatPane } from "./chat.js";
import { type ChatItem, ChatList } from "./chat-list.js";
import { devicesDialog } from "./devices.js";
import { newGroupDialog } from "./members.js";
import { securityPane } from "./security/pane.js";

export interface ShellExits {
  /** The Lock button: keys forgotten, back to the welcome screen. */
  onLock: () => void;
  /** The server ended this session: sign in again. */
  onSignedOut: (signIn: SignIn) => void;
  /** The account was deleted and this browser's profile removed. */
  onDeleted: () => void;
}

export async function shellScreen(root: HTMLElement, session: Session, exits: ShellExits): Promise<void> {
  const me = session.account.cyphrId;
  const status = statusLine();
  const connection = h("span", { class: "connection", role: "status", "data-state": "connecting" }, "Connecting…");
  const main = h("div", { class: "main-pane" }, h("div", { class: "empty-chat" }, h("p", {}, "Pick a chat, or start one.")));
  let open: ChatPane | undefined;
  const layout = h("div", { class: "layout" });

  const titles = new Map<string, string>();
  const titleOf = async (chat: ChatItem["chat"]): Promise<string> => {
    if (chat.kind !== ChatKind.GROUP) return chat.peerCyphrId || "(chat)";
    if (!titles.has(chat.chatId)) {
      const members = await session.members(chat.chatId).catch(() => []);
      titles.set(
        chat.chatId,
        members
          .map((m) => m.cyphrId)
          .filter((id) => id !== me)
          .join(", ") || "Group",
      );
    }
    return titles.get(chat.chatId)!;
  };
  // The server's unread_count counts MLS commits too; what a person calls unread is the messages from others.
  const unreadOf = async (chat: ChatItem["chat"]): Promise<number> => {
    if (chat.unreadCount === 0 || !(await session.mls.hasChat(chat.chatId))) return chat.unreadCount;
    const after = await session.mls.history(chat.chatId, { afterSeq: chat.readSeq }).catch(() => undefined);
    return after ? after.filter((m) => m.senderCyphrId !== me && !m.deleted).length : chat.unreadCount;
  };
  const list = new ChatList((chatId) => void openChat(chatId));
  const refreshList = async () => {
    const chats = await session.listChats();
    list.set(
      await Promise.all(
        chats.map(async (chat) => ({ chat, title: await titleOf(chat), unread: chat.chatId === open?.item.chat.chatId ? 0 : await unreadOf(chat) })),
      ),
    );
  };

  async function openChat(chatId: string): Promise<void> {
    // Fresh from the server: whether the chat is a message request changes with each message.
    await refreshList().catch(() => undefined);
    const item = list.get(chatId);
    if (!item) return;
    list.select(chatId);
    list.markRead(chatId);
    open = new ChatPane(session, item, () => closeChat());
    replace(main, open.element);
    layout.classList.add("chat-open");
    try {
      await open.load();
    } catch (error) {
      status.show(messageOf(error), "error");
    }
    open.focus();
  }
  function closeChat(): void {
    open = undefined;
    list.select(undefined);
    layout.classList.remove("chat-open");
    replace(main, h("div", { class: "empty-chat" }, h("p", {}, "Pick a chat, or start one.")));
  }

  const peer = h("input", { name: "peer", placeholder: "cyphr_id", autocapitalize: "none", spellcheck: "false", required: true });
  const start = h("button", { type: "submit" }, "Chat");
  const newChat = h("form", { class: "new-chat row" }, field("Start a chat with", peer), start);
  newChat.addEventListener("submit", (e) => {
    e.preventDefault();
    void busy(start, "…", status, async () => {
      const { chatId } = await session.mls.startDirectChat(peer.value.trim());
      peer.value = "";
      await refreshList();
      await openChat(chatId);
    });
  });
  const group = h("button", { type: "button" }, "New group");
  group.addEventListener("click", () => newGroupDialog(session, (chatId) => void refreshList().then(() => openChat(chatId))));
  const devices = h("button", { type: "button" }, "Devices");
  devices.addEventListener("click", () => void devicesDialog(session));
  const security = h("button", { type: "button" }, "Account & security");
  security.addEventListener("click", () => openSecurity());
  const signOut = h("button", { type: "button", class: "ghost" }, "Lock");
  signOut.addEventListener("click", () => void session.close().then(exits.onLock));

  function openSecurity(): void {
    open = undefined;
    list.select(undefined);
    replace(main, securityPane(session, { onBack: () => closeChat(), onDeleted: exits.onDeleted }));
    layout.classList.add("chat-open");
    main.querySelector("h2")?.focus();
  }

  const sidebar = h(
    "aside",
    { class: "sidebar", "aria-label": "Chats and account" },
    h("header", { class: "me" }, h("strong", {}, me), connection, signOut),
    newChat,
    h("div", { class: "row actions" }, group, devices, security),
    list.element,
    status,
  );
  replace(layout, sidebar, main);
  replace(root, layout);

  const live = session.live;
  live.on("state", (s) => {
    connection.dataset.state = s.state;
    connection.textContent = { connecting: "Connecting…", live: "Syncing…", caught_up: "Online", reconnecting: "Reconnecting…", closed: "Offline" }[s.state];
    if (s.state === "caught_up" && s.resyncRequired) void refreshList();
    if (s.state === "closed" && s.error?.code === "unauthenticated") {
      void session.signedOut(`This browser was signed out: ${s.error.message}`).then((signIn) => signIn && exits.onSignedOut(signIn));
    }
  });
  live.on("message", (m) => {
    if (open?.item.chat.chatId === m.chatId) open.onMessage(m);
    if (!list.get(m.chatId)) void refreshList();
    else list.bump(m.chatId, m.seq, !m.own && m.sender.cyphrId !== me && open?.item.chat.chatId !== m.chatId);
  });
  live.on("edited", (m) => open?.item.chat.chatId === m.chatId && open.onMessage(m));
  live.on("deleted", (d) => open?.item.chat.chatId === d.chatId && open.onDeleted(d.seq));
  live.on("receipt", (r) => open?.item.chat.chatId === r.chatId && open.onReceipt(r));
  live.on("typing", (t) => open?.item.chat.chatId === t.chatId && open.onTyping(t));
  live.on("identity_changed", (e) => open && e.chatIds.includes(open.item.chat.chatId) && open.onIdentityChanged(e));
  live.on("chat", (c) => {
    if (c.change === "timer" && open?.item.chat.chatId === c.chatId) open.onTimer(c.timerSeconds ?? 0);
    if (c.change === "members") titles.delete(c.chatId);
    void refreshList();
  });
  live.on("error", (e) => status.show(e.error.message, "error"));
  await refreshList();
  await live.start().catch((error: unknown) => status.show(messageOf(error), "error"));
}
