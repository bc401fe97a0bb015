/**
 * The identity of an MLS basic credential for a Cyphr device (this is what the MLS
 * authentication service checks): the account's cyphr_id in UTF-8, one 0x00 byte, and the
 * device_id as a 32-bit big-endian integer. A leaf with this credential must sign with the
 * device signing key that the account's identity key certified for that device_id.
 */
export function deviceCredentialIdentity(cyphrId: string, deviceId: number): Uint8Array {
  const id = new TextEncoder().encode(cyphrId);
  const out = new Uint8Array(id.length + 5);
  out.set(id, 0);
  out[id.length] = 0;
  new DataView(out.buffer).setUint32(id.length + 1, deviceId, false);
  return out;
}

/** The cyphr_id and device_id a credential identity names, or undefined if it is not of that form. */
export function parseDeviceCredentialIdentity(identity: Uint8Array): { cyphrId: string; deviceId: number } | undefined {
  if (identity.length < 6 || identity[identity.length - 5] !== 0) return undefined;
  const idBytes = identity.subarray(0, identity.length - 5);
  if (idBytes.includes(0)) return undefined;
  let cyphrId: string;
  try {
    cyphrId = new TextDecoder("utf-8", { fatal: true }).decode(idBytes);
  } catch {
    return undefined;
  }
  const deviceId = new DataView(identity.buffer, identity.byteOffset + identity.length - 4, 4).getUint32(0, false);
  return { cyphrId, deviceId };
}
