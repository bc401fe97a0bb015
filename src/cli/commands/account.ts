/** init, register, login, logout, whoami: the profile and the account's session. */

import os from "node:os";
import type { Command } from "commander";
import { Account, CyphrError } from "../../sdk/index.js";
import { action } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { createProfile, openProfile, PROTOCOLS, parseProtocol, parseServerUrl, transportOf } from "../profile.js";
import { openSession, type Session, sessionOf } from "../session.js";
import { askLine } from "../terminal-input.js";

export function defaultDeviceName(): string {
  return `cyphr CLI on ${os.hostname()}`.slice(0, 100);
}

export function accountCommands(program: Command): void {
  program
    .command("init")
    .description("create a profile: an encrypted folder for this device's keys, bound to a server")
    .requiredOption("--server <url>", "the Cyphr server, e.g. http://127.0.0.1:8080")
    .option("--protocol <protocol>", `how to talk to it: ${PROTOCOLS.join(", ")}`, "connect")
    .action(
      action(async ({ globals, out }, options: { server: string; protocol: string }) => {
        const server = parseServerUrl(options.server);
        const profile = await createProfile(globals.profile, { server, protocol: parseProtocol(options.protocol) });
        out.data({ profile: profile.name, folder: profile.folder, server, protocol: options.protocol }, (v) => [
          `Created profile "${v.profile}" at ${v.folder} for ${v.server}.`,
          `Next: \`cyphr --profile ${v.profile} register <cyphr_id>\` for a new account, or \`cyphr --profile ${v.profile} link\` to add this device to one.`,
        ]);
      }),
    );

  program
    .command("register")
    .description("create a new account with this device as its first device, and sign in")
    .argument("<cyphr_id>", "the account's public id (what others use to reach you)")
    .option("--display-name <name>", "a display name others see", "")
    .option("--device-name <name>", "this device's name (encrypted; only your devices read it)", defaultDeviceName())
    .action(
      action(async ({ globals, out }, cyphrId: string, options: { displayName: string; deviceName: string }) => {
        const profile = await openProfile(globals.profile);
        const account = await Account.register({ transport: transportOf(profile), store: profile.store }, cyphrId, {
          displayName: options.displayName,
          deviceName: options.deviceName,
        });
        await sessionOf(profile, account).mls.ensureKeyPackages();
        out.data(
          { cyphrId: account.cyphrId, userId: account.userId, deviceId: account.deviceId },
          (v) => `Registered ${v.cyphrId} (device ${v.deviceId}) and signed in.`,
        );
      }),
    );

  program
    .command("login")
    .description("sign this device in again (a new session, signed with the device key)")
    .option("--totp <code>", "the current 6-digit code of your authenticator app, when two-factor login is on (asked on a terminal)")
    .action(
      action(async ({ globals, out }, options: { totp?: string }) => {
        const session = await openSession(globals.profile);
        await loginWithSecondFactor(session, options.totp);
        await session.mls.ensureKeyPackages();
        out.data({ cyphrId: session.account.cyphrId, deviceId: session.account.deviceId }, (v) => `Signed in as ${v.cyphrId} (device ${v.deviceId}).`);
      }),
    );

  program
    .command("logout")
    .description("end this device's session on the server (the keys stay in the profile)")
    .action(
      action(async ({ globals, out }) => {
        const session = await openSession(globals.profile);
        await session.account.logout();
        out.data({ cyphrId: session.account.cyphrId, loggedOut: true }, (v) => `Signed out ${v.cyphrId}; \`cyphr login\` signs in again.`);
      }),
    );

  program
    .command("whoami")
    .description("show the profile's account, device and server")
    .action(
      action(async ({ globals, out }) => {
        const session = await openSession(globals.profile);
        const { account, profile } = session;
        out.data(
          { profile: profile.name, cyphrId: account.cyphrId, userId: account.userId, deviceId: account.deviceId, server: profile.settings.server },
          (v) => `${v.cyphrId} (device ${v.deviceId}) on ${v.server}, profile "${v.profile}"`,
        );
      }),
    );
}

/** Login, asking for the TOTP code on a terminal when the server says one is needed and none was given. */
async function loginWithSecondFactor(session: Session, totpCode: string | undefined): Promise<void> {
  try {
    await loginOnce(session, totpCode);
  } catch (error) {
    if (!(error instanceof CyphrError && error.reason === "TOTP_REQUIRED")) throw error;
    if (totpCode !== undefined || !process.stdin.isTTY) {
      throw new CliError(`Two-factor login is on for ${session.account.cyphrId}: give the current code, \`cyphr login --totp CODE\`.`, EXIT.unauthenticated);
    }
    await loginOnce(session, await askLine("Code from your authenticator app: "));
  }
}

async function loginOnce(session: Session, totpCode: string | undefined): Promise<void> {
  try {
    await session.account.login({ totpCode });
  } catch (error) {
    if (!(error instanceof CyphrError && error.reason === "TOTP_INVALID")) throw error;
    throw new CliError("Wrong or already used TOTP code: wait for the next code of your authenticator app and sign in again.", EXIT.unauthenticated);
  }
}
