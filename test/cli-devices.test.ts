import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliHome, type CliUser } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

interface History {
  messages: { sender: string; readable: boolean; text?: string; reason?: string }[];
}

describe("the cyphr CLI: linking a second device, and managing devices", () => {
  let server: TestServer;
  let home: CliHome;
  let alice: CliUser;
  let laptop: CliUser;
  let bob: CliUser;

  beforeAll(async () => {
    server = await startTestServer();
    home = await CliHome.create();
    [alice, laptop, bob] = [home.user("alice"), home.user("alice-laptop"), home.user("bob")];
    await Promise.all([alice, laptop, bob].map((u) => u.ok(["init", "--server", server.baseUrl])));
    await Promise.all([alice.ok(["register", "alice_d", "--device-name", "phone"]), bob.ok(["register", "bob_d"])]);
  }, 120_000);

  afterAll(async () => {
    await home?.remove();
    await server?.close();
  });

  it("links a new profile by its code: it becomes device 2, joins the chats and reads what comes after", async () => {
    await alice.ok(["send", "bob_d", "before the laptop"]);

    const linking = laptop.start(["--json", "link", "--no-qr"], { timeoutMs: 90_000 });
    const { code } = JSON.parse(await linking.line(/"code"/)) as { code: string };
    expect(code).toMatch(/^cyphr-link-v1\./);
    const approved = await alice.json<{ deviceId: number }>(["approve", code, "--device-name", "laptop"]);
    expect(approved.deviceId).toBe(2);
    const linked = await linking.done;
    expect(linked.code).toBe(0);
    expect(JSON.parse(linked.stdout.trim().split("\n").at(-1)!)).toEqual({ linked: true, cyphrId: "alice_d", deviceId: 2 });

    expect(await laptop.json(["whoami"])).toMatchObject({ cyphrId: "alice_d", deviceId: 2 });
    const devices = await laptop.json<{ devices: { deviceId: number; name: string; current: boolean }[] }>(["devices"]);
    expect(devices.devices.map((d) => [d.deviceId, d.name, d.current])).toEqual([
      [1, "phone", false],
      [2, "laptop", true],
    ]);

    const before = await laptop.json<History>(["history", "bob_d"]);
    expect(before.messages).toEqual([expect.objectContaining({ sender: "alice_d", readable: false, reason: "before_join" })]);
    await bob.ok(["send", "alice_d", "hello to both of alice's devices"]);
    const after = await laptop.json<History>(["history", "bob_d"]);
    expect(after.messages.at(-1)).toMatchObject({ sender: "bob_d", text: "hello to both of alice's devices" });
    const atPhone = await alice.json<History>(["history", "bob_d"]);
    expect(atPhone.messages.map((m) => m.text)).toEqual(["before the laptop", "hello to both of alice's devices"]);
  }, 240_000);

  it("renames and removes a device; the removed one is signed out", async () => {
    await alice.ok(["devices", "rename", "2", "old laptop"]);
    const renamed = await alice.json<{ devices: { deviceId: number; name: string }[] }>(["devices", "list"]);
    expect(renamed.devices.find((d) => d.deviceId === 2)?.name).toBe("old laptop");

    expect(await alice.json(["devices", "remove", "2"])).toEqual({ deviceId: 2, removed: true });
    const left = await alice.json<{ devices: { deviceId: number }[] }>(["devices"]);
    expect(left.devices.map((d) => d.deviceId)).toEqual([1]);
    const removed = await laptop.run(["chats"]);
    expect(removed.code).toBe(4);
    expect(removed.stderr).toMatch(/^cyphr: [^\n]+\n$/);
  }, 120_000);

  it("refuses a malformed link code in one line", async () => {
    const result = await alice.run(["approve", "not-a-link-code"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^cyphr: [^\n]+\n$/);
  }, 60_000);
});
