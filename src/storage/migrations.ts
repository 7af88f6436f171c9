// The migration runner: numbered schema migrations, applied at startup, all pending ones in one
// transaction, each recorded in `aegis_schema_migrations`. A transaction-scoped advisory lock
// serialises instances that start at the same moment: the second waits, then finds nothing to do.
// Every concern that keeps state brings its migrations (audit/migrations.ts, ...); the server
// hands them all to openDatabase, so one numbering runs through the whole schema.
// Never edit a released migration; append a new one.
import type { SqlDriver } from "./sql-driver.js";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** `pg_advisory_xact_lock` key: "AEGISAUD" read as a big-endian 64-bit integer (kept from v0.1). */
export const MIGRATION_LOCK_KEY = "4703243766113326404";

export const MIGRATIONS_TABLE = "aegis_schema_migrations";

export interface MigrationOutcome {
  /** Versions applied by this call (empty when the schema was already current). */
  readonly applied: number[];
  /** Highest version present after the call. */
  readonly current: number;
}

/** The concerns' migrations in version order; their versions must run 1, 2, 3, ... without gaps. */
export function orderMigrations(...sets: readonly (readonly Migration[])[]): Migration[] {
  const all = sets.flat().sort((a, b) => a.version - b.version);
  all.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name}: version ${m.version}, expected ${i + 1}`);
  });
  return all;
}

export async function migrate(
  driver: SqlDriver,
  migrations: readonly Migration[],
): Promise<MigrationOutcome> {
  orderMigrations(migrations);
  return driver.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint)`);
    await tx.exec(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
         version    integer PRIMARY KEY,
         name       text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await tx.query<{ version: number | string }>(`SELECT version FROM ${MIGRATIONS_TABLE}`);
    const done = new Set(rows.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
      done.add(m.version);
    }
    return { applied, current: Math.max(0, ...done) };
  });
}
