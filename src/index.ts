// The public surface of the `aegis-server` package: the server factory, the domain types, and the
// generated API descriptors (service, messages, enums) so a TypeScript caller can build a typed
// client with @connectrpc/connect without anything else.
import { type AegisServer, type AegisServerOptions, createAegisServer } from "./server/server.js";

/** The service descriptor, for `createClient(GovernanceService, transport)` from @connectrpc/connect. */
export { GovernanceService } from "../gen/aegis/v1/governance_service_pb.js";
/** Every generated message, enum and schema of aegis.v1, e.g. `api.RiskLevel.LOW`, `api.EvaluateRequestSchema`. */
export * as api from "./api.js";
export type { Config, LogLevel } from "./config.js";
export { ConfigError, loadConfig } from "./config.js";
export { AegisError, type ErrorCode } from "./errors.js";
export type {
  AuditLog,
  DecidedAction,
  ExecutePipeline,
  PolicySnapshot,
  PolicyUpdate,
} from "./governance/index.js";
/** The defaults of createServer: a no-op executor (`{executed: true}`) and an auto-approving handler. */
export { AutoApprovalHandler, NoopExecutor } from "./governance/index.js";
export type {
  ActionRequest,
  ApprovalHandler,
  AuditQuery,
  AuditRecord,
  EvaluateResult,
  ExecuteResult,
  ExecutionContext,
  Executor,
  ResultStatus,
} from "./governance/types.js";
export type { Approval, Decision, Policy, PolicyView, RiskLevel, RuleView } from "./policy/types.js";
export type { BoundAddress, TlsFiles } from "./server/listener.js";
export type { AegisServer, AegisServerOptions };

/**
 * Creates an Aegis server and returns at once; the policy file loads and the audit store opens in
 * the background. The object has `listen({host, port})` (resolves with the bound address, rejects
 * if startup failed), `close()` (graceful, flushes the audit queue), `ready` and the Node request
 * handler for embedding.
 *
 * ```ts
 * const server = createServer({ policyPath: "policy.yaml", auditDb: "memory:" });
 * const { url } = await server.listen({ host: "127.0.0.1", port: 8000 });
 * ```
 */
export function createServer(options: AegisServerOptions = {}): AegisServer {
  return createAegisServer(options);
}
