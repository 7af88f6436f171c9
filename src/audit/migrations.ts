// The audit trail's schema (DESIGN §5), versions in the one numbering of storage/migrations.ts.
import type { Migration } from "../storage/migrations.js";

/** Every filter of the query API has an index; `(column, id)` also serves the id order and cursor. */
export const AUDIT_MIGRATIONS: readonly Migration[] = [
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
  {
    version: 3,
    name: "audit_log.principal",
    // The name of the key that asked (AEGIS_KEYS_FILE, or api / admin / anonymous).
    sql: `ALTER TABLE audit_log ADD COLUMN principal text;
CREATE INDEX audit_log_principal_idx ON audit_log (principal, id);`,
  },
];
