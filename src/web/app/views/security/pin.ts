/** The account PIN (registration lock): set when there is none; change (the current PIN is required) or remove when set. */
import type { Session } from "../../client.js";
import { busy, field, h, statusLine } from "../../dom.js";
import { dayOf, lockText, type Refresh, type SettingSection, section, stateLine } from "./section.js";

const pinInput = (name: string, required: boolean) => h("input", { type: "password", name, autocomplete: "off", minlength: 4, maxlength: 64, required });

export function pinSection(session: Session, refresh: Refresh): SettingSection {
  const status = statusLine();
  const state = stateLine("pin-state");
  const pin = pinInput("new-pin", true);
  const repeat = pinInput("repeat-pin", true);
  const current = pinInput("current-pin", false);
  const save = h("button", { type: "submit", class: "primary" }, "Save PIN");
  const currentField = field("Current PIN (when changing it)", current);
  const setForm = h(
    "form",
    { "aria-label": "Set or change the PIN" },
    field("New PIN", pin, "4 to 64 characters; a longer one is safer"),
    field("Repeat the new PIN", repeat),
    currentField,
    save,
  );
  setForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (pin.value !== repeat.value) return status.show("The two PINs differ.", "error");
    void busy(save, "Saving…", status, async () => {
      await session.lifecycle.setPin(pin.value, current.value);
      setForm.reset();
      status.show("PIN saved: recovering the account now needs it.");
    }).then(refresh);
  });

  const removeCurrent = pinInput("remove-pin", true);
  const remove = h("button", { type: "submit", class: "danger" }, "Remove PIN");
  const removeForm = h("form", { class: "row", "aria-label": "Remove the PIN" }, field("Current PIN", removeCurrent), remove);
  removeForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void busy(remove, "Removing…", status, async () => {
      await session.lifecycle.removePin(removeCurrent.value);
      removeForm.reset();
      status.show("PIN removed.");
    }).then(refresh);
  });
  currentField.hidden = true;
  removeForm.hidden = true;
  const element = section(
    "pin-title",
    "PIN",
    h(
      "p",
      {},
      "An optional PIN protects account recovery: someone who finds your recovery phrase still needs it. After 5 wrong tries it locks for a while, longer each time.",
    ),
    state,
    setForm,
    removeForm,
    status,
  );
  return {
    element,
    show({ pin: setting }) {
      state.textContent = setting.set ? `Set on ${dayOf(setting.setDate)}.${lockText(setting.lockedUntil, "PINs")}` : "No PIN is set.";
      currentField.hidden = !setting.set;
      removeForm.hidden = !setting.set;
    },
  };
}
