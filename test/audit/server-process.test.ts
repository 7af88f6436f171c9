// The audit guarantees with real server processes under load: every acknowledged execute has its
// committed row whatever happens to the process (SIGTERM, kill -9) or to its database connection
// (cut by a TCP proxy, then restored); the embedded directory survives kill -9 and refuses a
// second live process.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import { createEmbeddedStore } from "../../src/audit/open-audit-store.js";
import type { AuditRecord } from "../../src/governance/types.js";
import { get, post } from "../support/http.js";
import { createTestDatabase, loudNotRun, postgresUrl } from "../support/postgres.js";
import { type ServerProcess, startServer } from "../support/server-process.js";

const scratch = mkdtempSync(join(tmpdir(), "aegis-audit-proc-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Ack {
  readonly target: string;
  readonly auditId: number;
}

/** Concurrent execute loops against `base()` until stop(); records acknowledged results and 503s. */
function load(base: () => string, workers = 12) {
  const acks: Ack[] = [];
  const unavailable: { retryAfter: string | null }[] = [];
  const otherStatus: number[] = [];
  let networkErrors = 0;
  let running = true;
  let n = 0;
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) {
      const target = `w${w}-${n++}`;
      try {
        const r = await post(base(), "/api/v1/execute", {
          action_type: "read_record",
          target,
          params: { n },
        });
        if (r.status === 200) {
          const body = r.json as { status: string; audit_id: number };
          assert.equal(body.status, "success");
          acks.push({ target, auditId: body.audit_id });
        } else if (r.status === 503) {
          unavailable.push({ retryAfter: r.headers.get("retry-after") });
          await new Promise((res) => setTimeout(res, 20));
        } else otherStatus.push(r.status);
      } catch {
        networkErrors++;
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  });
  return {
    acks,
    unavailable,
    otherStatus,
    get networkErrors() {
      return networkErrors;
    },
    async until(pred: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((res) => setTimeout(res, 25));
      }
    },
    async stop(): Promise<void> {
      running = false;
      await Promise.all(loops);
    },
  };
}

function assertAllPresent(
  acks: readonly Ack[],
  records: readonly Pick<AuditRecord, "id" | "action_target" | "result_status">[],
) {
  const byId = new Map(records.map((r) => [r.id, r]));
  const missing = acks.filter((a) => byId.get(a.auditId)?.action_target !== a.target);
  assert.equal(
    missing.length,
    0,
    `${missing.length} acknowledged rows missing, e.g. ${JSON.stringify(missing.slice(0, 3))}`,
  );
  const notSuccess = acks.filter((a) => byId.get(a.auditId)?.result_status !== "success");
  assert.equal(notSuccess.length, 0, `${notSuccess.length} acknowledged rows not completed`);
}

async function pgRows(url: string): Promise<AuditRecord[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query("SELECT id, action_target, result_status FROM audit_log");
    return rows.map((r) => ({ ...r, id: Number(r.id) })) as AuditRecord[];
  } finally {
    await c.end();
  }
}

/** A TCP proxy in front of PostgreSQL that can be cut (every connection destroyed) and restored. */
async function tcpProxy(
  targetPort: number,
): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  const make = () =>
    net.createServer((client) => {
      const upstream = net.connect(targetPort, "127.0.0.1");
      sockets.add(client);
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on("error", drop);
      upstream.on("error", drop);
      client.on("close", drop);
      upstream.on("close", drop);
    });
  server = make();
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    async cut() {
      await new Promise<void>((res) => {
        server.close(() => res());
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
    },
    async restore() {
      server = make();
      await new Promise<void>((res) => server.listen(port, "127.0.0.1", res));
    },
  };
}

async function waitReady(base: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await get(base, "/ready").catch(() => null);
    if (r?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${r?.text}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe("embedded store under real processes", () => {
  test("SIGTERM and kill -9 under load keep every acknowledged row; a second live process is refused", async () => {
    const dir = join(scratch, "embedded");
    const env = { AEGIS_AUDIT_DB: dir };
    let server: ServerProcess = await startServer({ env, startTimeoutMs: 90_000 });
    try {
      // A second live process on the same directory is refused with a clear message.
      await assert.rejects(startServer({ env, startTimeoutMs: 90_000 }), (err: unknown) => {
        assert.match(String(err), /in use by another live Aegis process/);
        return true;
      });

      // SIGTERM under load: graceful, every acknowledged row committed.
      let l = load(() => server.url);
      await l.until(() => l.acks.length >= 150, "150 acknowledged executes");
      const exit = await server.stop("SIGTERM");
      await l.stop();
      assert.equal(exit.code, 0, server.describe());
      const afterTerm = [...l.acks];

      // kill -9 under load.
      server = await startServer({ env, startTimeoutMs: 90_000 });
      l = load(() => server.url);
      await l.until(() => l.acks.length >= 150, "150 acknowledged executes");
      await server.kill();
      await l.stop();
      const afterKill = [...l.acks];

      // The directory opens again after kill -9 and holds every acknowledged row.
      server = await startServer({ env, startTimeoutMs: 90_000 });
      const r = await get(server.url, "/api/v1/audit?limit=10000&action_type=read_record");
      assert.equal(r.status, 200);
      const records = r.json as AuditRecord[];
      assertAllPresent([...afterTerm, ...afterKill], records);
      const ok = await post(server.url, "/api/v1/execute", {
        action_type: "read_record",
        target: "after-restart",
      });
      assert.equal(ok.status, 200);
      await server.stop("SIGTERM");
      // Closed cleanly: the store opens in this process too.
      const store = await createEmbeddedStore({ location: dir });
      const { records: rows } = await store.query({ limit: 10_000, order: "asc", actionType: "read_record" });
      await store.close();
      assert.ok(rows.some((x) => x.action_target === "after-restart"));
    } finally {
      await server.kill();
    }
  });
});

const adminUrl = await postgresUrl();
if (adminUrl === null) {
  loudNotRun(
    "the PostgreSQL real-process tests (connection cut mid-load, SIGTERM / kill -9 under load) in test/audit/server-process.test.ts",
  );
} else {
  const admin = adminUrl;
  describe("PostgreSQL store under real processes", () => {
    test("connection cut mid-load: 503 with Retry-After while down, evaluate keeps working, automatic recovery, no acknowledged row missing", async () => {
      const db = await createTestDatabase(admin);
      const pgPort = Number(new URL(admin).port || 5432);
      const proxy = await tcpProxy(pgPort);
      const viaProxy = new URL(db.url);
      viaProxy.port = String(proxy.port);
      let started: ServerProcess | undefined;
      try {
        const server = await startServer({ env: { AEGIS_AUDIT_DB: viaProxy.toString() } });
        started = server;
        await waitReady(server.url);
        const l = load(() => server.url);
        await l.until(() => l.acks.length >= 200, "200 acknowledged executes");
        await proxy.cut();
        const before503 = l.unavailable.length;
        await l.until(() => l.unavailable.length >= before503 + 20, "503s while the database is cut off");
        assert.ok(
          l.unavailable.slice(before503).every((u) => u.retryAfter !== null),
          "503s carry Retry-After",
        );
        const ready = await get(server.url, "/ready");
        assert.equal(ready.status, 503);
        assert.match(ready.text, /audit/i);
        const evaluate = await post(server.url, "/api/v1/evaluate", {
          action_type: "read_record",
          target: "x",
        });
        assert.equal(evaluate.status, 200, "evaluate works without the database");
        const acksAtRestore = l.acks.length;
        await proxy.restore();
        await waitReady(server.url);
        await l.until(
          () => l.acks.length >= acksAtRestore + 200,
          "200 more acknowledged executes after recovery",
        );
        await l.stop();
        assert.deepEqual(l.otherStatus, [], "only 200 and 503 answers");
        assertAllPresent(l.acks, await pgRows(db.url));
      } finally {
        await started?.kill();
        await proxy.cut();
        await db.drop();
      }
    });

    test("PostgreSQL down at startup: the server starts not ready, then migrates and serves once it is up", async () => {
      const db = await createTestDatabase(admin);
      const proxy = await tcpProxy(Number(new URL(admin).port || 5432));
      await proxy.cut();
      const viaProxy = new URL(db.url);
      viaProxy.port = String(proxy.port);
      let started: ServerProcess | undefined;
      try {
        const server = await startServer({ env: { AEGIS_AUDIT_DB: viaProxy.toString() } });
        started = server;
        const ready = await get(server.url, "/ready");
        assert.equal(ready.status, 503);
        assert.match(ready.text, /audit store unavailable/);
        const refused = await post(server.url, "/api/v1/execute", {
          action_type: "read_record",
          target: "early",
        });
        assert.equal(refused.status, 503);
        assert.equal(refused.headers.get("retry-after"), "1");
        await proxy.restore();
        await waitReady(server.url);
        const ok = await post(server.url, "/api/v1/execute", { action_type: "read_record", target: "late" });
        assert.equal(ok.status, 200, ok.text);
        const rows = await pgRows(db.url);
        assert.deepEqual(
          rows.map((r) => r.action_target),
          ["late"],
        );
      } finally {
        await started?.kill();
        await proxy.cut();
        await db.drop();
      }
    });

    test("SIGTERM and kill -9 under load: every acknowledged row is committed", async () => {
      const db = await createTestDatabase(admin);
      try {
        const acks: Ack[] = [];
        for (const signal of ["SIGTERM", "SIGKILL"] as const) {
          const server = await startServer({ env: { AEGIS_AUDIT_DB: db.url } });
          try {
            const l = load(() => server.url);
            await l.until(() => l.acks.length >= 300, "300 acknowledged executes");
            const exit = await server.stop(signal);
            await l.stop();
            if (signal === "SIGTERM") assert.equal(exit.code, 0, server.describe());
            acks.push(...l.acks);
          } finally {
            await server.kill();
          }
        }
        assertAllPresent(acks, await pgRows(db.url));
      } finally {
        await db.drop();
      }
    });
  });
}
