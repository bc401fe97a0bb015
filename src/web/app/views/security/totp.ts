/**
 * Two-factor login (TOTP): while off (or enrolled but not confirmed), enrolment with a QR code of
 * the otpauth URI and its secret, confirmed with a code; while on, disabling with a code.
 */
import type { Session } from "../../client.js";
import { busy, field, h, replace, statusLine } from "../../dom.js";
import { qrCode } from "../../qr.js";
import { dayOf, lockText, type Refresh, type SettingSection, section, stateLine } from "./section.js";

const codeInput = (name: string) =>
  h("input", {
    name,
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    minlength: 6,
    maxlength: 6,
    required: true,
    spellcheck: "false",
  });

export function totpSection(session: Session, refresh: Refresh): SettingSection {
  const status = statusLine();
  const state = stateLine("totp-state");
  const enable = h("button", { type: "button" }, "Turn on two-factor login");
  const enrolment = h("div", { class: "totp-enrolment" });
  enable.addEventListener(
    "click",
    () =>
      void busy(enable, "Starting…", status, async () => {
        const { secret, otpauthUri } = await session.lifecycle.enableTotp();
        const secretText = h("input", { name: "totp-secret", readonly: true, value: secret, spellcheck: "false", "data-testid": "totp-secret" });
        const code = codeInput("totp-confirm-code");
        const confirm = h("button", { type: "submit", class: "primary" }, "Confirm");
        const form = h("form", { class: "row", "aria-label": "Confirm two-factor login" }, field("Code from the app", code), confirm);
        form.addEventListener("submit", (e) => {
          e.preventDefault();
          void busy(confirm, "Confirming…", status, async () => {
            await session.lifecycle.confirmTotp(code.value.trim());
            replace(enrolment);
            status.show("Two-factor login is on: signing in on a new device now asks for a code from your app.");
          }).then(refresh);
        });
        replace(
          enrolment,
          h("p", {}, "Scan this with your authenticator app, or type the secret into it, then enter the code it shows."),
          qrCode(otpauthUri, "QR code for your authenticator app"),
          field("Secret (to type in)", secretText),
          form,
        );
        enable.hidden = true;
        status.show("");
        code.focus();
      }).then(refresh),
  );

  const disableCode = codeInput("totp-disable-code");
  const disable = h("button", { type: "submit", class: "danger" }, "Turn off");
  const disableForm = h("form", { class: "row", "aria-label": "Turn off two-factor login" }, field("Code to turn it off", disableCode), disable);
  disableForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void busy(disable, "Turning off…", status, async () => {
      await session.lifecycle.disableTotp(disableCode.value.trim());
      disableForm.reset();
      status.show("Two-factor login is off.");
    }).then(refresh);
  });
  disableForm.hidden = true;
  const element = section(
    "totp-title",
    "Two-factor login",
    h("p", {}, "With two-factor login on, signing in on a new device also needs a 6-digit code from an authenticator app (each code works once)."),
    state,
    enable,
    enrolment,
    disableForm,
    status,
  );
  return {
    element,
    show({ totp }) {
      const lock = lockText(totp.lockedUntil, "codes");
      state.textContent =
        totp.state === "on"
          ? `On since ${dayOf(totp.enabledDate)}.${lock}`
          : totp.state === "pending"
            ? `Off: an enrolment waits for its confirming code.${lock}`
            : "Off.";
      // While this pane shows an enrolment, its confirm form is the action; otherwise the state's.
      enable.hidden = totp.state === "on" || enrolment.childElementCount > 0;
      disableForm.hidden = totp.state !== "on";
    },
  };
}
