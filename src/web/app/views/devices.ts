/** This account's devices: names, which one this is, removal, and approving a new device's link code. */
import type { Session } from "../client.js";
import { busy, field, h, replace, statusLine } from "../dom.js";
import { openDialog } from "./dialog.js";

export async function devicesDialog(session: Session): Promise<void> {
  const list = h("ul", { class: "devices", "aria-label": "Devices" });
  const status = statusLine();
  const refresh = async () => {
    const { devices, rejected } = await session.account.listDevices();
    replace(
      list,
      ...devices.map((d) => {
        const remove = !d.current && h("button", { type: "button", class: "ghost danger", "aria-label": `Remove device ${d.deviceId}` }, "Remove");
        if (remove)
          remove.addEventListener(
            "click",
            () => void busy(remove, "Removing…", status, async () => (await session.account.removeDevice(d.deviceId), await refresh())),
          );
        return h(
          "li",
          { "data-device": d.deviceId },
          h("span", {}, d.name ?? `Device ${d.deviceId}`),
          d.current && h("span", { class: "tag" }, "this browser"),
          h("small", {}, d.lastActiveDate ? `active ${d.lastActiveDate.toLocaleDateString([], { month: "short", day: "numeric" })}` : ""),
          remove,
        );
      }),
      ...rejected.map((id) => h("li", { class: "warning" }, `Device ${id}: its certificate does not verify. Do not trust it.`)),
    );
  };
  const code = h("textarea", { name: "link-code", rows: 3, required: true, spellcheck: "false", placeholder: "cyphr-link-v1.…" });
  const name = h("input", { name: "device-name", maxlength: 60, placeholder: "Laptop" });
  const approve = h("button", { type: "submit", class: "primary" }, "Approve");
  const form = h(
    "form",
    { "aria-labelledby": "approve-title" },
    h("h3", { id: "approve-title" }, "Approve a new device"),
    field("Link code shown on the new device", code),
    field("Name for it (optional)", name),
    approve,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void busy(approve, "Approving…", status, async () => {
      const { deviceId } = await session.account.approveLink(code.value.trim(), { deviceName: name.value.trim() || undefined });
      code.value = "";
      status.show(`Device ${deviceId} linked.`);
      await refresh();
    });
  });
  openDialog("Devices", list, form, status);
  await refresh().catch((e: unknown) => status.show(String(e instanceof Error ? e.message : e), "error"));
}
