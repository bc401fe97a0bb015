import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { KeyPackageCountSchema, KeyPackagesService } from "../gen/cyphr/mls/v1/key_packages_pb.js";
import { ciphersuiteId } from "../mls/suites.js";
import { requireCaller } from "../rpc/caller.js";
import { claim } from "./claim.js";
import type { KeyPackagesContext } from "./context.js";
import { countKeyPackages, type KeyPackageCounts } from "./repo.js";
import { uploadKeyPackages } from "./upload.js";

/** Thin mapping between KeyPackagesService messages and the key package use cases. */
export function keyPackagesService(ctx: KeyPackagesContext): ServiceImpl<typeof KeyPackagesService> {
  const countsMessage = (counts: KeyPackageCounts): MessageInitShape<typeof KeyPackageCountSchema>[] =>
    ctx.ciphersuites.map((suite) => {
      const id = ciphersuiteId(suite);
      const c = counts.get(id);
      return { ciphersuite: id, oneTime: c?.oneTime ?? 0, hasLastResort: c?.hasLastResort ?? false };
    });
  return {
    async uploadKeyPackages(req, context) {
      const counts = await uploadKeyPackages(ctx, requireCaller(context), { keyPackages: req.keyPackages, lastResort: req.lastResort });
      return { counts: countsMessage(counts) };
    },
    async claimKeyPackages(req, context) {
      const claimed = await claim(ctx, requireCaller(context), { cyphrId: req.cyphrId, ciphersuite: req.ciphersuite });
      return {
        userId: claimed.userId,
        keyPackages: claimed.packages.map((p) => ({ deviceId: p.device_id, keyPackage: p.key_package, keyPackageRef: p.ref, lastResort: p.last_resort })),
        devicesWithoutKeyPackage: claimed.devicesWithout,
      };
    },
    async getKeyPackageCounts(_req, context) {
      const caller = requireCaller(context);
      const counts = await countKeyPackages(ctx.pool, caller.userId, caller.deviceId);
      return { counts: countsMessage(counts), lowThreshold: ctx.lowThreshold, maxKeyPackages: ctx.maxKeyPackages };
    },
  };
}
