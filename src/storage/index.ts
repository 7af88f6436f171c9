// The storage floor: one database per process (PostgreSQL or embedded PGlite, same SQL), the
// driver seam, the migration runner and the mapping of database faults to AegisError codes.
// Every concern that keeps state uses it; it imports nothing above itself.
export {
  DATABASE_SUBJECT,
  type Database,
  type DatabaseKind,
  type DatabaseTarget,
  databaseOn,
  type OpenOptions,
  openDatabase,
  openMigrated,
  resolveTarget,
  type StorageConfig,
} from "./database.js";
export { acquireDirectoryLock, DirectoryLockedError } from "./embedded/dir-lock.js";
export {
  DEFAULT_EMBEDDED_DIR,
  embeddedDriverOn,
  MEMORY_LOCATION,
  openEmbedded,
} from "./embedded/pglite-driver.js";
export { isConnectionError, isDataError, RETRY_AFTER_SECONDS, toDatabaseError } from "./errors.js";
export {
  MIGRATION_LOCK_KEY,
  MIGRATIONS_TABLE,
  type Migration,
  type MigrationOutcome,
  migrate,
  orderMigrations,
} from "./migrations.js";
export { createPgDriver, isPostgresUrl, type PostgresOptions, redactUrl } from "./postgres/pg-driver.js";
export type { SqlDriver, SqlRows, SqlSession } from "./sql-driver.js";
export { stringProblem, unstorableJson } from "./storable.js";
