// Audit benchmark: `npm run bench:audit`. Needs PostgreSQL (DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/postgres); each measurement uses a fresh database.
//
// 1. The writer alone, PostgreSQL: the same 64 (then 512) concurrent callers insert rows either one INSERT +
//    commit per row (the baseline: what a per-request commit costs) or through the group-commit
//    BatchWriter; rows/s, and the batched path's mean rows per flush. Also the embedded store.
// 2. The server (a real `aegis serve` process on PostgreSQL): REST Execute next to REST Evaluate
//    (autocannon, 50 connections) and gRPC Execute next to gRPC Evaluate (h2load when installed,
//    else @grpc/grpc-js; 50 concurrent calls), req/s and p50/p99 latency, in the same run. Every
//    Execute commits its rows (pending, then completed) before it replies.
// Each measurement is repeated (BENCH_REPS, default 5) and the median reported, with ratios from
// the same run.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import pg from "pg";
import {
  EvaluateRequestSchema,
  ExecuteRequestSchema,
  GovernanceService,
} from "../gen/aegis/v1/governance_service_pb.js";
import { ActionSchema } from "../gen/aegis/v1/types_pb.js";
import type { AuditStore } from "../src/audit/audit-store.js";
import { BatchWriter } from "../src/audit/batch-writer.js";
import { createEmbeddedStore, createPostgresStore } from "../src/audit/open-audit-store.js";
import { row } from "../test/audit/support.js";
import { grpcClient, unary } from "../test/support/grpc.js";
import { createTestDatabase, DEFAULT_PG_URL } from "../test/support/postgres.js";
import { startServer } from "../test/support/server-process.js";

const REPS = Number(process.env["BENCH_REPS"] ?? 5);
/** Concurrent callers of the writer benchmark (a loaded server has many requests waiting at once). */
const CALLER_LEVELS = [64, 512];
const SINGLE_ROWS = 3000;
const BATCH_ROWS = 30_000;
const HTTP_SECONDS = Number(process.env["BENCH_SECONDS"] ?? 5);
const CONNECTIONS = 50;

type Run = { rps: number; p50: number; p99: number; bad: number };

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

async function callers(n: number, total: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let i = next++; i < total; i = next++) await fn(i);
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

async function writerRun(n: number, open: () => Promise<{ store: AuditStore; done: () => Promise<void> }>) {
  const single = await open();
  await single.store.migrate();
  const singleRate = await callers(n, SINGLE_ROWS, (i) =>
    single.store.writeBatch([row({ chainDepth: i })], []),
  );
  await single.done();

  const batched = await open();
  await batched.store.migrate();
  const writer = new BatchWriter(batched.store);
  const batchRate = await callers(n, BATCH_ROWS, (i) => writer.insert(row({ chainDepth: i })));
  const stats = writer.stats();
  await writer.close();
  await batched.done();
  return { singleRate, batchRate, rowsPerFlush: stats.rows / stats.flushes };
}

async function benchWriter(
  label: string,
  open: () => Promise<{ store: AuditStore; done: () => Promise<void> }>,
) {
  for (const n of CALLER_LEVELS) {
    const runs: Awaited<ReturnType<typeof writerRun>>[] = [];
    for (let r = 0; r < REPS; r++) runs.push(await writerRun(n, open));
    const single = median(runs.map((x) => x.singleRate));
    const batch = median(runs.map((x) => x.batchRate));
    const ratio = median(runs.map((x) => x.batchRate / x.singleRate));
    console.log(`\n## Writer alone: ${label}, ${n} concurrent callers (median of ${REPS})`);
    console.log(`single-row INSERT + commit per row : ${fmt(single).padStart(9)} rows/s`);
    console.log(
      `group commit (BatchWriter)         : ${fmt(batch).padStart(9)} rows/s   mean rows/flush ${median(runs.map((x) => x.rowsPerFlush)).toFixed(1)}`,
    );
    console.log(`ratio batched / single (per run, median): ${ratio.toFixed(1)}x`);
  }
}

async function restRun(url: string, path: string) {
  const r = await autocannon({
    url: url + path,
    method: "POST",
    connections: CONNECTIONS,
    duration: HTTP_SECONDS,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ action_type: "read_file", target: "/tmp/x", params: { n: 1 } }),
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, bad: r.non2xx + r.errors };
}

/** One gRPC frame (uncompressed, length-prefixed) holding `bytes`. */
function grpcFrame(bytes: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + bytes.length);
  frame.writeUInt32BE(bytes.length, 1);
  Buffer.from(bytes).copy(frame, 5);
  return frame;
}

const H2LOAD = ["/usr/bin/h2load", "/usr/local/bin/h2load"].find((p) => existsSync(p));

/**
 * gRPC load. With h2load (nghttp2-client) when installed: 10 HTTP/2 connections x 5 streams,
 * per-request times from its log file. Otherwise @grpc/grpc-js (its client costs more CPU than
 * the server here, so its numbers understate the server).
 */
async function grpcRun(authority: string, method: "evaluate" | "execute"): Promise<Run> {
  const action = create(ActionSchema, { actionType: "read_file", target: "/tmp/x" });
  const client = grpcClient(authority);
  // One checked call first: h2load sees HTTP 200 even when grpc-status says otherwise.
  if (method === "evaluate")
    await unary(client, GovernanceService.method.evaluate, create(EvaluateRequestSchema, { action }));
  else await unary(client, GovernanceService.method.execute, create(ExecuteRequestSchema, { action }));
  if (H2LOAD !== undefined) {
    client.close();
    const body =
      method === "evaluate"
        ? toBinary(EvaluateRequestSchema, create(EvaluateRequestSchema, { action }))
        : toBinary(ExecuteRequestSchema, create(ExecuteRequestSchema, { action }));
    const dir = mkdtempSync(join(tmpdir(), "aegis-bench-"));
    try {
      writeFileSync(join(dir, "body"), grpcFrame(body));
      const path = method === "evaluate" ? "Evaluate" : "Execute";
      const out = execFileSync(
        H2LOAD,
        [
          "-c",
          "10",
          "-m",
          String(Math.ceil(CONNECTIONS / 10)),
          "-D",
          String(HTTP_SECONDS),
          "-d",
          join(dir, "body"),
          "-H",
          "content-type: application/grpc",
          "-H",
          "te: trailers",
          `--log-file=${join(dir, "log")}`,
          `http://${authority}/aegis.v1.GovernanceService/${path}`,
        ],
        { encoding: "utf8" },
      );
      const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? 0);
      const failed = Number(/(\d+) failed/.exec(out)?.[1] ?? 0);
      const lat = readFileSync(join(dir, "log"), "utf8")
        .trim()
        .split("\n")
        .map((l) => Number(l.split("\t")[2]) / 1000)
        .sort((a, b) => a - b);
      const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
      return { rps, p50: pct(0.5), p99: pct(0.99), bad: failed };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const evaluateReq = create(EvaluateRequestSchema, { action });
  const executeReq = create(ExecuteRequestSchema, { action });
  const lat: number[] = [];
  let bad = 0;
  const end = performance.now() + HTTP_SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        try {
          if (method === "evaluate") await unary(client, GovernanceService.method.evaluate, evaluateReq);
          else await unary(client, GovernanceService.method.execute, executeReq);
          lat.push(performance.now() - s);
        } catch {
          bad++;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  client.close();
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { rps: lat.length / secs, p50: pct(0.5), p99: pct(0.99), bad };
}

function report(name: string, runs: Run[]): number {
  const rps = median(runs.map((r) => r.rps));
  console.log(
    `${name.padEnd(16)} ${fmt(rps).padStart(8)} req/s   p50 ${median(runs.map((r) => r.p50))
      .toFixed(1)
      .padStart(6)} ms   p99 ${median(runs.map((r) => r.p99))
      .toFixed(1)
      .padStart(6)} ms   non-2xx/errors ${runs.reduce((a, r) => a + r.bad, 0)}`,
  );
  return rps;
}

async function benchServer(adminUrl: string) {
  const db = await createTestDatabase(adminUrl);
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    server = await startServer({ env: { AEGIS_AUDIT_DB: db.url, AEGIS_LOG_LEVEL: "warn" } });
    // Warm-up.
    await restRun(server.url, "/api/v1/execute");
    const rest = { evaluate: [] as Run[], execute: [] as Run[] };
    const grpc = { evaluate: [] as Run[], execute: [] as Run[] };
    for (let r = 0; r < REPS; r++) {
      rest.evaluate.push(await restRun(server.url, "/api/v1/evaluate"));
      rest.execute.push(await restRun(server.url, "/api/v1/execute"));
      grpc.evaluate.push(await grpcRun(server.authority, "evaluate"));
      grpc.execute.push(await grpcRun(server.authority, "execute"));
    }
    console.log(
      `\n## Server on PostgreSQL (${CONNECTIONS} connections/concurrent calls, ${HTTP_SECONDS} s each, median of ${rest.execute.length})`,
    );
    const re = report("REST Evaluate", rest.evaluate);
    const rx = report("REST Execute", rest.execute);
    const ge = report("gRPC Evaluate", grpc.evaluate);
    const gx = report("gRPC Execute", grpc.execute);
    // Each repetition measures Evaluate and Execute back to back, so its ratio is taken under the
    // same machine load; the median of those ratios is the figure to quote (this machine's speed
    // drifts between repetitions, and Evaluate, CPU-bound, drifts more than Execute).
    const perRun = (a: Run[], b: Run[]) =>
      median(a.map((x, i) => (100 * x.rps) / (b[i]?.rps ?? Number.NaN))).toFixed(0);
    console.log(
      `REST Execute / REST Evaluate: ${((100 * rx) / re).toFixed(0)}% of the medians, ` +
        `${perRun(rest.execute, rest.evaluate)}% median of the per-run ratios`,
    );
    console.log(
      `gRPC Execute / gRPC Evaluate: ${((100 * gx) / ge).toFixed(0)}% of the medians, ` +
        `${perRun(grpc.execute, grpc.evaluate)}% median of the per-run ratios`,
    );
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE result_status = 'pending')::int AS pending FROM audit_log",
    );
    await c.end();
    console.log(`audit rows written: ${fmt(rows[0].n)} (still pending: ${rows[0].pending})`);
  } finally {
    await server?.stop("SIGTERM");
    await db.drop();
  }
}

async function main() {
  const adminUrl = process.env["DATABASE_URL"] || DEFAULT_PG_URL;
  try {
    const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
    await c.connect();
    await c.end();
  } catch (err) {
    console.error(`PostgreSQL not reachable at ${adminUrl}: ${(err as Error).message}`);
    process.exit(1);
  }
  console.log(`# Aegis audit benchmark (node ${process.version}, PostgreSQL at ${new URL(adminUrl).host})`);
  if (process.env["BENCH_SKIP_WRITER"] !== "1") await benchWriters(adminUrl);
  if (process.env["BENCH_SKIP_SERVER"] !== "1") await benchServer(adminUrl);
}

async function benchWriters(adminUrl: string) {
  await benchWriter("PostgreSQL", async () => {
    const db = await createTestDatabase(adminUrl);
    const store = createPostgresStore({ url: db.url });
    return {
      store,
      done: async () => {
        await store.close();
        await db.drop();
      },
    };
  });
  await benchWriter("embedded PGlite (memory:)", async () => {
    const store = await createEmbeddedStore({ location: "memory:" });
    return { store, done: () => store.close() };
  });
}

await main();
