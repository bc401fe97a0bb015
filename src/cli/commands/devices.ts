/** devices (list, rename, remove), link and approve: the account's devices and adding one. */
import type { Command } from "commander";
import { Account } from "../../sdk/index.js";
import { action } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { formatDate } from "../output.js";
import { openProfile, transportOf } from "../profile.js";
import { qr } from "../qr.js";
import { openSession, sessionOf } from "../session.js";
import { defaultDeviceName } from "./account.js";

export function deviceCommands(program: Command): void {
  const devices = program.command("devices").description("list, rename and remove this account's devices");

  devices
    .command("list", { isDefault: true })
    .description("list the account's devices (each certificate checked against the identity key)")
    .action(
      action(async ({ globals, out }) => {
        const session = await openSession(globals.profile);
        const list = await session.account.listDevices();
        const rows = list.devices.map((d) => ({
          deviceId: d.deviceId,
          name: d.name ?? "",
          current: d.current,
          createdAt: d.createdAt?.toISOString(),
          lastActiveAt: d.lastActiveDate?.toISOString(),
        }));
        out.data({ cyphrId: list.cyphrId, devices: rows, rejected: list.rejected }, (v) => [
          ...v.devices.map(
            (d) =>
              `${d.current ? "*" : " "} ${String(d.deviceId).padStart(3)}  ${d.name || "(no name)"}  added ${formatDate(d.createdAt ? new Date(d.createdAt) : undefined)}`,
          ),
          ...v.rejected.map((id) => `! ${String(id).padStart(3)}  certificate does not verify: do not trust this device`),
        ]);
      }),
    );

  devices
    .command("rename")
    .description("give a device of this account a new name")
    .argument("<device_id>", "the device (a number from `cyphr devices`)")
    .argument("<name>", "the new name (encrypted for your devices only)")
    .action(
      action(async ({ globals, out }, id: string, name: string) => {
        const deviceId = parseDeviceId(id);
        const session = await openSession(globals.profile);
        await session.account.renameDevice(deviceId, name);
        out.data({ deviceId, name }, (v) => `Device ${v.deviceId} is now "${v.name}".`);
      }),
    );

  devices
    .command("remove")
    .description("remove a device of this account: its sessions and key packages end at once")
    .argument("<device_id>", "the device (a number from `cyphr devices`)")
    .action(
      action(async ({ globals, out }, id: string) => {
        const deviceId = parseDeviceId(id);
        const session = await openSession(globals.profile);
        await session.account.removeDevice(deviceId);
        out.data({ deviceId, removed: true }, (v) => `Removed device ${v.deviceId}.`);
      }),
    );

  program
    .command("link")
    .description("add this device to an existing account: shows a code (and QR code) to approve on one of its devices")
    .option("--no-qr", "show only the code, no QR code")
    .action(
      action(async ({ globals, out }, options: { qr: boolean }) => {
        const profile = await openProfile(globals.profile);
        const pending = await Account.beginLink({ transport: transportOf(profile), store: profile.store });
        out.data({ code: pending.code, expiresAt: pending.expiresAt?.toISOString() }, (v) => [
          "On a device of the account, run:",
          `  cyphr approve ${v.code}`,
          ...(options.qr ? ["", qr(v.code)] : []),
          `Waiting for approval${v.expiresAt ? ` (until ${formatDate(new Date(v.expiresAt))})` : ""}; Ctrl-C cancels.`,
        ]);
        const abort = new AbortController();
        const onSigint = () => abort.abort();
        process.once("SIGINT", onSigint);
        try {
          const account = await pending.wait(abort.signal);
          await sessionOf(profile, account).mls.ensureKeyPackages();
          out.data(
            { linked: true, cyphrId: account.cyphrId, deviceId: account.deviceId },
            (v) => `Linked: this is device ${v.deviceId} of ${v.cyphrId}, signed in.`,
          );
        } catch (error) {
          if (abort.signal.aborted) throw new CliError("Linking cancelled.", EXIT.interrupted);
          throw error;
        } finally {
          process.off("SIGINT", onSigint);
        }
      }),
    );

  program
    .command("approve")
    .description("approve a new device's link code: it becomes a device of this account")
    .argument("<code>", "the code `cyphr link` shows on the new device")
    .option("--device-name <name>", "the new device's name", defaultDeviceName())
    .action(
      action(async ({ globals, out }, code: string, options: { deviceName: string }) => {
        const session = await openSession(globals.profile);
        const { deviceId } = await session.account.approveLink(code.trim(), { deviceName: options.deviceName });
        out.data({ approved: true, deviceId }, (v) => `Approved: the new device is device ${v.deviceId}.`);
      }),
    );
}

function parseDeviceId(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1 || Number(text) > 0xffff_ffff) {
    throw new CliError(`Invalid device id "${text}": give the number \`cyphr devices\` shows.`, EXIT.usage);
  }
  return Number(text);
}
