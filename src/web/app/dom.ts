/**
 * A few DOM helpers: elements are built with createElement and textContent only, never from HTML
 * strings (the page runs under Trusted Types with no policy: innerHTML would throw).
 */
type Child = Node | string | false | null | undefined;
type Attrs = Record<string, string | boolean | number | ((event: Event) => void) | undefined>;

/** h("button", { class: "primary", onclick: go }, "Send") */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === false || child === null || child === undefined) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** Replaces every child of `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** A labelled form field: the label's `for` names the input, so screen readers and clicks find it. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 10)}`;
  input.id = id;
  const hintEl = hint ? h("small", { id: `${id}-hint`, class: "hint" }, hint) : undefined;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
}

/** A status line for errors and progress, announced to screen readers. */
export function statusLine(): HTMLElement & { show(text: string, kind?: "error" | "info"): void } {
  const el = h("p", { class: "status", role: "status", "aria-live": "polite" });
  return Object.assign(el, {
    show(text: string, kind: "error" | "info" = "info") {
      el.textContent = text;
      el.className = `status ${kind}`;
    },
  });
}

/** Runs `work` with `button` disabled and its label replaced, reporting failures in `status`. */
export async function busy(
  button: HTMLButtonElement,
  label: string,
  status: { show(t: string, k?: "error" | "info"): void },
  work: () => Promise<void>,
): Promise<void> {
  const before = button.textContent;
  button.disabled = true;
  button.textContent = label;
  try {
    await work();
  } catch (error) {
    status.show(messageOf(error), "error");
  } finally {
    button.disabled = false;
    button.textContent = before;
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
