// Policy simulation benchmark: `npm run bench:simulate`. Replays recorded actions from the audit
// trail through the active policy and a candidate (what `POST /api/v1/policy:simulate` does) and
// prints replayed actions/s, with the time split between reading the audit trail and evaluating.
// The same run also times evaluation alone (the rows already in memory), the ceiling reading
// can approach. PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres,
// a fresh database) and the embedded store. Each figure is the median of BENCH_REPS (default 5).
import { readFileSync } from "node:fs";
import type { AuditStore } from "../src/audit/audit-store.js";
import { createEmbeddedStore, createPostgresStore } from "../src/audit/open-audit-store.js";
import type { AuditQuery, AuditRecord } from "../src/audit/types.js";
import { simulatePolicy } from "../src/governance/policy-simulate.js";
import { parsePolicy } from "../src/policy/index.js";
import { row } from "../test/audit/support.js";
import { createTestDatabase, DEFAULT_PG_URL } from "../test/support/postgres.js";
import { defaultPolicyPath } from "../test/support/server-process.js";

const REPS = Number(process.env["BENCH_REPS"] ?? 5);
const PG_ROWS = Number(process.env["BENCH_SIMULATE_ROWS"] ?? 100_000);
const EMBEDDED_ROWS = Math.min(PG_ROWS, 50_000);

const SEED = readFileSync(defaultPolicyPath, "utf8");
const CANDIDATE = SEED.replace(
  "approval: approve\n  - name: delete_block",
  "approval: block\n  - name: delete_block",
);
const KINDS = ["read_file", "write_db", "delete_user", "send_mail", "read_crm", "write_crm"];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function fill(store: AuditStore, n: number): Promise<void> {
  await store.migrate();
  for (let done = 0; done < n; ) {
    const batch = Array.from({ length: Math.min(2000, n - done) }, (_, i) =>
      row({
        actionType: KINDS[(done + i) % KINDS.length] as string,
        actionTarget: `target-${(done + i) % 97}`,
        actionParams: { amount: (done + i) % 1000, currency: "EUR", note: "a recorded action" },
        agentId: `agent-${(done + i) % 13}`,
        resultStatus: "success",
      }),
    );
    await store.writeBatch(batch, []);
    done += batch.length;
  }
}

async function measure(label: string, store: AuditStore, rows: number): Promise<void> {
  const active = parsePolicy(SEED);
  const candidate = parsePolicy(CANDIDATE);
  const read = (q: AuditQuery) => store.query(q);
  const runs: { rate: number; read: number; evaluate: number; replayed: number }[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    const result = await simulatePolicy(active, candidate, read, { sample: {}, limit: rows, examples: 5 });
    const seconds = (performance.now() - t0) / 1000;
    runs.push({
      rate: result.replayed / seconds,
      read: result.readSeconds,
      evaluate: result.evaluateSeconds,
      replayed: result.replayed,
    });
  }
  // Evaluation alone, over the same rows in memory.
  const all: AuditRecord[] = [];
  for (let afterId: number | undefined; all.length < rows; ) {
    const page = await store.query({ limit: 1000, order: "desc", afterId, maxBytes: 64 * 1024 * 1024 });
    if (page.records.length === 0) break;
    all.push(...page.records);
    afterId = page.records[page.records.length - 1]?.id;
  }
  const evalRates: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const memo = all;
    const t0 = performance.now();
    await simulatePolicy(active, candidate, async () => ({ records: memo, truncated: false }), {
      sample: {},
      limit: memo.length,
      examples: 5,
    });
    evalRates.push(memo.length / ((performance.now() - t0) / 1000));
  }
  const rate = median(runs.map((x) => x.rate));
  const readS = median(runs.map((x) => x.read));
  const evalS = median(runs.map((x) => x.evaluate));
  console.log(`\n## ${label}: ${fmt(runs[0]?.replayed ?? 0)} recorded actions (median of ${REPS})`);
  console.log(`simulate, read + evaluate : ${fmt(rate).padStart(11)} actions/s`);
  console.log(
    `  time split              : read ${(readS * 1000).toFixed(1)} ms (${((100 * readS) / (readS + evalS)).toFixed(0)}%), evaluate both policies ${(evalS * 1000).toFixed(1)} ms`,
  );
  console.log(`evaluate alone (in memory): ${fmt(median(evalRates)).padStart(11)} actions/s`);
}

async function main(): Promise<void> {
  const adminUrl = process.env["DATABASE_URL"] || DEFAULT_PG_URL;
  const db = await createTestDatabase(adminUrl);
  try {
    const store = createPostgresStore({ url: db.url });
    await fill(store, PG_ROWS);
    await measure("PostgreSQL", store, PG_ROWS);
    await store.close();
  } finally {
    await db.drop();
  }
  const embedded = await createEmbeddedStore({ location: "memory:" });
  await fill(embedded, EMBEDDED_ROWS);
  await measure("embedded store (memory:)", embedded, EMBEDDED_ROWS);
  await embedded.close();
}

await main();
