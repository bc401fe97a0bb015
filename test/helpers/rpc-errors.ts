import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";

/**
 * Awaits a call that must fail and checks its status code and message. A string must
 * occur in the message; a RegExp must match it. Returns the error for further checks.
 */
export async function expectRpcError(call: Promise<unknown>, code: Code, message: string | RegExp): Promise<ConnectError> {
  const error: unknown = await call.then(
    () => {
      throw new Error(`expected the call to fail with ${Code[code]}, but it succeeded`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  const { code: actual, rawMessage } = error as ConnectError;
  // Compared together, by name, so that a failure shows both the code and the message.
  expect({ code: Code[actual], message: rawMessage }).toEqual({
    code: Code[code],
    message: typeof message === "string" ? expect.stringContaining(message) : expect.stringMatching(message),
  });
  return error as ConnectError;
}
