import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { SystemEventKind } from "../chats/model.js";
import { appendSystemMessage } from "../chats/system-messages.js";
import type { Db } from "../db/types.js";
import { activeMemberIds, recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";
import type { Caller } from "../identity/tokens.js";
import { requireActiveMembership } from "../messaging/access.js";
import { notBlocking } from "../privacy/consent.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import {
  addParticipants,
  busyUsers,
  type CallRow,
  CallState,
  dropParticipants,
  insertCall,
  isParticipant,
  liveParticipants,
  lockCall,
  markAccepted,
  markEnded,
  overdueRingingCalls,
} from "./calls-repo.js";
import { MAX_SIGNAL_PAYLOAD_BYTES } from "./limits.js";
import { type EphemeralTarget, publishEphemeral } from "./publish.js";

/** Values match cyphr.realtime.v1.CallSignalType. */
export const SignalType = { offer: 1, answer: 2, ice: 3, reject: 4, busy: 5, end: 6, answeredElsewhere: 7 } as const;

export interface CallSignalInput {
  callId: string;
  type: number;
  chatId: string;
  payload: Uint8Array;
  video: boolean;
}

type Outgoing = { target: EphemeralTarget; type: number; payload?: Uint8Array; reason?: string; from: Caller | null };

/**
 * WebRTC call signaling with server-side call state: ringing → accepted → ended. SDP and
 * ICE payloads are relayed, never stored. Every end writes a CALL_ENDED system message
 * (outcome, duration) into the chat. A call still ringing after the ring timeout ends as
 * "missed" for everyone; a timer on the instance that placed it ends it on time, and a
 * periodic sweep catches calls whose instance went away.
 */
export class CallSignaling {
  private readonly ringTimers = new Map<string, NodeJS.Timeout>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: DatabasePool,
    private readonly log: Logger,
    private readonly ringTimeoutMs: number,
  ) {}

  start(): void {
    this.sweepTimer = setInterval(() => void this.sweep(), Math.min(5000, this.ringTimeoutMs));
    this.sweepTimer.unref();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    for (const timer of this.ringTimers.values()) clearTimeout(timer);
    this.ringTimers.clear();
  }

  async signal(caller: Caller, input: CallSignalInput): Promise<void> {
    const callId = requireUuid("call_signal.call_id", input.callId);
    if (input.payload.length > MAX_SIGNAL_PAYLOAD_BYTES) {
      throw new InvalidArgumentError(`call_signal.payload must be at most ${MAX_SIGNAL_PAYLOAD_BYTES} bytes, got ${input.payload.length}`);
    }
    switch (input.type) {
      case SignalType.offer:
        return this.offer(caller, callId, input);
      case SignalType.answer:
        return this.answer(caller, callId, input.payload);
      case SignalType.ice:
        return this.iceCandidate(caller, callId, input.payload);
      case SignalType.reject:
      case SignalType.busy:
        return this.decline(caller, callId, input.type === SignalType.busy ? "busy" : "rejected");
      case SignalType.end:
        return this.hangUp(caller, callId);
      default:
        throw new InvalidArgumentError("call_signal.type must be OFFER, ANSWER, ICE_CANDIDATE, REJECT, BUSY or END");
    }
  }

  private async offer(caller: Caller, callId: string, input: CallSignalInput): Promise<void> {
    const chatId = requireUuid("call_signal.chat_id", input.chatId);
    if (input.payload.length === 0) throw new InvalidArgumentError("call_signal.payload (the SDP offer) is required");
    const outcome = await this.pool.transaction(async (tx) => {
      await requireActiveMembership(tx, chatId, caller.userId);
      const callees = (await activeMemberIds(tx, chatId)).filter((u) => u !== caller.userId);
      if (callees.length === 0) throw new FailedPreconditionError("nobody else is in this chat to call");
      await insertCall(tx, { id: callId, chatId, callerId: caller.userId, callerSessionId: caller.sessionId, video: input.video, ringMs: this.ringTimeoutMs });
      const busy = await busyUsers(tx, callees, callId);
      const ringing = callees.filter((u) => !busy.has(u));
      await addParticipants(tx, callId, [caller.userId, ...ringing]);
      if (ringing.length === 0) {
        await this.finish(tx, (await lockCall(tx, callId))!, "busy");
        return { ringing };
      }
      return { ringing };
    });
    if (outcome.ringing.length === 0) {
      await this.send({ target: { users: [caller.userId], onlySession: caller.sessionId }, type: SignalType.busy, from: null }, callId, chatId);
      return;
    }
    // A callee who blocked the caller never hears the call: it rings out as if they were offline.
    const reachable = await notBlocking(this.pool, caller.userId, outcome.ringing);
    if (reachable.length > 0)
      await this.send({ target: { users: reachable }, type: SignalType.offer, payload: input.payload, from: caller }, callId, chatId, input.video);
    const timer = setTimeout(() => {
      this.ringTimers.delete(callId);
      void this.expire(callId);
    }, this.ringTimeoutMs);
    timer.unref();
    this.ringTimers.set(callId, timer);
  }

  private async answer(caller: Caller, callId: string, payload: Uint8Array): Promise<void> {
    const call = await this.pool.transaction(async (tx) => {
      const call = await this.requireCall(tx, callId, caller);
      if (call.caller_id === caller.userId) throw new InvalidArgumentError("the caller cannot answer their own call");
      if (call.state !== CallState.ringing) throw new FailedPreconditionError("the call is no longer ringing (answered elsewhere or ended)");
      await markAccepted(tx, callId, caller.userId, caller.sessionId);
      const others = (await liveParticipants(tx, callId)).filter((u) => u !== caller.userId && u !== call.caller_id);
      await dropParticipants(tx, callId, others);
      return { ...call, others };
    });
    this.clearRing(callId);
    await this.send(
      { target: { users: [call.caller_id], onlySession: call.caller_session_id }, type: SignalType.answer, payload, from: caller },
      callId,
      call.chat_id,
    );
    // Stop the ringing everywhere else: the answering user's other devices and, in a group, the other callees.
    await this.send(
      { target: { users: [caller.userId], exceptSession: caller.sessionId }, type: SignalType.answeredElsewhere, from: caller },
      callId,
      call.chat_id,
    );
    await this.send({ target: { users: call.others }, type: SignalType.answeredElsewhere, from: caller }, callId, call.chat_id);
  }

  private async iceCandidate(caller: Caller, callId: string, payload: Uint8Array): Promise<void> {
    if (payload.length === 0) throw new InvalidArgumentError("call_signal.payload (the ICE candidate) is required");
    const call = await this.requireCall(this.pool, callId, caller);
    if (call.state === CallState.ended) throw new FailedPreconditionError("the call has ended");
    let target: EphemeralTarget;
    if (caller.userId === call.caller_id) {
      target = call.answered_by
        ? { users: [call.answered_by], onlySession: call.answered_session_id! }
        : { users: (await liveParticipants(this.pool, callId)).filter((u) => u !== caller.userId) };
    } else {
      target = { users: [call.caller_id], onlySession: call.caller_session_id };
    }
    await this.send({ target, type: SignalType.ice, payload, from: caller }, callId, call.chat_id);
  }

  private async decline(caller: Caller, callId: string, reason: "rejected" | "busy"): Promise<void> {
    const result = await this.pool.transaction(async (tx) => {
      const call = await this.requireCall(tx, callId, caller);
      if (call.caller_id === caller.userId) throw new InvalidArgumentError("the caller ends a call with END, not REJECT");
      if (call.state !== CallState.ringing) throw new FailedPreconditionError("the call is no longer ringing");
      await dropParticipants(tx, callId, [caller.userId]);
      const stillRinging = (await liveParticipants(tx, callId)).filter((u) => u !== call.caller_id);
      if (stillRinging.length > 0) return { call, ended: false };
      await this.finish(tx, call, reason);
      return { call, ended: true };
    });
    // The decliner's other devices stop ringing either way.
    await this.send(
      { target: { users: [caller.userId], exceptSession: caller.sessionId }, type: SignalType.end, reason, from: caller },
      callId,
      result.call.chat_id,
    );
    if (result.ended) {
      this.clearRing(callId);
      const type = reason === "busy" ? SignalType.busy : SignalType.reject;
      await this.send(
        { target: { users: [result.call.caller_id], onlySession: result.call.caller_session_id }, type, from: caller },
        callId,
        result.call.chat_id,
      );
    }
  }

  private async hangUp(caller: Caller, callId: string): Promise<void> {
    const result = await this.pool.transaction(async (tx) => {
      const call = await this.requireCall(tx, callId, caller);
      if (call.state === CallState.ended) return undefined;
      if (call.state === CallState.ringing && call.caller_id !== caller.userId) return "decline" as const;
      const participants = await liveParticipants(tx, callId);
      const reason = call.state === CallState.ringing ? "cancelled" : "completed";
      await this.finish(tx, call, reason);
      return { call, participants, reason };
    });
    if (result === undefined) return;
    if (result === "decline") return this.decline(caller, callId, "rejected");
    this.clearRing(callId);
    await this.send(
      { target: { users: result.participants, exceptSession: caller.sessionId }, type: SignalType.end, reason: result.reason, from: caller },
      callId,
      result.call.chat_id,
    );
  }

  /** Ends a call still ringing after the timeout, as "missed" for everyone. */
  private async expire(callId: string): Promise<void> {
    try {
      const result = await this.pool.transaction(async (tx) => {
        const call = await lockCall(tx, callId);
        if (!call || call.state !== CallState.ringing) return undefined;
        const participants = await liveParticipants(tx, callId);
        await this.finish(tx, call, "missed");
        return { call, participants };
      });
      if (result) {
        await this.send({ target: { users: result.participants }, type: SignalType.end, reason: "missed", from: null }, callId, result.call.chat_id);
      }
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, "ring timeout handling failed");
    }
  }

  private async sweep(): Promise<void> {
    try {
      for (const callId of await overdueRingingCalls(this.pool)) if (!this.ringTimers.has(callId)) await this.expire(callId);
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, "call sweep failed");
    }
  }

  /** Marks the call ended and records the CALL_ENDED system message in the chat. */
  private async finish(tx: Db, call: CallRow, outcome: string): Promise<void> {
    await markEnded(tx, call.id, outcome);
    const durationSeconds = call.answered_at ? Math.max(0, Math.round((Date.now() - call.answered_at.getTime()) / 1000)) : 0;
    const seq = await appendSystemMessage(tx, call.chat_id, {
      kind: SystemEventKind.callEnded,
      actorUserId: call.caller_id,
      call: { id: call.id, outcome, durationSeconds: outcome === "completed" ? durationSeconds : 0, video: call.video },
    });
    await recordEvents(tx, [{ kind: DurableKind.messageNew, chatId: call.chat_id, seq, data: null, recipients: await activeMemberIds(tx, call.chat_id) }]);
  }

  /** The call, locked, if the caller takes part in it; NOT_FOUND otherwise (no probing of call ids). */
  private async requireCall(db: Db, callId: string, caller: Caller): Promise<CallRow> {
    const call = await lockCall(db, callId);
    if (!call || !(await isParticipant(db, callId, caller.userId))) throw new NotFoundError(`call ${callId} not found`);
    return call;
  }

  private clearRing(callId: string): void {
    clearTimeout(this.ringTimers.get(callId));
    this.ringTimers.delete(callId);
  }

  private async send(out: Outgoing, callId: string, chatId: string, video = false): Promise<void> {
    await publishEphemeral(this.pool, out.target, {
      case: "callSignal",
      value: {
        callId,
        type: out.type,
        chatId,
        payload: out.payload,
        video,
        reason: out.reason ?? "",
        fromUserId: out.from?.userId ?? "",
        fromCyphrId: out.from?.cyphrId ?? "",
      },
    });
  }
}
