/** The account's sessions: device, started, last used (a day); revoke one, or sign out every other. */
import type { Session } from "../../client.js";
import { busy, h, replace, statusLine } from "../../dom.js";
import { section } from "./section.js";

const day = (d: Date | undefined) => (d ? d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" }) : "unknown");
const moment = (d: Date | undefined) =>
  d ? d.toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }) : "unknown";

export function sessionsSection(session: Session): HTMLElement {
  const status = statusLine();
  const list = h("ul", { class: "sessions", "aria-label": "Sessions" });
  const refresh = async () => {
    const [sessions, devices] = await Promise.all([session.lifecycle.listSessions(), session.account.listDevices()]);
    const names = new Map(devices.devices.map((d) => [d.deviceId, d.name]));
    replace(
      list,
      ...sessions.map((s) => {
        const device = names.get(s.deviceId) ? `${names.get(s.deviceId)} (device ${s.deviceId})` : `Device ${s.deviceId}`;
        const revoke =
          !s.current && h("button", { type: "button", class: "ghost danger", "aria-label": `Revoke the session of device ${s.deviceId}` }, "Revoke");
        if (revoke)
          revoke.addEventListener(
            "click",
            () =>
              void busy(
                revoke,
                "Revoking…",
                status,
                async () => (await session.lifecycle.revokeSession(s.sessionId), await refresh(), status.show(`Signed out device ${s.deviceId}.`)),
              ),
          );
        return h(
          "li",
          { "data-session": s.sessionId, "data-device": s.deviceId },
          h(
            "span",
            {},
            h("strong", {}, device),
            s.current && h("span", { class: "tag" }, "this browser"),
            h("small", {}, `Signed in ${moment(s.createdAt)} · last used ${day(s.lastUsedDate)}`),
          ),
          revoke,
        );
      }),
    );
  };
  const others = h("button", { type: "button" }, "Sign out all other sessions");
  others.addEventListener(
    "click",
    () =>
      void busy(others, "Signing out…", status, async () => {
        const revoked = await session.lifecycle.revokeOtherSessions();
        await refresh();
        status.show(revoked === 1 ? "1 other session signed out." : `${revoked} other sessions signed out.`);
      }),
  );
  const reload = h("button", { type: "button", class: "ghost" }, "Refresh");
  reload.addEventListener("click", () => void busy(reload, "Refreshing…", status, refresh));
  void refresh().catch((e: unknown) => status.show(e instanceof Error ? e.message : String(e), "error"));
  return section(
    "sessions-title",
    "Sessions",
    h("p", {}, "Where this account is signed in. A revoked session is signed out at once, on every server."),
    list,
    h("div", { class: "row" }, others, reload),
    status,
  );
}
