// The completion UPDATE of a flush must reach its rows through the primary key, and join them to
// the completions in time linear in the flush, whatever the planner believes about audit_log: a
// generic plan made while the table was empty, or statistics saying few rows are `pending`.
// Either belief once made the server scan a growing table or a growing index range on every flush
// (issue 4: executes/s fell from 11k to under 5k within 15 s); a nested loop over the completions
// is quadratic. The plans come from a connection of the store's own write pool configuration.
// PostgreSQL only: the embedded store plans each statement afresh (no cached generic plan).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import pg from "pg";
import type { AuditStore } from "../../src/audit/audit-store.js";
import { createPostgresStore } from "../../src/audit/open-audit-store.js";
import { WRITE_BATCH_SQL } from "../../src/audit/sql-audit-store.js";
import { writePoolConfig } from "../../src/storage/postgres/pg-driver.js";
import { createTestDatabase, loudNotRun, postgresUrl } from "../support/postgres.js";
import { row } from "./support.js";

const adminUrl = await postgresUrl();
if (adminUrl === null) {
  loudNotRun("the completion plan checks against PostgreSQL (test/audit/write-plan.test.ts)");
} else {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: AuditStore;
  let pool: pg.Pool;
  let client: pg.PoolClient;

  before(async () => {
    db = await createTestDatabase(adminUrl);
    store = createPostgresStore({ url: db.url });
    await store.migrate();
    pool = new pg.Pool(writePoolConfig({ url: db.url }));
    client = await pool.connect();
  });

  after(async () => {
    client?.release();
    await pool?.end();
    await store?.close();
    await db?.drop();
  });

  /** The plan of the flush statement's UPDATE, prepared as the write connection prepares it. */
  async function updatePlan(mode: "force_generic_plan" | "force_custom_plan"): Promise<string> {
    await client.query(`SET plan_cache_mode = ${mode}`);
    await client.query("DEALLOCATE ALL");
    await client.query(`PREPARE flush(json, bigint[], text[], jsonb[], text[], uuid) AS ${WRITE_BATCH_SQL}`);
    const { rows } = await client.query<{ "QUERY PLAN": string }>(
      `EXPLAIN EXECUTE flush('[]', '{1,2,3}', '{success,failed,success}', '{NULL,NULL,"{}"}', '{NULL,x,NULL}', NULL)`,
    );
    const text = rows.map((r) => r["QUERY PLAN"]).join("\n");
    const update = text.slice(text.indexOf("Update on audit_log"));
    assert.ok(update.length < text.length, `no UPDATE in the plan:\n${text}`);
    return update;
  }

  test("the write connection is set up before it is handed out", async () => {
    const expected: Record<string, string> = {
      enable_seqscan: "off",
      enable_nestloop: "off",
      enable_mergejoin: "off",
      plan_cache_mode: "force_generic_plan",
    };
    for (const [setting, value] of Object.entries(expected)) {
      const { rows } = await client.query<Record<string, string>>(`SHOW ${setting}`);
      assert.equal(rows[0]?.[setting], value, setting);
    }
  });

  function assertPrimaryKeyOnly(plan: string, when: string): void {
    // An index scan or a bitmap scan of the primary key: both read only the listed ids.
    assert.match(
      plan,
      /Index Scan using audit_log_pkey on audit_log|Bitmap Index Scan on audit_log_pkey/,
      `${when}:\n${plan}`,
    );
    assert.match(plan, /Index Cond: \(id = ANY/, `${when}:\n${plan}`);
    assert.doesNotMatch(plan, /Seq Scan on audit_log/, `${when}:\n${plan}`);
    assert.doesNotMatch(plan, /result_status_idx/, `${when}:\n${plan}`);
    // Linear in the flush: the completions are hashed, never rescanned per row.
    assert.match(plan, /Hash Join/, `${when}:\n${plan}`);
    assert.doesNotMatch(plan, /Nested Loop/, `${when}:\n${plan}`);
  }

  test("on a new, never analysed audit_log the completion uses the primary key", async () => {
    assertPrimaryKeyOnly(await updatePlan("force_generic_plan"), "generic plan, empty table");
    assertPrimaryKeyOnly(await updatePlan("force_custom_plan"), "custom plan, empty table");
  });

  test("with statistics saying pending rows are rare, the completion still uses the primary key", async () => {
    const ids = await store.writeBatch(
      Array.from({ length: 3000 }, () => row()),
      [],
    );
    await store.writeBatch(
      [],
      ids.slice(0, 2990).map((id) => ({ id, resultStatus: "success", resultData: null, resultError: null })),
    );
    await client.query("ANALYZE audit_log");
    assertPrimaryKeyOnly(await updatePlan("force_generic_plan"), "generic plan, 10 pending rows of 3000");
    assertPrimaryKeyOnly(await updatePlan("force_custom_plan"), "custom plan, 10 pending rows of 3000");
  });
}
