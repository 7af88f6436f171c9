// The audit trail: store interface, backends, migrations, redaction and the group-commit writer.
export type {
  AuditStore,
  NewAuditRow,
  RowCompletion,
  StoredStatus,
  StoreHealth,
  StoreKind,
} from "./audit-store.js";
export { BatchWriter, type BatchWriterOptions, type WriterStats } from "./batch-writer.js";
export { acquireDirectoryLock, DirectoryLockedError } from "./embedded/dir-lock.js";
export {
  createEmbeddedStore,
  createEmbeddedStoreOn,
  DEFAULT_EMBEDDED_DIR,
  MEMORY_LOCATION,
} from "./embedded/embedded-store.js";
export { MIGRATIONS, type Migration, migrate } from "./migrations.js";
export {
  type AuditStoreConfig,
  type AuditTarget,
  openAuditStore,
  resolveAuditTarget,
} from "./open-audit-store.js";
export { createPostgresStore, isPostgresUrl, redactUrl } from "./postgres/postgres-store.js";
export { REDACTED, redact, redactParams, SECRET_KEY_MARKERS } from "./redact.js";
