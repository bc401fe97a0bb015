/** sessions (list, revoke, revoke-others): where this account is signed in. */
import type { Command } from "commander";
import { action } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { formatDate } from "../output.js";
import { openSession } from "../session.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function sessionCommands(program: Command): void {
  const sessions = program.command("sessions").description("the account's signed-in sessions, on every device");

  sessions
    .command("list", { isDefault: true })
    .description("list the sessions: device, when it signed in, the day it was last used (* is this one)")
    .action(
      action(async ({ globals, out }) => {
        const session = await openSession(globals.profile);
        const list = await session.account.lifecycle().listSessions();
        const rows = list.map((s) => ({
          sessionId: s.sessionId,
          deviceId: s.deviceId,
          current: s.current,
          createdAt: s.createdAt?.toISOString(),
          lastUsedDate: s.lastUsedDate?.toISOString().slice(0, 10),
        }));
        out.data({ cyphrId: session.account.cyphrId, sessions: rows }, (v) =>
          v.sessions.map(
            (s) =>
              `${s.current ? "*" : " "} ${s.sessionId}  device ${String(s.deviceId).padStart(3)}  signed in ${formatDate(s.createdAt ? new Date(s.createdAt) : undefined)}  last used ${s.lastUsedDate ?? "-"}`,
          ),
        );
      }),
    );

  sessions
    .command("revoke")
    .description("sign one session out (its live streams end within a second)")
    .argument("<session_id>", "the session (an id from `cyphr sessions`)")
    .action(
      action(async ({ globals, out }, sessionId: string) => {
        if (!UUID.test(sessionId)) throw new CliError(`Invalid session id "${sessionId.slice(0, 40)}": give an id \`cyphr sessions\` shows.`, EXIT.usage);
        const session = await openSession(globals.profile);
        await session.account.lifecycle().revokeSession(sessionId);
        out.data({ sessionId, revoked: true }, (v) => `Revoked session ${v.sessionId}.`);
      }),
    );

  sessions
    .command("revoke-others")
    .description("sign out every session but this device's")
    .action(
      action(async ({ globals, out }) => {
        const session = await openSession(globals.profile);
        const revoked = await session.account.lifecycle().revokeOtherSessions();
        out.data({ revoked }, (v) => `Revoked ${v.revoked} other session${v.revoked === 1 ? "" : "s"}; this one stays signed in.`);
      }),
    );
}
