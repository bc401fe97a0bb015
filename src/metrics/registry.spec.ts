import { describe, expect, it } from "vitest";
import { recordCall, registry, setKnownMethods } from "./registry.js";

describe("recordCall", () => {
  it("labels a served method by name and anything else as 'other', so clients cannot grow the label set", async () => {
    setKnownMethods(["cyphr.test.v1.TestService/Known"]);
    recordCall("cyphr.test.v1.TestService/Known", 0, 3);
    recordCall(`cyphr.made.up.v1.Nope/Method${Date.now()}`, 12, 1);
    const text = await registry.metrics();
    expect(text).toContain('cyphr_rpc_calls_total{method="cyphr.test.v1.TestService/Known",code="OK"} 1');
    expect(text).toContain('cyphr_rpc_calls_total{method="other",code="Unimplemented"} 1');
    expect(text).not.toContain("made.up");
  });

  it("names every status code as connect-es does, an unknown number as Unknown", async () => {
    setKnownMethods(["cyphr.test.v1.TestService/Codes"]);
    recordCall("cyphr.test.v1.TestService/Codes", 8, 1);
    recordCall("cyphr.test.v1.TestService/Codes", 99, 1);
    const text = await registry.metrics();
    expect(text).toContain('cyphr_rpc_calls_total{method="cyphr.test.v1.TestService/Codes",code="ResourceExhausted"} 1');
    expect(text).toContain('cyphr_rpc_calls_total{method="cyphr.test.v1.TestService/Codes",code="Unknown"} 1');
  });
});
