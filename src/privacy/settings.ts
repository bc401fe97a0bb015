import type { Caller } from "../identity/tokens.js";
import { InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import type { PrivacyContext } from "./context.js";
import { GroupAddPolicy, type OwnPrivacySettings, type PrivacySettings, SETTING_PATHS, type SettingPath } from "./model.js";
import { readSettings, writeSettings } from "./settings-repo.js";

export async function getPrivacySettings(ctx: PrivacyContext, caller: Caller): Promise<OwnPrivacySettings> {
  const own = await readSettings(ctx.pool, caller.userId);
  if (!own) throw new NotFoundError("account not found");
  return own;
}

/** Changes the named settings; the others keep their value. */
export async function updatePrivacySettings(ctx: PrivacyContext, caller: Caller, paths: readonly string[], values: PrivacySettings): Promise<PrivacySettings> {
  const changes = requireChanges(paths, values);
  const own = await writeSettings(ctx.pool, caller.userId, changes);
  if (!own) throw new NotFoundError("account not found");
  if (changes.sharePresence !== undefined) await ctx.onPresenceSharingChanged?.(caller.userId, own.settings.sharePresence);
  return own.settings;
}

function requireChanges(paths: readonly string[], values: PrivacySettings): Partial<PrivacySettings> {
  if (paths.length === 0) throw new InvalidArgumentError(`update_paths must name at least one of ${SETTING_PATHS.join(", ")}`);
  const seen = new Set<string>();
  const changes: Partial<PrivacySettings> = {};
  for (const path of paths) {
    if (!(SETTING_PATHS as readonly string[]).includes(path))
      throw new InvalidArgumentError(`update_paths: unknown field "${path.slice(0, 64)}" (known: ${SETTING_PATHS.join(", ")})`);
    if (seen.has(path)) throw new InvalidArgumentError(`update_paths names "${path}" twice`);
    seen.add(path);
    switch (path as SettingPath) {
      case "discoverable":
        changes.discoverable = values.discoverable;
        break;
      case "share_presence":
        changes.sharePresence = values.sharePresence;
        break;
      case "read_receipts":
        changes.readReceipts = values.readReceipts;
        break;
      case "typing_indicators":
        changes.typingIndicators = values.typingIndicators;
        break;
      case "group_adds":
        if (!Object.values(GroupAddPolicy).includes(values.groupAdds)) {
          throw new InvalidArgumentError("settings.group_adds must be GROUP_ADD_POLICY_EVERYONE, _CONTACTS or _NOBODY");
        }
        changes.groupAdds = values.groupAdds;
        break;
    }
  }
  return changes;
}
