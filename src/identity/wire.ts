import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { SessionTokensSchema } from "../gen/cyphr/identity/v1/identity_pb.js";
import type { SessionTokens } from "./context.js";

/** A session's tokens as the wire carries them (identity.v1.SessionTokens), for every service that starts a session. */
export function sessionMessage(tokens: SessionTokens): MessageInitShape<typeof SessionTokensSchema> {
  return {
    sessionId: tokens.sessionId,
    accessToken: tokens.accessToken,
    accessTokenExpiresAt: timestampFromDate(tokens.accessTokenExpiresAt),
    refreshToken: tokens.refreshToken,
    refreshTokenExpiresAt: timestampFromDate(tokens.refreshTokenExpiresAt),
  };
}
