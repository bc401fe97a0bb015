/** The MLS group_id of a chat: the 16 bytes of its UUID (pure: the SDK uses it too, in browsers). */
export function mlsGroupId(chatId: string): Uint8Array {
  const hex = chatId.replaceAll("-", "");
  return Uint8Array.from({ length: hex.length / 2 }, (_, i) => Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}
