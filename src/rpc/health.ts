import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.js";
import { quote } from "../shared/quote.js";

/**
 * Serving status of the whole server ("") and of each served service. All follow one
 * flag: whether the database answers and is migrated.
 */
export class HealthState {
  private serving = false;
  private draining = false;
  private waiters = new Set<() => void>();

  constructor(private readonly services: readonly string[]) {}

  get isServing(): boolean {
    return this.serving;
  }

  /** Shutting down: NOT_SERVING from now on, whatever the database says. */
  drain(): void {
    this.set(false);
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  set(serving: boolean): void {
    if (this.draining || serving === this.serving) return;
    this.serving = serving;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** undefined for a service this server does not know. */
  statusOf(service: string): Status | undefined {
    if (service !== "" && !this.services.includes(service)) return undefined;
    return this.serving ? Status.SERVING : Status.NOT_SERVING;
  }

  all(): Record<string, Status> {
    return Object.fromEntries(["", ...this.services].map((s) => [s, this.statusOf(s)!]));
  }

  /** Resolves at the next change of status, or when `signal` aborts. */
  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const wake = () => {
        signal.removeEventListener("abort", wake);
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
      signal.addEventListener("abort", wake, { once: true });
    });
  }
}

/** grpc.health.v1.Health: Check, List and Watch. */
export function healthService(state: HealthState): ServiceImpl<typeof Health> {
  return {
    check(req) {
      const status = state.statusOf(req.service);
      if (status === undefined) throw new ConnectError(`unknown service ${quote(req.service)}`, Code.NotFound);
      return { status };
    },
    list() {
      return { statuses: Object.fromEntries(Object.entries(state.all()).map(([name, status]) => [name, { status }])) };
    },
    async *watch(req, context) {
      let last: Status | undefined;
      while (!context.signal.aborted) {
        const status = state.statusOf(req.service) ?? Status.SERVICE_UNKNOWN;
        if (status !== last) {
          last = status;
          yield { status };
        }
        await state.changed(context.signal);
      }
    },
  };
}
