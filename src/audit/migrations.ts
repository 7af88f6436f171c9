// Numbered schema migrations for the audit trail (DESIGN §5). Applied at startup, all pending ones
// in one transaction, each recorded in `aegis_schema_migrations`. A transaction-scoped advisory lock
// serialises instances that start at the same moment: the second waits, then finds nothing to do.
// Never edit a released migration; append a new one.
import type { SqlDriver } from "./sql-driver.js";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** `pg_advisory_xact_lock` key: "AEGISAUD" read as a big-endian 64-bit integer. */
export const MIGRATION_LOCK_KEY = "4703243766113326404";

export const MIGRATIONS_TABLE = "aegis_schema_migrations";

/** Every filter of the query API has an index; `(column, id)` also serves the id order and cursor. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "create audit_log",
    sql: `
CREATE TABLE audit_log (
  id              bigserial PRIMARY KEY,
  session_id      text        NOT NULL,
  "timestamp"     timestamptz NOT NULL DEFAULT now(),
  action_type     text        NOT NULL,
  action_target   text        NOT NULL DEFAULT '',
  action_params   jsonb       NOT NULL DEFAULT '{}'::jsonb,
  action_desc     text,
  risk_level      text        NOT NULL CHECK (risk_level IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
  approval        text        NOT NULL CHECK (approval IN ('auto', 'approve', 'block')),
  matched_rule    text        NOT NULL,
  human_decision  text        CHECK (human_decision IN ('approved', 'denied')),
  result_status   text        NOT NULL
                  CHECK (result_status IN ('pending', 'success', 'blocked', 'denied', 'failed')),
  result_data     jsonb,
  result_error    text,
  agent_id        text,
  parent_agent_id text,
  chain_id        text,
  chain_depth     integer,
  policy_hash     text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_session_id_idx    ON audit_log (session_id, id);
CREATE INDEX audit_log_action_type_idx   ON audit_log (action_type, id);
CREATE INDEX audit_log_risk_level_idx    ON audit_log (risk_level, id);
CREATE INDEX audit_log_result_status_idx ON audit_log (result_status, id);
CREATE INDEX audit_log_agent_id_idx      ON audit_log (agent_id, id);
CREATE INDEX audit_log_matched_rule_idx  ON audit_log (matched_rule, id);
CREATE INDEX audit_log_timestamp_idx     ON audit_log ("timestamp", id);
`,
  },
  {
    version: 2,
    name: "audit_log.write_id",
    // The flush that wrote a row, so a flush whose commit is in doubt can be found again
    // (BatchWriter's reconciliation). Read only with the timestamp index: no index of its own.
    sql: "ALTER TABLE audit_log ADD COLUMN write_id uuid;",
  },
];

export interface MigrationOutcome {
  /** Versions applied by this call (empty when the schema was already current). */
  readonly applied: number[];
  /** Highest version present after the call. */
  readonly current: number;
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name}: version ${m.version}, expected ${i + 1}`);
  });
}

export async function migrate(
  driver: SqlDriver,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrationOutcome> {
  assertOrdered(migrations);
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
