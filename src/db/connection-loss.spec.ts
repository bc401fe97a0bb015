import {
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  ConnectionError,
  IdleTransactionTimeoutError,
  SchemaValidationError,
  StatementTimeoutError,
  UniqueIntegrityConstraintViolationError,
} from "slonik";
import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "./connection-loss.js";

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
const pgError = new Error("terminating connection due to administrator command");

describe("isDatabaseUnavailable", () => {
  it.each([
    ["a connection that could not be made", new ConnectionError("connect ECONNREFUSED 127.0.0.1:5432")],
    ["a backend terminated by the server", new BackendTerminatedError(pgError)],
    ["a backend whose socket died", new BackendTerminatedUnexpectedlyError(new Error("Connection terminated unexpectedly"))],
    ["an idle-in-transaction timeout", new IdleTransactionTimeoutError(pgError)],
    ["a statement timeout", new StatementTimeoutError(pgError)],
    ["crash shutdown (57P02)", withCode("terminating connection because of crash of another server process", "57P02")],
    ["a server still starting (57P03)", withCode("the database system is starting up", "57P03")],
    ["a connection exception (08006)", withCode("connection failure", "08006")],
    ["too many connections (53300)", withCode("sorry, too many clients already", "53300")],
    ["a refused socket", withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")],
    ["a reset socket", withCode("read ECONNRESET", "ECONNRESET")],
    ["pg's dead client", new Error("Client has encountered a connection error and is not queryable")],
    ["pg's closed client", new Error("Connection terminated")],
    ["slonik's ending pool", new Error("Connection pool is being terminated.")],
    ["a loss wrapped as the cause", new Error("send failed", { cause: new BackendTerminatedError(pgError) })],
  ])("is true for %s", (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ["a unique violation", new UniqueIntegrityConstraintViolationError(Object.assign(new Error("duplicate key"), { constraint: "k" }))],
    [
      "a row that does not match its schema",
      new SchemaValidationError({ sql: "SELECT 1", values: [] }, { a: 1 }, [{ message: "Expected string", path: ["a"] }]),
    ],
    ["a syntax error (42601)", withCode("syntax error at or near", "42601")],
    ["a plain bug", new TypeError("cannot read properties of undefined")],
    ["a thrown string", "boom"],
  ])("is false for %s", (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
