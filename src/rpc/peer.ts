import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/**
 * The network address the call came from (the TCP peer; behind a proxy, the proxy). Kept
 * in memory for per-source limits only: never logged, never stored (store a keyed hash).
 */
export const peerAddressKey = createContextKey<string>("", { description: "the call's peer address" });

/**
 * Where the caller's address is read: the TCP peer, or (behind a proxy that appends the
 * address it saw, as Envoy does with use_remote_address) the last X-Forwarded-For entry.
 */
export type SourcePolicy = "peer" | "last-forwarded-for";

export function peerAddress(context: HandlerContext): string {
  return context.values.get(peerAddressKey);
}

/** The caller's address under `policy`; the TCP peer when the header is absent. */
export function sourceAddress(context: HandlerContext, policy: SourcePolicy): string {
  if (policy === "last-forwarded-for") {
    const entries = (context.requestHeader.get("x-forwarded-for") ?? "")
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean);
    const last = entries.at(-1);
    if (last) return last;
  }
  return peerAddress(context);
}
