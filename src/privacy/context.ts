import type { DatabasePool } from "slonik";

/** What the privacy use cases need; built once in the composition root. */
export interface PrivacyContext {
  pool: DatabasePool;
  /** Tells the presence module that whether each of two users may see the other's presence may have changed. */
  onAudienceChanged?: (userId: string, otherId: string) => Promise<void> | void;
  /** Tells the presence module that a user turned presence sharing on or off. */
  onPresenceSharingChanged?: (userId: string, sharing: boolean) => Promise<void> | void;
}

/** Blocks one account may hold. */
export const MAX_BLOCKS = 10_000;
