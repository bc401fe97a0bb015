import type { DatabasePool } from "slonik";

/** What the group use cases need. */
export interface GroupsContext {
  pool: DatabasePool;
  /** Largest group, the creator included. */
  maxMembers: number;
}
