// The audit trail: its vocabulary, the store over the process's database, its migrations,
// redaction and the group-commit writer.
export type {
  AuditStore,
  NewAuditRow,
  RowCompletion,
  StoredStatus,
  StoreHealth,
  StoreKind,
  UnacknowledgedWrite,
} from "./audit-store.js";
export { BatchWriter, type BatchWriterOptions, type WriterStats } from "./batch-writer.js";
export { AUDIT_MIGRATIONS } from "./migrations.js";
export {
  type AuditStoreConfig,
  createEmbeddedStore,
  createEmbeddedStoreOn,
  createPostgresStore,
  openAuditStore,
} from "./open-audit-store.js";
export { REDACTED, redact, redactParams, SECRET_KEY_MARKERS } from "./redact.js";
export { SqlAuditStore } from "./sql-audit-store.js";
export * from "./types.js";
