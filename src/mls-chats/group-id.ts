/** The MLS group_id of a chat: the 16 bytes of its UUID. */
export function mlsGroupId(chatId: string): Uint8Array {
  return Uint8Array.from(Buffer.from(chatId.replaceAll("-", ""), "hex"));
}
