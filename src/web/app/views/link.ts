/** The new device's side of linking: the link code as text and QR code, waiting for approval. */

import { type Opened, Session } from "../client.js";
import { busy, h, messageOf, replace, statusLine } from "../dom.js";
import { qrCode } from "../qr.js";

export async function linkScreen(root: HTMLElement, passphrase: string, onSession: (opened: Opened) => void, back: () => void): Promise<void> {
  const { pending, finish, cancel } = await Session.beginLink(passphrase);
  const status = statusLine();
  const code = h("textarea", { class: "link-code", readonly: true, rows: 4, "aria-label": "Link code", "data-testid": "link-code" }, pending.code);
  const copy = h("button", { type: "button" }, "Copy code");
  copy.addEventListener("click", () => void navigator.clipboard?.writeText(pending.code).then(() => status.show("Copied.")));
  const cancelButton = h("button", { type: "button", class: "ghost" }, "Cancel");
  cancelButton.addEventListener("click", () => void busy(cancelButton, "Cancelling…", status, async () => (await cancel(), back())));
  const expires = pending.expiresAt ? `The code works until ${pending.expiresAt.toLocaleTimeString()}.` : "";
  replace(
    root,
    h(
      "main",
      { class: "welcome" },
      h(
        "section",
        { class: "card link", "aria-labelledby": "link-title" },
        h("h2", { id: "link-title" }, "Link this browser"),
        h("p", {}, "On a device where you are signed in, open Devices → Approve a new device, and scan this code or paste the text below. ", expires),
        qrCode(pending.code, "QR code of the link code"),
        code,
        h("div", { class: "row" }, copy, cancelButton),
        h("p", { class: "hint" }, "Waiting for approval…"),
        status,
      ),
    ),
  );
  try {
    onSession(await finish());
  } catch (error) {
    status.show(messageOf(error), "error");
  }
}
