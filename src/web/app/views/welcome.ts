/** The first screen: unlock a profile of this browser, create an account, link this browser to one, or recover one. */
import { IndexedDbStore } from "../../../sdk/web/index.js";
import { type Opened, Session } from "../client.js";
import { busy, field, h, replace, statusLine } from "../dom.js";
import { linkScreen } from "./link.js";
import { recoverForm } from "./recover.js";

export async function welcomeScreen(root: HTMLElement, onSession: (opened: Opened) => void): Promise<void> {
  const profiles = await IndexedDbStore.profiles().catch(() => []);
  const status = statusLine();
  const card = h(
    "main",
    { class: "welcome" },
    h("div", { class: "brand" }, h("img", { src: "/icon.svg", alt: "", width: 48, height: 48 }), h("h1", {}, "Cyphr")),
    h("p", { class: "tagline" }, "End-to-end encrypted messages. Your keys never leave this browser."),
  );

  const real = profiles.filter((p) => p.label !== "(linking)");
  if (real.length > 0) {
    const select = h("select", { name: "profile" }, ...real.map((p) => h("option", { value: p.profile }, p.label)));
    const pass = h("input", { type: "password", name: "passphrase", autocomplete: "current-password", required: true });
    const button = h("button", { type: "submit", class: "primary" }, "Unlock");
    const form = h(
      "form",
      { class: "card", "aria-labelledby": "unlock-title" },
      h("h2", { id: "unlock-title" }, "Welcome back"),
      field("Account", select),
      field("Passphrase", pass),
      button,
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void busy(button, "Unlocking…", status, async () => onSession(await Session.unlock(select.value, pass.value)));
    });
    card.append(form);
  }

  const id = h("input", {
    name: "cyphr-id",
    autocomplete: "username",
    required: true,
    pattern: "[a-z0-9_]{3,30}",
    minlength: 3,
    maxlength: 30,
    spellcheck: "false",
    autocapitalize: "none",
  });
  const display = h("input", { name: "display-name", autocomplete: "nickname", maxlength: 64 });
  const pass1 = h("input", { type: "password", name: "new-passphrase", autocomplete: "new-password", required: true, minlength: 8 });
  const pass2 = h("input", { type: "password", name: "repeat-passphrase", autocomplete: "new-password", required: true, minlength: 8 });
  const create = h("button", { type: "submit", class: real.length > 0 ? "" : "primary" }, "Create account");
  const register = h(
    "form",
    { class: "card", "aria-labelledby": "register-title" },
    h("h2", { id: "register-title" }, "New account"),
    field("Cyphr ID", id, "3 to 30 of a-z, 0-9 and _: how others find you"),
    field("Display name (optional)", display),
    field("Passphrase", pass1, "Protects your keys in this browser (at least 8 characters)"),
    field("Repeat passphrase", pass2),
    create,
  );
  register.addEventListener("submit", (e) => {
    e.preventDefault();
    if (pass1.value !== pass2.value) return status.show("The two passphrases differ.", "error");
    void busy(create, "Creating keys…", status, async () => onSession(await Session.register(id.value, pass1.value, display.value)));
  });

  const linkPass = h("input", { type: "password", name: "link-passphrase", autocomplete: "new-password", required: true, minlength: 8 });
  const linkButton = h("button", { type: "submit" }, "Link this browser");
  const link = h(
    "form",
    { class: "card", "aria-labelledby": "link-title" },
    h("h2", { id: "link-title" }, "Already have an account?"),
    h("p", {}, "Add this browser as a new device: approve it from a device you already use."),
    field("Passphrase for this browser", linkPass),
    linkButton,
  );
  link.addEventListener("submit", (e) => {
    e.preventDefault();
    void busy(linkButton, "Starting…", status, async () => linkScreen(root, linkPass.value, onSession, () => void welcomeScreen(root, onSession)));
  });

  card.append(h("div", { class: "cards" }, register, link, recoverForm(status, onSession)), status);
  replace(root, card);
  (root.querySelector("input") as HTMLInputElement | null)?.focus();
}
