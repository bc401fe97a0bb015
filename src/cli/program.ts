/** The `cyphr` command line: global options and every command (see docs/cli.md). */
import { Command } from "commander";
import { accountCommands } from "./commands/account.js";
import { chatCommand } from "./commands/chat.js";
import { deviceCommands } from "./commands/devices.js";
import { fileCommands } from "./commands/files.js";
import { groupCommands } from "./commands/groups.js";
import { dataCommands } from "./commands/lifecycle-data.js";
import { pinCommands } from "./commands/lifecycle-pin.js";
import { recoveryCommands } from "./commands/lifecycle-recovery.js";
import { securityCommand } from "./commands/lifecycle-security.js";
import { sessionCommands } from "./commands/lifecycle-sessions.js";
import { totpCommands } from "./commands/lifecycle-totp.js";
import { messageCommands } from "./commands/messages.js";
import { requestCommands } from "./commands/requests.js";

export function buildProgram(): Command {
  const program = new Command("cyphr")
    .description("Cyphr from the terminal: end-to-end-encrypted chats (MLS); keys never leave this machine's profile")
    .option("--profile <name>", "the profile (folder under CYPHR_HOME, default ~/.cyphr) to use", process.env.CYPHR_PROFILE || "default")
    .option("--json", "print data as JSON for scripts")
    .addHelpText(
      "after",
      "\nThe passphrase comes from CYPHR_PASSPHRASE, or is asked on the terminal.\nExample: cyphr --profile alice init --server http://127.0.0.1:8080",
    );
  accountCommands(program);
  deviceCommands(program);
  sessionCommands(program);
  securityCommand(program);
  recoveryCommands(program);
  pinCommands(program);
  totpCommands(program);
  dataCommands(program);
  messageCommands(program);
  requestCommands(program);
  fileCommands(program);
  groupCommands(program);
  chatCommand(program);
  for (const command of [program, ...allSubcommands(program)]) {
    command.exitOverride().configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, "cyphr: ")) });
  }
  return program;
}

function allSubcommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allSubcommands(c)]);
}
