// The execute pipeline (DESIGN §3, §5): for each action, with the policy's decision already made
//   block   -> one final `blocked` row                         (nothing runs)
//   approve -> the approval handler, bounded by the timeout;
//              refused / timed out / threw -> one `denied` row (nothing runs)
//   then    -> a `pending` row, committed -> the executor -> the row completed (`success` with the
//              executor's data, or `failed` with its message) -> the result.
// Every reply is sent after its row is committed; an action never runs without a committed row,
// so a crash while it runs leaves a `pending` row. The audit store going away makes execute fail
// fast with `unavailable` before anything runs. No HTTP knowledge here: the governance service
// (src/governance/service.ts) hands every decided action over.
import {
  type AuditStore,
  BatchWriter,
  type BatchWriterOptions,
  type NewAuditRow,
  redactParams,
  type StoreHealth,
  type WriterStats,
} from "../audit/index.js";
import { AegisError } from "../errors.js";
import { RETRY_AFTER_SECONDS, unstorableJson } from "../storage/index.js";
import { storableText } from "./action-check.js";
import {
  type ApprovalHandler,
  AUTO_APPROVAL_WARNING,
  AutoApprovalHandler,
  askApproval,
  DEFAULT_APPROVAL_TIMEOUT_MS,
} from "./approval.js";
import { newSessionId } from "./session.js";
import type { ActionRequest, EvaluateResult, ExecuteResult, ExecutionContext, Executor } from "./types.js";

/** The default executor: runs nothing, reports `{"executed": true}`. */
export class NoopExecutor implements Executor {
  async execute(): Promise<{ data: unknown }> {
    return { data: { executed: true } };
  }
}

export const DEFAULT_MAX_RESULT_BYTES = 256 * 1024;

/** One action with the decision the policy made for it. */
export interface DecidedAction {
  readonly action: ActionRequest;
  readonly decision: EvaluateResult;
  /** Why a blocked action is blocked, when not a policy rule (a suspension, a refused agent id). */
  readonly blockReason?: string | undefined;
}

/** The few logger methods used (pino's Logger fits). */
export interface PipelineLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ExecutePipelineOptions {
  readonly store: AuditStore;
  readonly executor?: Executor | undefined;
  readonly approvalHandler?: ApprovalHandler | undefined;
  /** AEGIS_APPROVAL_TIMEOUT in ms (default 30 s); a timeout denies. */
  readonly approvalTimeoutMs?: number | undefined;
  /** Used when neither the request nor the call context carries one (default: random). */
  readonly sessionId?: string | undefined;
  readonly writer?: BatchWriterOptions | undefined;
  /** AEGIS_MAX_RESULT_BYTES: executor data recorded at most, as JSON (default 256 KiB). */
  readonly maxResultBytes?: number | undefined;
  /** How long close() waits for running actions before draining the queue (default 30 s). */
  readonly drainTimeoutMs?: number | undefined;
  readonly logger?: PipelineLogger | undefined;
}

/** What GovernanceService.execute hands decided actions to. */
export interface ExecutePipeline {
  /** Each action on its own, in input order; results in input order. */
  execute(items: readonly DecidedAction[], ctx: ExecutionContext): Promise<ExecuteResult[]>;
  /** Whether execute can work now (feeds /ready and gRPC health). */
  health(): Promise<StoreHealth>;
  /** Refuses new executions, waits for running ones, then releases what it holds. */
  close(): Promise<void>;
}

/** The server's pipeline: approval -> executor -> audit rows through the group-commit writer. */
export interface AuditedExecutePipeline extends ExecutePipeline {
  readonly sessionId: string;
  readonly store: AuditStore;
  readonly writer: BatchWriter;
  stats(): WriterStats;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

class UnstorableData extends Error {}

/**
 * JSON-safe copy of the executor's data (what is stored is what is returned). Throws
 * UnstorableData for JSON the audit trail cannot hold exactly, or more than `maxBytes` of it.
 */
function jsonSafe(data: unknown, maxBytes: number): unknown {
  if (data === undefined) return null;
  const text = JSON.stringify(data);
  if (text === undefined) return null;
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    throw new UnstorableData(
      `it is ${bytes} bytes as JSON; at most ${maxBytes} are recorded (AEGIS_MAX_RESULT_BYTES)`,
    );
  }
  const copy = JSON.parse(text) as unknown;
  const problem = unstorableJson(copy);
  if (problem !== undefined) throw new UnstorableData(problem);
  return copy;
}

class AuditedPipeline implements AuditedExecutePipeline {
  readonly sessionId: string;
  readonly writer: BatchWriter;
  private readonly executor: Executor;
  private readonly approvalHandler: ApprovalHandler;
  private readonly approvalTimeoutMs: number;
  private readonly drainTimeoutMs: number;
  private readonly maxResultBytes: number;
  private readonly logger: PipelineLogger | undefined;
  private closing = false;
  private closed: Promise<void> | null = null;
  private running = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly store: AuditStore,
    options: ExecutePipelineOptions,
  ) {
    this.sessionId = options.sessionId ?? newSessionId();
    this.executor = options.executor ?? new NoopExecutor();
    this.approvalHandler = options.approvalHandler ?? new AutoApprovalHandler();
    this.approvalTimeoutMs = options.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS;
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.maxResultBytes = options.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
    this.logger = options.logger;
    this.writer = new BatchWriter(store, {
      ...options.writer,
      // Migrations first: a database that was down at startup gets its schema when it returns.
      probe: async () => {
        await store.migrate();
        await store.ping(1000);
      },
      onReconciled: (write, rows) =>
        this.logger?.warn(
          { component: "audit", write_id: write.writeId, rows },
          "rows of an unacknowledged audit write marked failed: their callers were answered 503 and nothing ran",
        ),
      onHealthChange: (h) => {
        if (h.ok) this.logger?.warn({ component: "audit" }, "audit store available again");
        else this.logger?.error({ component: "audit", reason: h.reason }, "audit store unavailable");
        options.writer?.onHealthChange?.(h);
      },
    });
  }

  async execute(items: readonly DecidedAction[], ctx: ExecutionContext): Promise<ExecuteResult[]> {
    if (this.closing) throw new AegisError("unavailable", "server is shutting down", RETRY_AFTER_SECONDS);
    this.assertWritable();
    this.running++;
    try {
      const results: ExecuteResult[] = [];
      let anythingRan = false;
      for (const item of items) {
        try {
          const { result, ran } = await this.executeOne(item, ctx);
          anythingRan ||= ran;
          results.push(result);
        } catch (err) {
          // Nothing has run yet: the whole call fails and may be retried as a whole.
          if (!anythingRan) throw err;
          // Earlier actions of this batch ran: report this one as not executed, go on.
          results.push({
            actionType: item.action.actionType,
            target: item.action.target,
            status: "failed",
            data: null,
            error: `not executed: ${storableText(messageOf(err))}`,
            decision: item.decision,
            auditId: 0,
          });
        }
      }
      return results;
    } finally {
      this.running--;
      if (this.running === 0) this.notifyIdle();
    }
  }

  async health(): Promise<StoreHealth> {
    const h = this.writer.health();
    if (!h.ok) return h;
    try {
      await this.store.migrate();
      await this.store.ping(1000);
      return { ok: true };
    } catch (err) {
      const reason = messageOf(err);
      this.writer.markDown(reason);
      return this.writer.health();
    }
  }

  stats(): WriterStats {
    return this.writer.stats();
  }

  close(): Promise<void> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  private async doClose(): Promise<void> {
    this.closing = true;
    if (this.running > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.drainTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (this.running > 0) {
        this.logger?.error(
          { component: "audit", running: this.running },
          "closing with actions still running: their rows stay pending",
        );
      }
    }
    await this.writer.close();
    await this.store.close();
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private assertWritable(): void {
    const h = this.writer.health();
    if (!h.ok) {
      throw new AegisError(
        "unavailable",
        `audit database unavailable: ${h.reason ?? "unknown reason"}`,
        RETRY_AFTER_SECONDS,
      );
    }
  }

  private baseRow(action: ActionRequest, decision: EvaluateResult, sessionId: string, ctx: ExecutionContext) {
    return {
      sessionId,
      timestamp: new Date(),
      actionType: action.actionType,
      actionTarget: action.target ?? "",
      actionParams: redactParams(action.params ?? {}),
      actionDesc: action.description ? action.description : null,
      riskLevel: decision.riskLevel,
      approval: decision.approval,
      matchedRule: decision.matchedRule,
      agentId: action.agentId ? action.agentId : null,
      parentAgentId: action.parentAgentId ? action.parentAgentId : null,
      chainId: action.chainId ? action.chainId : null,
      // 0 when not sent, as in the original's audit schema.
      chainDepth: action.chainDepth ?? 0,
      policyHash: decision.policyHash,
      principal: ctx.principal ?? null,
    } satisfies Partial<NewAuditRow>;
  }

  private async executeOne(
    { action, decision, blockReason }: DecidedAction,
    outerCtx: ExecutionContext,
  ): Promise<{ result: ExecuteResult; ran: boolean }> {
    const sessionId = action.sessionId || outerCtx.sessionId || this.sessionId;
    const ctx: ExecutionContext = { ...outerCtx, sessionId };
    const base = this.baseRow(action, decision, sessionId, outerCtx);
    const answer = (
      status: ExecuteResult["status"],
      data: unknown,
      error: string | null,
      auditId: number,
    ): ExecuteResult => ({
      actionType: action.actionType,
      target: action.target ?? "",
      status,
      data,
      error,
      decision,
      auditId,
    });

    if (decision.approval === "block") {
      const error = blockReason ?? `Blocked by policy rule: ${decision.matchedRule}`;
      const id = await this.writer.insert({
        ...base,
        humanDecision: null,
        resultStatus: "blocked",
        resultData: null,
        resultError: error,
      });
      return { result: answer("blocked", null, error, id), ran: false };
    }

    let humanDecision: "approved" | null = null;
    if (decision.approval === "approve") {
      // Do not ask a human about an action that could not be recorded anyway.
      this.assertWritable();
      const verdict = await askApproval(this.approvalHandler, action, decision, ctx, this.approvalTimeoutMs);
      if (!verdict.approved) {
        const id = await this.writer.insert({
          ...base,
          humanDecision: "denied",
          resultStatus: "denied",
          resultData: null,
          resultError: verdict.reason,
        });
        return { result: answer("denied", null, verdict.reason, id), ran: false };
      }
      humanDecision = "approved";
    }

    // The row is committed before the executor starts.
    const id = await this.writer.insert({
      ...base,
      humanDecision,
      resultStatus: "pending",
      resultData: null,
      resultError: null,
    });

    let status: "success" | "failed";
    let data: unknown = null;
    let error: string | null = null;
    try {
      const out = await this.executor.execute(action, decision, ctx);
      try {
        data = jsonSafe(out?.data, this.maxResultBytes);
        status = "success";
      } catch (err) {
        status = "failed";
        error =
          err instanceof UnstorableData
            ? `executor returned data that cannot be recorded: ${err.message}`
            : `executor returned data that is not JSON: ${storableText(messageOf(err))}`;
      }
    } catch (err) {
      status = "failed";
      error = storableText(messageOf(err));
    }

    try {
      await this.writer.complete({ id, resultStatus: status, resultData: data, resultError: error });
    } catch (err) {
      // The action ran: answering 503 would invite a retry that runs it twice. Reply with what
      // happened; the row stays `pending` (it exists, so the action is not unrecorded).
      this.logger?.error(
        { component: "audit", auditId: id, err: messageOf(err) },
        "could not record the outcome of an executed action; its audit row stays pending",
      );
    }
    return { result: answer(status, data, error, id), ran: true };
  }
}

/**
 * The execute pipeline over `store`. A store that is unreachable (at startup or later) makes
 * execute answer `unavailable` and health() say why; the breaker's probe recovers by itself.
 */
export function createExecutePipeline(options: ExecutePipelineOptions): AuditedExecutePipeline {
  if (options.approvalHandler === undefined)
    options.logger?.warn({ component: "approval" }, AUTO_APPROVAL_WARNING);
  return new AuditedPipeline(options.store, options);
}
