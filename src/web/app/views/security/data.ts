/** Export (a JSON download of everything the server stores about the account) and deletion. */
import type { Session } from "../../client.js";
import { busy, field, h, statusLine } from "../../dom.js";
import { section } from "./section.js";

/** Saves `text` as a file through a Blob and an object URL (nothing leaves the page). */
function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked once the browser has taken the download over.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function exportSection(session: Session): HTMLElement {
  const status = statusLine();
  const button = h("button", { type: "button" }, "Download my data");
  button.addEventListener(
    "click",
    () =>
      void busy(button, "Exporting…", status, async () => {
        const data = await session.lifecycle.exportData();
        const date = new Date().toISOString().slice(0, 10);
        download(`cyphr-export-${session.account.cyphrId}-${date}.json`, JSON.stringify(data, null, 2));
        status.show("Export downloaded.");
      }),
  );
  return section(
    "export-title",
    "Your data",
    h(
      "p",
      {},
      "Download, as JSON, everything the server stores about your account: profile, devices, sessions, chats and memberships, message metadata and your own encrypted messages. Messages are ciphertext: the server cannot read them.",
    ),
    button,
    status,
  );
}

export function deleteSection(session: Session, onDeleted: () => void): HTMLElement {
  const status = statusLine();
  const me = session.account.cyphrId;
  const typed = h("input", { name: "confirm-delete", autocomplete: "off", spellcheck: "false", autocapitalize: "none", required: true });
  const button = h("button", { type: "submit", class: "danger", disabled: true }, "Delete account");
  typed.addEventListener("input", () => (button.disabled = typed.value.trim() !== me));
  const form = h("form", { "aria-label": "Delete account" }, field(`Type ${me} to confirm`, typed), button);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (typed.value.trim() !== me) return;
    void busy(button, "Deleting…", status, async () => {
      await session.deleteAccount();
      onDeleted();
    });
  });
  return section(
    "delete-title",
    "Delete account",
    h(
      "p",
      {},
      `Deletes ${me} for good: keys, devices, sessions, memberships. Messages you sent stay in others' chats as "deleted", without content. The Cyphr ID cannot be registered again for a while (30 days unless the server says otherwise). This browser forgets the account too.`,
    ),
    form,
    status,
  );
}
