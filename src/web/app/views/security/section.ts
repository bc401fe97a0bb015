/** One titled section of the Account & security pane: a region named by its heading. */
import { h } from "../../dom.js";

export function section(id: string, title: string, ...content: (Node | string | false | undefined)[]): HTMLElement {
  return h("section", { class: "card", "aria-labelledby": id }, h("h3", { id }, title), ...content);
}
