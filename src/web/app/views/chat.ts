/**
 * One open chat: its messages (history from this device's MLS state, then live events; one row
 * per seq, so replays and reloads never duplicate), typing, receipts on own messages, the
 * disappearing-message timer, a peer's safety-number change (from the SDK's stored view, placed
 * after the message it followed, and live) and, for groups, the members.
 */
import { ChatKind } from "../../../gen/cyphr/messaging/v1/messaging_pb.js";
import { type HistoryMessage, type IdentityNotice, PeerIdentities } from "../../../sdk/index.js";
import type { EventOf } from "../../../sdk/realtime/events.js";
import type { Session } from "../client.js";
import { busy, field, h, messageOf, replace, statusLine } from "../dom.js";
import { TIMER_CHOICES, timerLabel } from "../format.js";
import type { ChatItem } from "./chat-list.js";
import { membersDialog } from "./members.js";

const TYPING_REFRESH_MS = 4000;
const TYPING_IDLE_MS = 5000;

export class ChatPane {
  readonly element: HTMLElement;
  private readonly list = h("ol", { class: "messages", "aria-label": "Messages", tabindex: 0 });
  private readonly rows = new Map<bigint, HTMLElement>();
  /** The safety-number changes shown, by Cyphr ID and number (the stored view and the live event name the same one). */
  private readonly identityNotices = new Set<string>();
  private readonly typingLine = h("p", { class: "typing", "aria-live": "polite" });
  private readonly typers = new Set<string>();
  private readonly status = statusLine();
  private readonly timer = h("select", { name: "timer" }, ...TIMER_CHOICES.map((c) => h("option", { value: c.seconds }, c.label)));
  private readonly input = h("textarea", { name: "message", rows: 1, placeholder: "Message", maxlength: 4000, enterkeyhint: "send" });
  /** Highest seq other members delivered and read (for the receipts on own messages). */
  private peerDelivered = 0n;
  private peerRead = 0n;
  private lastTypingSent = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly session: Session,
    readonly item: ChatItem,
    private readonly onBack: () => void,
  ) {
    this.timer.value = String(item.chat.timerSeconds);
    this.timer.addEventListener("change", () => void this.setTimer(Number(this.timer.value)));
    const send = h("button", { type: "submit", class: "primary", "aria-label": "Send" }, "Send");
    const composer = h("form", { class: "composer" }, field("Message", this.input), send);
    composer.addEventListener("submit", (e) => {
      e.preventDefault();
      void busy(send, "…", this.status, () => this.send());
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        composer.requestSubmit();
      }
    });
    this.input.addEventListener("input", () => this.typing());
    const back = h("button", { type: "button", class: "ghost back", "aria-label": "Back to chats" }, "←");
    back.addEventListener("click", onBack);
    const isGroup = item.chat.kind === ChatKind.GROUP;
    const members = isGroup && h("button", { type: "button", class: "ghost" }, "Members");
    if (members) members.addEventListener("click", () => void membersDialog(session, item.chat.chatId));
    this.element = h(
      "section",
      { class: "chat", "aria-labelledby": "chat-title" },
      h(
        "header",
        { class: "chat-header" },
        back,
        h("h2", { id: "chat-title" }, item.title),
        h("label", { class: "timer" }, "Disappearing ", this.timer),
        members,
      ),
      item.chat.request && this.requestBanner(),
      this.list,
      this.typingLine,
      this.status,
      composer,
    );
  }

  /** A message request: nothing of this user (typing, receipts) reaches the requester until accepted. */
  private requestBanner(): HTMLElement {
    const chatId = this.item.chat.chatId;
    const accept = h("button", { type: "button", class: "primary" }, "Accept");
    const decline = h("button", { type: "button", class: "danger" }, "Decline");
    const banner = h(
      "div",
      { class: "request", role: "region", "aria-label": "Message request" },
      h("p", {}, `${this.item.title} is not in your contacts yet. Accept to let them see your replies, typing and read receipts.`),
      h("div", { class: "row" }, accept, decline),
    );
    accept.addEventListener(
      "click",
      () =>
        void busy(accept, "Accepting…", this.status, async () => {
          await this.session.acceptChat(chatId);
          this.item.chat.request = false;
          banner.remove();
        }),
    );
    decline.addEventListener("click", () => void busy(decline, "Declining…", this.status, async () => (await this.session.declineChat(chatId), this.onBack())));
    return banner;
  }

  async load(): Promise<void> {
    for (const m of await this.session.mls.history(this.item.chat.chatId)) this.show(m);
    for (const n of await new PeerIdentities(this.session.store).noticesIn(this.item.chat.chatId)) this.safetyNumberChanged(n);
    await this.markRead();
  }

  focus(): void {
    this.input.focus();
  }

  onMessage(m: EventOf<"message"> | EventOf<"edited">): void {
    this.show({
      seq: m.seq,
      messageId: m.messageId,
      senderCyphrId: m.sender.cyphrId,
      own: m.own,
      deleted: false,
      readable: true,
      contentType: m.contentType,
      text: m.text,
      bytes: m.bytes,
      edited: m.kind === "edited",
    });
    this.typers.delete(m.sender.cyphrId);
    this.renderTyping();
    void this.markRead();
  }

  onDeleted(seq: bigint): void {
    const row = this.rows.get(seq);
    if (row) replace(row.querySelector(".text")!, "Message deleted");
  }

  onReceipt(r: EventOf<"receipt">): void {
    if (r.cyphrId === this.session.account.cyphrId) return;
    if (r.deliveredSeq > this.peerDelivered) this.peerDelivered = r.deliveredSeq;
    if (r.readSeq > this.peerRead) this.peerRead = r.readSeq;
    for (const [seq, row] of this.rows) if (row.classList.contains("own")) this.receiptOf(row, seq);
  }

  onTyping(t: EventOf<"typing">): void {
    if (t.cyphrId === this.session.account.cyphrId) return;
    if (t.typing) this.typers.add(t.cyphrId);
    else this.typers.delete(t.cyphrId);
    this.renderTyping();
  }

  onTimer(seconds: number): void {
    this.timer.value = String(seconds);
    this.note(`Disappearing messages: ${timerLabel(seconds)}`);
  }

  onIdentityChanged(e: EventOf<"identity_changed">): void {
    this.safetyNumberChanged(e);
  }

  /** A notice after the message with seq `afterSeq` (at the end when live). */
  private safetyNumberChanged(n: Pick<IdentityNotice, "cyphrId" | "safetyNumber"> & { afterSeq?: bigint }): void {
    const key = `${n.cyphrId}:${n.safetyNumber}`;
    if (this.identityNotices.has(key)) return;
    this.identityNotices.add(key);
    const notice = h("li", { class: "system identity" }, `${n.cyphrId}'s safety number changed (they recovered their account); new: ${n.safetyNumber}`);
    const after = n.afterSeq;
    const next = after === undefined ? undefined : [...this.rows.entries()].filter(([s]) => s > after).sort(([a], [b]) => (a < b ? -1 : 1))[0];
    this.list.insertBefore(notice, next ? next[1] : null);
  }

  private show(m: HistoryMessage): void {
    if (this.rows.has(m.seq)) {
      if (m.readable && m.edited) replace(this.rows.get(m.seq)!.querySelector(".text")!, m.text ?? "(file)", h("small", {}, " (edited)"));
      return;
    }
    const mine = m.senderCyphrId === this.session.account.cyphrId;
    const text = m.deleted ? "Message deleted" : m.readable ? (m.text ?? "(file)") : `(${m.reason.replace(/_/g, " ")})`;
    const row = h(
      "li",
      { class: `message ${mine ? "own" : ""}`, "data-seq": String(m.seq) },
      !mine && h("span", { class: "sender" }, m.senderCyphrId),
      h("span", { class: "text" }, text),
      mine && h("span", { class: "receipt" }),
    );
    if (mine) this.receiptOf(row, m.seq);
    // Keep seq order even when a live event overtakes the history.
    const after = [...this.rows.entries()].filter(([s]) => s > m.seq).sort(([a], [b]) => (a < b ? -1 : 1))[0];
    this.list.insertBefore(row, after ? after[1] : null);
    this.rows.set(m.seq, row);
    row.scrollIntoView({ block: "end" });
  }

  private receiptOf(row: HTMLElement, seq: bigint): void {
    const state = seq <= this.peerRead ? "Read" : seq <= this.peerDelivered ? "Delivered" : "Sent";
    const el = row.querySelector(".receipt");
    if (el) el.textContent = state === "Read" ? "✓✓ Read" : state === "Delivered" ? "✓✓" : "✓";
    row.setAttribute("data-receipt", state.toLowerCase());
  }

  private note(text: string): void {
    this.list.append(h("li", { class: "system" }, text));
  }

  private renderTyping(): void {
    const names = [...this.typers];
    this.typingLine.textContent = names.length === 0 ? "" : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`;
  }

  private async send(): Promise<void> {
    const text = this.input.value.trim();
    if (text === "") return;
    const chatId = this.item.chat.chatId;
    const { seq, messageId } = await this.session.mls.send(chatId, text);
    this.input.value = "";
    this.show({
      seq,
      messageId,
      senderCyphrId: this.session.account.cyphrId,
      own: true,
      deleted: false,
      readable: true,
      contentType: "text",
      text,
      bytes: new Uint8Array(),
      edited: false,
    });
    this.stopTyping();
  }

  private typing(): void {
    const now = Date.now();
    if (now - this.lastTypingSent > TYPING_REFRESH_MS) {
      this.lastTypingSent = now;
      void this.session.live.setTyping(this.item.chat.chatId, true).catch(() => undefined);
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  private stopTyping(): void {
    clearTimeout(this.idleTimer);
    if (this.lastTypingSent === 0) return;
    this.lastTypingSent = 0;
    void this.session.live.setTyping(this.item.chat.chatId, false).catch(() => undefined);
  }

  private async setTimer(seconds: number): Promise<void> {
    try {
      await this.session.live.setTimer(this.item.chat.chatId, seconds);
    } catch (error) {
      this.status.show(messageOf(error), "error");
      this.timer.value = String(this.item.chat.timerSeconds);
    }
  }

  private async markRead(): Promise<void> {
    const last = [...this.rows.keys()].reduce((a, b) => (b > a ? b : a), 0n);
    if (last === 0n || document.hidden) return;
    await this.session.live.markRead(this.item.chat.chatId, last).catch(() => undefined);
  }
}
