/**
 * "Account & security": the account lifecycle of cyphr.account.v1 (docs/account.md) in one pane
 * beside the chat list: recovery phrase, PIN, two-factor login, sessions, export and deletion.
 * The server has no call that reports whether a PIN, TOTP or recovery key is set, so each section
 * offers its actions and reports what the server answers.
 */
import type { Session } from "../../client.js";
import { h } from "../../dom.js";
import { deleteSection, exportSection } from "./data.js";
import { pinSection } from "./pin.js";
import { recoverySection } from "./recovery.js";
import { sessionsSection } from "./sessions.js";
import { totpSection } from "./totp.js";

export function securityPane(session: Session, exits: { onBack: () => void; onDeleted: () => void }): HTMLElement {
  const back = h("button", { type: "button", class: "ghost back", "aria-label": "Back to chats" }, "←");
  back.addEventListener("click", exits.onBack);
  return h(
    "section",
    { class: "security", "aria-labelledby": "security-title" },
    h("header", { class: "chat-header" }, back, h("h2", { id: "security-title", tabindex: -1 }, "Account & security")),
    h(
      "div",
      { class: "security-body" },
      recoverySection(session),
      pinSection(session),
      totpSection(session),
      sessionsSection(session),
      exportSection(session),
      deleteSection(session, exits.onDeleted),
    ),
  );
}
