import { Code } from "@connectrpc/connect";
import { envelopedHello, FrameEvent, type FrameFacts, readServerFrame } from "./frame-codec.js";
import type { GrpcCall, H2Connection } from "./h2-client.js";

const CONNECT_PATH = "/cyphr.realtime.v1.RealtimeService/Connect";

/**
 * A RealtimeService.Connect stream on the load generator's raw HTTP/2 client: sends `hello`
 * (resume from the session's stored ack unless a cursor is given), hands what it reads of
 * every server frame to `onFrame`, and resolves `caughtUp` when the replay is over. `send`
 * writes enveloped client frames (frame-codec.ts).
 */
export class FrameStream {
  readonly caughtUp: Promise<void>;
  /** Resolves when the stream ends; carries the error unless we closed it. */
  readonly ended: Promise<Error | undefined>;
  private readonly call: GrpcCall;
  private closedByUs = false;

  constructor(connection: H2Connection, token: string, onFrame: (facts: FrameFacts) => void, resumeCursor?: bigint) {
    let caughtUp!: () => void;
    let failed!: (e: Error) => void;
    this.caughtUp = new Promise((resolve, reject) => ((caughtUp = resolve), (failed = reject)));
    this.caughtUp.catch(() => undefined);
    this.call = connection.call(CONNECT_PATH, token, (data) => {
      const facts = readServerFrame(data);
      if (facts.event === FrameEvent.caughtUp) caughtUp();
      onFrame(facts);
    });
    this.call.write(envelopedHello(resumeCursor));
    this.ended = this.call.status.then((status) => {
      const error = new Error(`stream ended by the server: ${Code[status.code] ?? status.code} ${status.message}`.trim());
      failed(error);
      return this.closedByUs ? undefined : error;
    });
  }

  send(enveloped: Uint8Array): void {
    this.call.write(enveloped);
  }

  close(): void {
    this.closedByUs = true;
    this.call.cancel();
  }
}
