import type { PairSpec, SendMode } from "./worker-pairs.js";

/** What the orchestrator asks a load-generator worker to do. */
export type WorkerTask = ThroughputTask | LatencyTask | StreamsTask | ReconnectsTask;

export interface ThroughputTask {
  kind: "throughput";
  mode: SendMode;
  pairs: PairSpec[];
  seconds: number;
  /** Closed loop: requests outstanding per sender. */
  inFlight: number;
  payloadBytes: number;
  kemFirst: boolean;
  drainSeconds: number;
}

export interface LatencyTask {
  kind: "latency";
  mode: SendMode;
  pairs: PairSpec[];
  /** Messages per second this worker schedules (open loop). */
  rate: number;
  seconds: number;
  payloadBytes: number;
  kemFirst: boolean;
  drainSeconds: number;
}

export interface StreamsTask {
  kind: "streams";
  baseUrl: string;
  /** HTTP/2 connections this worker opens; its streams are spread over them. */
  connections: number;
  /** One access token per stream to open. */
  tokens: string[];
  /** Streams being opened at once. */
  openConcurrency: number;
}

export interface ReconnectsTask {
  kind: "reconnects";
  baseUrl: string;
  /** HTTP/2 connections carrying the recipients' streams (senders use half as many). */
  connections: number;
  /** Access tokens of the recipients, each holding one Connect stream. */
  recipients: string[];
  /** Access tokens of the senders; sender i sends to recipient i. */
  senders: string[];
  /** Cyphr IDs of the recipients. */
  recipientIds: string[];
  /** Messages per second, over all senders (open loop). */
  sendRate: number;
  /** Storm phase: streams dropped and resumed per second. */
  reconnectRate: number;
  /** Seconds per phase. */
  seconds: number;
  /** Resume window: messages each recipient missed before it comes back. */
  backlog: number;
  payloadBytes: number;
  drainSeconds: number;
}

export type WorkerCommand =
  | { cmd: "prepare"; task: WorkerTask }
  | { cmd: "start"; args?: { clientMessageId?: string; timeoutMs?: number; phase?: "steady" | "storm" | "backlog" | "resume" } }
  | { cmd: "finish" };

export type WorkerEvent =
  | { evt: "ready" }
  | { evt: "prepared"; data: Record<string, unknown> }
  | { evt: "started" }
  | { evt: "progress"; data: WorkerProgress }
  | { evt: "measured"; data: Record<string, unknown> }
  | { evt: "finished"; data: Record<string, unknown> }
  | { evt: "error"; message: string };

export interface WorkerProgress {
  accepted?: number;
  delivered?: number;
  errors?: number;
  opened?: number;
  arrived?: number;
}
