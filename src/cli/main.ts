/** Runs one `cyphr` command and ends the process with its exit code (see errors.ts). */
import { CommanderError } from "commander";
import { CyphrError } from "../sdk/index.js";
import { describeFailure, EXIT } from "./errors.js";
import { buildProgram } from "./program.js";

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with code 0; usage errors were already printed by commander.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (process.env.CYPHR_DEBUG === "1") console.error(error);
    const { line, exitCode } = describeFailure(error);
    const profile = program.opts<{ profile: string }>().profile;
    process.stderr.write(`cyphr: ${line}${loginHint(error, profile)}\n`);
    return exitCode;
  }
}

/** Points at `cyphr login` when the session (not the passphrase) is the problem. */
function loginHint(error: unknown, profile: string): string {
  if (!(error instanceof CyphrError) || error.code !== "unauthenticated" || /passphrase/i.test(error.message)) return "";
  return ` Run \`cyphr --profile ${profile} login\`.`;
}

process.exitCode = await main(process.argv);
// Open HTTP/2 sessions would keep the process alive; every command is done here.
process.exit();
