// Policy versions: every policy that became active, and which one is (one row: exactly one is).
// Versions in the one numbering of storage/migrations.ts.
import type { Migration } from "../storage/index.js";

export const POLICY_MIGRATIONS: readonly Migration[] = [
  {
    version: 5,
    name: "policy_versions and policy_active",
    sql: `
CREATE TABLE policy_versions (
  id          bigserial   PRIMARY KEY,
  hash        text        NOT NULL,
  file_hash   text,
  policy_text text        NOT NULL,
  source      text        NOT NULL CHECK (source IN ('file', 'api', 'rollback')),
  principal   text        NOT NULL,
  message     text,
  rule_count  integer     NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  rollback_of bigint
);
CREATE INDEX policy_versions_file_idx ON policy_versions (id) WHERE source = 'file';
CREATE TABLE policy_active (
  singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  version_id bigint      NOT NULL REFERENCES policy_versions (id),
  changed_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
];
