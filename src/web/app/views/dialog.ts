/** A modal <dialog>: focus moves into it, Escape closes it, and it is removed once closed. */
import { h } from "../dom.js";

export function openDialog(title: string, ...content: Node[]): HTMLDialogElement {
  const id = `d-${Math.random().toString(36).slice(2, 10)}`;
  const close = h("button", { type: "button", class: "ghost close", "aria-label": "Close" }, "✕");
  const dialog = h("dialog", { "aria-labelledby": id }, h("header", {}, h("h2", { id }, title), close), ...content);
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
