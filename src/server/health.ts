// Liveness and readiness, one state for every protocol: `GET /health`, `GET /ready`,
// aegis.v1 GetHealth/GetReadiness and grpc.health.v1 (Check, Watch). Service "" is SERVING while
// the process serves; aegis.v1.GovernanceService is SERVING only while ready. Both go NOT_SERVING
// as soon as shutdown starts.
import { GovernanceService as GovernanceServiceDesc } from "../../gen/aegis/v1/governance_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { AegisError } from "../errors.js";
import type { GovernanceService, Readiness } from "../governance/index.js";
import { type ServedService, serve } from "./services/service-impl.js";

export const GOVERNANCE_SERVICE_NAME = GovernanceServiceDesc.typeName;

export class HealthState {
  private shuttingDown = false;
  private readiness: Readiness;
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<Readiness> | undefined;

  constructor(private readonly governance: GovernanceService) {
    this.readiness = {
      ready: !governance.auditConfigured,
      reason: governance.auditConfigured ? "audit store not checked yet" : "",
      components: { policy: "ok", audit: governance.auditConfigured ? "unknown" : "not_configured" },
    };
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Re-checks the audit store now; concurrent callers share one check. */
  refresh(): Promise<Readiness> {
    if (!this.refreshing) {
      this.refreshing = this.governance.readiness().then(
        (r) => {
          this.refreshing = undefined;
          const changed = r.ready !== this.readiness.ready;
          this.readiness = r;
          if (changed) this.notify();
          return r;
        },
        (err: unknown) => {
          this.refreshing = undefined;
          throw err;
        },
      );
    }
    return this.refreshing;
  }

  /** Polls readiness so gRPC Watch streams learn about an audit store going away or coming back. */
  startPolling(intervalMs = 2000): void {
    if (this.timer || !this.governance.auditConfigured) return;
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  async current(): Promise<Readiness> {
    if (this.shuttingDown) {
      return { ready: false, reason: "shutting down", components: { ...this.readiness.components } };
    }
    return this.governance.auditConfigured ? this.refresh() : this.governance.readiness();
  }

  /** The gRPC health status of `service` ("" is the whole server), or undefined if unknown. */
  status(service: string): Status | undefined {
    if (service !== "" && service !== GOVERNANCE_SERVICE_NAME) return undefined;
    if (this.shuttingDown) return Status.NOT_SERVING;
    if (service === "") return Status.SERVING;
    return this.readiness.ready ? Status.SERVING : Status.NOT_SERVING;
  }

  beginShutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    if (this.timer) clearInterval(this.timer);
    this.notify();
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private notify(): void {
    for (const fn of this.listeners) fn();
  }
}

/** grpc.health.v1.Health: Check, and Watch (a server stream that ends at shutdown). */
export function healthService(state: HealthState): ServedService {
  return serve(Health, {
    async check(req) {
      if (req.service === GOVERNANCE_SERVICE_NAME && !state.isShuttingDown)
        await state.current().catch(() => undefined);
      const status = state.status(req.service);
      if (status === undefined) throw new AegisError("not_found", `unknown service ${req.service}`);
      return { status };
    },
    async *watch(req, call) {
      // Per the health protocol, an unknown service is SERVICE_UNKNOWN on the stream, not an error.
      let last: Status | undefined;
      let wake: (() => void) | undefined;
      const off = state.onChange(() => wake?.());
      const onAbort = () => wake?.();
      const signal = call.signal;
      signal?.addEventListener("abort", onAbort);
      try {
        while (!signal?.aborted) {
          const status = state.status(req.service) ?? Status.SERVICE_UNKNOWN;
          if (status !== last) {
            last = status;
            yield { status };
          }
          if (state.isShuttingDown) return; // end the stream so the connection can drain
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      } finally {
        off();
        signal?.removeEventListener("abort", onAbort);
      }
    },
  });
}
