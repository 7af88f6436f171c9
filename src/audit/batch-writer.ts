// Group commit for the audit trail. Callers enqueue rows and wait; one flush at a time takes
// everything queued (up to maxBatchRows) and writes it with ONE statement, so N concurrent
// requests cost one commit instead of N. A promise resolves only after the commit of its row.
//
// Back-pressure and failure:
// - the queue is bounded: a full queue rejects new rows at once with `unavailable` + Retry-After;
// - a connection failure trips a breaker: the failed batch's inserts and every queued insert are
//   rejected with `unavailable`, new inserts are refused at once (fail fast, nothing runs), and a
//   probe pings the database until it answers, then the breaker closes by itself;
// - completions (an action that already ran) are never dropped on a connection failure: they wait
//   in the queue and are retried until written or until `completionDeadlineMs` passes;
// - a row the database refuses (bad data) is found by halving its batch, so it fails alone at the
//   cost of a few statements, not one statement per row of the batch;
// - a flush whose connection fails after the statement went out may still have committed: its
//   callers were answered `unavailable` and nothing ran, so once the database answers again its
//   rows still `pending` are marked `failed` (reconciliation; again RECHECK_MS later, for a
//   commit that was still on its way);
// - close() refuses new inserts, drains what is queued (completions included), then resolves.
//
// Overlap: when a flush commits, the callers of its completions reply to their clients (a socket
// write each), and the callers of its inserts start their executors and queue completions for the
// next flush. The completions' promises are therefore resolved only once the next flush has been
// sent, so PostgreSQL commits it while those replies are written instead of after (measured with
// 50 connections: the gap between flushes was a fifth of each cycle).
import { randomUUID } from "node:crypto";
import { AegisError } from "../errors.js";
import { RETRY_AFTER_SECONDS } from "../storage/index.js";
import type {
  AuditStore,
  NewAuditRow,
  RowCompletion,
  StoreHealth,
  UnacknowledgedWrite,
} from "./audit-store.js";

/** What an unacknowledged flush's pending rows are completed with. */
export const UNACKNOWLEDGED_REASON =
  "not executed: the audit write was not acknowledged (database unavailable); " +
  "the caller was answered 503 and the action did not run";
/** A second reconciliation pass this long after the failure catches a commit that was late. */
export const RECHECK_MS = 10_000;

export interface BatchWriterOptions {
  /** Most rows one flush writes (default 1000). */
  readonly maxBatchRows?: number;
  /** Most inserts waiting at once; one more is refused with `unavailable` (default 10000). */
  readonly maxQueue?: number;
  /** How often a tripped breaker pings the database (default 500 ms). */
  readonly probeIntervalMs?: number;
  /** Timeout of one probe ping (default 1000 ms). */
  readonly probeTimeoutMs?: number;
  /** How long a completion is retried while the database is down (default 15000 ms). */
  readonly completionDeadlineMs?: number;
  /** What a tripped breaker runs to see whether the store is back (default: `store.ping`). */
  readonly probe?: () => Promise<void>;
  /** Called when the store goes down or comes back. */
  readonly onHealthChange?: (health: StoreHealth) => void;
  /** Called when reconciliation marked rows of an unacknowledged flush `failed`. */
  readonly onReconciled?: (write: UnacknowledgedWrite, rows: number) => void;
}

export interface WriterStats {
  readonly flushes: number;
  readonly rows: number;
  readonly largestFlush: number;
}

interface InsertItem {
  readonly kind: "insert";
  readonly row: NewAuditRow;
  readonly resolve: (id: number) => void;
  readonly reject: (err: unknown) => void;
}

interface CompleteItem {
  readonly kind: "complete";
  readonly completion: RowCompletion;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

type Item = InsertItem | CompleteItem;

export class BatchWriter {
  private readonly maxBatchRows: number;
  private readonly maxQueue: number;
  private readonly probeIntervalMs: number;
  private readonly probeTimeoutMs: number;
  private readonly completionDeadlineMs: number;
  private queue: Item[] = [];
  private queuedInserts = 0;
  private flushing = false;
  private scheduled = false;
  private closing = false;
  private down: { reason: string; since: Date } | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private drainWaiters: (() => void)[] = [];
  /** Committed completions whose callers have not been told yet (see "Overlap" above). */
  private replies: CompleteItem[] = [];
  private repliesScheduled = false;
  private flushes = 0;
  private rows = 0;
  private largestFlush = 0;
  /** Flushes with pending rows whose commit is in doubt (see reconcile). */
  private unacknowledged: { write: UnacknowledgedWrite; at: number }[] = [];
  private recheckTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: AuditStore,
    private readonly options: BatchWriterOptions = {},
  ) {
    this.maxBatchRows = Math.max(1, options.maxBatchRows ?? 1000);
    this.maxQueue = Math.max(1, options.maxQueue ?? 10_000);
    this.probeIntervalMs = options.probeIntervalMs ?? 500;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 1000;
    this.completionDeadlineMs = options.completionDeadlineMs ?? 15_000;
  }

  /** Inserts a row; resolves with its id once committed. */
  insert(row: NewAuditRow): Promise<number> {
    if (this.closing) {
      return Promise.reject(new AegisError("unavailable", "server is shutting down", RETRY_AFTER_SECONDS));
    }
    if (this.down !== null) {
      return Promise.reject(
        new AegisError("unavailable", `audit database unavailable: ${this.down.reason}`, RETRY_AFTER_SECONDS),
      );
    }
    if (this.queuedInserts >= this.maxQueue) {
      return Promise.reject(
        new AegisError(
          "unavailable",
          `audit write queue is full (${this.maxQueue} rows waiting); retry shortly`,
          RETRY_AFTER_SECONDS,
        ),
      );
    }
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ kind: "insert", row, resolve, reject });
      this.queuedInserts++;
      this.schedule();
    });
  }

  /** Completes a pending row; resolves once committed. Accepted while closing (drain). */
  complete(completion: RowCompletion): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({
        kind: "complete",
        completion,
        deadline: Date.now() + this.completionDeadlineMs,
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  /** The breaker's view: down since the last connection failure until a probe succeeds. */
  health(): StoreHealth {
    if (this.down !== null) return { ok: false, reason: this.down.reason };
    if (this.closing) return { ok: false, reason: "shutting down" };
    return { ok: true };
  }

  stats(): WriterStats {
    return { flushes: this.flushes, rows: this.rows, largestFlush: this.largestFlush };
  }

  /** Rows waiting (not yet in a flush). */
  get pending(): number {
    return this.queue.length;
  }

  /** Refuses new inserts, writes everything queued, stops the probe. Does not close the store. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.queue.length > 0 || this.flushing || this.replies.length > 0) {
      await new Promise<void>((resolve) => {
        this.drainWaiters.push(resolve);
        this.schedule();
      });
    }
    this.stopProbe();
    // A last attempt for doubtful flushes; they stay pending if the database is still away.
    if (this.down === null) await this.reconcile().catch(() => undefined);
  }

  private schedule(): void {
    if (this.scheduled || this.flushing || this.queue.length === 0) return;
    if (this.down !== null) {
      // Only completions can be queued while down; the probe flushes them on recovery. Expire the
      // ones past their deadline meanwhile.
      this.expireCompletions();
      return;
    }
    this.scheduled = true;
    // setImmediate: requests whose I/O is already readable join this flush.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0 || this.down !== null) {
      this.releaseReplies();
      this.checkDrained();
      return;
    }
    this.flushing = true;
    const batch = this.queue.splice(0, this.maxBatchRows);
    const inserts = batch.filter((i): i is InsertItem => i.kind === "insert");
    this.queuedInserts -= inserts.length;
    const committed: CompleteItem[] = [];
    try {
      const writing = this.write(batch, committed);
      // The statement is on its way; now the previous flush's callers may reply.
      this.releaseReplies();
      await writing;
    } finally {
      this.flushing = false;
      this.replies.push(...committed);
    }
    if (this.queue.length > 0) this.schedule();
    this.scheduleReplies();
    this.checkDrained();
  }

  /**
   * Resolves the held completions on the next turn of the event loop unless a flush is due then
   * (it releases them itself once its statement is sent). Queued after the flush's own timer
   * when the inserts' callers queue completions, so the flush goes first.
   */
  private scheduleReplies(): void {
    if (this.repliesScheduled || this.replies.length === 0) return;
    this.repliesScheduled = true;
    setImmediate(() => {
      this.repliesScheduled = false;
      if (this.scheduled) {
        // A flush runs after this callback and releases the replies; make sure one always does.
        setImmediate(() => this.releaseReplies());
        return;
      }
      this.releaseReplies();
      this.checkDrained();
    });
  }

  private releaseReplies(): void {
    if (this.replies.length === 0) return;
    const replies = this.replies;
    this.replies = [];
    for (const c of replies) c.resolve();
  }

  /** Writes `batch`; resolves its inserts, and hands its committed completions to `committed`. */
  private async write(batch: Item[], committed: CompleteItem[]): Promise<void> {
    const inserts = batch.filter((i): i is InsertItem => i.kind === "insert");
    const completes = batch.filter((i): i is CompleteItem => i.kind === "complete");
    if (this.down !== null) {
      // An earlier part of a halved batch tripped the breaker: treat the rest like the queue.
      this.queue.unshift(...completes);
      const e = new AegisError(
        "unavailable",
        `audit database unavailable: ${this.down.reason}`,
        RETRY_AFTER_SECONDS,
      );
      for (const i of inserts) i.reject(e);
      return;
    }
    const writeId = randomUUID();
    try {
      const ids = await this.store.writeBatch(
        inserts.map((i) => i.row),
        completes.map((c) => c.completion),
        writeId,
      );
      this.flushes++;
      this.rows += batch.length;
      if (batch.length > this.largestFlush) this.largestFlush = batch.length;
      inserts.forEach((item, n) => {
        const id = ids[n];
        if (id === undefined) item.reject(new AegisError("internal", "audit write returned no id"));
        else item.resolve(id);
      });
      committed.push(...completes);
    } catch (err) {
      const e =
        err instanceof AegisError ? err : new AegisError("internal", `audit write failed: ${String(err)}`);
      if (e.code === "unavailable") {
        this.noteUnacknowledged(writeId, inserts);
        // Completions go back to the front; they are retried after recovery.
        this.queue.unshift(...completes);
        this.trip(e.message);
        for (const i of inserts) i.reject(e);
        this.expireCompletions();
        return;
      }
      if (batch.length > 1) {
        // One bad row must not fail the others: halve until it is alone.
        const half = batch.length >> 1;
        await this.write(batch.slice(0, half), committed);
        await this.write(batch.slice(half), committed);
        return;
      }
      for (const item of batch) item.reject(e);
    }
  }

  private noteUnacknowledged(writeId: string, inserts: readonly InsertItem[]): void {
    let since = Number.POSITIVE_INFINITY;
    let until = Number.NEGATIVE_INFINITY;
    for (const i of inserts) {
      if (i.row.resultStatus !== "pending") continue;
      const t = i.row.timestamp.getTime();
      if (t < since) since = t;
      if (t > until) until = t;
    }
    if (since > until) return; // only final rows (blocked, denied): nothing was about to run
    this.unacknowledged.push({
      write: { writeId, since: new Date(since), until: new Date(until) },
      at: Date.now(),
    });
  }

  /**
   * Fails the still-pending rows of every unacknowledged flush. Throws when the store does not
   * answer (the caller stays down). Flushes younger than RECHECK_MS are checked once more then.
   */
  private async reconcile(): Promise<void> {
    if (this.unacknowledged.length === 0) return;
    for (const { write } of this.unacknowledged) {
      const n = await this.store.failUnacknowledged(write, UNACKNOWLEDGED_REASON);
      if (n > 0) this.options.onReconciled?.(write, n);
    }
    const now = Date.now();
    this.unacknowledged = this.unacknowledged.filter((u) => now - u.at < RECHECK_MS);
    const first = this.unacknowledged[0];
    if (first === undefined || this.recheckTimer !== null || this.closing) return;
    this.recheckTimer = setTimeout(
      () => {
        this.recheckTimer = null;
        if (this.down === null) void this.reconcile().catch(() => undefined);
      },
      first.at + RECHECK_MS - now,
    );
    this.recheckTimer.unref();
  }

  private failQueuedInserts(e: AegisError): void {
    const keep: Item[] = [];
    for (const item of this.queue) {
      if (item.kind === "insert") {
        this.queuedInserts--;
        item.reject(e);
      } else keep.push(item);
    }
    this.queue = keep;
  }

  private expireCompletions(): void {
    const now = Date.now();
    const keep: Item[] = [];
    for (const item of this.queue) {
      if (item.kind === "complete" && item.deadline <= now) {
        item.reject(
          new AegisError(
            "unavailable",
            `audit row ${item.completion.id} could not be completed: ${this.down?.reason ?? "database unavailable"}`,
            RETRY_AFTER_SECONDS,
          ),
        );
      } else keep.push(item);
    }
    this.queue = keep;
    this.checkDrained();
  }

  /** Marks the store down (say it was unreachable at startup); the probe brings it back. */
  markDown(reason: string): void {
    this.trip(reason);
  }

  private trip(message: string): void {
    const reason = message.replace(/^audit database unavailable: /, "");
    const wasUp = this.down === null;
    this.down = { reason, since: new Date() };
    // Inserts still waiting would fail anyway: answer them now (fail fast).
    this.failQueuedInserts(
      new AegisError("unavailable", `audit database unavailable: ${reason}`, RETRY_AFTER_SECONDS),
    );
    if (wasUp) this.notifyHealth();
    this.startProbe();
  }

  /** Tells onHealthChange; a callback that throws must not break the writer's bookkeeping. */
  private notifyHealth(): void {
    try {
      this.options.onHealthChange?.(this.health());
    } catch {
      // The writer's state is already updated; the callback only observes it.
    }
  }

  private startProbe(): void {
    if (this.probeTimer !== null) return;
    const tick = async (): Promise<void> => {
      this.probeTimer = null;
      try {
        if (this.options.probe !== undefined) await this.options.probe();
        else await this.store.ping(this.probeTimeoutMs);
        // Nothing new is written until the rows of doubtful flushes are settled.
        await this.reconcile();
        this.down = null;
        this.notifyHealth();
        this.schedule();
      } catch (err) {
        if (this.down !== null) {
          const message = err instanceof Error ? err.message : String(err);
          this.down = {
            reason: message.replace(/^audit database unavailable: /, ""),
            since: this.down.since,
          };
        }
        this.expireCompletions();
        this.probeTimer = setTimeout(() => void tick(), this.probeIntervalMs);
        // A probe alone must not keep a process alive that has nothing else to do.
        if (this.queue.length === 0) this.probeTimer.unref();
      }
    };
    this.probeTimer = setTimeout(() => void tick(), this.probeIntervalMs);
    if (this.queue.length === 0) this.probeTimer.unref();
  }

  private stopProbe(): void {
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    if (this.recheckTimer !== null) clearTimeout(this.recheckTimer);
    this.recheckTimer = null;
  }

  private checkDrained(): void {
    if (this.flushing || this.queue.length > 0 || this.replies.length > 0 || this.drainWaiters.length === 0)
      return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
