// The server section of the configuration: where to listen, the log level, keys, TLS, CORS and
// the transport's limits (transport-config.ts).
import { ConfigError, type Env, integer, integerVar, text } from "../config-env.js";
import { TRANSPORT_DEFAULTS, type TransportLimits, transportLimitsFromEnv } from "./transport-config.js";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  readonly apiKey: string | undefined;
  readonly adminKey: string | undefined;
  /** AEGIS_KEYS_FILE: named principals with roles (identity/keys-file.ts). */
  readonly keysFile: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** Empty: CORS off. `*` allows any origin. */
  readonly corsOrigins: readonly string[];
  readonly maxBodyBytes: number;
  /** Timeouts and caps of the listener. */
  readonly transport: TransportLimits;
}

export const SERVER_DEFAULTS: ServerConfig = {
  host: "127.0.0.1",
  port: 8000,
  logLevel: "warn",
  apiKey: undefined,
  adminKey: undefined,
  keysFile: undefined,
  tlsCert: undefined,
  tlsKey: undefined,
  corsOrigins: [],
  maxBodyBytes: 1024 * 1024,
  transport: TRANSPORT_DEFAULTS,
};

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

/** What the command line may set (flags beat the environment). */
export interface ServerFlags {
  readonly host?: string | undefined;
  readonly port?: string | undefined;
}

export function serverConfigFromEnv(env: Env, flags: ServerFlags = {}): ServerConfig {
  const d = SERVER_DEFAULTS;
  const hostRaw = flags.host ?? text(env, "AEGIS_HOST") ?? d.host;
  const host = hostRaw.trim();
  if (host === "" || /\s/.test(host)) {
    throw new ConfigError(`${flags.host ? "--host" : "AEGIS_HOST"} is not a valid host: "${hostRaw}"`);
  }
  const portRaw = flags.port ?? text(env, "AEGIS_PORT");
  const port =
    portRaw === undefined ? d.port : integer(portRaw, flags.port ? "--port" : "AEGIS_PORT", 0, 65535);

  const levelRaw = text(env, "AEGIS_LOG_LEVEL");
  let logLevel = d.logLevel;
  if (levelRaw !== undefined) {
    const l = parseLogLevel(levelRaw);
    if (!l) {
      throw new ConfigError(
        `AEGIS_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR (or a pino level), got "${levelRaw}"`,
      );
    }
    logLevel = l;
  }

  const tlsCert = text(env, "AEGIS_TLS_CERT");
  const tlsKey = text(env, "AEGIS_TLS_KEY");
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError("AEGIS_TLS_CERT and AEGIS_TLS_KEY must be set together");
  }

  const corsRaw = text(env, "AEGIS_CORS_ORIGINS");
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

  return {
    host,
    port,
    logLevel,
    apiKey: text(env, "AEGIS_API_KEY"),
    adminKey: text(env, "AEGIS_ADMIN_KEY"),
    keysFile: text(env, "AEGIS_KEYS_FILE"),
    tlsCert,
    tlsKey,
    corsOrigins,
    maxBodyBytes: integerVar(env, "AEGIS_MAX_BODY_BYTES", d.maxBodyBytes, 1, 2 ** 31 - 1),
    transport: transportLimitsFromEnv(env, ConfigError),
  };
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\./.test(h) || h === "::ffff:127.0.0.1";
}
