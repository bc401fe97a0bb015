/** export and delete-account: everything the server stores about the account, and deleting it for good. */

import fs from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { action } from "../command.js";
import { CliError } from "../errors.js";
import { formatDate } from "../output.js";
import { openSession } from "../session.js";
import { askLine } from "../terminal-input.js";

export function dataCommands(program: Command): void {
  program
    .command("export")
    .description("everything the server stores about this account, as one JSON document (GDPR art. 15/20)")
    .option("--output <file>", "write it to this file (created with mode 600) instead of stdout")
    .action(
      action(async ({ globals, out }, options: { output?: string }) => {
        const session = await openSession(globals.profile);
        const text = `${JSON.stringify(await session.account.lifecycle().exportData(), null, 2)}\n`;
        if (options.output === undefined) {
          process.stdout.write(text);
          return;
        }
        const file = path.resolve(options.output);
        await fs.writeFile(file, text, { mode: 0o600 });
        out.data({ output: file, bytes: Buffer.byteLength(text) }, (v) => `Wrote the export (${v.bytes} bytes) to ${v.output}.`);
      }),
    );

  program
    .command("delete-account")
    .description("delete the account for good: keys, devices, sessions, memberships; sent messages become tombstones")
    .option("--yes", "do not ask to type the Cyphr ID to confirm")
    .action(
      action(async ({ globals, out }, options: { yes?: boolean }) => {
        const session = await openSession(globals.profile);
        const { cyphrId } = session.account;
        if (options.yes !== true) {
          out.note(`This deletes ${cyphrId} and everything the server keeps about it; it cannot be undone.`);
          if ((await askLine(`Type the Cyphr ID (${cyphrId}) to delete it: `)) !== cyphrId) {
            throw new CliError("Not confirmed: the account was not deleted.");
          }
        }
        const { cyphrIdAvailableAt } = await session.account.lifecycle().deleteAccount();
        out.data({ deleted: true, cyphrId, cyphrIdAvailableAt: cyphrIdAvailableAt?.toISOString(), profileFolder: session.profile.folder }, (v) => [
          `Deleted ${v.cyphrId}; this profile is signed out.`,
          `The Cyphr ID can be registered again from ${formatDate(v.cyphrIdAvailableAt ? new Date(v.cyphrIdAvailableAt) : undefined)}.`,
          `The profile folder ${v.profileFolder} still holds the old keys: remove it when you no longer need them.`,
        ]);
      }),
    );
}
