// The storage section of the configuration: which database (DESIGN §5). Which of the two
// variables wins, and the embedded default directory, is database.ts's rule (resolveTarget).
import { type Env, text } from "../config-env.js";
import type { StorageConfig } from "./database.js";

export type { StorageConfig };

export const STORAGE_DEFAULTS: StorageConfig = { auditDb: undefined, databaseUrl: undefined };

/** AEGIS_AUDIT_DB, DATABASE_URL. */
export function storageConfigFromEnv(env: Env): StorageConfig {
  return { auditDb: text(env, "AEGIS_AUDIT_DB"), databaseUrl: text(env, "DATABASE_URL") };
}
