// Flags + environment -> one typed, validated Config. Flags beat environment beat defaults.
// Validation happens once, at startup; every problem is a one-line ConfigError naming the
// variable or flag, so `aegis serve` can print it and exit 1.
import { type TransportLimits, transportLimitsFromEnv } from "./server/transport-config.js";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface Config {
  readonly policyPath: string;
  readonly host: string;
  readonly port: number;
  /** AEGIS_AUDIT_DB: a `postgres://` URL, a directory for the embedded store, or `memory:`. */
  readonly auditDb: string | undefined;
  /** DATABASE_URL; used when AEGIS_AUDIT_DB is not set. */
  readonly databaseUrl: string | undefined;
  readonly logLevel: LogLevel;
  readonly apiKey: string | undefined;
  readonly adminKey: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** Empty: CORS off. `*` allows any origin. */
  readonly corsOrigins: readonly string[];
  readonly maxBodyBytes: number;
  readonly maxBatch: number;
  /** An action's params, as JSON (AEGIS_MAX_PARAMS_BYTES). */
  readonly maxParamsBytes: number;
  /** An action's description (AEGIS_MAX_DESCRIPTION_BYTES). */
  readonly maxDescriptionBytes: number;
  /** The executor data an audit row records, as JSON (AEGIS_MAX_RESULT_BYTES). */
  readonly maxResultBytes: number;
  /** Row data one audit page carries (AEGIS_MAX_AUDIT_PAGE_BYTES). */
  readonly maxAuditPageBytes: number;
  readonly approvalTimeoutMs: number;
  /** Timeouts and caps of the listener (src/server/transport-config.ts). */
  readonly transport: TransportLimits;
}

export const DEFAULTS = {
  policyPath: "./policy.yaml",
  host: "127.0.0.1",
  port: 8000,
  logLevel: "warn",
  maxBodyBytes: 1024 * 1024,
  maxBatch: 1000,
  maxParamsBytes: 256 * 1024,
  maxDescriptionBytes: 16 * 1024,
  maxResultBytes: 256 * 1024,
  maxAuditPageBytes: 4 * 1024 * 1024,
  approvalTimeoutMs: 30_000,
} as const;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** What `aegis serve` accepts on its command line. */
export interface ServeFlags {
  readonly policy?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly help?: boolean | undefined;
}

/** Parses `[POLICY] [--host H] [--port P]` (also `--host=H`). */
export function parseServeArgs(args: readonly string[]): ServeFlags {
  const out: { policy?: string; host?: string; port?: string; help?: boolean } = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--help" || arg === "-h") {
      out.help = true;
      continue;
    }
    const m = /^--(host|port)(?:=(.*))?$/.exec(arg);
    if (m) {
      const name = m[1] as "host" | "port";
      let value = m[2];
      if (value === undefined) {
        value = args[++i];
        if (value === undefined) throw new ConfigError(`--${name} needs a value`);
      }
      out[name] = value;
      continue;
    }
    if (arg.startsWith("-") && arg !== "-") throw new ConfigError(`unknown option ${arg}`);
    if (out.policy !== undefined) throw new ConfigError(`unexpected argument ${arg} (one policy file only)`);
    out.policy = arg;
  }
  return out;
}

const LEVELS: Record<string, LogLevel> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
  fatal: "fatal",
  critical: "fatal",
  silent: "silent",
};

/** Seed names (DEBUG, INFO, WARNING, ERROR, any case) and pino names. */
export function parseLogLevel(value: string): LogLevel | undefined {
  return LEVELS[value.trim().toLowerCase()];
}

function nonEmpty(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v;
}

function integer(value: string, name: string, min: number, max: number): number {
  const t = value.trim();
  if (!/^\d+$/.test(t))
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${value}"`);
  const n = Number(t);
  if (n < min || n > max)
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${value}"`);
  return n;
}

export function loadConfig(flags: ServeFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const policyPath = flags.policy ?? nonEmpty(env, "AEGIS_POLICY_PATH") ?? DEFAULTS.policyPath;

  const hostRaw = flags.host ?? nonEmpty(env, "AEGIS_HOST") ?? DEFAULTS.host;
  const host = hostRaw.trim();
  if (host === "" || /\s/.test(host))
    throw new ConfigError(`${flags.host ? "--host" : "AEGIS_HOST"} is not a valid host: "${hostRaw}"`);

  const portRaw = flags.port ?? nonEmpty(env, "AEGIS_PORT");
  const port =
    portRaw === undefined ? DEFAULTS.port : integer(portRaw, flags.port ? "--port" : "AEGIS_PORT", 0, 65535);

  // Which one wins, and the embedded default directory, is the audit layer's rule (openAuditStore).
  const auditDb = nonEmpty(env, "AEGIS_AUDIT_DB");
  const databaseUrl = nonEmpty(env, "DATABASE_URL");

  const levelRaw = nonEmpty(env, "AEGIS_LOG_LEVEL");
  let logLevel: LogLevel = DEFAULTS.logLevel;
  if (levelRaw !== undefined) {
    const l = parseLogLevel(levelRaw);
    if (!l)
      throw new ConfigError(
        `AEGIS_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR (or a pino level), got "${levelRaw}"`,
      );
    logLevel = l;
  }

  const apiKey = nonEmpty(env, "AEGIS_API_KEY");
  const adminKey = nonEmpty(env, "AEGIS_ADMIN_KEY");

  const tlsCert = nonEmpty(env, "AEGIS_TLS_CERT");
  const tlsKey = nonEmpty(env, "AEGIS_TLS_KEY");
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError("AEGIS_TLS_CERT and AEGIS_TLS_KEY must be set together");
  }

  const corsRaw = nonEmpty(env, "AEGIS_CORS_ORIGINS");
  const corsOrigins =
    corsRaw === undefined
      ? []
      : corsRaw
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "");
  for (const o of corsOrigins) {
    if (o !== "*" && !/^https?:\/\/[^/\s]+$/.test(o)) {
      throw new ConfigError(
        `AEGIS_CORS_ORIGINS: "${o}" is not an origin like https://app.example.com (or *)`,
      );
    }
  }

  const bodyRaw = nonEmpty(env, "AEGIS_MAX_BODY_BYTES");
  const maxBodyBytes =
    bodyRaw === undefined ? DEFAULTS.maxBodyBytes : integer(bodyRaw, "AEGIS_MAX_BODY_BYTES", 1, 2 ** 31 - 1);
  const batchRaw = nonEmpty(env, "AEGIS_MAX_BATCH");
  const maxBatch =
    batchRaw === undefined ? DEFAULTS.maxBatch : integer(batchRaw, "AEGIS_MAX_BATCH", 1, 1_000_000);

  const bytes = (name: string, fallback: number): number => {
    const raw = nonEmpty(env, name);
    return raw === undefined ? fallback : integer(raw, name, 1, 2 ** 31 - 1);
  };
  const maxParamsBytes = bytes("AEGIS_MAX_PARAMS_BYTES", DEFAULTS.maxParamsBytes);
  const maxDescriptionBytes = bytes("AEGIS_MAX_DESCRIPTION_BYTES", DEFAULTS.maxDescriptionBytes);
  const maxResultBytes = bytes("AEGIS_MAX_RESULT_BYTES", DEFAULTS.maxResultBytes);
  const maxAuditPageBytes = bytes("AEGIS_MAX_AUDIT_PAGE_BYTES", DEFAULTS.maxAuditPageBytes);

  const approvalRaw = nonEmpty(env, "AEGIS_APPROVAL_TIMEOUT");
  let approvalTimeoutMs: number = DEFAULTS.approvalTimeoutMs;
  if (approvalRaw !== undefined) {
    const s = Number(approvalRaw.trim());
    if (!Number.isFinite(s) || s <= 0 || approvalRaw.trim() === "") {
      throw new ConfigError(
        `AEGIS_APPROVAL_TIMEOUT must be a positive number of seconds, got "${approvalRaw}"`,
      );
    }
    approvalTimeoutMs = Math.round(s * 1000);
  }

  return {
    policyPath,
    host,
    port,
    auditDb,
    databaseUrl,
    logLevel,
    apiKey,
    adminKey,
    tlsCert,
    tlsKey,
    corsOrigins,
    maxBodyBytes,
    maxBatch,
    maxParamsBytes,
    maxDescriptionBytes,
    maxResultBytes,
    maxAuditPageBytes,
    approvalTimeoutMs,
    transport: transportLimitsFromEnv(env, ConfigError),
  };
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\./.test(h) || h === "::ffff:127.0.0.1";
}
