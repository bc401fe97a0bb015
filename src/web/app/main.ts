/**
 * The Cyphr web messenger: the TypeScript SDK over gRPC-Web, keys in IndexedDB behind a passphrase.
 * Built by src/web/build.ts and served by the Cyphr server at `/` (docs/web.md).
 */
import { h, messageOf, replace } from "./dom.js";
import type { Session } from "./client.js";
import { shellScreen } from "./views/shell.js";
import { welcomeScreen } from "./views/welcome.js";

const root = document.getElementById("app")!;

function signedOut(): void {
  void welcomeScreen(root, signedIn).catch(fatal);
}

function signedIn(session: Session): void {
  void shellScreen(root, session, signedOut).catch(fatal);
}

function fatal(error: unknown): void {
  replace(root, h("main", { class: "welcome" }, h("p", { class: "status error", role: "alert" }, `Cyphr could not start: ${messageOf(error)}`)));
}

signedOut();
