/** recovery setup / rotate and recover: the recovery phrase, and taking the account back with it. */
import type { Command } from "commander";
import { CyphrError, newRecoveryPhrase, recoverAccount } from "../../sdk/index.js";
import { action, type Ctx } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { createProfile, openProfile, PROTOCOLS, type Profile, parseProtocol, parseServerUrl, profileExists, transportOf } from "../profile.js";
import { openSession, sessionOf } from "../session.js";
import { askLine, readSecret } from "../terminal-input.js";
import { defaultDeviceName } from "./account.js";

export function recoveryCommands(program: Command): void {
  const recovery = program.command("recovery").description("the recovery phrase: 24 words that bring the account back when every device is lost");
  phraseCommand(recovery, "setup", "make a recovery phrase for this account (shown once, never stored or sent)", "Recovery phrase set");
  phraseCommand(
    recovery,
    "rotate",
    "replace the recovery phrase with a new one (the old phrase stops working)",
    "New recovery phrase set; the old one no longer works",
  );

  program
    .command("recover")
    .description("take the account back on this new profile with its recovery phrase: every other device is removed")
    .argument("<cyphr_id>", "the account to recover")
    .option("--server <url>", "create the profile for this server first (as `cyphr init` does; reused if it exists for that server)")
    .option("--protocol <protocol>", `with --server: how to talk to it (${PROTOCOLS.join(", ")})`, "connect")
    .option("--pin <pin>", "the account's PIN when it has one (or CYPHR_PIN; asked on a terminal)")
    .option("--device-name <name>", "this device's name (encrypted; only your devices read it)", defaultDeviceName())
    .addHelpText("after", "\nThe phrase comes from CYPHR_RECOVERY_PHRASE, or is asked on the terminal without echo.")
    .action(
      action(async ({ globals, out }, cyphrId: string, options: { server?: string; protocol: string; pin?: string; deviceName: string }) => {
        const profile = await recoveryProfile(globals.profile, options);
        const phrase = await readSecret({ label: "recovery phrase", variable: "CYPHR_RECOVERY_PHRASE" });
        const pin =
          options.pin ??
          process.env.CYPHR_PIN ??
          (process.stdin.isTTY ? await readSecret({ label: "PIN (empty if the account has none)", variable: "CYPHR_PIN" }) : "");
        let account;
        try {
          account = await recoverAccount({ transport: transportOf(profile), store: profile.store }, cyphrId, phrase, { pin, deviceName: options.deviceName });
        } catch (error) {
          if (error instanceof CyphrError && error.code === "unauthenticated") {
            throw new CliError(
              "Recovery refused: the Cyphr ID, the recovery phrase or the PIN is wrong, or the account has no recovery phrase (the server does not say which).",
              EXIT.unauthenticated,
            );
          }
          throw error;
        }
        await sessionOf(profile, account).mls.ensureKeyPackages();
        out.data({ recovered: true, cyphrId: account.cyphrId, deviceId: account.deviceId, otherDevicesRemoved: true }, (v) => [
          `Recovered ${v.cyphrId}: this profile is device ${v.deviceId}, signed in with a new identity key.`,
          "Every other device of the account was removed and signed out; add devices again with `cyphr link` and `cyphr approve`.",
          "Your contacts will see that your safety number changed: tell them why, and compare it with them again.",
          "Messages sent before now stay unreadable here (their keys were on the old devices); chats and groups are kept.",
          "The phrase you used still works: `cyphr recovery rotate` makes a new one.",
        ]);
      }),
    );
}

function phraseCommand(recovery: Command, name: string, description: string, done: string): void {
  recovery
    .command(name)
    .description(description)
    .option("--yes", "do not ask to confirm that the phrase is written down")
    .addHelpText("after", "\nWith --json the phrase is in the JSON and nothing is asked: the script keeps it.")
    .action(action(async (ctx, options: { yes?: boolean }) => setUpPhrase(ctx, options.yes === true, done)));
}

async function setUpPhrase({ globals, out }: Ctx, confirmed: boolean, done: string): Promise<void> {
  const session = await openSession(globals.profile);
  const phrase = newRecoveryPhrase();
  if (!out.json) {
    const words = phrase.split(" ").map((word, i) => `${String(i + 1).padStart(2)}. ${word}`);
    process.stdout.write(`${["Your recovery phrase (write it down; it is shown only now):", "", ...rows(words, 4), ""].join("\n")}\n`);
    if (!confirmed && (await askLine('Type "yes" when it is written down: ')).toLowerCase() !== "yes") {
      throw new CliError("Not confirmed: nothing was changed (run the command again for a new phrase).");
    }
  }
  await session.account.lifecycle().setRecoveryPhrase(phrase);
  out.data({ cyphrId: session.account.cyphrId, recoveryPhrase: phrase }, (v) => [
    `${done} for ${v.cyphrId}.`,
    "Keep it offline: with it (and the PIN, if set) anyone can take the account over and remove your devices.",
  ]);
}

function rows(cells: string[], perRow: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < cells.length; i += perRow)
    lines.push(
      cells
        .slice(i, i + perRow)
        .map((c) => c.padEnd(16))
        .join("")
        .trimEnd(),
    );
  return lines;
}

/** The profile to recover into: with --server it is created first, or reused when a failed try already made it for that server. */
async function recoveryProfile(name: string, options: { server?: string; protocol: string }): Promise<Profile> {
  if (options.server === undefined) return openProfile(name);
  const settings = { server: parseServerUrl(options.server), protocol: parseProtocol(options.protocol) };
  if (!(await profileExists(name))) return createProfile(name, settings);
  const profile = await openProfile(name);
  if (profile.settings.server !== settings.server) {
    throw new CliError(`The profile "${name}" is for ${profile.settings.server}: leave out --server, or use another --profile.`, EXIT.usage);
  }
  return profile;
}
