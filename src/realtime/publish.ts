import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Db } from "../db/types.js";
import { notify } from "../events/notify.js";
import { ServerFrameSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";

type FrameEvent = MessageInitShape<typeof ServerFrameSchema>["event"];

export interface EphemeralTarget {
  users: readonly string[];
  /** Only the streams of this session. */
  onlySession?: string;
  /** Not the streams of this session. */
  exceptSession?: string;
}

/** Sends an ephemeral frame (never stored) to the streams of `users` on every instance. */
export async function publishEphemeral(db: Db, target: EphemeralTarget, event: FrameEvent): Promise<void> {
  if (target.users.length === 0) return;
  const frame = create(ServerFrameSchema, { time: timestampFromMs(Date.now()), event });
  await notify(db, [{ type: "ephemeral", frame, ...target, users: [...target.users] }]);
}
