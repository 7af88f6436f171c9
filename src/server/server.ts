// Composition of one Aegis server: policy holder + governance service + audit backend + request
// handler + listener, with the startup checks and the graceful shutdown of DESIGN §2 and §6.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { openAuditStore } from "../audit/index.js";
import { type Config, DEFAULTS, isLoopback } from "../config.js";
import { AegisError } from "../errors.js";
import { createAuditService } from "../governance/execute.js";
import { type AuditBackend, GovernanceService, PolicyHolder } from "../governance/index.js";
import type { ApprovalHandler, Executor } from "../governance/types.js";
import { Authenticator } from "./auth.js";
import { Cors } from "./cors.js";
import { createRequestHandler, type NodeHandler } from "./handler.js";
import { HealthState } from "./health.js";
import { type BoundAddress, Listener } from "./listener.js";
import { createLogger, type Logger } from "./logger.js";

export interface AegisServerOptions {
  /** Policy file; default `config.policyPath`. */
  readonly policyPath?: string | undefined;
  /** Audit store: a `postgres://` URL, a directory (embedded store) or `memory:`; default `config.auditDb`. */
  readonly auditDb?: string | undefined;
  readonly executor?: Executor | undefined;
  readonly approvalHandler?: ApprovalHandler | undefined;
  /** A ready audit backend (overrides `auditDb`); `false` runs without one (evaluate only). */
  readonly audit?: AuditBackend | false | undefined;
  /** Everything else of DESIGN §6; omitted fields take their defaults (not the environment). */
  readonly config?: Partial<Config> | undefined;
  readonly logger?: Logger | undefined;
  /** Watch the policy file and reload on SIGHUP (default true). */
  readonly watchPolicy?: boolean | undefined;
}

export interface AegisServer {
  /** Resolves with the bound address (use port 0 for a free port). */
  listen(options?: { host?: string; port?: number }): Promise<BoundAddress>;
  /** Graceful: NOT_SERVING, stop accepting, finish in-flight requests (10 s at most), flush audit. */
  close(): Promise<void>;
  /** The Node request handler (http and http2 compatible) for embedding in your own server. */
  readonly handler: NodeHandler;
  readonly governance: GovernanceService;
  readonly logger: Logger;
}

export function resolveConfig(partial: Partial<Config> = {}): Config {
  return {
    policyPath: DEFAULTS.policyPath,
    host: DEFAULTS.host,
    port: DEFAULTS.port,
    auditDb: undefined,
    databaseUrl: undefined,
    logLevel: DEFAULTS.logLevel,
    apiKey: undefined,
    adminKey: undefined,
    tlsCert: undefined,
    tlsKey: undefined,
    corsOrigins: [],
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    maxBatch: DEFAULTS.maxBatch,
    approvalTimeoutMs: DEFAULTS.approvalTimeoutMs,
    ...partial,
  };
}

export const SHUTDOWN_GRACE_MS = 10_000;

export async function createAegisServer(options: AegisServerOptions = {}): Promise<AegisServer> {
  const config = resolveConfig({
    ...options.config,
    ...(options.policyPath !== undefined ? { policyPath: options.policyPath } : {}),
    ...(options.auditDb !== undefined ? { auditDb: options.auditDb } : {}),
  });
  const logger = options.logger ?? createLogger(config.logLevel);

  const holder = await PolicyHolder.fromFile(config.policyPath, { logger });
  const sessionId = randomBytes(6).toString("hex");

  let audit: AuditBackend | undefined;
  if (options.audit) audit = options.audit;
  else if (options.audit !== false) {
    const store = await openAuditStore({ auditDb: config.auditDb, databaseUrl: config.databaseUrl });
    audit = createAuditService({
      store,
      executor: options.executor,
      approvalHandler: options.approvalHandler,
      approvalTimeoutMs: config.approvalTimeoutMs,
      sessionId,
      logger,
    });
    logger.info({ audit: store.location, kind: store.kind }, "audit store opened");
  }

  const governance = new GovernanceService({ policy: holder, maxBatch: config.maxBatch, audit, sessionId });
  const health = new HealthState(governance);
  const auth = new Authenticator({ apiKey: config.apiKey, adminKey: config.adminKey });
  const rh = createRequestHandler({
    governance,
    health,
    auth,
    cors: new Cors(config.corsOrigins),
    logger,
    maxBodyBytes: config.maxBodyBytes,
  });

  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (config.tlsCert !== undefined && config.tlsKey !== undefined) {
    const read = async (path: string, name: string) => {
      try {
        return await readFile(path);
      } catch (err) {
        throw new AegisError("invalid_argument", `${name}: cannot read ${path}: ${(err as Error).message}`);
      }
    };
    tls = {
      cert: await read(config.tlsCert, "AEGIS_TLS_CERT"),
      key: await read(config.tlsKey, "AEGIS_TLS_KEY"),
    };
  }

  if (options.watchPolicy !== false) holder.watch();
  void health.refresh().catch(() => undefined);
  health.startPolling();

  let listener: Listener | undefined;
  let closing: Promise<void> | undefined;

  return {
    handler: rh.handler,
    governance,
    logger,
    async listen(opts = {}) {
      if (listener) throw new Error("already listening");
      const host = opts.host ?? config.host;
      const port = opts.port ?? config.port;
      const l = new Listener({ handler: rh.handler, tls });
      let bound: BoundAddress;
      try {
        bound = await l.listen(host, port);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EADDRINUSE")
          throw new AegisError("unavailable", `port ${port} on ${host} is already in use`);
        if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
          throw new AegisError("invalid_argument", `cannot bind to host ${host}: address not available`);
        }
        if (code === "EACCES")
          throw new AegisError("permission_denied", `no permission to bind ${host}:${port}`);
        throw err;
      }
      listener = l;
      if (!auth.open && config.apiKey === undefined && !isLoopback(host)) {
        logger.error(
          { host },
          "SECURITY WARNING: bound beyond loopback with AEGIS_ADMIN_KEY but no AEGIS_API_KEY: evaluate, execute and audit are open to anyone who can reach this port",
        );
      }
      if (auth.open) {
        if (isLoopback(host)) {
          logger.warn(
            {},
            "development mode: AEGIS_API_KEY and AEGIS_ADMIN_KEY are not set, every route is open",
          );
        } else {
          logger.error(
            { host },
            "SECURITY WARNING: bound beyond loopback with no AEGIS_API_KEY or AEGIS_ADMIN_KEY: anyone who can reach this port can change the policy and run actions",
          );
        }
      }
      return bound;
    },
    close() {
      if (!closing) {
        closing = (async () => {
          health.beginShutdown();
          rh.beginShutdown();
          await listener?.close(SHUTDOWN_GRACE_MS);
          await governance.close();
        })();
      }
      return closing;
    },
  };
}
