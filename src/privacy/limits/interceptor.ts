import type { Interceptor } from "@connectrpc/connect";
import { callerKey } from "../../rpc/caller.js";
import { peerAddressKey, type SourcePolicy } from "../../rpc/peer.js";
import type { RateLimits } from "./limits.js";
import type { SharedRateLimiter } from "./shared-limiter.js";

/** The unary RPCs limited across instances, and by what (src/privacy/limits/limits.ts). */
const LIMITED: Record<
  string,
  (limits: RateLimits) => { source?: RateLimits[keyof RateLimits]; caller?: RateLimits[keyof RateLimits]; account?: RateLimits[keyof RateLimits] }
> = {
  "cyphr.identity.v1.IdentityService/Register": (l) => ({ source: l.register }),
  "cyphr.identity.v1.IdentityService/CreateChallenge": (l) => ({ source: l.create_challenge }),
  "cyphr.identity.v1.IdentityService/Login": (l) => ({ source: l.login, account: l.login_account }),
  "cyphr.account.v1.AccountService/CreateRecoveryChallenge": (l) => ({ source: l.recovery }),
  "cyphr.account.v1.AccountService/RecoverAccount": (l) => ({ source: l.recovery, account: l.recovery_account }),
  "cyphr.identity.v1.IdentityService/SearchUsers": (l) => ({ caller: l.search_users }),
  "cyphr.mls.v1.KeyPackagesService/ClaimKeyPackages": (l) => ({ caller: l.key_package_claims }),
};

/**
 * Spends the shared rate limits of the methods above before their handler runs: by source
 * address (read as DEVICE_LINK_SOURCE says), by caller, and for Login and RecoverAccount
 * by the Cyphr ID tried. Goes after the authentication interceptor, which names the caller.
 */
export function sharedRateLimits(limiter: SharedRateLimiter, limits: RateLimits, sourcePolicy: SourcePolicy): Interceptor {
  return (next) => async (req) => {
    const specs = LIMITED[`${req.service.typeName}/${req.method.name}`]?.(limits);
    if (specs) {
      if (specs.source) await limiter.spend(specs.source, sourceOf(req.header, req.contextValues.get(peerAddressKey), sourcePolicy));
      const caller = req.contextValues.get(callerKey);
      if (specs.caller && caller) await limiter.spend(specs.caller, caller.userId);
      const cyphrId = (req.message as { cyphrId?: unknown }).cyphrId;
      if (specs.account && typeof cyphrId === "string" && cyphrId !== "") await limiter.spend(specs.account, cyphrId);
    }
    return next(req);
  };
}

function sourceOf(header: Headers, peer: string, policy: SourcePolicy): string {
  if (policy === "last-forwarded-for") {
    const last = (header.get("x-forwarded-for") ?? "")
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean)
      .at(-1);
    if (last) return last;
  }
  return peer;
}
