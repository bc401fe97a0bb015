/**
 * What the client says besides messages: receipts and the chat timer (MessagingService), answers to
 * message requests (PrivacyService), typing and call signals (on the bidi stream, or through
 * Publish), ICE servers. Every failure is a CyphrError.
 */
import type { Client } from "@connectrpc/connect";
import type { MessagingService } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import type { PrivacyService } from "../../gen/cyphr/privacy/v1/privacy_pb.js";
import type { RealtimeService } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import { toCyphrError } from "../errors.js";
import type { Connection } from "./connection.js";
import type { OutgoingCallSignal } from "./events.js";
import type { LiveAccount } from "./options.js";
import { wireCallSignal } from "./wire.js";

export interface IceServers {
  iceServers: { urls: string[]; username: string; credential: string }[];
  /** Seconds the TURN credentials stay valid. */
  ttlSeconds: number;
}

type Auth = { headers: Record<string, string> };

export class ChatActions {
  constructor(
    private readonly realtime: Client<typeof RealtimeService>,
    private readonly messaging: Client<typeof MessagingService>,
    private readonly privacy: Client<typeof PrivacyService>,
    private readonly account: LiveAccount,
  ) {}

  async markDelivered(chatId: string, upToSeq: bigint): Promise<{ deliveredSeq: bigint }> {
    const res = await this.call((auth) => this.messaging.markDelivered({ chatId, upToSeq }, auth));
    return { deliveredSeq: res.deliveredSeq };
  }

  async markRead(chatId: string, upToSeq: bigint): Promise<{ readSeq: bigint; deliveredSeq: bigint }> {
    const res = await this.call((auth) => this.messaging.markRead({ chatId, upToSeq }, auth));
    return { readSeq: res.readSeq, deliveredSeq: res.deliveredSeq };
  }

  async acceptChat(chatId: string): Promise<void> {
    await this.call((auth) => this.privacy.acceptChat({ chatId }, auth));
  }

  async declineChat(chatId: string): Promise<void> {
    await this.call((auth) => this.privacy.declineChat({ chatId }, auth));
  }

  /** On `stream` when given (a refusal then comes back as a frame_error, Live's error event), else through Publish. */
  async setTyping(chatId: string, typing: boolean, stream?: Connection): Promise<void> {
    const frame = { requestId: crypto.randomUUID(), frame: { case: "typing" as const, value: { chatId, typing } } };
    if (stream) return stream.send(frame);
    await this.call((auth) => this.realtime.publish({ frame }, auth));
  }

  async setTimer(chatId: string, timerSeconds: number): Promise<{ timerSeconds: number; seq: bigint }> {
    const res = await this.call((auth) => this.messaging.setChatTimer({ chatId, timerSeconds }, auth));
    return { timerSeconds: res.timerSeconds, seq: res.seq };
  }

  async sendCallSignal(signal: OutgoingCallSignal): Promise<void> {
    await this.call((auth) =>
      this.realtime.publish({ frame: { requestId: crypto.randomUUID(), frame: { case: "callSignal", value: wireCallSignal(signal) } } }, auth),
    );
  }

  async iceServers(): Promise<IceServers> {
    const res = await this.call((auth) => this.realtime.getIceServers({}, auth));
    return { iceServers: res.iceServers.map((s) => ({ urls: [...s.urls], username: s.username, credential: s.credential })), ttlSeconds: res.ttlSeconds };
  }

  /** One call with a current access token; its failure as a CyphrError. */
  async call<T>(work: (auth: Auth) => Promise<T>): Promise<T> {
    try {
      return await work({ headers: { authorization: `Bearer ${await this.account.accessToken()}` } });
    } catch (err) {
      throw toCyphrError(err);
    }
  }
}
