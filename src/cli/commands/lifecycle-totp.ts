/** totp enable / confirm / disable: two-factor login with an authenticator app (RFC 6238). */
import type { Command } from "commander";
import { action } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import type { Output } from "../output.js";
import { qr } from "../qr.js";
import { openSession, type Session } from "../session.js";
import { askLine } from "../terminal-input.js";

export function totpCommands(program: Command): void {
  const totp = program.command("totp").description("two-factor login: while on, `cyphr login` needs the code of your authenticator app");

  totp
    .command("enable")
    .description("start two-factor login: shows the secret as an otpauth:// URI and a QR code, then asks for a code to confirm it")
    .option("--no-qr", "show only the URI and the secret, no QR code")
    .addHelpText("after", "\nWhen no code is typed (or with --json), confirm later with `cyphr totp confirm --code CODE`.")
    .action(
      action(async ({ globals, out }, options: { qr: boolean }) => {
        const session = await openSession(globals.profile);
        const { secret, otpauthUri } = await session.account.lifecycle().enableTotp();
        out.data({ cyphrId: session.account.cyphrId, secret, otpauthUri, confirmed: false }, (v) => [
          "Add this account to your authenticator app (scan the QR code, or type the secret):",
          `  ${v.otpauthUri}`,
          `  secret: ${v.secret}`,
          ...(options.qr ? ["", qr(v.otpauthUri)] : []),
        ]);
        if (out.json) return;
        const code = await askLine("Code shown by the app (empty to confirm later): ");
        if (code === "") {
          out.note("Not confirmed yet: two-factor login starts with `cyphr totp confirm --code CODE`.");
          return;
        }
        await confirm(session, code, out);
      }),
    );

  totp
    .command("confirm")
    .description("turn two-factor login on with a code of the secret `totp enable` showed")
    .option("--code <code>", "the app's current 6-digit code (asked when missing)")
    .action(
      action(async ({ globals, out }, options: { code?: string }) => {
        const session = await openSession(globals.profile);
        await confirm(session, await codeOf(options.code), out);
      }),
    );

  totp
    .command("disable")
    .description("turn two-factor login off (a current code is needed)")
    .option("--code <code>", "the app's current 6-digit code (asked when missing)")
    .action(
      action(async ({ globals, out }, options: { code?: string }) => {
        const session = await openSession(globals.profile);
        await session.account.lifecycle().disableTotp(await codeOf(options.code));
        out.data({ cyphrId: session.account.cyphrId, totp: false }, (v) => `Two-factor login is off for ${v.cyphrId}.`);
      }),
    );
}

async function confirm(session: Session, code: string, out: Output): Promise<void> {
  await session.account.lifecycle().confirmTotp(code);
  out.data({ cyphrId: session.account.cyphrId, totp: true }, (v) => `Two-factor login is on for ${v.cyphrId}: \`cyphr login\` now needs a code (--totp CODE).`);
}

async function codeOf(given: string | undefined): Promise<string> {
  const code = given ?? (await askLine("Code shown by the app: "));
  if (!/^\d{6}$/.test(code)) throw new CliError(`Invalid code "${code.slice(0, 20)}": give the 6 digits your authenticator app shows.`, EXIT.usage);
  return code;
}
