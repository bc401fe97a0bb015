import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { activeMemberIds } from "../events/log.js";
import type { Caller } from "../identity/tokens.js";
import { requireActiveMembership } from "../messaging/access.js";
import { chatAudience } from "../privacy/consent.js";
import { requireUuid } from "../shared/ids.js";
import { publishEphemeral } from "./publish.js";

/**
 * Relays typing indicators to a chat's other current members. Never stored. A started
 * indicator lapses after `expiryMs` without a refresh: the server then tells the others
 * the user stopped.
 */
export class TypingRelay {
  private readonly expiries = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly pool: DatabasePool,
    private readonly log: Logger,
    private readonly expiryMs = 10_000,
  ) {}

  async typing(caller: Caller, chatIdInput: string, typing: boolean): Promise<void> {
    const chatId = requireUuid("typing.chat_id", chatIdInput);
    await requireActiveMembership(this.pool, chatId, caller.userId);
    const key = `${chatId}:${caller.userId}`;
    clearTimeout(this.expiries.get(key));
    this.expiries.delete(key);
    if (typing) {
      const timer = setTimeout(() => {
        this.expiries.delete(key);
        this.announce(caller, chatId, false).catch((err: unknown) => this.log.warn({ err: { message: (err as Error).message } }, "typing expiry failed"));
      }, this.expiryMs);
      timer.unref();
      this.expiries.set(key, timer);
    }
    await this.announce(caller, chatId, typing);
  }

  stop(): void {
    for (const timer of this.expiries.values()) clearTimeout(timer);
    this.expiries.clear();
  }

  private async announce(caller: Caller, chatId: string, typing: boolean): Promise<void> {
    const members = (await activeMemberIds(this.pool, chatId)).filter((u) => u !== caller.userId);
    // Only those the caller accepted, never across a block, and only with typing indicators on.
    const others = await chatAudience(this.pool, chatId, caller.userId, members, "typing");
    if (others.length === 0) return;
    await publishEphemeral(
      this.pool,
      { users: others },
      {
        case: "typing",
        value: { chatId, userId: caller.userId, cyphrId: caller.cyphrId, typing },
      },
    );
  }
}
