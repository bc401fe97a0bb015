/** Who may add a user to a group (cyphr.privacy.v1.GroupAddPolicy; the numbers are stored). */
export enum GroupAddPolicy {
  Everyone = 1,
  Contacts = 2,
  Nobody = 3,
}

/** The settings the server enforces for one account. */
export interface PrivacySettings {
  discoverable: boolean;
  sharePresence: boolean;
  readReceipts: boolean;
  typingIndicators: boolean;
  groupAdds: GroupAddPolicy;
}

export const SETTING_PATHS = ["discoverable", "share_presence", "read_receipts", "typing_indicators", "group_adds"] as const;
export type SettingPath = (typeof SETTING_PATHS)[number];

export interface OwnPrivacySettings {
  settings: PrivacySettings;
  encryptedSettings: Uint8Array | null;
  chosenAt: Date | null;
}

export interface BlockedUser {
  cyphrId: string;
  blockedAt: Date;
}
