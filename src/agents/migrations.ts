// The agent registry's schema: registered agents, and suspensions (the kill switch), which may
// name agent ids that never registered. Versions in the one numbering of storage/migrations.ts.
import type { Migration } from "../storage/index.js";

export const AGENT_MIGRATIONS: readonly Migration[] = [
  {
    version: 4,
    name: "agents and agent_suspensions",
    sql: `
CREATE TABLE agents (
  agent_id       text        PRIMARY KEY,
  name           text        NOT NULL,
  framework      text        NOT NULL DEFAULT '',
  version        text        NOT NULL DEFAULT '',
  metadata       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  registered_at  timestamptz NOT NULL,
  last_heartbeat timestamptz NOT NULL,
  registered_by  text
);
CREATE INDEX agents_last_heartbeat_idx ON agents (last_heartbeat);
CREATE TABLE agent_suspensions (
  agent_id     text        PRIMARY KEY,
  reason       text        NOT NULL,
  suspended_by text        NOT NULL,
  suspended_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
];
