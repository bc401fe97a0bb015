/**
 * The Cyphr web messenger: the TypeScript SDK over gRPC-Web, keys in IndexedDB behind a passphrase.
 * Built by src/web/build.ts and served by the Cyphr server at `/` (docs/web.md).
 */

import { type Opened, Session, type SignIn } from "./client.js";
import { h, messageOf, replace } from "./dom.js";
import { shellScreen } from "./views/shell.js";
import { signInScreen } from "./views/sign-in.js";
import { welcomeScreen } from "./views/welcome.js";

const root = document.getElementById("app")!;

function signedOut(): void {
  void welcomeScreen(root, opened).catch(fatal);
}

function opened(result: Opened): void {
  if (result instanceof Session) signedIn(result);
  else needsSignIn(result);
}

function signedIn(session: Session): void {
  void shellScreen(root, session, { onLock: signedOut, onSignedOut: needsSignIn, onDeleted: signedOut }).catch(fatal);
}

function needsSignIn(signIn: SignIn): void {
  signInScreen(root, signIn, signedIn, signedOut);
}

function fatal(error: unknown): void {
  replace(root, h("main", { class: "welcome" }, h("p", { class: "status error", role: "alert" }, `Cyphr could not start: ${messageOf(error)}`)));
}

signedOut();
