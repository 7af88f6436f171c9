// Proto <-> domain conversions of the RPC side: audit queries, page tokens, records.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { QueryAuditRequestSchema } from "../../../gen/aegis/v1/governance_service_pb.js";
import { HumanDecision, ResultStatus, RiskLevel, SortOrder } from "../../../gen/aegis/v1/types_pb.js";
import { AegisError } from "../../../src/errors.js";
import type { AuditRecord } from "../../../src/governance/types.js";
import {
  auditQueryFromProto,
  auditRecordToProto,
  decodePageToken,
  encodePageToken,
} from "../../../src/server/services/convert.js";

describe("QueryAudit conversions", () => {
  test("defaults: limit 1000, asc, no filters", () => {
    const q = auditQueryFromProto(create(QueryAuditRequestSchema, {}));
    assert.deepEqual(
      { limit: q.limit, order: q.order, risk: q.riskLevel, status: q.resultStatus, after: q.afterId },
      { limit: 1000, order: "asc", risk: undefined, status: undefined, after: undefined },
    );
  });

  test("filters, cap, order, page token over after_id", () => {
    const since = new Date("2026-01-01T00:00:00Z");
    const q = auditQueryFromProto(
      create(QueryAuditRequestSchema, {
        sessionId: "s",
        riskLevel: RiskLevel.HIGH,
        resultStatus: ResultStatus.PENDING,
        since: timestampFromDate(since),
        limit: 50_000,
        order: SortOrder.DESC,
        afterId: 3n,
        pageToken: encodePageToken(42),
      }),
    );
    assert.equal(q.sessionId, "s");
    assert.equal(q.riskLevel, "HIGH");
    assert.equal(q.resultStatus, "pending");
    assert.equal(q.since?.toISOString(), since.toISOString());
    assert.equal(q.limit, 10_000);
    assert.equal(q.order, "desc");
    assert.equal(q.afterId, 42);
    assert.equal(auditQueryFromProto(create(QueryAuditRequestSchema, { limit: 0 })).limit, 0);
  });

  test("a forged page token is invalid_argument", () => {
    assert.equal(decodePageToken(encodePageToken(7)), 7);
    assert.throws(
      () => decodePageToken("bm9wZQ"),
      (e: unknown) => e instanceof AegisError && e.code === "invalid_argument",
    );
  });

  test("records keep nulls as absent fields and map enums", () => {
    const r: AuditRecord = {
      id: 9,
      principal: "alice",
      session_id: "abc",
      timestamp: "2026-01-01T00:00:00.000Z",
      action_type: "read",
      action_target: "crm",
      action_params: { a: 1 },
      action_desc: null,
      risk_level: "LOW",
      approval: "approve",
      matched_rule: "r",
      human_decision: "approved",
      result_status: "success",
      result_data: { executed: true },
      result_error: null,
      agent_id: null,
      parent_agent_id: null,
      chain_id: "c",
      chain_depth: 0,
      policy_hash: "h",
    };
    const p = auditRecordToProto(r);
    assert.equal(p.id, 9n);
    assert.equal(p.actionDesc, undefined);
    assert.equal(p.agentId, undefined);
    assert.equal(p.chainId, "c");
    assert.equal(p.chainDepth, 0);
    assert.equal(p.riskLevel, RiskLevel.LOW);
    assert.equal(p.humanDecision, HumanDecision.APPROVED);
    assert.equal(p.resultStatus, ResultStatus.SUCCESS);
    assert.deepEqual(p.actionParams, { a: 1 });
    assert.equal(p.resultData?.kind.case, "structValue");
    assert.equal(p.principal, "alice");
  });
});
