// Runs the TypeScript sources on Node without a build step (npm start, the benchmark's
// servers, the process tests): `node --import ./src/runtime/register.mjs src/main.ts`.
import { register } from "node:module";

register("./typescript-hooks.mjs", import.meta.url);
