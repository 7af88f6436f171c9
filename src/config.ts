// The configuration: each concern's own section (defaults, validation, variable names) composed
// into one typed Config, validated once at startup. Flags beat environment beat defaults; every
// problem is a one-line ConfigError naming the variable or flag, so `aegis serve` can print it
// and exit 1. The command line itself is parsed in cli/.
import type { Env } from "./config-env.js";
import { GOVERNANCE_DEFAULTS, type GovernanceConfig, governanceConfigFromEnv } from "./governance/config.js";
import {
  SERVER_DEFAULTS,
  type ServerConfig,
  type ServerFlags,
  serverConfigFromEnv,
} from "./server/config.js";
import { STORAGE_DEFAULTS, type StorageConfig, storageConfigFromEnv } from "./storage/config.js";

export { ConfigError } from "./config-env.js";
export { isLoopback, type LogLevel, parseLogLevel } from "./server/config.js";

export type Config = ServerConfig & StorageConfig & GovernanceConfig;

export const DEFAULT_CONFIG: Config = { ...SERVER_DEFAULTS, ...STORAGE_DEFAULTS, ...GOVERNANCE_DEFAULTS };

/** What the command line of `aegis serve` sets. */
export interface ConfigFlags extends ServerFlags {
  readonly policy?: string | undefined;
}

export function loadConfig(flags: ConfigFlags = {}, env: Env = process.env): Config {
  const governance = governanceConfigFromEnv(env);
  return {
    ...serverConfigFromEnv(env, flags),
    ...storageConfigFromEnv(env),
    ...governance,
    policyPath: flags.policy ?? governance.policyPath,
  };
}
