// The AuditStore over the process's Database: the SQL both backends share, and the row <->
// AuditRecord mapping. A flush is ONE statement (inserts and completions together), so it is one commit and
// one round trip; its new rows travel as a single json parameter and its completions as four
// arrays, so a flush of any size stays under PostgreSQL's parameter limit and the statement text
// never changes (one cached plan).
import { AegisError } from "../errors.js";
import type { Approval, RiskLevel } from "../policy/types.js";
import { type Database, toDatabaseError } from "../storage/index.js";
import type {
  AuditStore,
  NewAuditRow,
  RowCompletion,
  StoredStatus,
  StoreKind,
  UnacknowledgedWrite,
} from "./audit-store.js";
import type { AuditPage, AuditQuery, AuditRecord } from "./types.js";

function toStoreError(err: unknown, what: string): AegisError {
  return toDatabaseError(err, what, "audit");
}

const COLUMNS = [
  "session_id",
  '"timestamp"',
  "action_type",
  "action_target",
  "action_params",
  "action_desc",
  "risk_level",
  "approval",
  "matched_rule",
  "human_decision",
  "result_status",
  "result_data",
  "result_error",
  "agent_id",
  "parent_agent_id",
  "chain_id",
  "chain_depth",
  "policy_hash",
  "principal",
] as const;

const RECORDSET_TYPES = `i integer, session_id text, "timestamp" timestamptz, action_type text,
  action_target text, action_params jsonb, action_desc text, risk_level text, approval text,
  matched_rule text, human_decision text, result_status text, result_data jsonb, result_error text,
  agent_id text, parent_agent_id text, chain_id text, chain_depth integer, policy_hash text, principal text`;

/**
 * $1: json array of new rows (each with its input index `i`); $2..$5: the completions as parallel
 * arrays (id, result_status, result_data, result_error); $6: the flush's write id. The `input` CTE draws the ids (it is
 * materialised: nextval is volatile), the INSERT and the final SELECT read the same ids, so every
 * caller learns the id of its own row.
 *
 * Why it is written this way (each choice measured, see bench/audit.ts and issue 4's notes):
 * - `json`, not `jsonb`: the parameter is read once, so converting it to jsonb first only costs
 *   (about 3 us per row). The jsonb columns are still stored as jsonb.
 * - The completion UPDATE reaches its rows by primary key (`id = ANY($2)`) and keeps the pending
 *   check out of any index (`IS TRUE` makes it a plain filter). Given `result_status = 'pending'`
 *   the planner may read the rows through the status index's `pending` range, which holds an
 *   entry for every completed row until VACUUM: that scan grows with the load and took the
 *   server from 11k to 4.6k executes/s within 15 s. The PostgreSQL store's write connection pins
 *   the rest of the plan (WRITE_SESSION_SETUP in postgres/postgres-store.ts).
 */
export const WRITE_BATCH_SQL = `
WITH input AS (
  SELECT nextval('audit_log_id_seq') AS id, r.*
  FROM (SELECT * FROM json_to_recordset($1::json) AS x(${RECORDSET_TYPES}) ORDER BY x.i) AS r
),
ins AS (
  INSERT INTO audit_log (id, write_id, ${COLUMNS.join(", ")})
  SELECT id, $6::uuid, ${COLUMNS.join(", ")} FROM input
),
upd AS (
  UPDATE audit_log AS a
  SET result_status = c.result_status, result_data = c.result_data, result_error = c.result_error
  FROM unnest($2::bigint[], $3::text[], $4::jsonb[], $5::text[])
    AS c(id, result_status, result_data, result_error)
  WHERE a.id = ANY($2::bigint[]) AND a.id = c.id AND (a.result_status = 'pending') IS TRUE
)
SELECT i, id FROM input`;

const SELECT_COLUMNS = `id, ${COLUMNS.join(", ")}`;

/** The timestamp index finds the flush's rows; write_id picks them out. */
const FAIL_UNACKNOWLEDGED_SQL = `
WITH failed AS (
  UPDATE audit_log SET result_status = 'failed', result_error = $4
  WHERE "timestamp" >= $2::timestamptz AND "timestamp" <= $3::timestamptz
    AND write_id = $1::uuid AND result_status = 'pending'
  RETURNING 1
)
SELECT count(*) AS n FROM failed`;

function insertJson(rows: readonly NewAuditRow[]): string {
  return JSON.stringify(
    rows.map((r, i) => ({
      i,
      session_id: r.sessionId,
      timestamp: r.timestamp.toISOString(),
      action_type: r.actionType,
      action_target: r.actionTarget,
      action_params: r.actionParams,
      action_desc: r.actionDesc === "" ? null : r.actionDesc,
      risk_level: r.riskLevel,
      approval: r.approval,
      matched_rule: r.matchedRule,
      human_decision: r.humanDecision,
      result_status: r.resultStatus,
      result_data: r.resultData ?? null,
      result_error: r.resultError,
      agent_id: r.agentId,
      parent_agent_id: r.parentAgentId,
      chain_id: r.chainId,
      chain_depth: r.chainDepth,
      policy_hash: r.policyHash,
      principal: r.principal,
    })),
  );
}

/** The completions as the four parallel arrays $2..$5 of WRITE_BATCH_SQL. */
function completionArrays(
  rows: readonly RowCompletion[],
): [number[], string[], (string | null)[], (string | null)[]] {
  const ids: number[] = [];
  const statuses: string[] = [];
  const data: (string | null)[] = [];
  const errors: (string | null)[] = [];
  for (const c of rows) {
    ids.push(c.id);
    statuses.push(c.resultStatus);
    data.push(c.resultData === undefined || c.resultData === null ? null : JSON.stringify(c.resultData));
    errors.push(c.resultError);
  }
  return [ids, statuses, data, errors];
}

/** `bigint` comes back from pg as a string and from PGlite as a number or bigint. */
function toInt(v: unknown): number {
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isSafeInteger(n))
    throw new AegisError("internal", `audit id ${String(v)} is not a safe integer`);
  return n;
}

function toIntOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : toInt(v);
}

function toTimestamp(v: unknown): string {
  const d = v instanceof Date ? v : new Date(String(v));
  return d.toISOString();
}

function toJson(v: unknown): unknown {
  // Both drivers parse jsonb; a string here would be a driver without a jsonb parser.
  if (typeof v === "string") {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v ?? null;
}

function toStrOrNull(v: unknown): string | null {
  return v === null || v === undefined || v === "" ? null : String(v);
}

export function rowToRecord(row: Record<string, unknown>): AuditRecord {
  const params = toJson(row["action_params"]);
  return {
    id: toInt(row["id"]),
    session_id: String(row["session_id"]),
    timestamp: toTimestamp(row["timestamp"]),
    action_type: String(row["action_type"]),
    action_target: String(row["action_target"] ?? ""),
    action_params: params !== null && typeof params === "object" ? (params as Record<string, unknown>) : {},
    action_desc: toStrOrNull(row["action_desc"]),
    risk_level: String(row["risk_level"]) as RiskLevel,
    approval: String(row["approval"]) as Approval,
    matched_rule: String(row["matched_rule"]),
    human_decision: toStrOrNull(row["human_decision"]) as AuditRecord["human_decision"],
    result_status: String(row["result_status"]) as StoredStatus,
    result_data: toJson(row["result_data"]),
    result_error: toStrOrNull(row["result_error"]),
    agent_id: toStrOrNull(row["agent_id"]),
    parent_agent_id: toStrOrNull(row["parent_agent_id"]),
    chain_id: toStrOrNull(row["chain_id"]),
    chain_depth: toIntOrNull(row["chain_depth"]),
    policy_hash: String(row["policy_hash"] ?? ""),
    principal: toStrOrNull(row["principal"]),
  };
}

/** AEGIS_MAX_AUDIT_PAGE_BYTES' default: under the 4 MiB most gRPC clients accept in one message. */
export const DEFAULT_PAGE_BYTES = 4 * 1024 * 1024;
const FIRST_CHUNK_ROWS = 50;
const MAX_CHUNK_ROWS = 1000;
/** Rough bytes of rows one chunk should carry. */
const CHUNK_BYTES = 1024 * 1024;

/** A cheap upper-bound-ish estimate of a record's JSON size: its strings plus a fixed overhead. */
function recordSize(r: AuditRecord): number {
  return (
    400 +
    jsonSize(r.action_params) +
    jsonSize(r.result_data) +
    (r.action_desc?.length ?? 0) +
    (r.result_error?.length ?? 0) +
    r.action_type.length +
    r.action_target.length
  );
}

function jsonSize(v: unknown): number {
  if (typeof v === "string") return v.length + 2;
  if (typeof v !== "object" || v === null) return 8;
  let n = 2;
  if (Array.isArray(v)) for (const x of v) n += jsonSize(x) + 1;
  else for (const k of Object.keys(v)) n += k.length + 4 + jsonSize((v as Record<string, unknown>)[k]);
  return n;
}

/** The SELECT for `q`: only the filters present, so every one can use its index. */
export function buildQuery(q: AuditQuery): { text: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown): void => {
    params.push(value);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (q.sessionId !== undefined) add("session_id = ?", q.sessionId);
  if (q.actionType !== undefined) add("action_type = ?", q.actionType);
  if (q.riskLevel !== undefined) add("risk_level = ?", q.riskLevel.toUpperCase());
  if (q.resultStatus !== undefined) add("result_status = ?", q.resultStatus);
  if (q.agentId !== undefined) add("agent_id = ?", q.agentId);
  if (q.matchedRule !== undefined) add("matched_rule = ?", q.matchedRule);
  if (q.principal !== undefined) add("principal = ?", q.principal);
  if (q.since !== undefined) add('"timestamp" >= ?::timestamptz', q.since.toISOString());
  if (q.until !== undefined) add('"timestamp" < ?::timestamptz', q.until.toISOString());
  const desc = q.order === "desc";
  if (q.afterId !== undefined) add(desc ? "id < ?" : "id > ?", q.afterId);
  params.push(Math.max(0, Math.trunc(q.limit)));
  const text =
    `SELECT ${SELECT_COLUMNS} FROM audit_log` +
    (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") +
    ` ORDER BY id ${desc ? "DESC" : "ASC"} LIMIT $${params.length}`;
  return { text, params };
}

export class SqlAuditStore implements AuditStore {
  private migrated = false;
  readonly kind: StoreKind;
  readonly location: string;

  /** `owned`: close() closes the database too (a store opened on its own, openAuditStore). */
  constructor(
    private readonly db: Database,
    private readonly owned = false,
  ) {
    this.kind = db.kind;
    this.location = db.location;
  }

  private get driver() {
    return this.db.driver;
  }

  async migrate(): Promise<void> {
    if (this.migrated) return;
    await this.db.migrate();
    this.migrated = true;
  }

  async writeBatch(
    inserts: readonly NewAuditRow[],
    completions: readonly RowCompletion[],
    writeId?: string,
  ): Promise<number[]> {
    if (inserts.length === 0 && completions.length === 0) return [];
    // A PostgreSQL that was down at startup gets its schema at the first write after it returns.
    if (!this.migrated) await this.migrate();
    let rows: { i: number | string; id: unknown }[];
    try {
      ({ rows } = await this.driver.write<{ i: number | string; id: unknown }>(WRITE_BATCH_SQL, [
        insertJson(inserts),
        ...completionArrays(completions),
        writeId ?? null,
      ]));
    } catch (err) {
      throw toStoreError(err, "audit write");
    }
    const ids = new Array<number>(inserts.length);
    for (const r of rows) ids[Number(r.i)] = toInt(r.id);
    return ids;
  }

  /**
   * Reads in chunks (keyset on id, the same cursor the API offers), sized from the rows already
   * seen, so memory stays near the byte budget however large single rows are.
   */
  async query(q: AuditQuery): Promise<AuditPage> {
    if (q.limit <= 0) return { records: [], truncated: false };
    if (!this.migrated) await this.migrate();
    const budget = q.maxBytes ?? DEFAULT_PAGE_BYTES;
    const records: AuditRecord[] = [];
    let bytes = 0;
    let afterId = q.afterId;
    let chunk = FIRST_CHUNK_ROWS;
    while (records.length < q.limit) {
      const want = Math.min(chunk, q.limit - records.length);
      const { text, params } = buildQuery({ ...q, afterId, limit: want });
      let rows: Record<string, unknown>[];
      try {
        ({ rows } = await this.driver.query(text, params));
      } catch (err) {
        throw toStoreError(err, "audit query");
      }
      let chunkBytes = 0;
      for (const row of rows) {
        const record = rowToRecord(row);
        const size = recordSize(record);
        if (records.length > 0 && bytes + size > budget) return { records, truncated: true };
        records.push(record);
        bytes += size;
        chunkBytes += size;
      }
      if (rows.length < want) break;
      afterId = records[records.length - 1]!.id;
      chunk = Math.max(1, Math.min(MAX_CHUNK_ROWS, Math.floor(CHUNK_BYTES / (chunkBytes / rows.length))));
    }
    return { records, truncated: false };
  }

  async failUnacknowledged(write: UnacknowledgedWrite, reason: string): Promise<number> {
    try {
      const { rows } = await this.driver.query<{ n: number | string }>(FAIL_UNACKNOWLEDGED_SQL, [
        write.writeId,
        write.since.toISOString(),
        write.until.toISOString(),
        reason,
      ]);
      return Number(rows[0]?.n ?? 0);
    } catch (err) {
      throw toStoreError(err, "audit reconciliation");
    }
  }

  ping(timeoutMs = 1500): Promise<void> {
    return this.db.ping(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.owned) await this.db.close();
  }
}
