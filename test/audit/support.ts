// Shared helpers of the audit tests: sample rows and a deferred promise. PostgreSQL helpers are in
// test/support/postgres.ts.
import type { NewAuditRow } from "../../src/audit/audit-store.js";

export function row(overrides: Partial<NewAuditRow> = {}): NewAuditRow {
  return {
    sessionId: "sess0000000a",
    timestamp: new Date(),
    actionType: "read_file",
    actionTarget: "/tmp/x",
    actionParams: { path: "/tmp/x" },
    actionDesc: null,
    riskLevel: "LOW",
    approval: "auto",
    matchedRule: "allow_reads",
    humanDecision: null,
    resultStatus: "pending",
    resultData: null,
    resultError: null,
    agentId: null,
    parentAgentId: null,
    chainId: null,
    chainDepth: null,
    policyHash: "abc123",
    principal: "tester",
    ...overrides,
  };
}

export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
