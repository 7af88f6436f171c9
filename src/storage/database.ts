// The one database of a server process, shared by every concern that keeps state (the audit
// trail now; policy versions, approvals and agents as they come). Which backend (DESIGN §5):
//   AEGIS_AUDIT_DB holding a postgres:// URL                   -> PostgreSQL (pg pools)
//   else DATABASE_URL                                         -> PostgreSQL
//   else AEGIS_AUDIT_DB = a directory (default ./.aegis/audit) -> embedded PGlite, locked
//   AEGIS_AUDIT_DB = memory:                                   -> embedded, throwaway
// DATABASE_URL beats an AEGIS_AUDIT_DB directory on purpose: the Docker image sets
// AEGIS_AUDIT_DB=/app/data/audit as its default, and `DATABASE_URL=...` (docker-compose) must
// still switch it to PostgreSQL.
import { AegisError } from "../errors.js";
import { DEFAULT_EMBEDDED_DIR, openEmbedded } from "./embedded/pglite-driver.js";
import { toDatabaseError } from "./errors.js";
import { type Migration, type MigrationOutcome, migrate, orderMigrations } from "./migrations.js";
import { createPgDriver, isPostgresUrl, type PostgresOptions, redactUrl } from "./postgres/pg-driver.js";
import type { SqlDriver } from "./sql-driver.js";

export type DatabaseKind = "postgres" | "embedded";

/** How errors name the database: it is the one AEGIS_AUDIT_DB names, whoever uses it. */
export const DATABASE_SUBJECT = "audit";

export type DatabaseTarget = { kind: "postgres"; url: string } | { kind: "embedded"; location: string };

export interface StorageConfig {
  /** AEGIS_AUDIT_DB / createServer's `auditDb`: a directory, `memory:` or a postgres:// URL. */
  readonly auditDb?: string | undefined;
  /** DATABASE_URL. */
  readonly databaseUrl?: string | undefined;
}

export function resolveTarget(config: StorageConfig): DatabaseTarget {
  const auditDb = config.auditDb?.trim() || undefined;
  const databaseUrl = config.databaseUrl?.trim() || undefined;
  if (auditDb !== undefined && isPostgresUrl(auditDb)) return { kind: "postgres", url: auditDb };
  if (databaseUrl !== undefined) return { kind: "postgres", url: databaseUrl };
  return { kind: "embedded", location: auditDb ?? DEFAULT_EMBEDDED_DIR };
}

export interface Database {
  readonly kind: DatabaseKind;
  /** Where the data lives, for logs and `/health` (never contains a password). */
  readonly location: string;
  readonly driver: SqlDriver;
  /**
   * Applies pending migrations, once per process (idempotent; safe when several processes start
   * at once). Call again after a failure: a database that was down gets its schema when it returns.
   */
  migrate(): Promise<MigrationOutcome>;
  /** Resolves when the database answers within `timeoutMs`; rejects with `unavailable` otherwise. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Every concern's migrations; their versions must form one sequence 1..n. */
  readonly migrations: readonly Migration[];
  /** PostgreSQL only: pool and timeout settings. */
  readonly postgres?: Omit<PostgresOptions, "url"> | undefined;
}

class SqlDatabase implements Database {
  private migrated: Promise<MigrationOutcome> | undefined;

  constructor(
    readonly kind: DatabaseKind,
    readonly location: string,
    readonly driver: SqlDriver,
    private readonly migrations: readonly Migration[],
    private readonly release: () => Promise<void>,
  ) {}

  migrate(): Promise<MigrationOutcome> {
    this.migrated ??= migrate(this.driver, this.migrations).catch((err: unknown) => {
      this.migrated = undefined;
      throw toDatabaseError(err, "schema migration", DATABASE_SUBJECT);
    });
    return this.migrated;
  }

  async ping(timeoutMs = 1500): Promise<void> {
    try {
      await this.driver.ping(timeoutMs);
    } catch (err) {
      const e = toDatabaseError(err, "ping", DATABASE_SUBJECT);
      throw e.code === "unavailable"
        ? e
        : new AegisError(
            "unavailable",
            `${DATABASE_SUBJECT} database unavailable: ${e.message}`,
            e.retryAfterSeconds ?? 1,
            e,
          );
    }
  }

  close(): Promise<void> {
    return this.release();
  }
}

/** A Database over a driver the caller made (tests that share one PGlite instance). */
export function databaseOn(
  driver: SqlDriver,
  migrations: readonly Migration[],
  kind: DatabaseKind = "embedded",
  location = "memory:",
): Database {
  return new SqlDatabase(kind, location, driver, orderMigrations(migrations), () => driver.close());
}

/**
 * Opens the database; migrations are not applied yet (call `migrate()`). The embedded store fails
 * here when its directory is locked or is a file; PostgreSQL opens even when it is down (it
 * connects lazily), and only a bad URL throws.
 */
export async function openDatabase(target: DatabaseTarget, options: OpenOptions): Promise<Database> {
  const migrations = orderMigrations(options.migrations);
  if (target.kind === "postgres") {
    const driver = createPgDriver({ ...options.postgres, url: target.url });
    return new SqlDatabase("postgres", redactUrl(target.url), driver, migrations, () => driver.close());
  }
  const embedded = await openEmbedded(target.location);
  return new SqlDatabase("embedded", embedded.location, embedded.driver, migrations, () => embedded.close());
}

/**
 * Opens the database and applies its migrations. A PostgreSQL that is down is kept (it connects
 * lazily; whoever uses it retries the migrations and the server is not ready meanwhile); any
 * other failure closes what was opened and throws.
 */
export async function openMigrated(target: DatabaseTarget, options: OpenOptions): Promise<Database> {
  const db = await openDatabase(target, options);
  try {
    await db.migrate();
  } catch (err) {
    if (target.kind === "postgres" && err instanceof AegisError && err.code === "unavailable") return db;
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}
