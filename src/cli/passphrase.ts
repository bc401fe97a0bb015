/**
 * The profile passphrase: CYPHR_PASSPHRASE when set, else asked on the terminal without echo
 * (twice when a profile is created). It never appears in arguments, logs or output.
 */
import { CliError, EXIT } from "./errors.js";
import { promptHidden } from "./terminal-input.js";

export async function readPassphrase(options: { confirm: boolean }): Promise<string> {
  const fromEnv = process.env.CYPHR_PASSPHRASE;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  if (!process.stdin.isTTY) {
    throw new CliError("No passphrase: set CYPHR_PASSPHRASE or run cyphr in a terminal to be asked for it.", EXIT.usage);
  }
  const first = await promptHidden("Profile passphrase: ");
  if (first === "") throw new CliError("The passphrase is empty: choose a passphrase.", EXIT.usage);
  if (!options.confirm) return first;
  const second = await promptHidden("Passphrase again: ");
  if (first !== second) throw new CliError("The two passphrases differ: run the command again.", EXIT.usage);
  return first;
}
