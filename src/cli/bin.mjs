#!/usr/bin/env node
// The `cyphr` command (package.json "bin"): runs the CLI's TypeScript sources the way `npm start`
// runs the server's (src/runtime/register.mjs), from whatever folder it is started in.
import { register } from "node:module";

register("../runtime/typescript-hooks.mjs", import.meta.url);
process.setSourceMapsEnabled(true);
await import("./main.ts");
