/**
 * "Account & security": the account lifecycle of cyphr.account.v1 (docs/account.md) in one pane
 * beside the chat list: recovery phrase, PIN, two-factor login, sessions, export and deletion.
 * What is set (GetSecuritySettings) is read when the pane opens and after every change or refused
 * attempt; the recovery, PIN and two-factor sections show it and offer the actions that fit.
 */
import type { Session } from "../../client.js";
import { h, messageOf, statusLine } from "../../dom.js";
import { deleteSection, exportSection } from "./data.js";
import { pinSection } from "./pin.js";
import { recoverySection } from "./recovery.js";
import { sessionsSection } from "./sessions.js";
import { totpSection } from "./totp.js";

export function securityPane(session: Session, exits: { onBack: () => void; onDeleted: () => void }): HTMLElement {
  const back = h("button", { type: "button", class: "ghost back", "aria-label": "Back to chats" }, "←");
  back.addEventListener("click", exits.onBack);
  const status = statusLine();
  const refresh = async () => {
    try {
      const settings = await session.lifecycle.securitySettings();
      for (const s of settingSections) s.show(settings);
      status.show("");
    } catch (error) {
      status.show(`Could not read what is set: ${messageOf(error)}`, "error");
    }
  };
  const settingSections = [recoverySection(session, refresh), pinSection(session, refresh), totpSection(session, refresh)];
  void refresh();
  return h(
    "section",
    { class: "security", "aria-labelledby": "security-title" },
    h("header", { class: "chat-header" }, back, h("h2", { id: "security-title", tabindex: -1 }, "Account & security")),
    h(
      "div",
      { class: "security-body" },
      status,
      ...settingSections.map((s) => s.element),
      sessionsSection(session),
      exportSection(session),
      deleteSection(session, exits.onDeleted),
    ),
  );
}
