import { type ConnectRouter, createMethodImplSpec, createServiceImplSpec, type MethodImplSpec } from "@connectrpc/connect";

/** A unary method with the implementation the router serves it with. */
export type UnaryMethodSpec = MethodImplSpec & { kind: "unary" };

/** Unary methods by request path ("/package.Service/Method"). */
export type UnaryMethods = ReadonlyMap<string, UnaryMethodSpec>;

/**
 * The router, recording into `into` every unary method registered on it, with the same
 * implementation objects, so the unary fast path (src/rpc/unary/) runs exactly what connect-es
 * runs, and serves a method added to a service without any code of its own. A service
 * registered with options of its own (interceptors, limits) stays with connect-es alone.
 */
export function recordingUnaryMethods(router: ConnectRouter, into: Map<string, UnaryMethodSpec>): ConnectRouter {
  const record = (spec: MethodImplSpec) => {
    if (spec.kind === "unary") into.set(`/${spec.method.parent.typeName}/${spec.method.name}`, spec);
  };
  const recording: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(service, implementation, options) {
      if (options === undefined) Object.values(createServiceImplSpec(service, implementation).methods).forEach(record);
      router.service(service, implementation, options);
      return recording;
    },
    rpc(method, impl, options) {
      if (options === undefined) record(createMethodImplSpec(method, impl));
      router.rpc(method, impl, options);
      return recording;
    },
  };
  return recording;
}
