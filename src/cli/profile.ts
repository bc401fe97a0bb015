/**
 * Profiles: one folder per profile under CYPHR_HOME (default ~/.cyphr), each an encrypted
 * FileStore holding the device's keys, its session, its MLS state and the CLI's settings
 * (the server address), so that nothing about the account is readable on disk.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Store } from "../sdk/index.js";
import { FileStore, type NodeProtocol, nodeTransport } from "../sdk/node/index.js";
import { CliError, EXIT } from "./errors.js";
import { readPassphrase } from "./passphrase.js";
import { lockProfile } from "./profile-lock.js";

export const PROTOCOLS: readonly NodeProtocol[] = ["connect", "grpc", "grpc-web"];
const PROFILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;
const SETTINGS_KEY = "cli/settings";

/** What `init` records in the profile. */
export interface ProfileSettings {
  /** The server's base URL, e.g. http://127.0.0.1:8080. */
  server: string;
  protocol: NodeProtocol;
}

export interface Profile {
  name: string;
  folder: string;
  store: Store;
  settings: ProfileSettings;
}

export function cyphrHome(): string {
  const home = process.env.CYPHR_HOME;
  return home !== undefined && home !== "" ? path.resolve(home) : path.join(os.homedir(), ".cyphr");
}

export function profileFolder(name: string): string {
  if (!PROFILE_NAME.test(name)) {
    throw new CliError(`Invalid profile name "${name}": use 1 to 64 letters, digits, "_", "-" or "." (not starting with ".").`, EXIT.usage);
  }
  return path.join(cyphrHome(), name);
}

/** Creates a profile that does not exist yet (the passphrase asked twice). */
export async function createProfile(name: string, settings: ProfileSettings): Promise<Profile> {
  const folder = profileFolder(name);
  if (await exists(folder)) throw new CliError(`The profile "${name}" already exists at ${folder}: use another --profile.`);
  const store = await FileStore.open(folder, await readPassphrase({ confirm: true }));
  await store.set(SETTINGS_KEY, new TextEncoder().encode(JSON.stringify(settings)));
  return { name, folder, store, settings };
}

export function profileExists(name: string): Promise<boolean> {
  return exists(profileFolder(name));
}

/** Opens an existing profile with its passphrase. */
export async function openProfile(name: string): Promise<Profile> {
  const folder = profileFolder(name);
  if (!(await exists(folder))) {
    throw new CliError(`No profile "${name}" at ${folder}: run \`cyphr --profile ${name} init --server URL\` first.`, EXIT.noProfile);
  }
  const store = await FileStore.open(folder, await readPassphrase({ confirm: false }));
  lockProfile(folder, name);
  const raw = await store.get(SETTINGS_KEY);
  if (raw === undefined) throw new CliError(`The profile "${name}" has no server address: it was not created by \`cyphr init\`.`, EXIT.noProfile);
  return { name, folder, store, settings: JSON.parse(new TextDecoder().decode(raw)) as ProfileSettings };
}

export function transportOf(profile: Profile) {
  return nodeTransport(profile.settings.server, profile.settings.protocol);
}

/** A --protocol value, checked. */
export function parseProtocol(text: string): NodeProtocol {
  if (!PROTOCOLS.includes(text as NodeProtocol)) throw new CliError(`Unknown protocol "${text}": use one of ${PROTOCOLS.join(", ")}.`, EXIT.usage);
  return text as NodeProtocol;
}

/** A server URL as `init` accepts it: http or https, no path beyond "/". */
export function parseServerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`Invalid server address "${text}": give a URL such as http://127.0.0.1:8080.`, EXIT.usage);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`Invalid server address "${text}": it must start with http:// or https://.`, EXIT.usage);
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}

async function exists(folder: string): Promise<boolean> {
  try {
    await fs.access(path.join(folder, "profile.json"));
    return true;
  } catch {
    return false;
  }
}
