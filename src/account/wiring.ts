import type { DatabasePool } from "slonik";
import type { Config } from "../config.js";
import type { IdentityContext } from "../identity/context.js";
import { purgeEndedQuarantines } from "../identity/quarantine.js";
import { inBatches } from "../jobs/batches.js";
import type { Jobs } from "../jobs/jobs.js";
import { purgeAccountChallenges } from "./challenges.js";
import type { AccountContext } from "./context.js";
import { PinHashing } from "./pin-hash.js";
import { requireLoginCode } from "./totp.js";
import { loadTotpKey } from "./totp-key.js";

/** Builds the account lifecycle's context and makes Login ask it for the second factor. */
export async function createAccountContext(config: Config, pool: DatabasePool, identity: IdentityContext): Promise<AccountContext> {
  const account: AccountContext = {
    pool,
    identity,
    pinHashing: new PinHashing({
      memoryKib: config.pinArgon2MemoryKib,
      timeCost: config.pinArgon2TimeCost,
      parallelism: config.pinArgon2Parallelism,
    }),
    totpKey: await loadTotpKey(config.dataDir, config.totpKeyFile),
    idQuarantineDays: config.idQuarantineDays,
    now: () => Date.now(),
  };
  identity.requireSecondFactor = (userId, code) => requireLoginCode(account, userId, code);
  return account;
}

/** The account lifecycle's purges: spent or expired nonces, ended Cyphr ID quarantines. */
export function registerAccountJobs(jobs: Jobs, pool: DatabasePool): void {
  jobs.register({ name: "account.challenges", intervalMs: 60_000, run: (now) => inBatches(1000, (batch) => purgeAccountChallenges(pool, now, batch)) });
  jobs.register({ name: "account.quarantines", intervalMs: 60 * 60_000, run: (now) => inBatches(1000, (batch) => purgeEndedQuarantines(pool, now, batch)) });
}
