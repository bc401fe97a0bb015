/**
 * The profile passphrase: CYPHR_PASSPHRASE when set, else asked on the terminal without echo
 * (twice when a profile is created). It never appears in arguments, logs or output.
 */
import { CliError, EXIT } from "./errors.js";

/** Longest passphrase accepted from the prompt, in characters. */
const MAX_PASSPHRASE = 1024;

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

/** Reads one line from the terminal in raw mode, echoing nothing. */
function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let text = "";
    const finish = (error?: Error) => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(text);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return finish();
        if (ch === "\u0003") return finish(new CliError("Interrupted.", EXIT.interrupted));
        if (ch === "\u007f" || ch === "\b") text = [...text].slice(0, -1).join("");
        else if (ch >= " " && text.length < MAX_PASSPHRASE) text += ch;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on("data", onData);
  });
}
