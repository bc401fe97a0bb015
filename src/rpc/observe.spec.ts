import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { IdentityService } from "../gen/cyphr/identity/v1/identity_pb.js";
import { observe } from "./observe.js";

/** A client of one IdentityService whose CheckAvailability throws `error`, behind observe(). */
function clientThrowing(error: () => unknown) {
  const transport = createRouterTransport(
    (router) =>
      router.service(IdentityService, {
        checkAvailability() {
          throw error();
        },
      }),
    { router: { interceptors: [observe(pino({ level: "silent" }))] } },
  );
  return createClient(IdentityService, transport);
}

async function codeOf(error: () => unknown): Promise<{ code: Code; message: string }> {
  const failure = await clientThrowing(error)
    .checkAvailability({ cyphrId: "alice" })
    .then(() => undefined, ConnectError.from);
  if (!failure) throw new Error("the call succeeded");
  return { code: failure.code, message: failure.rawMessage };
}

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe("observe: how a handler's failure ends the call", () => {
  it.each([
    ["a PostgreSQL socket reset mid-query (read ECONNRESET)", () => withCode("read ECONNRESET", "ECONNRESET")],
    ["a write to a dead PostgreSQL socket (EPIPE)", () => withCode("write EPIPE", "EPIPE")],
    ["a reset wrapped by the query layer", () => new Error("query failed", { cause: withCode("read ECONNRESET", "ECONNRESET") })],
  ])("%s answers UNAVAILABLE, not a hang-up, while the client is still there", async (_name, error) => {
    expect(await codeOf(error)).toEqual({ code: Code.Unavailable, message: expect.stringContaining("database temporarily unavailable") });
  });

  it("a stream the client closed early (premature close) ends CANCELED", async () => {
    expect((await codeOf(() => withCode("Premature close", "ERR_STREAM_PREMATURE_CLOSE"))).code).toBe(Code.Canceled);
  });

  it("anything unexpected is a bare INTERNAL", async () => {
    expect(await codeOf(() => new Error("secret detail"))).toEqual({ code: Code.Internal, message: "internal error" });
  });
});
