/** The sidebar's list of chats: title, last activity, unread count; arrow keys move between chats. */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Chat, ChatKind } from "../../../gen/cyphr/messaging/v1/messaging_pb.js";
import { h, replace } from "../dom.js";
import { initials, timeOf } from "../format.js";

export interface ChatItem {
  chat: Chat;
  title: string;
  unread: number;
}

export class ChatList {
  readonly element = h("ul", { class: "chat-list", role: "listbox", "aria-label": "Chats" });
  private items = new Map<string, ChatItem>();
  private selected: string | undefined;

  constructor(private readonly onSelect: (chatId: string) => void) {
    this.element.addEventListener("keydown", (e) => this.onKey(e));
  }

  set(items: ChatItem[]): void {
    this.items = new Map(items.map((i) => [i.chat.chatId, i]));
    this.render();
  }

  get(chatId: string): ChatItem | undefined {
    return this.items.get(chatId);
  }

  select(chatId: string | undefined): void {
    this.selected = chatId;
    this.render();
  }

  /** A message arrived: newer than what the last ListChats counted, it adds to the unread count when `unread`. */
  bump(chatId: string, seq: bigint, unread: boolean): void {
    const item = this.items.get(chatId);
    if (!item || seq <= item.chat.lastSeq) return;
    item.chat.lastSeq = seq;
    if (unread) item.unread += 1;
    item.chat.lastActivityAt = { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 } as Chat["lastActivityAt"];
    this.render();
  }

  markRead(chatId: string): void {
    const item = this.items.get(chatId);
    if (item && item.unread > 0) {
      item.unread = 0;
      this.render();
    }
  }

  private render(): void {
    const sorted = [...this.items.values()].sort((a, b) => Number((b.chat.lastActivityAt?.seconds ?? 0n) - (a.chat.lastActivityAt?.seconds ?? 0n)));
    if (sorted.length === 0) return replace(this.element, h("li", { class: "empty" }, "No chats yet: start one above."));
    replace(this.element, ...sorted.map((item) => this.row(item)));
  }

  private row(item: ChatItem): HTMLElement {
    const id = item.chat.chatId;
    const isSelected = id === this.selected;
    const li = h(
      "li",
      {
        role: "option",
        tabindex: isSelected || (!this.selected && this.items.size > 0) ? 0 : -1,
        "aria-selected": String(isSelected),
        "data-chat": id,
        class: isSelected ? "selected" : "",
      },
      h("span", { class: `avatar ${item.chat.kind === ChatKind.GROUP ? "group" : ""}`, "aria-hidden": "true" }, initials(item.title)),
      h("span", { class: "chat-title" }, item.title, item.chat.request && h("span", { class: "tag" }, "request")),
      h("span", { class: "chat-time" }, timeOf(item.chat.lastActivityAt && timestampDate(item.chat.lastActivityAt))),
      item.unread > 0 && h("span", { class: "badge", "aria-label": `${item.unread} unread` }, String(item.unread)),
    );
    li.addEventListener("click", () => this.onSelect(id));
    li.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        this.onSelect(id);
      }
    });
    return li;
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const rows = [...this.element.querySelectorAll<HTMLElement>("li[data-chat]")];
    const at = rows.indexOf(document.activeElement as HTMLElement);
    const next = rows[Math.max(0, Math.min(rows.length - 1, at + (e.key === "ArrowDown" ? 1 : -1)))];
    if (next) {
      e.preventDefault();
      next.focus();
    }
  }
}
