import { sql } from "slonik";
import { z } from "zod";
import { bytes, type Db, timestamp } from "../db/types.js";
import type { GroupAddPolicy, OwnPrivacySettings, PrivacySettings } from "./model.js";

const settingsRow = z.object({
  discoverable: z.boolean(),
  share_presence: z.boolean(),
  read_receipts: z.boolean(),
  typing_indicators: z.boolean(),
  group_adds: z.number(),
  encrypted_settings: bytes.nullable(),
  privacy_chosen_at: timestamp.nullable(),
});

const toOwn = (row: z.infer<typeof settingsRow>): OwnPrivacySettings => ({
  settings: {
    discoverable: row.discoverable,
    sharePresence: row.share_presence,
    readReceipts: row.read_receipts,
    typingIndicators: row.typing_indicators,
    groupAdds: row.group_adds as GroupAddPolicy,
  },
  encryptedSettings: row.encrypted_settings,
  chosenAt: row.privacy_chosen_at,
});

const SETTINGS_COLUMNS = sql.fragment`discoverable, share_presence, read_receipts, typing_indicators, group_adds, encrypted_settings, privacy_chosen_at`;

export async function readSettings(db: Db, userId: string): Promise<OwnPrivacySettings | null> {
  const row = await db.maybeOne(sql.type(settingsRow)`/* readPrivacySettings */ SELECT ${SETTINGS_COLUMNS} FROM identities WHERE id = ${userId}`);
  return row && toOwn(row);
}

/** Writes the given settings and marks the account as having chosen. */
export async function writeSettings(db: Db, userId: string, changes: Partial<PrivacySettings>): Promise<OwnPrivacySettings | null> {
  const sets = [sql.fragment`privacy_chosen_at = now()`];
  if (changes.discoverable !== undefined) sets.push(sql.fragment`discoverable = ${changes.discoverable}`);
  if (changes.sharePresence !== undefined) sets.push(sql.fragment`share_presence = ${changes.sharePresence}`);
  if (changes.readReceipts !== undefined) sets.push(sql.fragment`read_receipts = ${changes.readReceipts}`);
  if (changes.typingIndicators !== undefined) sets.push(sql.fragment`typing_indicators = ${changes.typingIndicators}`);
  if (changes.groupAdds !== undefined) sets.push(sql.fragment`group_adds = ${changes.groupAdds}`);
  const row = await db.maybeOne(sql.type(settingsRow)`
    /* writePrivacySettings */
    UPDATE identities SET ${sql.join(sets, sql.fragment`, `)} WHERE id = ${userId} RETURNING ${SETTINGS_COLUMNS}`);
  return row && toOwn(row);
}
