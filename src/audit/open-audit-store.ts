// Chooses and opens the audit backend (DESIGN §5):
//   AEGIS_AUDIT_DB holding a postgres:// URL                   -> PostgreSQL (pg pool)
//   else DATABASE_URL                                         -> PostgreSQL
//   else AEGIS_AUDIT_DB = a directory (default ./.aegis/audit) -> embedded PGlite, locked
//   AEGIS_AUDIT_DB = memory:                                   -> embedded, throwaway
// DATABASE_URL beats an AEGIS_AUDIT_DB directory on purpose: the Docker image sets
// AEGIS_AUDIT_DB=/app/data/audit as its default, and `DATABASE_URL=...` (docker-compose) must
// still switch it to PostgreSQL.
import { AegisError } from "../errors.js";
import type { AuditStore } from "./audit-store.js";
import { createEmbeddedStore, DEFAULT_EMBEDDED_DIR } from "./embedded/embedded-store.js";
import { createPostgresStore, isPostgresUrl } from "./postgres/postgres-store.js";

export interface AuditStoreConfig {
  /** AEGIS_AUDIT_DB / createServer's `auditDb`: a directory, `memory:` or a postgres:// URL. */
  readonly auditDb?: string | undefined;
  /** DATABASE_URL. */
  readonly databaseUrl?: string | undefined;
  /** Apply migrations (default true). */
  readonly migrate?: boolean;
  readonly onIdleError?: (err: Error) => void;
}

export type AuditTarget = { kind: "postgres"; url: string } | { kind: "embedded"; location: string };

export function resolveAuditTarget(config: AuditStoreConfig): AuditTarget {
  const auditDb = config.auditDb?.trim() || undefined;
  const databaseUrl = config.databaseUrl?.trim() || undefined;
  if (auditDb !== undefined && isPostgresUrl(auditDb)) return { kind: "postgres", url: auditDb };
  if (databaseUrl !== undefined) return { kind: "postgres", url: databaseUrl };
  return { kind: "embedded", location: auditDb ?? DEFAULT_EMBEDDED_DIR };
}

/**
 * Opens the store and applies migrations. The embedded store fails here when its directory is
 * locked or is a file. The PostgreSQL store opens even when the database is down (it connects
 * lazily and the server is simply not ready); only a failed migration on a reachable database,
 * or a bad URL, throws.
 */
export async function openAuditStore(config: AuditStoreConfig): Promise<AuditStore> {
  const target = resolveAuditTarget(config);
  const store =
    target.kind === "postgres"
      ? createPostgresStore(
          config.onIdleError === undefined
            ? { url: target.url }
            : { url: target.url, onIdleError: config.onIdleError },
        )
      : await createEmbeddedStore({ location: target.location });
  if (config.migrate !== false) {
    try {
      await store.migrate();
    } catch (err) {
      // PostgreSQL down at startup: keep the store; the audit service retries the migrations
      // until the database answers, and the server is not ready meanwhile.
      if (target.kind === "postgres" && err instanceof AegisError && err.code === "unavailable") return store;
      await store.close().catch(() => undefined);
      throw err;
    }
  }
  return store;
}
