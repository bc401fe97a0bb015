/** One titled section of the Account & security pane: a region named by its heading. */
import type { SecuritySettings } from "../../../../sdk/lifecycle/index.js";
import { h } from "../../dom.js";

export function section(id: string, title: string, ...content: (Node | string | false | undefined)[]): HTMLElement {
  return h("section", { class: "card", "aria-labelledby": id }, h("h3", { id }, title), ...content);
}

/** A section that shows what is set (GetSecuritySettings) and offers the actions that fit. */
export interface SettingSection {
  element: HTMLElement;
  show(settings: SecuritySettings): void;
}

/** Reads the settings again and shows them in every SettingSection (after a change, or a refused attempt). */
export type Refresh = () => Promise<void>;

/** The line saying what is set, e.g. "Set on 2026-12-02." */
export const stateLine = (testId: string) => h("p", { class: "state", "data-testid": testId });

/** A day the server reports (midnight UTC) as YYYY-MM-DD. */
export const dayOf = (date: Date | undefined) => date?.toISOString().slice(0, 10) ?? "an unknown day";

/** Until when a factor is locked after too many wrong attempts. */
export const lockText = (until: Date | undefined, what: string) =>
  until ? ` Locked after too many wrong ${what} until ${until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })}.` : "";
