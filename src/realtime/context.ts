import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import type { MessagingContext } from "../messaging/context.js";
import type { Semaphore } from "../shared/semaphore.js";
import type { AckCoalescer } from "./acks.js";
import type { EventBus } from "./bus.js";
import type { CallSignaling } from "./calls.js";
import type { Hub } from "./hub.js";
import type { IceSettings } from "./ice.js";
import type { Presence } from "./presence.js";
import type { ReplayStarts } from "./replay-starts.js";
import type { TypingRelay } from "./typing.js";

/** Everything the realtime service needs, built in the composition root. */
export interface RealtimeContext {
  pool: DatabasePool;
  /** Spends a caller's shared rate limit for typing or call-signal frames (src/privacy/limits). */
  spendFrameLimit?: (kind: "typing" | "call_signals", userId: string) => Promise<void>;
  log: Logger;
  hub: Hub;
  bus: EventBus;
  presence: Presence;
  typing: TypingRelay;
  calls: CallSignaling;
  messaging: MessagingContext;
  ice: IceSettings;
  heartbeatIntervalMs: number;
  streamBufferFrames: number;
  /** Bytes a stream may fall behind (queued and held by the transport) before it is ended. */
  streamBufferBytes: number;
  /** Live streams one user may hold on this instance. */
  streamsPerUser: number;
  /** Stored acks, written coalesced. */
  acks: AckCoalescer;
  /** Database work of stream replays, shared by every stream: at most half the pool. */
  replaySlots: Semaphore;
  /** The first read of every opening stream, batched across streams (in replaySlots). */
  replayStarts: ReplayStarts;
}
