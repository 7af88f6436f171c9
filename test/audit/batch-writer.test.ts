// The group-commit writer against a scripted fake store (exact control over commits and failures)
// and once against PGlite (real flushes).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AuditStore, NewAuditRow, RowCompletion } from "../../src/audit/audit-store.js";
import { BatchWriter } from "../../src/audit/batch-writer.js";
import { createEmbeddedStore } from "../../src/audit/open-audit-store.js";
import { AegisError } from "../../src/errors.js";
import type { AuditPage, AuditQuery } from "../../src/governance/types.js";
import { deferred, row } from "./support.js";

/** lost-reply: commits, then fails as a connection that died before the answer came back. */
type Behaviour = "ok" | "hang" | "down" | "lost-reply";

/** In-memory store: records each flush; commits when `gate` allows; can be made to fail. */
class FakeStore implements AuditStore {
  readonly kind = "embedded" as const;
  readonly location = "fake";
  behaviour: Behaviour = "ok";
  /** When set, every flush waits for it before committing. */
  gate: Promise<void> | null = null;
  readonly flushes: { inserts: number; completions: number }[] = [];
  readonly committed = new Map<
    number,
    { row: NewAuditRow; completion?: RowCompletion; writeId?: string | undefined; failed?: string }
  >();
  statements = 0;
  pings = 0;
  private nextId = 1;

  async migrate(): Promise<void> {}

  async writeBatch(
    inserts: readonly NewAuditRow[],
    completions: readonly RowCompletion[],
    writeId?: string,
  ): Promise<number[]> {
    this.statements++;
    if (this.behaviour === "down")
      throw new AegisError("unavailable", "audit database unavailable: ECONNREFUSED", 1);
    if (this.behaviour === "hang") await new Promise(() => {});
    if (this.gate) await this.gate;
    if (inserts.some((r) => r.actionType === "poison")) {
      throw new AegisError("invalid_argument", "audit record rejected: bad byte");
    }
    this.flushes.push({ inserts: inserts.length, completions: completions.length });
    const ids = inserts.map((r) => {
      const id = this.nextId++;
      this.committed.set(id, { row: r, writeId });
      return id;
    });
    for (const c of completions) {
      const entry = this.committed.get(c.id);
      if (entry) entry.completion = c;
    }
    if (this.behaviour === "lost-reply") {
      this.behaviour = "down";
      throw new AegisError("unavailable", "audit database unavailable: Query read timeout", 1);
    }
    return ids;
  }

  async query(_q: AuditQuery): Promise<AuditPage> {
    return { records: [], truncated: false };
  }

  readonly reconciled: { writeId: string; since: Date; until: Date }[] = [];

  async failUnacknowledged(
    write: { writeId: string; since: Date; until: Date },
    reason: string,
  ): Promise<number> {
    if (this.behaviour !== "ok") throw new AegisError("unavailable", "audit database unavailable: down", 1);
    this.reconciled.push(write);
    let n = 0;
    for (const entry of this.committed.values()) {
      const t = entry.row.timestamp.getTime();
      if (
        entry.writeId === write.writeId &&
        entry.row.resultStatus === "pending" &&
        entry.completion === undefined &&
        entry.failed === undefined &&
        t >= write.since.getTime() &&
        t <= write.until.getTime()
      ) {
        entry.failed = reason;
        n++;
      }
    }
    return n;
  }

  async ping(): Promise<void> {
    this.pings++;
    if (this.behaviour !== "ok")
      throw new AegisError("unavailable", "audit database unavailable: still down", 1);
  }

  async close(): Promise<void> {}
}

const isUnavailable = (err: unknown): boolean =>
  err instanceof AegisError && err.code === "unavailable" && err.retryAfterSeconds !== undefined;

test("concurrent writes share flushes, and each promise resolves only after its row is committed", async () => {
  const store = new FakeStore();
  const gate = deferred();
  store.gate = gate.promise;
  const writer = new BatchWriter(store);
  let resolvedEarly = 0;
  const promises = Array.from({ length: 500 }, (_, i) =>
    writer.insert(row({ actionTarget: `t${i}` })).then((id) => {
      if (!store.committed.has(id)) resolvedEarly++;
      return id;
    }),
  );
  // Let the first flush start and block on the gate; nothing may have resolved.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(store.committed.size, 0);
  gate.resolve();
  const ids = await Promise.all(promises);
  assert.equal(resolvedEarly, 0);
  assert.equal(new Set(ids).size, 500, "every row has its own id");
  // Each caller got the id of its own row.
  for (const [i, id] of ids.entries()) {
    assert.equal(store.committed.get(id)?.row.actionTarget, `t${i}`);
  }
  assert.ok(store.flushes.length <= 3, `500 concurrent writes took ${store.flushes.length} flushes`);
  const stats = writer.stats();
  assert.equal(stats.rows, 500);
  assert.equal(stats.flushes, store.flushes.length);
  await writer.close();
});

test("a flush never exceeds maxBatchRows", async () => {
  const store = new FakeStore();
  const writer = new BatchWriter(store, { maxBatchRows: 64 });
  await Promise.all(Array.from({ length: 300 }, () => writer.insert(row())));
  assert.ok(store.flushes.every((f) => f.inserts + f.completions <= 64));
  assert.ok(store.flushes.length >= 5);
  await writer.close();
});

test("a full queue answers unavailable with Retry-After at once", async () => {
  const store = new FakeStore();
  const gate = deferred();
  store.gate = gate.promise;
  const writer = new BatchWriter(store, { maxQueue: 10, maxBatchRows: 5 });
  const accepted = Array.from({ length: 5 }, () => writer.insert(row()));
  // The first 5 go into the (blocked) flush; 10 more wait: the queue is full then.
  await new Promise((r) => setTimeout(r, 10));
  accepted.push(...Array.from({ length: 10 }, () => writer.insert(row())));
  await assert.rejects(writer.insert(row()), (err: unknown) => {
    assert.ok(isUnavailable(err));
    assert.match((err as Error).message, /queue is full/);
    return true;
  });
  gate.resolve();
  const results = await Promise.allSettled(accepted);
  assert.ok(results.every((r) => r.status === "fulfilled"));
  await writer.close();
});

test("database down: the batch and the queue fail with unavailable, new writes fail at once, recovery is automatic", async () => {
  const store = new FakeStore();
  store.behaviour = "down";
  const changes: boolean[] = [];
  const writer = new BatchWriter(store, { probeIntervalMs: 20, onHealthChange: (h) => changes.push(h.ok) });
  const results = await Promise.allSettled(Array.from({ length: 20 }, () => writer.insert(row())));
  assert.ok(results.every((r) => r.status === "rejected" && isUnavailable(r.reason)));
  assert.equal(writer.health().ok, false);
  assert.match(writer.health().reason ?? "", /ECONNREFUSED/);
  // Fail fast: refused without touching the store.
  await assert.rejects(writer.insert(row()), isUnavailable);
  assert.equal(store.committed.size, 0);
  store.behaviour = "ok";
  for (let i = 0; i < 100 && !writer.health().ok; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(writer.health().ok, true);
  assert.ok(store.pings >= 1);
  const id = await writer.insert(row());
  assert.ok(store.committed.has(id));
  assert.deepEqual(changes, [false, true]);
  await writer.close();
});

test("completions survive an outage: retried after recovery, never dropped", async () => {
  const store = new FakeStore();
  const writer = new BatchWriter(store, { probeIntervalMs: 20 });
  const id = await writer.insert(row());
  store.behaviour = "down";
  const done = writer.complete({ id, resultStatus: "success", resultData: { ok: 1 }, resultError: null });
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(store.committed.get(id)?.completion, undefined);
  store.behaviour = "ok";
  await done;
  assert.deepEqual(store.committed.get(id)?.completion?.resultData, { ok: 1 });
  await writer.close();
});

test("a completion past its deadline while down is rejected, not kept forever", async () => {
  const store = new FakeStore();
  const writer = new BatchWriter(store, { probeIntervalMs: 10, completionDeadlineMs: 50 });
  const id = await writer.insert(row());
  store.behaviour = "down";
  await assert.rejects(
    writer.complete({ id, resultStatus: "success", resultData: null, resultError: null }),
    isUnavailable,
  );
  await writer.close();
});

test("a row the database refuses fails alone; its batch-mates are written", async () => {
  const store = new FakeStore();
  const writer = new BatchWriter(store);
  const results = await Promise.allSettled([
    writer.insert(row({ actionType: "a" })),
    writer.insert(row({ actionType: "poison" })),
    writer.insert(row({ actionType: "b" })),
  ]);
  assert.equal(results[0]?.status, "fulfilled");
  assert.equal(results[2]?.status, "fulfilled");
  assert.equal(results[1]?.status, "rejected");
  const reason = (results[1] as PromiseRejectedResult).reason;
  assert.ok(reason instanceof AegisError && reason.code === "invalid_argument");
  assert.equal(store.committed.size, 2);
  await writer.close();
});

test("one bad row among many costs a few statements, not one per row", async () => {
  const store = new FakeStore();
  const gate = deferred();
  store.gate = gate.promise;
  const writer = new BatchWriter(store);
  const blocker = writer.insert(row()); // holds the first flush so the next one gathers all 64
  await new Promise((r) => setTimeout(r, 5));
  const results = Promise.allSettled(
    Array.from({ length: 64 }, (_, i) => writer.insert(row({ actionType: i === 37 ? "poison" : "ok" }))),
  );
  gate.resolve();
  await blocker;
  const before = store.statements;
  const settled = await results;
  assert.equal(settled.filter((r) => r.status === "rejected").length, 1);
  assert.equal(settled[37]?.status, "rejected");
  // Halving: about 2 x log2(64) statements, where retrying each row alone took 65.
  assert.ok(store.statements - before <= 14, `${store.statements - before} statements`);
  assert.equal(store.committed.size, 64);
  await writer.close();
});

test("a flush whose reply was lost: its pending rows are marked failed once the database answers", async () => {
  const store = new FakeStore();
  const reconciled: number[] = [];
  const writer = new BatchWriter(store, { probeIntervalMs: 20, onReconciled: (_w, n) => reconciled.push(n) });
  store.behaviour = "lost-reply";
  const [pending, blocked] = await Promise.allSettled([
    writer.insert(row({ resultStatus: "pending" })),
    writer.insert(row({ resultStatus: "blocked" })),
  ]);
  // The caller was told the database is unavailable, so the action never ran ...
  assert.equal(pending?.status, "rejected");
  assert.ok(isUnavailable((pending as PromiseRejectedResult).reason));
  assert.equal(blocked?.status, "rejected");
  // ... yet the statement committed: the row is pending until the database answers again.
  const rows = [...store.committed.values()];
  assert.equal(rows.length, 2);
  assert.equal(rows.find((r) => r.row.resultStatus === "pending")?.failed, undefined);
  store.behaviour = "ok";
  const deadline = Date.now() + 2000;
  while (writer.health().ok === false && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(writer.health().ok);
  const pendingRow = rows.find((r) => r.row.resultStatus === "pending");
  assert.match(pendingRow?.failed ?? "", /^not executed: the audit write was not acknowledged/);
  // A final row (blocked) is a true record of a decision and is left as it is.
  assert.equal(rows.find((r) => r.row.resultStatus === "blocked")?.failed, undefined);
  assert.deepEqual(reconciled, [1]);
  // The writer works again.
  assert.ok(store.committed.has(await writer.insert(row())));
  await writer.close();
});

test("close drains everything queued, then refuses new inserts", async () => {
  const store = new FakeStore();
  const gate = deferred();
  store.gate = gate.promise;
  const writer = new BatchWriter(store, { maxBatchRows: 10 });
  const pending = Array.from({ length: 45 }, () => writer.insert(row()));
  const closed = writer.close();
  await assert.rejects(
    writer.insert(row()),
    (err: unknown) => isUnavailable(err) && /shutting down/.test(String(err)),
  );
  setTimeout(() => gate.resolve(), 20);
  await closed;
  assert.equal(store.committed.size, 45);
  assert.equal(writer.pending, 0);
  const ids = await Promise.all(pending);
  assert.ok(ids.every((id) => store.committed.has(id)));
});

test("against PGlite: many concurrent writes take few flushes, every row is there", async () => {
  const store = await createEmbeddedStore({ location: "memory:" });
  try {
    await store.migrate();
    const writer = new BatchWriter(store);
    const ids = await Promise.all(
      Array.from({ length: 400 }, (_, i) => writer.insert(row({ chainDepth: i }))),
    );
    const stats = writer.stats();
    assert.ok(stats.flushes <= 10, `${stats.flushes} flushes for 400 writes`);
    await Promise.all(
      ids.map((id) =>
        writer.complete({ id, resultStatus: "success", resultData: { id }, resultError: null }),
      ),
    );
    await writer.close();
    const { records: recs } = await store.query({ limit: 10_000, order: "asc" });
    assert.equal(recs.length, 400);
    assert.ok(
      recs.every((r) => r.result_status === "success" && (r.result_data as { id: number }).id === r.id),
    );
    assert.deepEqual(
      recs.map((r) => r.chain_depth),
      Array.from({ length: 400 }, (_, i) => i),
    );
  } finally {
    await store.close();
  }
});

test("markDown (say a failed health check) answers the queued inserts at once", async () => {
  const store = new FakeStore();
  const gate = deferred();
  store.gate = gate.promise;
  const writer = new BatchWriter(store, { probeIntervalMs: 20 });
  const inFlight = writer.insert(row());
  await new Promise((r) => setTimeout(r, 10));
  const queued = writer.insert(row());
  writer.markDown("health check failed");
  await assert.rejects(queued, isUnavailable);
  gate.resolve();
  // The row already being written is not affected.
  assert.ok(store.committed.has(await inFlight));
  await writer.close();
});

test("a flush's completions are answered only once the next flush is on its way", async () => {
  const store = new FakeStore();
  const writer = new BatchWriter(store);
  const a = await writer.insert(row());
  // Each flush from here on is logged when sent and held until its gate opens.
  const events: string[] = [];
  const gates = [deferred(), deferred()];
  const write = store.writeBatch.bind(store);
  let sent = 0;
  store.writeBatch = async (inserts, completions) => {
    const n = sent++;
    events.push(`flush ${n + 1} sent`);
    await gates[n]?.promise;
    const ids = await write(inserts, completions);
    events.push(`flush ${n + 1} committed`);
    return ids;
  };
  const completion = writer
    .complete({ id: a, resultStatus: "success", resultData: { ok: true }, resultError: null })
    .then(() => events.push("completion answered"));
  while (sent === 0) await new Promise((r) => setImmediate(r));
  // While flush 1 (the completion) commits, an insert queues for flush 2.
  const next = writer.insert(row({ actionTarget: "next" }));
  gates[0]!.resolve();
  while (sent < 2) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ["flush 1 sent", "flush 1 committed", "flush 2 sent", "completion answered"]);
  gates[1]!.resolve();
  await Promise.all([completion, next]);
  assert.equal(store.committed.get(a)?.completion?.resultStatus, "success");
  await writer.close();
});

test("a completion with no flush after it is answered at once, not only by close", async () => {
  const store = new FakeStore();
  const writer = new BatchWriter(store);
  const id = await writer.insert(row());
  const done = writer.complete({ id, resultStatus: "failed", resultData: null, resultError: "boom" });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((r) => {
    timer = setTimeout(() => r("late"), 1000);
  });
  assert.equal(await Promise.race([done.then(() => "answered" as const), late]), "answered");
  clearTimeout(timer);
  assert.equal(store.committed.get(id)?.completion?.resultError, "boom");
  await writer.close();
});

test("close waits for a completion's caller to be answered", async () => {
  const store = new FakeStore();
  const writer = new BatchWriter(store);
  const id = await writer.insert(row());
  let answered = false;
  const done = writer
    .complete({ id, resultStatus: "success", resultData: null, resultError: null })
    .then(() => {
      answered = true;
    });
  await writer.close();
  assert.equal(answered, true, "close resolved before the completion's caller was answered");
  await done;
});

test("an onHealthChange callback that throws does not break the writer", async () => {
  const store = new FakeStore();
  const writer = new BatchWriter(store, {
    probeIntervalMs: 10,
    onHealthChange: () => {
      throw new Error("observer bug");
    },
  });
  store.behaviour = "down";
  await assert.rejects(writer.insert(row()), isUnavailable);
  store.behaviour = "ok";
  while (!writer.health().ok) await new Promise((r) => setTimeout(r, 5));
  const id = await writer.insert(row());
  assert.ok(store.committed.has(id));
  await writer.close();
});
