// One contract suite, run against the embedded PGlite store AND the PostgreSQL store. Each test
// gets its own schema (PGlite: one shared instance, 2-3 s cold start paid once) or its own
// database (PostgreSQL), removed afterwards.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import type { AuditStore } from "../../src/audit/audit-store.js";
import { AUDIT_MIGRATIONS as MIGRATIONS } from "../../src/audit/migrations.js";
import { createEmbeddedStoreOn, createPostgresStore } from "../../src/audit/open-audit-store.js";
import { AegisError } from "../../src/errors.js";
import type { AuditQuery } from "../../src/governance/types.js";
import { MIGRATIONS_TABLE } from "../../src/storage/index.js";
import { createTestDatabase, loudNotRun, postgresUrl } from "../support/postgres.js";
import { row } from "./support.js";

interface Harness {
  readonly store: AuditStore;
  /** A second store on the same database (concurrent migrations). */
  readonly second: () => Promise<AuditStore>;
  readonly sql: (text: string) => Promise<Record<string, unknown>[]>;
  readonly cleanup: () => Promise<void>;
}

type Factory = () => Promise<Harness>;

const q = (over: Partial<AuditQuery> = {}): AuditQuery => ({ limit: 1000, order: "asc", ...over });

function contract(
  name: string,
  factory: () => Factory,
  setup: () => Promise<void>,
  teardown: () => Promise<void>,
) {
  describe(`audit store contract: ${name}`, () => {
    let make: Factory;
    before(async () => {
      await setup();
      make = factory();
    });
    after(teardown);

    async function withStore(fn: (h: Harness) => Promise<void>): Promise<void> {
      const h = await make();
      try {
        await h.store.migrate();
        await fn(h);
      } finally {
        await h.cleanup();
      }
    }

    test("migrations: applied once, recorded, idempotent when run again and concurrently", async () => {
      const h = await make();
      try {
        const other = await h.second();
        try {
          // Two instances starting at the same moment: the advisory lock serialises them.
          await Promise.all([h.store.migrate(), other.migrate()]);
          await h.store.migrate();
          const rows = await h.sql(`SELECT version, name FROM ${MIGRATIONS_TABLE} ORDER BY version`);
          assert.deepEqual(
            rows.map((r) => Number(r["version"])),
            MIGRATIONS.map((m) => m.version),
          );
          const tables = await h.sql(
            "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'audit_log' AND table_schema = current_schema()",
          );
          assert.equal(Number(tables[0]?.["n"]), 1);
        } finally {
          await other.close();
        }
      } finally {
        await h.cleanup();
      }
    });

    test("every query filter has an index", () =>
      withStore(async (h) => {
        const rows = await h.sql(
          "SELECT indexdef FROM pg_indexes WHERE tablename = 'audit_log' AND schemaname = current_schema()",
        );
        const defs = rows.map((r) => String(r["indexdef"]));
        for (const col of [
          "session_id",
          "action_type",
          "risk_level",
          "result_status",
          "agent_id",
          "matched_rule",
          '"timestamp"',
        ]) {
          assert.ok(
            defs.some((d) => d.includes(`(${col}`)),
            `no index leads with ${col}: ${defs.join("; ")}`,
          );
        }
      }));

    test("writeBatch returns increasing ids in input order; rows round-trip to AuditRecord", () =>
      withStore(async (h) => {
        const ts = new Date("2026-03-01T10:00:00.123Z");
        const ids = await h.store.writeBatch(
          [
            row({ timestamp: ts, actionDesc: "", actionParams: { a: 1, nested: { list: [1, "x", null] } } }),
            row({
              actionType: "delete",
              actionDesc: "remove it",
              agentId: "agent-7",
              parentAgentId: "agent-1",
              chainId: "chain-1",
              chainDepth: 2,
              resultStatus: "blocked",
              resultError: "Blocked by policy rule: no_delete",
              approval: "block",
              riskLevel: "CRITICAL",
              matchedRule: "no_delete",
            }),
            row({
              resultStatus: "denied",
              humanDecision: "denied",
              approval: "approve",
              resultError: "Denied",
            }),
          ],
          [],
        );
        assert.equal(ids.length, 3);
        assert.ok(ids.every((id) => Number.isSafeInteger(id)));
        assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!);
        const { records: recs } = await h.store.query(q());
        assert.deepEqual(
          recs.map((r) => r.id),
          ids,
        );
        const [first, second, third] = recs;
        assert.ok(first && second && third);
        assert.equal(typeof first.id, "number");
        assert.equal(first.timestamp, "2026-03-01T10:00:00.123Z");
        assert.deepEqual(first.action_params, { a: 1, nested: { list: [1, "x", null] } });
        assert.equal(first.action_desc, null, "empty description is null");
        assert.equal(first.result_status, "pending");
        assert.equal(first.result_data, null);
        assert.equal(first.result_error, null);
        assert.equal(first.agent_id, null);
        assert.equal(first.chain_depth, null);
        assert.equal(first.human_decision, null);
        assert.equal(first.policy_hash, "abc123");
        assert.match(second.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        assert.equal(second.action_desc, "remove it");
        assert.equal(second.agent_id, "agent-7");
        assert.equal(second.parent_agent_id, "agent-1");
        assert.equal(second.chain_id, "chain-1");
        assert.equal(second.chain_depth, 2);
        assert.equal(second.risk_level, "CRITICAL");
        assert.equal(second.approval, "block");
        assert.equal(second.result_error, "Blocked by policy rule: no_delete");
        assert.equal(third.human_decision, "denied");
        const json = JSON.parse(JSON.stringify(first)) as Record<string, unknown>;
        assert.equal(typeof json["id"], "number", "id serialises as a JSON integer");
      }));

    test("completions update pending rows in the same statement as new inserts", () =>
      withStore(async (h) => {
        const [a, b] = await h.store.writeBatch([row(), row()], []);
        assert.ok(a !== undefined && b !== undefined);
        const [c] = await h.store.writeBatch(
          [row({ actionType: "later" })],
          [
            { id: a, resultStatus: "success", resultData: { executed: true, n: [1, 2] }, resultError: null },
            { id: b, resultStatus: "failed", resultData: null, resultError: "disk full" },
          ],
        );
        const { records: recs } = await h.store.query(q());
        const byId = new Map(recs.map((r) => [r.id, r]));
        assert.equal(byId.get(a)?.result_status, "success");
        assert.deepEqual(byId.get(a)?.result_data, { executed: true, n: [1, 2] });
        assert.equal(byId.get(b)?.result_status, "failed");
        assert.equal(byId.get(b)?.result_error, "disk full");
        assert.equal(byId.get(c!)?.result_status, "pending");
        // A completed row is final: a second completion does not change it.
        await h.store.writeBatch(
          [],
          [{ id: a, resultStatus: "failed", resultData: null, resultError: "late" }],
        );
        const { records: again } = await h.store.query(q({ limit: 1 }));
        assert.equal(again[0]?.result_status, "success");
      }));

    test("completions carry any JSON result and any error text intact", () =>
      withStore(async (h) => {
        // Completions travel as PostgreSQL array literals: quotes, backslashes, braces, commas,
        // NULL-looking text and non-ASCII must survive the escaping.
        const results: [unknown, string | null][] = [
          ['a "quoted" \\ back\\slash {brace}, comma', 'error with "quotes", {braces} and \\'],
          [{ nested: { list: [1, "two", null, { three: 3 }] }, emoji: "é ✓ 🚀" }, "NULL"],
          [[1, 2, 3], "line one\nline two\ttab"],
          [42, ""],
          [null, null],
          ["NULL", "{}"],
        ];
        const ids = await h.store.writeBatch(
          results.map(() => row()),
          [],
        );
        await h.store.writeBatch(
          [],
          results.map(([data, error], n) => ({
            id: ids[n]!,
            resultStatus: error === null ? "success" : "failed",
            resultData: data,
            resultError: error,
          })),
        );
        const byId = new Map((await h.store.query(q())).records.map((r) => [r.id, r]));
        results.forEach(([data, error], n) => {
          const rec = byId.get(ids[n]!);
          assert.deepEqual(rec?.result_data, data, `result_data of completion ${n}`);
          // An empty error is stored as given and read back as null (AuditRecord's convention).
          assert.equal(rec?.result_error, error === "" ? null : error, `result_error of completion ${n}`);
          assert.equal(rec?.result_status, error === null ? "success" : "failed");
        });
      }));

    test("query: every filter, order, after_id cursor, limit and limit 0", () =>
      withStore(async (h) => {
        const t0 = new Date("2026-01-01T00:00:00.000Z");
        const at = (min: number) => new Date(t0.getTime() + min * 60_000);
        const ids = await h.store.writeBatch(
          [
            row({ timestamp: at(0), sessionId: "s1", actionType: "read", riskLevel: "LOW", agentId: "a1" }),
            row({
              timestamp: at(1),
              sessionId: "s1",
              actionType: "write",
              riskLevel: "HIGH",
              matchedRule: "w",
            }),
            row({
              timestamp: at(2),
              sessionId: "s2",
              actionType: "delete",
              riskLevel: "CRITICAL",
              resultStatus: "blocked",
              approval: "block",
              matchedRule: "no_delete",
              agentId: "a2",
            }),
            row({ timestamp: at(3), sessionId: "s2", actionType: "read", riskLevel: "LOW", agentId: "a1" }),
            row({ timestamp: at(4), sessionId: "s3", actionType: "read", riskLevel: "MEDIUM" }),
          ],
          [],
        );
        const idsOf = async (over: Partial<AuditQuery>) =>
          (await h.store.query(q(over))).records.map((r) => r.id);
        const [i0, i1, i2, i3, i4] = ids as [number, number, number, number, number];
        assert.deepEqual(await idsOf({}), [i0, i1, i2, i3, i4]);
        assert.deepEqual(await idsOf({ order: "desc" }), [i4, i3, i2, i1, i0]);
        assert.deepEqual(await idsOf({ sessionId: "s2" }), [i2, i3]);
        assert.deepEqual(await idsOf({ actionType: "read" }), [i0, i3, i4]);
        assert.deepEqual(await idsOf({ riskLevel: "LOW" }), [i0, i3]);
        assert.deepEqual(await idsOf({ resultStatus: "blocked" }), [i2]);
        assert.deepEqual(await idsOf({ agentId: "a1" }), [i0, i3]);
        assert.deepEqual(await idsOf({ matchedRule: "no_delete" }), [i2]);
        assert.deepEqual(await idsOf({ actionType: "read", sessionId: "s2" }), [i3]);
        // since inclusive, until exclusive
        assert.deepEqual(await idsOf({ since: at(1), until: at(3) }), [i1, i2]);
        assert.deepEqual(await idsOf({ since: at(4) }), [i4]);
        assert.deepEqual(await idsOf({ until: at(0) }), []);
        assert.deepEqual(await idsOf({ limit: 2 }), [i0, i1]);
        assert.deepEqual(await idsOf({ limit: 0 }), []);
        // Cursor paging, both directions.
        assert.deepEqual(await idsOf({ afterId: i1, limit: 2 }), [i2, i3]);
        assert.deepEqual(await idsOf({ afterId: i3, order: "desc" }), [i2, i1, i0]);
        assert.deepEqual(await idsOf({ afterId: i1, actionType: "read" }), [i3, i4]);
        const pages: number[] = [];
        let cursor: number | undefined;
        for (;;) {
          const page = await idsOf({ limit: 2, afterId: cursor });
          if (page.length === 0) break;
          pages.push(...page);
          cursor = page.at(-1);
        }
        assert.deepEqual(pages, ids);
        assert.deepEqual(await idsOf({ sessionId: "nobody" }), []);
      }));

    test("failUnacknowledged fails only the pending rows of that write", () =>
      withStore(async (h) => {
        const t = new Date();
        const writeId = "7d1c7e7e-8f0a-4d55-9a4e-2a3c5b6d7e8f";
        const [p1, done, blocked] = await h.store.writeBatch(
          [row({ timestamp: t }), row({ timestamp: t }), row({ timestamp: t, resultStatus: "blocked" })],
          [],
          writeId,
        );
        const [other] = await h.store.writeBatch(
          [row({ timestamp: t })],
          [],
          "00000000-0000-4000-8000-000000000000",
        );
        await h.store.writeBatch(
          [],
          [{ id: done!, resultStatus: "success", resultData: null, resultError: null }],
        );
        const n = await h.store.failUnacknowledged(
          { writeId, since: new Date(t.getTime() - 1), until: new Date(t.getTime() + 1) },
          "not executed: test",
        );
        assert.equal(n, 1);
        const byId = new Map((await h.store.query(q())).records.map((r) => [r.id, r]));
        assert.equal(byId.get(p1!)?.result_status, "failed");
        assert.equal(byId.get(p1!)?.result_error, "not executed: test");
        assert.equal(byId.get(done!)?.result_status, "success");
        assert.equal(byId.get(blocked!)?.result_status, "blocked");
        assert.equal(byId.get(other!)?.result_status, "pending");
      }));

    test("a page stops at the byte budget, one row at least, and resumes after it", () =>
      withStore(async (h) => {
        const blob = "b".repeat(30_000);
        const ids = await h.store.writeBatch(
          Array.from({ length: 7 }, () => row({ actionParams: { blob } })),
          [],
        );
        const first = await h.store.query(q({ maxBytes: 100_000 }));
        assert.equal(first.truncated, true);
        assert.deepEqual(
          first.records.map((r) => r.id),
          ids.slice(0, 3),
        );
        const rest = await h.store.query(q({ maxBytes: 100_000, afterId: first.records.at(-1)!.id }));
        assert.deepEqual(
          rest.records.map((r) => r.id),
          ids.slice(3, 6),
        );
        const tiny = await h.store.query(q({ maxBytes: 10 }));
        assert.equal(tiny.records.length, 1);
        assert.equal(tiny.truncated, true);
        const all = await h.store.query(q());
        assert.equal(all.records.length, 7);
        assert.equal(all.truncated, false);
        assert.equal((all.records[0]!.action_params as { blob: string }).blob, blob);
      }));

    test("a row the database refuses is invalid_argument", () =>
      withStore(async (h) => {
        await assert.rejects(
          h.store.writeBatch([row({ actionParams: { bad: "nul\u0000byte" } })], []),
          (err: unknown) => err instanceof AegisError && err.code === "invalid_argument",
        );
        assert.deepEqual((await h.store.query(q())).records, []);
      }));

    test("ping answers; a closed store is unavailable", async () => {
      const h = await make();
      try {
        await h.store.migrate();
        await h.store.ping(2000);
        await h.store.close();
        await assert.rejects(
          h.store.ping(500),
          (err: unknown) => err instanceof AegisError && err.code === "unavailable",
        );
      } finally {
        await h.cleanup();
      }
    });
  });
}

// ---- embedded (PGlite): one instance for the file, a schema per test ----
let lite: PGlite | null = null;
let schemaSeq = 0;
contract(
  "embedded PGlite",
  () => async () => {
    const db = lite!;
    const schema = `t${++schemaSeq}_${process.pid}`;
    const store = await createEmbeddedStoreOn(db, { schema });
    return {
      store,
      // PGlite is one connection: a second store on it shares the search_path.
      second: () => createEmbeddedStoreOn(db, { schema }),
      sql: async (text) => (await db.query<Record<string, unknown>>(text)).rows,
      cleanup: async () => {
        await store.close().catch(() => undefined);
        await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; SET search_path TO public`);
      },
    };
  },
  async () => {
    lite = await PGlite.create();
  },
  async () => {
    await lite?.close();
  },
);

// ---- PostgreSQL: a database per test ----
const adminUrl = await postgresUrl();
if (adminUrl === null) {
  loudNotRun("the audit store contract suite against PostgreSQL (test/audit/store-contract.test.ts)");
} else {
  contract(
    "PostgreSQL",
    () => async () => {
      const db = await createTestDatabase(adminUrl);
      const store = createPostgresStore({ url: db.url });
      const extra: AuditStore[] = [];
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      return {
        store,
        second: async () => {
          const s = createPostgresStore({ url: db.url });
          extra.push(s);
          return s;
        },
        sql: async (text) => (await client.query(text)).rows as Record<string, unknown>[],
        cleanup: async () => {
          await client.end().catch(() => undefined);
          await store.close().catch(() => undefined);
          for (const s of extra) await s.close().catch(() => undefined);
          await db.drop();
        },
      };
    },
    async () => {},
    async () => {},
  );
}
