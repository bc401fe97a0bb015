import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/**
 * The network address the call came from (the TCP peer; behind a proxy, the proxy). Kept
 * in memory for per-source limits only: never logged, never stored (store a keyed hash).
 */
export const peerAddressKey = createContextKey<string>("", { description: "the call's peer address" });

export function peerAddress(context: HandlerContext): string {
  return context.values.get(peerAddressKey);
}
