// The governance service on its own: no HTTP, domain types in and out.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AegisError } from "../../src/errors.js";
import type { AuditLog, DecidedAction, ExecutePipeline } from "../../src/governance/index.js";
import { GovernanceService, PolicyHolder } from "../../src/governance/index.js";
import type { ExecuteResult } from "../../src/governance/types.js";
import { parsePolicy } from "../../src/policy/index.js";

const POLICY = `rules:
  - name: read_auto
    match: {type: "read*"}
    risk_level: low
    approval: auto
  - name: big
    match: {type: "order"}
    conditions: {param_gt: {total: 10}}
    approval: block
`;

function service(audit?: ExecutePipeline & AuditLog, maxBatch = 5): GovernanceService {
  return new GovernanceService({
    policy: new PolicyHolder(parsePolicy(POLICY), "file"),
    maxBatch,
    pipeline: audit,
    auditLog: audit,
  });
}

function act(actionType: string, params: Record<string, unknown> = {}) {
  return { actionType, target: "t", params };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof AegisError ? err.code : `not an AegisError: ${String(err)}`;
  }
  return undefined;
}

async function asyncCode(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return err instanceof AegisError ? err.code : `not an AegisError: ${String(err)}`;
  }
  return undefined;
}

describe("GovernanceService", () => {
  test("evaluate returns the decision with echo fields and the policy hash", () => {
    const s = service();
    const r = s.evaluate(act("read"));
    assert.equal(r.riskLevel, "LOW");
    assert.equal(r.approval, "auto");
    assert.equal(r.isAllowed, true);
    assert.equal(r.matchedRule, "read_auto");
    assert.equal(r.actionType, "read");
    assert.equal(r.target, "t");
    assert.equal(r.policyHash, s.getPolicy().hash);
    assert.equal(s.evaluate(act("other")).matchedRule, "<default>");
    assert.equal(s.evaluate(act("other")).approval, "block");
  });

  test("bad input is invalid_argument: empty action_type, type errors, batch over the limit", () => {
    const s = service();
    assert.equal(
      code(() => s.evaluate(act(""))),
      "invalid_argument",
    );
    assert.equal(
      code(() => s.evaluate(act("order", { total: "x" }))),
      "invalid_argument",
    );
    assert.equal(
      code(() => s.evaluateBatch([act("read"), act("")])),
      "invalid_argument",
    );
    assert.equal(
      code(() => s.evaluateBatch(Array.from({ length: 6 }, () => act("read")))),
      "invalid_argument",
    );
    assert.equal(s.evaluateBatch(Array.from({ length: 5 }, () => act("read"))).length, 5);
    try {
      s.evaluateBatch([act("read"), act("order", { total: "x" })]);
    } catch (err) {
      assert.match((err as Error).message, /^actions\[1\]: .*big.*total|^actions\[1\]: .*total.*big/);
    }
  });

  test("updatePolicy swaps atomically and keeps the old policy on error", async () => {
    const s = service();
    const oldHash = s.getPolicy().hash;
    await assert.rejects(
      s.updatePolicy({ yaml: "rules: [{approval: maybe}]" }),
      (e: unknown) => e instanceof AegisError && e.code === "invalid_argument",
    );
    await assert.rejects(
      s.updatePolicy({ document: [] }),
      (e: unknown) => e instanceof AegisError && e.code === "invalid_argument",
    );
    await assert.rejects(
      s.updatePolicy({ document: { rules: "no" } }),
      (e: unknown) => e instanceof AegisError && e.code === "invalid_argument",
    );
    assert.equal(s.getPolicy().hash, oldHash);
    assert.equal(s.getPolicy().source, "file");
    const r = await s.updatePolicy({
      document: { defaults: { risk_level: "high", approval: "block" }, rules: [] },
    });
    assert.equal(r.ruleCount, 0);
    assert.equal(s.getPolicy().source, "api");
    assert.equal(s.evaluate(act("read")).riskLevel, "HIGH");
    assert.equal((await s.updatePolicy({ yaml: "" })).ruleCount, 0);
    assert.equal(s.evaluate(act("read")).riskLevel, "MEDIUM");
  });

  test("execute and audit are unimplemented without an audit backend", async () => {
    const s = service();
    await assert.rejects(
      s.execute(act("read")),
      (e: unknown) => e instanceof AegisError && e.code === "unimplemented",
    );
    await assert.rejects(
      s.queryAudit({ limit: 10, order: "asc" }),
      (e: unknown) => e instanceof AegisError && e.code === "unimplemented",
    );
    assert.deepEqual((await s.readiness()).components, { policy: "ok", audit: "not_configured" });
  });

  test("execute hands decided actions and the session id to the audit backend", async () => {
    const calls: Array<{ items: readonly DecidedAction[]; sessionId: string }> = [];
    const backend: ExecutePipeline & AuditLog = {
      async execute(items, ctx) {
        calls.push({ items, sessionId: ctx.sessionId });
        return items.map(
          (it, i): ExecuteResult => ({
            actionType: it.action.actionType,
            target: it.action.target,
            status: it.decision.isAllowed ? "success" : "blocked",
            data: null,
            error: null,
            decision: it.decision,
            auditId: i + 1,
          }),
        );
      },
      async query() {
        return { records: [], truncated: false };
      },
      async health() {
        return { ok: false, reason: "db down" };
      },
      async close() {},
    };
    const s = service(backend);
    assert.equal((await s.execute(act("read"))).status, "success");
    const rs = await s.executeBatch([act("read"), act("nope")]);
    assert.deepEqual(
      rs.map((r) => r.status),
      ["success", "blocked"],
    );
    assert.match(calls[0]!.sessionId, /^[0-9a-f]{12}$/);
    assert.equal(calls[1]!.items[1]!.decision.matchedRule, "<default>");
    // a type error anywhere in the batch fails it before anything runs
    await assert.rejects(s.executeBatch([act("read"), act("order", { total: "x" })]));
    assert.equal(calls.length, 2);
    const ready = await s.readiness();
    assert.equal(ready.ready, false);
    assert.match(ready.reason, /db down/);
  });
});

describe("nesting bound", () => {
  test("params or a policy document nested beyond 100 levels is invalid_argument, 100 is fine", async () => {
    const s = service();
    const nest = (n: number): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    assert.equal(s.evaluate(act("read", { a: nest(98) })).matchedRule, "read_auto");
    assert.equal(
      code(() => s.evaluate(act("read", { a: nest(200_000) }))),
      "invalid_argument",
    );
    assert.equal(
      await asyncCode(() => s.updatePolicy({ document: { rules: nest(200_000) } })),
      "invalid_argument",
    );
  });
});
