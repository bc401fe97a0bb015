/** What every command's action gets: the global options and an Output for them. */
import type { Command } from "commander";
import { Output } from "./output.js";

export interface Globals {
  profile: string;
  json: boolean;
}

export interface Ctx {
  globals: Globals;
  out: Output;
}

/** Wraps an action so that it receives its arguments and a Ctx (commander passes the Command last). */
export function action<A extends unknown[]>(run: (ctx: Ctx, ...args: A) => Promise<void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const globals = command.optsWithGlobals<Globals>();
    await run({ globals, out: new Output(globals.json === true) }, ...(args.slice(0, -1) as A));
  };
}
