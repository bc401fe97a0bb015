/**
 * "Recover account" on the welcome screen: every device is lost, the recovery phrase (and the PIN,
 * when one is set) gives this browser a new identity for the same Cyphr ID (docs/account.md).
 */
import { Session } from "../client.js";
import { busy, field, h } from "../dom.js";

export function recoverForm(status: { show(text: string, kind?: "error" | "info"): void }, onSession: (s: Session) => void): HTMLElement {
  const id = h("input", {
    name: "recover-cyphr-id",
    autocomplete: "username",
    required: true,
    pattern: "[a-z0-9_]{3,30}",
    minlength: 3,
    maxlength: 30,
    spellcheck: "false",
    autocapitalize: "none",
  });
  const phrase = h("textarea", { name: "recovery-phrase", rows: 3, required: true, spellcheck: "false", autocapitalize: "none", autocomplete: "off" });
  const pin = h("input", { type: "password", name: "recover-pin", autocomplete: "off", maxlength: 64 });
  const pass1 = h("input", { type: "password", name: "recover-passphrase", autocomplete: "new-password", required: true, minlength: 8 });
  const pass2 = h("input", { type: "password", name: "recover-repeat-passphrase", autocomplete: "new-password", required: true, minlength: 8 });
  const button = h("button", { type: "submit" }, "Recover account");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "recover-title" },
    h("h2", { id: "recover-title" }, "Recover account"),
    h(
      "p",
      {},
      "Lost every device? Your recovery phrase gives this browser new keys. Your chats stay; your contacts are told your safety number changed, and your other devices are signed out.",
    ),
    field("Cyphr ID", id),
    field("Recovery phrase", phrase, "The 24 words you wrote down, in order"),
    field("PIN (if you set one)", pin),
    field("New browser passphrase", pass1, "Protects the new keys in this browser (at least 8 characters)"),
    field("Repeat the browser passphrase", pass2),
    button,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (pass1.value !== pass2.value) return status.show("The two passphrases differ.", "error");
    void busy(button, "Recovering…", status, async () => onSession(await Session.recover(id.value.trim(), phrase.value, pin.value, pass1.value)));
  });
  return form;
}
