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

  it.each([
    ["an HTTP/1.1 reset (connect-node aborts with ABORTED)", () => new ConnectError("read ECONNRESET", Code.Aborted)],
    ["an HTTP/2 close (a plain DOMException)", () => new DOMException("This operation was aborted", "AbortError")],
  ])("a socket error after the client went away, %s, is logged CANCELED, not a database outage", async (_name, reason) => {
    const lines: { code?: string }[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const client = createClient(
      IdentityService,
      createRouterTransport(
        (router) =>
          router.service(IdentityService, {
            async checkAvailability() {
              // The client is gone by now (the signal below); the handler's next socket operation fails.
              await new Promise((resolve) => setTimeout(resolve, 20));
              throw withCode("read ECONNRESET", "ECONNRESET");
            },
          }),
        {
          router: {
            interceptors: [
              // Stands for the transport: the call's signal, aborted with the reason it gives as the client goes away.
              (next) => async (req) => {
                const gone = new AbortController();
                setTimeout(() => gone.abort(reason()), 5);
                return next({ ...req, signal: gone.signal });
              },
              observe(log),
            ],
          },
        },
      ),
    );
    await client.checkAvailability({ cyphrId: "alice" }).catch(() => undefined);
    expect(lines.filter((l) => l.code !== undefined).map((l) => l.code)).toEqual(["Canceled"]);
  });

  it("anything unexpected is a bare INTERNAL", async () => {
    expect(await codeOf(() => new Error("secret detail"))).toEqual({ code: Code.Internal, message: "internal error" });
  });
});
