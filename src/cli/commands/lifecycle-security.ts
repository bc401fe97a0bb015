/** security: what protects the account (recovery phrase, PIN, two-factor login) and what to do next. */
import type { Command } from "commander";
import type { SecuritySettings } from "../../sdk/lifecycle/index.js";
import { action } from "../command.js";
import { formatDate } from "../output.js";
import { openSession } from "../session.js";

const day = (date: Date | undefined) => date?.toISOString().slice(0, 10);

export function securityCommand(program: Command): void {
  program
    .command("security")
    .description("show what protects the account: recovery phrase, PIN (and a lockout), two-factor login")
    .action(
      action(async ({ globals, out }) => {
        const session = await openSession(globals.profile);
        const settings = await session.account.lifecycle().securitySettings();
        out.data({ cyphrId: session.account.cyphrId, ...flatten(settings) }, (v) => [
          `Security of ${v.cyphrId}:`,
          v.recoveryPhrase ? `  recovery phrase: set on ${v.recoveryPhraseSetDate}` : "  recovery phrase: not set (`cyphr recovery setup`)",
          v.pin
            ? `  PIN: set on ${v.pinSetDate}${v.pinLockedUntil ? `, locked until ${formatDate(new Date(v.pinLockedUntil))}` : ""}`
            : "  PIN: not set (`cyphr pin set`)",
          `  two-factor login: ${TOTP_LINES[v.totp]}${v.totpLockedUntil ? `, codes refused until ${formatDate(new Date(v.totpLockedUntil))}` : ""}`,
        ]);
      }),
    );
}

const TOTP_LINES = {
  off: "off (`cyphr totp enable`)",
  pending: "not confirmed yet (`cyphr totp confirm --code CODE`)",
  on: "on (`cyphr totp disable --code CODE` turns it off)",
};

/** One flat record for --json: booleans, days as YYYY-MM-DD, locks as ISO times. */
function flatten(s: SecuritySettings) {
  return {
    recoveryPhrase: s.recoveryKey.set,
    recoveryPhraseSetDate: s.recoveryKey.set ? day(s.recoveryKey.setDate) : undefined,
    pin: s.pin.set,
    pinSetDate: s.pin.set ? day(s.pin.setDate) : undefined,
    pinLockedUntil: s.pin.set ? s.pin.lockedUntil?.toISOString() : undefined,
    totp: s.totp.state,
    totpEnabledDate: s.totp.state === "on" ? day(s.totp.enabledDate) : undefined,
    totpLockedUntil: s.totp.lockedUntil?.toISOString(),
  };
}
