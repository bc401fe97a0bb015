/** The recovery phrase: 24 words generated here, shown once, confirmed written down, then SetRecoveryKey. */
import { newRecoveryPhrase } from "../../../../sdk/lifecycle/index.js";
import type { Session } from "../../client.js";
import { busy, h, replace, statusLine } from "../../dom.js";
import { dayOf, type Refresh, type SettingSection, section, stateLine } from "./section.js";

export function recoverySection(session: Session, refresh: Refresh): SettingSection {
  const status = statusLine();
  const state = stateLine("recovery-state");
  const start = h("button", { type: "button" }, "Create a recovery phrase");
  const shown = h("div", { class: "phrase-box" });
  start.addEventListener("click", () => {
    const phrase = newRecoveryPhrase();
    const words = h(
      "ol",
      { class: "phrase", "aria-label": "Recovery phrase", "data-testid": "recovery-phrase" },
      ...phrase.split(" ").map((w) => h("li", {}, w)),
    );
    const written = h("input", { type: "checkbox", name: "phrase-written" });
    const save = h("button", { type: "button", class: "primary", disabled: true }, "Save recovery phrase");
    const cancel = h("button", { type: "button", class: "ghost" }, "Cancel");
    written.addEventListener("change", () => (save.disabled = !written.checked));
    const discard = () => {
      replace(shown);
      start.hidden = false;
      start.focus();
    };
    cancel.addEventListener("click", discard);
    save.addEventListener(
      "click",
      () =>
        void busy(save, "Saving…", status, async () => {
          await session.lifecycle.setRecoveryPhrase(phrase);
          discard();
          await refresh();
          status.show("Recovery phrase saved. It is not shown again: keep what you wrote somewhere safe.");
        }),
    );
    replace(
      shown,
      h(
        "p",
        { class: "warning" },
        "Write these 24 words down, in order, and keep them offline. Anyone with them (and your PIN, if you set one) can take over your account; Cyphr cannot show them again.",
      ),
      words,
      h("label", { class: "check" }, written, " I wrote it down"),
      h("div", { class: "row" }, save, cancel),
    );
    start.hidden = true;
    status.show("");
    written.focus();
  });
  const element = section(
    "recovery-title",
    "Recovery phrase",
    h(
      "p",
      {},
      "If you lose every device, the recovery phrase gets your account back on a new one. Creating a new phrase replaces the previous one; only a key derived from it is sent to the server.",
    ),
    state,
    start,
    shown,
    status,
  );
  return {
    element,
    show({ recoveryKey }) {
      state.textContent = recoveryKey.set ? `Set on ${dayOf(recoveryKey.setDate)}.` : "Not set: losing every device would lose the account.";
      start.textContent = recoveryKey.set ? "Replace the recovery phrase" : "Create a recovery phrase";
    },
  };
}
