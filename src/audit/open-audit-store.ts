// An audit store on a database of its own, for tools, tests and benchmarks. A server opens its
// one Database with every concern's migrations and builds the store on it (server.ts); these
// functions do the same for the audit trail alone, and the store they return owns the database.
import type { PGlite } from "@electric-sql/pglite";
import {
  createPgDriver,
  DEFAULT_EMBEDDED_DIR,
  databaseOn,
  embeddedDriverOn,
  openDatabase,
  openMigrated,
  type PostgresOptions,
  redactUrl,
  resolveTarget,
  type StorageConfig,
} from "../storage/index.js";
import type { AuditStore } from "./audit-store.js";
import { AUDIT_MIGRATIONS } from "./migrations.js";
import { SqlAuditStore } from "./sql-audit-store.js";

export interface AuditStoreConfig extends StorageConfig {
  /** Apply migrations (default true). */
  readonly migrate?: boolean;
  readonly onIdleError?: (err: Error) => void;
}

/** Opens the store and applies migrations, as storage's openMigrated does. */
export async function openAuditStore(config: AuditStoreConfig): Promise<AuditStore> {
  const options = {
    migrations: AUDIT_MIGRATIONS,
    postgres: config.onIdleError === undefined ? undefined : { onIdleError: config.onIdleError },
  };
  const target = resolveTarget(config);
  const db =
    config.migrate === false ? await openDatabase(target, options) : await openMigrated(target, options);
  return new SqlAuditStore(db, true);
}

/** The embedded store at `location` (a directory or `memory:`); migrations not applied yet. */
export async function createEmbeddedStore(options: { location?: string } = {}): Promise<AuditStore> {
  const db = await openDatabase(
    { kind: "embedded", location: options.location ?? DEFAULT_EMBEDDED_DIR },
    { migrations: AUDIT_MIGRATIONS },
  );
  return new SqlAuditStore(db, true);
}

/** A PostgreSQL store; migrations not applied yet (nothing connects until the first query). */
export function createPostgresStore(options: PostgresOptions): AuditStore {
  const db = databaseOn(createPgDriver(options), AUDIT_MIGRATIONS, "postgres", redactUrl(options.url));
  return new SqlAuditStore(db, true);
}

/**
 * A store over a PGlite instance the caller owns (close() leaves it open). With `schema`, the
 * store's tables live in that schema, so tests can share one instance and its 2-3 s cold start.
 */
export async function createEmbeddedStoreOn(
  db: PGlite,
  options: { schema?: string } = {},
): Promise<AuditStore> {
  return new SqlAuditStore(databaseOn(await embeddedDriverOn(db, options), AUDIT_MIGRATIONS), true);
}
