/**
 * What the CLI asks on the terminal: secrets without echo (the passphrase, a PIN, the recovery
 * phrase), and plain answers (a confirmation, a TOTP code) read from stdin as a line.
 */
import { createInterface } from "node:readline";
import { CliError, EXIT } from "./errors.js";

/** Longest secret accepted from the prompt, in characters. */
const MAX_SECRET = 1024;

/** A secret from `--option` or the environment variable, else asked without echo (a terminal is needed then). */
export async function readSecret(what: { label: string; variable: string; given?: string }): Promise<string> {
  if (what.given !== undefined && what.given !== "") return what.given;
  const fromEnv = process.env[what.variable];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  if (!process.stdin.isTTY) throw new CliError(`No ${what.label}: set ${what.variable} or run cyphr in a terminal to be asked for it.`, EXIT.usage);
  return promptHidden(`${what.label[0]!.toUpperCase()}${what.label.slice(1)}: `);
}

/** One line of stdin after `prompt` (on stderr); "" when stdin ends first. */
export function askLine(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const lines = createInterface({ input: process.stdin, terminal: false });
  return new Promise((resolve) => {
    let answered = false;
    lines.once("line", (line) => {
      answered = true;
      lines.close();
      resolve(line.trim());
    });
    lines.once("close", () => {
      if (!answered) resolve("");
    });
  });
}

/** Reads one line from the terminal in raw mode, echoing nothing. */
export function promptHidden(prompt: string): Promise<string> {
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
        else if (ch >= " " && text.length < MAX_SECRET) text += ch;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on("data", onData);
  });
}
