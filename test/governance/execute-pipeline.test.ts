// The execute pipeline over a real store (one PGlite instance for the file, a schema per test):
// every status, what lands in the audit row, approval timeouts, failures and the fail-fast path.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import type { AuditStore } from "../../src/audit/audit-store.js";
import { createEmbeddedStoreOn } from "../../src/audit/open-audit-store.js";
import { AegisError } from "../../src/errors.js";
import {
  createExecutePipeline,
  type AuditedExecutePipeline as ExecutePipeline,
  type ExecutePipelineOptions,
} from "../../src/governance/execute-pipeline.js";
import { newSessionId } from "../../src/governance/session.js";
import type {
  ActionRequest,
  ApprovalHandler,
  AuditRecord,
  EvaluateResult,
  ExecutionContext,
  Executor,
} from "../../src/governance/types.js";
import type { Approval } from "../../src/policy/types.js";

let db: PGlite;
let seq = 0;
before(async () => {
  db = await PGlite.create();
});
after(async () => {
  await db.close();
});

const SESSION = "0123456789ab";
const ctx: ExecutionContext = { sessionId: SESSION };

function action(over: Partial<ActionRequest> = {}): ActionRequest {
  return { actionType: "read_file", target: "/etc/hosts", params: {}, ...over };
}

function decision(
  approval: Approval,
  rule = `${approval}_rule`,
  a: ActionRequest = action(),
): EvaluateResult {
  return {
    actionType: a.actionType,
    target: a.target,
    riskLevel: approval === "block" ? "CRITICAL" : "LOW",
    approval,
    isAllowed: approval !== "block",
    matchedRule: rule,
    policyHash: "hash-1",
  };
}

/** A service on a fresh schema; `fn` runs with it and the store, then everything is closed. */
async function withService(
  options: Omit<ExecutePipelineOptions, "store">,
  fn: (svc: ExecutePipeline, rows: () => Promise<AuditRecord[]>, store: AuditStore) => Promise<void>,
): Promise<void> {
  const schema = `x${++seq}`;
  const store = await createEmbeddedStoreOn(db, { schema });
  await store.migrate();
  const svc = createExecutePipeline({ store, ...options });
  try {
    await fn(svc, async () => (await store.query({ limit: 1000, order: "asc" })).records, store);
  } finally {
    await svc.close();
    await db.exec(`DROP SCHEMA ${schema} CASCADE; SET search_path TO public`);
  }
}

class RecordingExecutor implements Executor {
  readonly calls: { action: ActionRequest; ctx: ExecutionContext }[] = [];
  constructor(
    private readonly impl: (a: ActionRequest) => Promise<{ data?: unknown }> = async () => ({
      data: { ok: true },
    }),
  ) {}
  execute(a: ActionRequest, _d: EvaluateResult, c: ExecutionContext): Promise<{ data?: unknown }> {
    this.calls.push({ action: a, ctx: c });
    return this.impl(a);
  }
}

test("auto: success with the default no-op executor's data, one row, human_decision null", () =>
  withService({}, async (svc, rows) => {
    const a = action({
      description: "look",
      agentId: "agent-1",
      parentAgentId: "boss",
      chainId: "c1",
      chainDepth: 3,
    });
    const [r] = await svc.execute([{ action: a, decision: decision("auto", "allow_reads", a) }], ctx);
    assert.ok(r);
    assert.equal(r.status, "success");
    assert.deepEqual(r.data, { executed: true });
    assert.equal(r.error, null);
    const recs = await rows();
    assert.equal(recs.length, 1);
    const rec = recs[0]!;
    assert.equal(rec.id, r.auditId);
    assert.equal(rec.result_status, "success");
    assert.deepEqual(rec.result_data, { executed: true });
    assert.equal(rec.human_decision, null);
    assert.equal(rec.session_id, SESSION);
    assert.equal(rec.matched_rule, "allow_reads");
    assert.equal(rec.action_desc, "look");
    assert.equal(rec.agent_id, "agent-1");
    assert.equal(rec.parent_agent_id, "boss");
    assert.equal(rec.chain_id, "c1");
    assert.equal(rec.chain_depth, 3);
    assert.equal(rec.policy_hash, "hash-1");
  }));

test("block: one blocked row, the executor never runs, the error names the rule", async () => {
  const exec = new RecordingExecutor();
  await withService({ executor: exec }, async (svc, rows) => {
    const [r] = await svc.execute([{ action: action(), decision: decision("block", "no_delete") }], ctx);
    assert.equal(r?.status, "blocked");
    assert.equal(r?.error, "Blocked by policy rule: no_delete");
    assert.equal(r?.data, null);
    assert.equal(exec.calls.length, 0);
    const recs = await rows();
    assert.equal(recs.length, 1);
    assert.equal(recs[0]?.result_status, "blocked");
    assert.equal(recs[0]?.result_error, "Blocked by policy rule: no_delete");
    assert.equal(recs[0]?.human_decision, null);
  });
});

test("approve + approving handler: success with human_decision approved", () =>
  withService({}, async (svc, rows) => {
    const [r] = await svc.execute([{ action: action(), decision: decision("approve") }], ctx);
    assert.equal(r?.status, "success");
    assert.equal((await rows())[0]?.human_decision, "approved");
  }));

test("approve + denying handler: one denied row, human_decision denied, nothing runs", async () => {
  const exec = new RecordingExecutor();
  const handler: ApprovalHandler = { approve: async () => ({ approved: false, reason: "not today" }) };
  await withService({ executor: exec, approvalHandler: handler }, async (svc, rows) => {
    const [r] = await svc.execute([{ action: action(), decision: decision("approve") }], ctx);
    assert.equal(r?.status, "denied");
    assert.match(r?.error ?? "", /not today/);
    assert.equal(exec.calls.length, 0);
    const recs = await rows();
    assert.equal(recs.length, 1);
    assert.equal(recs[0]?.result_status, "denied");
    assert.equal(recs[0]?.human_decision, "denied");
    assert.match(recs[0]?.result_error ?? "", /not today/);
  });
});

test("approval timeout denies, and the handler's signal is aborted", async () => {
  let seen: AbortSignal | undefined;
  const handler: ApprovalHandler = {
    approve: (_a, _d, c) => {
      seen = c.signal;
      return new Promise(() => {}); // a human who never answers
    },
  };
  const exec = new RecordingExecutor();
  await withService(
    { executor: exec, approvalHandler: handler, approvalTimeoutMs: 50 },
    async (svc, rows) => {
      const [r] = await svc.execute([{ action: action(), decision: decision("approve") }], ctx);
      assert.equal(r?.status, "denied");
      assert.match(r?.error ?? "", /timed out/);
      assert.equal(seen?.aborted, true);
      assert.equal(exec.calls.length, 0);
      assert.equal((await rows())[0]?.human_decision, "denied");
    },
  );
});

test("an approval handler that throws denies (fail closed)", () =>
  withService(
    {
      approvalHandler: {
        approve: async () => {
          throw new Error("approval service down");
        },
      },
    },
    async (svc, rows) => {
      const [r] = await svc.execute([{ action: action(), decision: decision("approve") }], ctx);
      assert.equal(r?.status, "denied");
      assert.match(r?.error ?? "", /approval service down/);
      assert.equal((await rows())[0]?.human_decision, "denied");
    },
  ));

test("an executor that throws gives failed with its message in the row", async () => {
  const exec = new RecordingExecutor(async () => {
    throw new Error("disk on fire");
  });
  await withService({ executor: exec }, async (svc, rows) => {
    const [r] = await svc.execute([{ action: action(), decision: decision("auto") }], ctx);
    assert.equal(r?.status, "failed");
    assert.equal(r?.error, "disk on fire");
    assert.equal(r?.data, null);
    const rec = (await rows())[0];
    assert.equal(rec?.result_status, "failed");
    assert.equal(rec?.result_error, "disk on fire");
  });
});

test("executor output the audit trail cannot hold: failed, the reply and the row agree, nothing is lost", async () => {
  const outputs: unknown[] = [
    { note: "nul\u0000inside" },
    { ["bad\ud800key"]: 1 },
    { big: "x".repeat(2000) },
  ];
  let n = 0;
  const exec = new RecordingExecutor(async () => ({ data: outputs[n++] }));
  await withService({ executor: exec, maxResultBytes: 1000 }, async (svc, rows) => {
    for (let i = 0; i < outputs.length; i++) {
      const [r] = await svc.execute(
        [{ action: action({ target: `t${i}` }), decision: decision("auto") }],
        ctx,
      );
      assert.equal(r?.status, "failed");
      assert.match(r?.error ?? "", /^executor returned data that cannot be recorded: /);
      assert.equal(r?.data, null);
    }
    const recs = await rows();
    assert.equal(recs.length, outputs.length);
    for (const rec of recs) {
      assert.equal(rec.result_status, "failed", "completed, not left pending");
      assert.match(rec.result_error ?? "", /cannot be recorded/);
    }
    assert.match(
      recs[2]?.result_error ?? "",
      /2\d{3} bytes as JSON; at most 1000 are recorded \(AEGIS_MAX_RESULT_BYTES\)/,
    );
  });
});

test("executor errors with NUL characters or lone surrogates are stored, cleaned", async () => {
  const exec = new RecordingExecutor(async () => {
    throw new Error("bad\u0000byte \ud800");
  });
  await withService({ executor: exec }, async (svc, rows) => {
    const [r] = await svc.execute([{ action: action(), decision: decision("auto") }], ctx);
    assert.equal(r?.error, "bad\uFFFDbyte \uFFFD");
    assert.equal((await rows())[0]?.result_error, "bad\uFFFDbyte \uFFFD");
  });
});

test("the row is committed as pending before the executor starts", async () => {
  let seenDuringRun: AuditRecord[] = [];
  let store: AuditStore | undefined;
  const exec = new RecordingExecutor(async () => {
    seenDuringRun = (await store!.query({ limit: 10, order: "asc" })).records;
    return { data: { done: 1 } };
  });
  await withService({ executor: exec }, async (svc, rows, s) => {
    store = s;
    const [r] = await svc.execute([{ action: action(), decision: decision("auto") }], ctx);
    assert.equal(seenDuringRun.length, 1);
    assert.equal(seenDuringRun[0]?.result_status, "pending");
    assert.equal(seenDuringRun[0]?.id, r?.auditId);
    assert.equal((await rows())[0]?.result_status, "success");
  });
});

test("params are redacted in the row, the executor gets them as sent", async () => {
  const exec = new RecordingExecutor();
  await withService({ executor: exec }, async (svc, rows) => {
    const params = {
      user: "bob",
      Password: "hunter2",
      nested: [{ api_key: "k", tokens_used: 3 }],
      ok: { x: 1 },
    };
    await svc.execute([{ action: action({ params }), decision: decision("auto") }], ctx);
    assert.equal(exec.calls[0]?.action.params["Password"], "hunter2");
    const stored = (await rows())[0]?.action_params;
    assert.deepEqual(stored, {
      user: "bob",
      Password: "[REDACTED]",
      nested: [{ api_key: "[REDACTED]", tokens_used: "[REDACTED]" }],
      ok: { x: 1 },
    });
  });
});

test("batch: each action on its own, results and rows in input order", async () => {
  const exec = new RecordingExecutor(async (a) => {
    if (a.target === "boom") throw new Error("boom");
    return { data: { target: a.target } };
  });
  const handler: ApprovalHandler = { approve: async (a) => ({ approved: a.target !== "deny-me" }) };
  await withService({ executor: exec, approvalHandler: handler }, async (svc, rows) => {
    const items = [
      { action: action({ target: "a" }), decision: decision("auto") },
      { action: action({ target: "b" }), decision: decision("block", "nope") },
      { action: action({ target: "deny-me" }), decision: decision("approve") },
      { action: action({ target: "boom" }), decision: decision("auto") },
      { action: action({ target: "c" }), decision: decision("approve") },
    ];
    const results = await svc.execute(items, ctx);
    assert.deepEqual(
      results.map((r) => [r.target, r.status]),
      [
        ["a", "success"],
        ["b", "blocked"],
        ["deny-me", "denied"],
        ["boom", "failed"],
        ["c", "success"],
      ],
    );
    assert.deepEqual(results[4]?.data, { target: "c" });
    const recs = await rows();
    assert.deepEqual(
      recs.map((r) => [r.action_target, r.result_status, r.human_decision]),
      [
        ["a", "success", null],
        ["b", "blocked", null],
        ["deny-me", "denied", "denied"],
        ["boom", "failed", null],
        ["c", "success", "approved"],
      ],
    );
    assert.deepEqual(
      results.map((r) => r.auditId),
      recs.map((r) => r.id),
    );
  });
});

test("session id: the request's own wins, else the call's, else the service's", () =>
  withService({ sessionId: "feedfacecafe" }, async (svc, rows) => {
    await svc.execute([{ action: action({ sessionId: "mine" }), decision: decision("auto") }], ctx);
    await svc.execute([{ action: action(), decision: decision("auto") }], ctx);
    await svc.execute([{ action: action(), decision: decision("auto") }], { sessionId: "" });
    assert.deepEqual(
      (await rows()).map((r) => r.session_id),
      ["mine", SESSION, "feedfacecafe"],
    );
    assert.match(newSessionId(), /^[0-9a-f]{12}$/);
    assert.equal(svc.sessionId, "feedfacecafe");
  }));

test("store unreachable: unavailable before anything runs, health says why", async () => {
  const exec = new RecordingExecutor();
  const approvals: string[] = [];
  const down: AuditStore = {
    kind: "postgres",
    location: "postgres://nowhere",
    migrate: async () => {},
    writeBatch: async () => {
      throw new AegisError("unavailable", "audit database unavailable: connect ECONNREFUSED 127.0.0.1:1", 1);
    },
    query: async () => ({ records: [], truncated: false }),
    failUnacknowledged: async () => 0,
    ping: async () => {
      throw new AegisError("unavailable", "audit database unavailable: connect ECONNREFUSED 127.0.0.1:1", 1);
    },
    close: async () => {},
  };
  const svc = createExecutePipeline({
    store: down,
    executor: exec,
    approvalHandler: {
      approve: async (a) => {
        approvals.push(a.target);
        return { approved: true };
      },
    },
  });
  try {
    for (const appr of ["auto", "approve", "block"] as const) {
      await assert.rejects(
        svc.execute([{ action: action(), decision: decision(appr) }], ctx),
        (err: unknown) =>
          err instanceof AegisError && err.code === "unavailable" && err.retryAfterSeconds === 1,
      );
    }
    assert.equal(exec.calls.length, 0);
    assert.equal(approvals.length, 0, "no human is asked about an action that cannot be recorded");
    const h = await svc.health();
    assert.equal(h.ok, false);
    assert.match(h.reason ?? "", /ECONNREFUSED/);
  } finally {
    await svc.close();
  }
});

test("close waits for running actions, records them, then refuses new ones", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const exec = new RecordingExecutor(async () => {
    await gate;
    return { data: { late: true } };
  });
  const schema = `x${++seq}`;
  const store = await createEmbeddedStoreOn(db, { schema });
  await store.migrate();
  const svc = createExecutePipeline({ store, executor: exec });
  const running = svc.execute([{ action: action(), decision: decision("auto") }], ctx);
  while (exec.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
  const closing = svc.close();
  await assert.rejects(
    svc.execute([{ action: action(), decision: decision("auto") }], ctx),
    (err: unknown) => err instanceof AegisError && err.code === "unavailable",
  );
  release();
  const [r] = await running;
  await closing;
  assert.equal(r?.status, "success");
  const check = await createEmbeddedStoreOn(db, { schema });
  const { records: recs } = await check.query({ limit: 10, order: "asc" });
  assert.equal(recs.length, 1);
  assert.equal(recs[0]?.result_status, "success");
  assert.deepEqual(recs[0]?.result_data, { late: true });
  await db.exec(`DROP SCHEMA ${schema} CASCADE; SET search_path TO public`);
});
