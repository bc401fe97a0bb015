/**
 * Live: one device's realtime stream. It keeps one stream open (reconnecting with backoff), resumes
 * from the cursor in the Store, drops replayed events by cursor, handles each frame (FrameHandler)
 * before the app sees its event, and acks, stores the cursor and marks messages delivered coalesced,
 * every ackIntervalMs. See docs/sdk.md, "Realtime (Live)".
 */
import { type Client, createClient } from "@connectrpc/connect";
import { MessagingService } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { PrivacyService } from "../../gen/cyphr/privacy/v1/privacy_pb.js";
import { RealtimeService, type ServerFrame } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import { CyphrError, toCyphrError } from "../errors.js";
import { PeerIdentities } from "../peers.js";
import { AckFlusher } from "./ack-flusher.js";
import { type BackoffPolicy, reconnectDelay } from "./backoff.js";
import { ChatActions, type IceServers } from "./chat-actions.js";
import { type Connection, openConnection } from "./connection.js";
import { loadCursor } from "./cursor-store.js";
import { Emitter } from "./emitter.js";
import type { EventOf, Listener, LiveEvent, LiveEventKind, LiveState, OutgoingCallSignal } from "./events.js";
import { FrameHandler, isTransient } from "./handler.js";
import { LIVE_DEFAULTS, type LiveOptions } from "./options.js";
import { prepareDevice } from "./prepare-device.js";

/** Stream failures no reconnect can fix: Live closes with the error. */
const FATAL = new Set(["unauthenticated", "permission_denied", "invalid_argument", "unimplemented", "data_loss"]);

export class Live {
  private readonly o: Required<Omit<LiveOptions, "reconnect">> & LiveOptions;
  private readonly policy: BackoffPolicy & { healthyAfterMs: number };
  private readonly emitter: Emitter;
  private readonly handler: FrameHandler;
  private readonly realtime: Client<typeof RealtimeService>;
  private readonly messaging: Client<typeof MessagingService>;
  private readonly actions: ChatActions;
  private current: LiveState = { state: "closed" };
  private handled: bigint | undefined;
  private readonly flusher: AckFlusher;
  private connection: Connection | undefined;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private readonly firstCaughtUp = deferred();
  private caughtUpOnce = false;
  private flushTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: LiveOptions) {
    this.o = { ...LIVE_DEFAULTS, ...defined(options) } as Live["o"];
    const { baseDelayMs, maxDelayMs, healthyAfterMs } = LIVE_DEFAULTS;
    this.policy = { baseDelayMs, maxDelayMs, healthyAfterMs, random: Math.random, ...defined(options.reconnect ?? {}) };
    this.emitter = new Emitter(this.o.iteratorBuffer);
    this.realtime = createClient(RealtimeService, options.transport);
    this.messaging = createClient(MessagingService, options.transport);
    this.actions = new ChatActions(this.realtime, this.messaging, createClient(PrivacyService, options.transport), options.account);
    this.handler = new FrameHandler({
      account: options.account,
      mls: options.mls,
      peers: new PeerIdentities(options.store),
      keyPackageTarget: this.o.keyPackageTarget,
      emit: (event) => this.emitter.emit(event),
      delivered: (chatId, seq) => this.o.autoDeliver && this.flusher.delivered(chatId, seq),
    });
    this.flusher = new AckFlusher({
      store: options.store,
      handled: () => this.handled,
      ack: async (cursor) => {
        if (!this.connection) return false;
        await this.connection.send({ frame: { case: "ack", value: { cursor } } });
        return true;
      },
      markDelivered: (chatId, seq) => this.markDelivered(chatId, seq),
      emit: (event) => this.emitter.emit(event),
    });
    this.firstCaughtUp.promise.catch(() => undefined);
  }

  /** The stream's state now. */
  get state(): LiveState {
    return this.current;
  }

  /** The cursor of the last durable event handled (undefined before the first). */
  get cursor(): bigint | undefined {
    return this.handled;
  }

  /** Opens the stream; resolves at the first caught_up, rejects if Live closes before it. */
  start(): Promise<void> {
    if (this.stopping.signal.aborted) return Promise.reject(new CyphrError("failed_precondition", "This Live was closed: make a new one."));
    this.running ??= this.run();
    return this.firstCaughtUp.promise;
  }

  /** Ends the stream, flushes acks, the cursor and receipts, and ends every iterator. */
  async close(): Promise<void> {
    if (!this.stopping.signal.aborted) this.stopping.abort();
    this.emitter.unblock();
    await this.flusher.flush(); // the last ack still goes out on the open stream
    this.connection?.close();
    await this.running;
    if (!this.running) await this.setState({ state: "closed" });
  }

  on<K extends LiveEventKind>(kind: K, listener: Listener<K>): () => void {
    return this.emitter.on(kind, listener);
  }

  off<K extends LiveEventKind>(kind: K, listener: Listener<K>): void {
    this.emitter.off(kind, listener);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<LiveEvent> {
    return this.emitter.iterate();
  }

  /** Records that this user received every message of the chat up to seq (monotonic). */
  markDelivered(chatId: string, upToSeq: bigint): Promise<{ deliveredSeq: bigint }> {
    return this.actions.markDelivered(chatId, upToSeq);
  }

  /** Records that this user read every message of the chat up to seq (and so received it). */
  markRead(chatId: string, upToSeq: bigint): Promise<{ readSeq: bigint; deliveredSeq: bigint }> {
    return this.actions.markRead(chatId, upToSeq);
  }

  /** Accepts a message request (a chat `joined` with `request`): the others then get this user's receipts, typing and presence. */
  acceptChat(chatId: string): Promise<void> {
    return this.actions.acceptChat(chatId);
  }

  /** Declines a message request: the chat is gone for this user, and the others are not told. */
  declineChat(chatId: string): Promise<void> {
    return this.actions.declineChat(chatId);
  }

  /** Tells the chat's other members this user is (or stopped) typing: on the stream in bidi mode, else Publish. */
  setTyping(chatId: string, typing: boolean): Promise<void> {
    return this.actions.setTyping(chatId, typing, this.o.mode === "bidi" ? this.connection : undefined);
  }

  /** Sets the chat's disappearing-message timer for messages sent from now on (0 = off). */
  setTimer(chatId: string, timerSeconds: number): Promise<{ timerSeconds: number; seq: bigint }> {
    return this.actions.setTimer(chatId, timerSeconds);
  }

  /** Sends one call signal (through Publish, so a refusal rejects this call). */
  sendCallSignal(signal: OutgoingCallSignal): Promise<void> {
    return this.actions.sendCallSignal(signal);
  }

  /** STUN/TURN servers for RTCPeerConnection, with ephemeral TURN credentials. */
  iceServers(): Promise<IceServers> {
    return this.actions.iceServers();
  }

  private async run(): Promise<void> {
    let failure: CyphrError | undefined;
    try {
      this.handled = await loadCursor(this.o.store);
      this.flusher.loaded(this.handled);
      this.flushTimer = setInterval(() => void this.flusher.flush(), this.o.ackIntervalMs);
      let failures = 0;
      while (!this.stopping.signal.aborted) {
        await this.setState({ state: "connecting", attempt: failures + 1 });
        const openedAt = Date.now();
        let error: CyphrError;
        try {
          await this.stream();
          error = new CyphrError("unavailable", "The server ended the stream: reconnecting.");
        } catch (err) {
          error = toCyphrError(err);
        }
        if (this.stopping.signal.aborted) break;
        if (FATAL.has(error.code)) {
          failure = error;
          break;
        }
        failures = Date.now() - openedAt >= this.policy.healthyAfterMs ? 1 : failures + 1;
        const delayMs = reconnectDelay(failures, this.policy, error.retryAfterMs);
        await this.setState({ state: "reconnecting", attempt: failures, delayMs, error });
        await sleep(delayMs, this.stopping.signal);
      }
    } catch (err) {
      failure = toCyphrError(err);
    } finally {
      clearInterval(this.flushTimer);
      await this.flusher.flush();
      this.firstCaughtUp.reject(failure ?? new CyphrError("canceled", "Live was closed before the stream caught up."));
      await this.setState(failure ? { state: "closed", error: failure } : { state: "closed" });
      this.emitter.close();
    }
  }

  /**
   * One stream, read until it ends: opened with a fresh token, resuming from the cursor the Store
   * holds (as after a restart); what was handled since the last flush comes again and is dropped by cursor.
   */
  private async stream(): Promise<void> {
    const token = await this.o.account.accessToken();
    const connection = openConnection({
      client: this.realtime,
      mode: this.o.mode,
      token,
      resumeCursor: this.flusher.storedCursor,
      heartbeatIntervalMs: this.o.heartbeatIntervalMs,
      deadAfterMs: this.o.deadAfterMs,
    });
    this.connection = connection;
    if (this.stopping.signal.aborted) connection.close();
    let opened = false;
    try {
      for await (const frame of connection.frames) {
        if (!opened) {
          opened = true;
          await this.setState({ state: "live" });
        }
        await this.onFrame(frame);
      }
    } finally {
      this.connection = undefined;
      connection.close();
    }
  }

  private async onFrame(frame: ServerFrame): Promise<void> {
    if (frame.event.case === "caughtUp") return this.caughtUp(frame.event.value.cursor, frame.event.value.resyncRequired);
    if (frame.cursor === 0n) return this.handler.handle(frame);
    if (this.handled !== undefined && frame.cursor <= this.handled) return; // replayed: handled already
    await this.handler.handle(frame);
    this.handled = frame.cursor;
  }

  private async caughtUp(cursor: bigint, resyncRequired: boolean): Promise<void> {
    // After a resync the server's cursors are the truth (a cursor beyond its newest resumes "from now").
    if (resyncRequired || this.handled === undefined || cursor > this.handled) this.handled = cursor;
    if (!this.caughtUpOnce || resyncRequired) {
      await prepareDevice({
        mls: this.o.mls,
        messaging: this.messaging,
        keyPackageTarget: this.o.keyPackageTarget,
        call: (work) => this.actions.call(work),
        guarded: (work, chatId) => this.guarded(work, chatId),
        emit: (event) => this.emitter.emit(event),
      });
      this.caughtUpOnce = true;
    }
    await this.setState({ state: "caught_up", cursor, resyncRequired });
    this.firstCaughtUp.resolve();
  }

  /** Runs one step of the SDK's own work: a transient failure reconnects, anything else is an error event. */
  private async guarded(work: () => Promise<unknown>, chatId?: string): Promise<void> {
    try {
      await work();
    } catch (err) {
      const error = toCyphrError(err);
      if (isTransient(error)) throw error;
      await this.emitter.emit({ kind: "error", error, ...(chatId ? { chatId } : {}) });
    }
  }

  private async setState(state: LiveState): Promise<void> {
    this.current = state;
    await this.emitter.emit({ kind: "state", ...state } as EventOf<"state">);
  }
}

/** The options that are set (an explicit undefined takes the default). */
function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function deferred(): { promise: Promise<void>; resolve(): void; reject(e: unknown): void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
