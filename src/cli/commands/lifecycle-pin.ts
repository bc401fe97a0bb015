/** pin set / change / remove: the account PIN that account recovery asks for. */
import type { Command } from "commander";
import { action } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { openSession } from "../session.js";
import { promptHidden, readSecret } from "../terminal-input.js";

const CURRENT = { label: "current PIN", variable: "CYPHR_PIN" };

export function pinCommands(program: Command): void {
  const pin = program
    .command("pin")
    .description("the account PIN (4 to 64 characters): recovering the account needs it besides the recovery phrase")
    .addHelpText("after", "\nThe current PIN comes from CYPHR_PIN and the new one from CYPHR_NEW_PIN, or both are asked on the terminal.");

  pin
    .command("set")
    .description("set a PIN on an account that has none")
    .action(
      action(async ({ globals, out }) => {
        const session = await openSession(globals.profile);
        await session.account.lifecycle().setPin(await readNewPin());
        out.data({ cyphrId: session.account.cyphrId, pin: "set" }, (v) => `PIN set for ${v.cyphrId}: \`cyphr recover\` will ask for it.`);
      }),
    );

  pin
    .command("change")
    .description("replace the PIN (the current one is needed)")
    .action(
      action(async ({ globals, out }) => {
        const session = await openSession(globals.profile);
        const current = await readSecret(CURRENT);
        await session.account.lifecycle().setPin(await readNewPin(), current);
        out.data({ cyphrId: session.account.cyphrId, pin: "changed" }, (v) => `PIN changed for ${v.cyphrId}.`);
      }),
    );

  pin
    .command("remove")
    .description("remove the PIN (the current one is needed): the recovery phrase alone will recover the account")
    .action(
      action(async ({ globals, out }) => {
        const session = await openSession(globals.profile);
        await session.account.lifecycle().removePin(await readSecret(CURRENT));
        out.data({ cyphrId: session.account.cyphrId, pin: "removed" }, (v) => `PIN removed for ${v.cyphrId}.`);
      }),
    );
}

/** The new PIN: CYPHR_NEW_PIN, else asked twice without echo. */
async function readNewPin(): Promise<string> {
  const fromEnv = process.env.CYPHR_NEW_PIN;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const first = await readSecret({ label: "new PIN", variable: "CYPHR_NEW_PIN" });
  if ((await promptHidden("New PIN again: ")) !== first) throw new CliError("The two PINs differ: run the command again.", EXIT.usage);
  return first;
}
