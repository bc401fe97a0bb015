/**
 * Removing the MLS leaves of users who are no longer members of a group: they left
 * (GroupsService.LeaveGroup), were removed without a commit, or deleted their account. The
 * server ends the membership at once, but until a commit removes their leaves their devices hold
 * the group's epoch secrets and could read what is sent next. As for device changes
 * (device-sync.ts), one device acts: the one at the lowest leaf index among the leaves that stay.
 * The plan is built again on every commit attempt (a commit that won may have removed them).
 * Should that device be offline, the departure still never reaches a message: every device that
 * processed the departure's system message checks before it encrypts (removeDepartedBeforeSending)
 * and, if the leaves are still there, commits their removal itself.
 */
import type { Client } from "@connectrpc/connect";
import type { ClientState, Proposal } from "ts-mls";
import type { GroupsService } from "../../gen/cyphr/groups/v1/groups_pb.js";
import { parseDeviceCredentialIdentity } from "../../mls/credential.js";
import type { CommitResult, GroupCommits } from "./group-commits.js";
import type { GroupStore } from "./group-store.js";

/** What removeDeparted needs of the engine (MlsDevice). */
interface Engine {
  sync(chatId: string): Promise<unknown>;
  state(chatId: string): Promise<ClientState>;
  commit(chatId: string, proposals: (state: ClientState) => Proposal[]): Promise<CommitResult>;
}

export interface DepartedPlan {
  /** Leaf indices of devices whose user is not a current member. */
  removeLeaves: number[];
  /** Those users' Cyphr IDs (sorted). */
  departed: string[];
  /** This device is the one that commits the removal. */
  actor: boolean;
}

export interface DepartedRemoval {
  departed: string[];
  result: CommitResult;
}

/** The leaves to remove for a group whose current members are `members` (Cyphr IDs); undefined when none. */
export function planDepartedRemoval(state: ClientState, members: ReadonlySet<string>): DepartedPlan | undefined {
  const staying: number[] = [];
  const removeLeaves: number[] = [];
  const departed = new Set<string>();
  state.ratchetTree.forEach((node, i) => {
    if (node?.nodeType !== "leaf") return;
    const credential = node.leaf.credential;
    const who = credential.credentialType === "basic" ? parseDeviceCredentialIdentity(credential.identity) : undefined;
    if (who && !members.has(who.cyphrId)) {
      removeLeaves.push(i / 2);
      departed.add(who.cyphrId);
    } else {
      staying.push(i / 2);
    }
  });
  if (removeLeaves.length === 0) return undefined;
  return { removeLeaves, departed: [...departed].sort(), actor: staying.length > 0 && Math.min(...staying) === state.privatePath.leafIndex };
}

/**
 * Processes what arrived, then, if this device is the one to act, commits the removal of every
 * leaf of a user not among `currentMembers()` (read after processing, so a commit already seen
 * cannot make a member look departed). Undefined when it did nothing.
 */
export async function removeDeparted(
  engine: Engine,
  chatId: string,
  ownCyphrId: string,
  currentMembers: () => Promise<string[]>,
): Promise<DepartedRemoval | undefined> {
  await engine.sync(chatId);
  if ((await engine.state(chatId)).groupActiveState.kind !== "active") return undefined;
  const members = new Set(await currentMembers());
  if (!members.has(ownCyphrId)) return undefined;
  const plan = planDepartedRemoval(await engine.state(chatId), members);
  if (!plan?.actor) return undefined;
  const removal = departedRemoval(members);
  const result = await engine.commit(chatId, removal.proposals);
  return removal.departed.length > 0 ? { departed: removal.departed, result } : undefined;
}

/** What removeDepartedBeforeSending needs: the store, and commits made under the chat lock the caller holds. */
export interface SendingEngine {
  ownCyphrId: string;
  groups: GroupStore;
  commits: Pick<GroupCommits, "commit">;
  currentMembers(chatId: string): Promise<string[]>;
}

/**
 * Before this device encrypts an application message (its state just synced, the chat's lock
 * held): if it processed a departure of another member since the last check, it reads the current
 * members (one ListMembers, only then) and commits the Remove of every leaf of a user who is no
 * longer one, whichever leaf it is at. The departed users whose leaves it removed (none: nothing done).
 */
export async function removeDepartedBeforeSending(engine: SendingEngine, chatId: string): Promise<string[]> {
  const noted = await engine.groups.departureSeq(chatId);
  if (noted === undefined) return [];
  const members = new Set(await engine.currentMembers(chatId));
  const removal = departedRemoval(members);
  const state = await engine.groups.state(chatId);
  if (state && members.has(engine.ownCyphrId) && planDepartedRemoval(state, members)) await engine.commits.commit(chatId, removal.proposals);
  await engine.groups.clearDeparture(chatId, noted);
  return removal.departed;
}

/** The Remove proposals of one commit attempt, planned again on each attempt's state; `departed` says whom the last one removed. */
function departedRemoval(members: ReadonlySet<string>): { departed: string[]; proposals(state: ClientState): Proposal[] } {
  const removal = {
    departed: [] as string[],
    proposals(state: ClientState): Proposal[] {
      const plan = planDepartedRemoval(state, members);
      removal.departed = plan?.departed ?? [];
      return (plan?.removeLeaves ?? []).map((removed): Proposal => ({ proposalType: "remove", remove: { removed } }));
    },
  };
  return removal;
}

/** A group's current members (Cyphr IDs), every page of GroupsService.ListMembers. */
export async function memberIds(
  groups: Client<typeof GroupsService>,
  chatId: string,
  auth: () => Promise<{ headers: Record<string, string> }>,
): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await groups.listMembers({ chatId, limit: 1000, pageToken }, await auth());
    ids.push(...page.members.map((m) => m.cyphrId));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return ids;
}
