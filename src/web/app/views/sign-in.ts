/**
 * Signing a profile in again when its session has ended (revoked, expired) or when a new device's
 * first login needs the account's TOTP code: the code field appears once the server asks for it.
 * A profile whose device the account no longer has (removed, or every device replaced by a
 * recovery elsewhere) can only get "invalid login credentials": it can be removed from the browser.
 */
import { isTotpRequired, type Session, type SignIn } from "../client.js";
import { busy, field, h, replace, statusLine } from "../dom.js";

export function signInScreen(root: HTMLElement, signIn: SignIn, onSession: (s: Session) => void, onLeave: () => void): void {
  const status = statusLine();
  const code = h("input", {
    name: "totp-code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    maxlength: 6,
    minlength: 6,
    spellcheck: "false",
  });
  const codeField = field("Two-factor code", code, "The 6-digit code your authenticator app shows for Cyphr");
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const leave = h("button", { type: "button", class: "ghost" }, "Back");
  const removal = removeProfileControl(signIn, status, onLeave);
  const askCode = () => {
    codeField.hidden = false;
    code.required = true;
    code.focus();
  };
  codeField.hidden = true;
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "sign-in-title" },
    h("h2", { id: "sign-in-title" }, "Sign in"),
    h("p", {}, signIn.reason ?? `This browser holds the keys of ${signIn.cyphrId}; sign it in to continue.`),
    codeField,
    h("div", { class: "row" }, button, leave),
    status,
    removal,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void busy(button, "Signing in…", status, async () => {
      try {
        onSession(await signIn.login(code.value.trim() || undefined));
      } catch (error) {
        if (!isTotpRequired(error)) throw error;
        askCode();
        status.show("This account has two-factor login on: enter the code from your authenticator app.", "info");
      }
    });
  });
  leave.addEventListener("click", () => {
    signIn.close();
    onLeave();
  });
  replace(
    root,
    h("main", { class: "welcome" }, h("div", { class: "brand" }, h("img", { src: "/icon.svg", alt: "", width: 48, height: 48 }), h("h1", {}, "Cyphr")), form),
  );
  if (signIn.needsCode) {
    askCode();
    status.show("This account has two-factor login on: enter the code from your authenticator app.", "info");
  } else button.focus();
}

/** "Remove this profile from this browser", then a confirmation naming what goes (the keys cannot come back). */
function removeProfileControl(signIn: SignIn, status: ReturnType<typeof statusLine>, onRemoved: () => void): HTMLElement {
  const start = h("button", { type: "button", class: "ghost" }, "Remove this profile from this browser");
  const confirm = h("button", { type: "button", class: "danger" }, "Remove profile");
  const keep = h("button", { type: "button", class: "ghost" }, "Keep it");
  const box = h(
    "div",
    { role: "group", "aria-label": "Remove this profile" },
    h(
      "p",
      { class: "warning" },
      `This deletes the keys of ${signIn.cyphrId} and its chats' state from this browser. Do it when this device was removed from the account (for example by a recovery on another device); to use the account here again, link this browser or recover the account.`,
    ),
    h("div", { class: "row" }, confirm, keep),
  );
  box.hidden = true;
  start.addEventListener("click", () => {
    box.hidden = false;
    start.hidden = true;
    keep.focus();
  });
  keep.addEventListener("click", () => {
    box.hidden = true;
    start.hidden = false;
    start.focus();
  });
  confirm.addEventListener(
    "click",
    () =>
      void busy(confirm, "Removing…", status, async () => {
        await signIn.removeProfile();
        onRemoved();
      }),
  );
  return h("div", { class: "profile-removal" }, start, box);
}
