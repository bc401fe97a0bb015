/** The account PIN (registration lock): set, change (the current PIN is required) and remove. */
import type { Session } from "../../client.js";
import { busy, field, h, statusLine } from "../../dom.js";
import { section } from "./section.js";

const pinInput = (name: string, required: boolean) => h("input", { type: "password", name, autocomplete: "off", minlength: 4, maxlength: 64, required });

export function pinSection(session: Session): HTMLElement {
  const status = statusLine();
  const pin = pinInput("new-pin", true);
  const repeat = pinInput("repeat-pin", true);
  const current = pinInput("current-pin", false);
  const save = h("button", { type: "submit", class: "primary" }, "Save PIN");
  const setForm = h("form", { "aria-label": "Set or change the PIN" }, field("New PIN", pin, "4 to 64 characters; a longer one is safer"), field("Repeat the new PIN", repeat), field("Current PIN (when changing it)", current), save);
  setForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (pin.value !== repeat.value) return status.show("The two PINs differ.", "error");
    void busy(save, "Saving…", status, async () => {
      await session.lifecycle.setPin(pin.value, current.value);
      setForm.reset();
      status.show("PIN saved: recovering the account now needs it.");
    });
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
    });
  });
  return section(
    "pin-title",
    "PIN",
    h("p", {}, "An optional PIN protects account recovery: someone who finds your recovery phrase still needs it. After 5 wrong tries it locks for a while, longer each time."),
    setForm,
    removeForm,
    status,
  );
}
