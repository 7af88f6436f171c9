// Composition of one Aegis server: policy holder + governance service + audit backend + request
// handler + listener, with the startup checks and the graceful shutdown of DESIGN §2 and §6.
import { readFile } from "node:fs/promises";
import { AGENT_MIGRATIONS, AgentRegistry } from "../agents/index.js";
import { AUDIT_MIGRATIONS, SqlAuditStore } from "../audit/index.js";
import { type Config, DEFAULT_CONFIG, isLoopback } from "../config.js";
import { AegisError } from "../errors.js";
import {
  type ApprovalHandler,
  type AuditLog,
  compileText,
  createExecutePipeline,
  EmptyPolicyFile,
  type ExecutePipeline,
  type Executor,
  GovernanceService,
  type LoadedPolicyFile,
  loadPolicyFile,
  newSessionId,
  PolicyFileSource,
  PolicyHolder,
  PolicyVersions,
} from "../governance/index.js";
import { KeysSource } from "../identity/index.js";
import { POLICY_MIGRATIONS, PolicyVersionStore } from "../policy-store/index.js";
import { type Database, openMigrated, resolveTarget } from "../storage/index.js";
import { Cors } from "./cors.js";
import type { createRequestHandler, NodeHandler } from "./handler.js";
import { HealthState } from "./health.js";
import { type BoundAddress, Listener } from "./listener.js";
import { createLogger, type Logger } from "./logger.js";
import { buildRequestHandler } from "./services.js";
import { checkTransportLimits, completeTransportLimits, type TransportLimits } from "./transport-config.js";

/** Config of DESIGN §6 as a caller gives it: any fields, and any of the transport limits. */
export type ConfigInput = Partial<Omit<Config, "transport">> & {
  readonly transport?: Partial<TransportLimits> | undefined;
};

export interface AegisServerOptions {
  /** Policy file; default `config.policyPath`. */
  readonly policyPath?: string | undefined;
  /** Audit store: a `postgres://` URL, a directory (embedded store) or `memory:`; default `config.auditDb`. */
  readonly auditDb?: string | undefined;
  readonly executor?: Executor | undefined;
  readonly approvalHandler?: ApprovalHandler | undefined;
  /** A ready execute pipeline (overrides `auditDb`); `false` runs without one (evaluate only). */
  readonly pipeline?: ExecutePipeline | false | undefined;
  /** What answers audit queries beside a given `pipeline` (none: QueryAudit is unimplemented). */
  readonly auditLog?: AuditLog | undefined;
  /** Everything else of DESIGN §6; omitted fields take their defaults (not the environment). */
  readonly config?: ConfigInput | undefined;
  readonly logger?: Logger | undefined;
  /** Watch the policy file and reload it when it changes (default true). */
  readonly watchPolicy?: boolean | undefined;
}

export interface AegisServer {
  /** Resolves with the bound address (use port 0 for a free port); rejects when startup failed. */
  listen(options?: { host?: string; port?: number }): Promise<BoundAddress>;
  /** Graceful: NOT_SERVING, stop accepting, finish in-flight requests (10 s at most), flush audit. */
  close(): Promise<void>;
  /**
   * The Node request handler (http and http2 compatible) for embedding in your own server.
   * Requests that arrive while the server is still starting wait for it; if startup failed they
   * get 503 with the reason.
   */
  readonly handler: NodeHandler;
  /** Settles when the policy is loaded and the audit store is open; rejects with the startup error. */
  readonly ready: Promise<void>;
  /** The governance service; throws until `ready` has resolved. */
  readonly governance: GovernanceService;
  /** Re-reads the policy file even when unchanged (an explicit reload wins over a PUT): SIGHUP. */
  reloadPolicy(reason: string): Promise<boolean>;
  /** Re-reads AEGIS_KEYS_FILE; a broken file keeps the previous keys (SIGHUP). */
  reloadKeys(reason: string): Promise<boolean>;
  readonly logger: Logger;
}

export function resolveConfig(partial: ConfigInput = {}): Config {
  return {
    ...DEFAULT_CONFIG,
    ...partial,
    // Programmatic callers may name only the limits they change.
    transport: completeTransportLimits(partial.transport),
  };
}

export const SHUTDOWN_GRACE_MS = 10_000;

/** What startup builds; everything a running server needs. */
interface Components {
  readonly governance: GovernanceService;
  readonly health: HealthState;
  readonly keys: KeysSource;
  readonly agents: AgentRegistry | undefined;
  readonly versions: PolicyVersions | undefined;
  readonly rh: ReturnType<typeof createRequestHandler>;
  readonly tls: { cert: Buffer; key: Buffer } | undefined;
  readonly policyFile: PolicyFileSource;
  /** The database this server opened (none when given a pipeline). */
  readonly database: Database | undefined;
}

async function readTlsFile(path: string, name: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new AegisError("invalid_argument", `${name}: cannot read ${path}: ${(err as Error).message}`);
  }
}

async function start(config: Config, options: AegisServerOptions, logger: Logger): Promise<Components> {
  const usesDatabase = options.pipeline === undefined;
  let loaded: LoadedPolicyFile | undefined;
  try {
    loaded = await loadPolicyFile(config.policyPath);
  } catch (err) {
    // An empty file may be an editor's truncate-then-write: a stored version is served instead.
    if (!(err instanceof EmptyPolicyFile) || !usesDatabase) throw err;
    logger.warn({ path: config.policyPath }, "policy file is empty; serving the active stored version");
  }
  const holder = new PolicyHolder(loaded?.policy ?? compileText(""), "file");
  const tls =
    config.tlsCert !== undefined && config.tlsKey !== undefined
      ? {
          cert: await readTlsFile(config.tlsCert, "AEGIS_TLS_CERT"),
          key: await readTlsFile(config.tlsKey, "AEGIS_TLS_KEY"),
        }
      : undefined;
  const sessionId = newSessionId();

  let database: Database | undefined;
  let pipeline: ExecutePipeline | undefined;
  let auditLog: AuditLog | undefined;
  if (options.pipeline) {
    pipeline = options.pipeline;
    auditLog = options.auditLog;
  } else if (options.pipeline !== false) {
    database = await openMigrated(resolveTarget(config), {
      migrations: [...AUDIT_MIGRATIONS, ...AGENT_MIGRATIONS, ...POLICY_MIGRATIONS],
    });
    const store = new SqlAuditStore(database);
    pipeline = createExecutePipeline({
      store,
      executor: options.executor,
      approvalHandler: options.approvalHandler,
      approvalTimeoutMs: config.approvalTimeoutMs,
      maxResultBytes: config.maxResultBytes,
      sessionId,
      logger,
    });
    auditLog = store;
    logger.info({ audit: database.location, kind: database.kind }, "audit store opened");
  }

  let agents: AgentRegistry | undefined;
  let versions: PolicyVersions | undefined;
  try {
    if (database !== undefined) {
      versions = new PolicyVersions(
        new PolicyVersionStore(database),
        database,
        holder,
        config.policySource,
        logger,
      );
      await versions.start(loaded, config.policyPath);
    }
    const policyFile = new PolicyFileSource(
      config.policyPath,
      versions === undefined
        ? PolicyFileSource.holderSink(holder)
        : (l, reason, force) => versions!.activateFile(l, reason, force),
      loaded?.hash,
      { logger },
    );
    const keys = await KeysSource.open(
      { apiKey: config.apiKey, adminKey: config.adminKey },
      config.keysFile,
      logger,
    );
    if (database !== undefined) {
      agents = new AgentRegistry(database, { heartbeatTimeoutMs: config.agentHeartbeatTimeoutMs, logger });
      await agents.start();
    }
    const governance = new GovernanceService({
      policy: holder,
      versions,
      agents,
      maxBatch: config.maxBatch,
      pipeline,
      auditLog,
      sessionId,
      actionLimits: {
        maxParamsBytes: config.maxParamsBytes,
        maxDescriptionBytes: config.maxDescriptionBytes,
      },
      maxAuditPageBytes: config.maxAuditPageBytes,
    });
    const health = new HealthState(governance);
    const rh = buildRequestHandler({
      governance,
      health,
      agents,
      keys: () => keys.current,
      cors: new Cors(config.corsOrigins),
      logger,
      maxBodyBytes: config.maxBodyBytes,
    });
    if (options.watchPolicy !== false) {
      policyFile.watch();
      keys.watch();
    }
    void health.refresh().catch(() => undefined);
    health.startPolling();
    return { governance, health, keys, agents, versions, rh, tls, policyFile, database };
  } catch (err) {
    agents?.close();
    versions?.close();
    await pipeline?.close().catch(() => undefined);
    await database?.close().catch(() => undefined);
    throw err;
  }
}

function warnAboutOpenAccess(keys: KeysSource, config: Config, host: string, logger: Logger): void {
  const auth = keys.current;
  if (!auth.open && config.apiKey === undefined && config.keysFile === undefined && !isLoopback(host)) {
    logger.error(
      { host },
      "SECURITY WARNING: bound beyond loopback with AEGIS_ADMIN_KEY but no AEGIS_API_KEY: evaluate, execute and audit are open to anyone who can reach this port",
    );
  }
  if (!auth.open) return;
  if (isLoopback(host)) {
    logger.warn({}, "development mode: AEGIS_API_KEY and AEGIS_ADMIN_KEY are not set, every route is open");
  } else {
    logger.error(
      { host },
      "SECURITY WARNING: bound beyond loopback with no AEGIS_API_KEY or AEGIS_ADMIN_KEY: anyone who can reach this port can change the policy and run actions",
    );
  }
}

async function bind(listener: Listener, host: string, port: number): Promise<BoundAddress> {
  try {
    return await listener.listen(host, port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE")
      throw new AegisError("unavailable", `port ${port} on ${host} is already in use`);
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
      throw new AegisError("invalid_argument", `cannot bind to host ${host}: address not available`);
    }
    if (code === "EACCES") throw new AegisError("permission_denied", `no permission to bind ${host}:${port}`);
    throw err;
  }
}

/**
 * Synchronous like the original's `create_app`: the returned object is usable at once (its
 * handler can be mounted right away) while the policy loads and the audit store opens; `listen`
 * and `ready` surface a startup failure.
 */
export function createAegisServer(options: AegisServerOptions = {}): AegisServer {
  const config = resolveConfig({
    ...options.config,
    ...(options.policyPath !== undefined ? { policyPath: options.policyPath } : {}),
    ...(options.auditDb !== undefined ? { auditDb: options.auditDb } : {}),
  });
  const logger = options.logger ?? createLogger(config.logLevel);

  let components: Components | undefined;
  const starting = start(config, options, logger).then((c) => {
    components = c;
    return c;
  });
  const ready = starting.then(() => undefined);
  // Rejections surface through listen()/ready/handler; never as an unhandled rejection.
  ready.catch(() => undefined);

  const handler: NodeHandler = (req, res) => {
    if (components) return components.rh.handler(req, res);
    starting.then(
      (c) => c.rh.handler(req, res),
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        res.writeHead(503, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: `server failed to start: ${message}` }));
      },
    );
  };

  let listener: Listener | undefined;
  let closing: Promise<void> | undefined;

  return {
    handler,
    ready,
    logger,
    get governance(): GovernanceService {
      if (!components) throw new Error("the server is still starting: await server.ready first");
      return components.governance;
    },
    async reloadPolicy(reason) {
      return (await starting).policyFile.reload(true, reason);
    },
    async reloadKeys(reason) {
      return (await starting).keys.reload(reason);
    },
    async listen(opts = {}) {
      const c = await starting;
      if (listener) throw new Error("already listening");
      const host = opts.host ?? config.host;
      const problem = checkTransportLimits(config.transport);
      if (problem) throw new AegisError("invalid_argument", problem);
      const l = new Listener({
        handler: c.rh.handler,
        stream: c.rh.stream,
        tls: c.tls,
        limits: config.transport,
        logger,
      });
      const bound = await bind(l, host, opts.port ?? config.port);
      listener = l;
      warnAboutOpenAccess(c.keys, config, host, logger);
      return bound;
    },
    close() {
      closing ??= starting.then(
        async (c) => {
          c.health.beginShutdown();
          c.rh.beginShutdown();
          await listener?.close(SHUTDOWN_GRACE_MS);
          c.policyFile.close();
          c.keys.close();
          c.agents?.close();
          c.versions?.close();
          await c.governance.close();
          await c.database?.close();
        },
        () => undefined, // startup failed: nothing was left open (start cleans up after itself)
      );
      return closing;
    },
  };
}
