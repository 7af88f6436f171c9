// The generic REST path (rest/proto-json.ts) that serves every RPC without a hand-written route:
// request messages from path, query and body in the Aegis spellings; responses as Aegis JSON.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { GovernanceService } from "../../../gen/aegis/v1/governance_service_pb.js";
import { Approval, AuditRecordSchema, ResultStatus, RiskLevel } from "../../../gen/aegis/v1/types_pb.js";
import { AegisError } from "../../../src/errors.js";
import { messageToRest, requestFromRest, responseToRest } from "../../../src/server/rest/proto-json.js";
import type { RestRoute } from "../../../src/server/rest/router.js";

const queryAudit: RestRoute = {
  httpMethod: "GET",
  path: "/api/v1/audit",
  method: GovernanceService.method.queryAudit,
  body: "",
  responseBody: "records",
  vars: [],
};
const update: RestRoute = {
  ...queryAudit,
  httpMethod: "PUT",
  method: GovernanceService.method.updatePolicy,
  body: "*",
  responseBody: "",
};

describe("generic REST", () => {
  test("query strings: enums in any spelling, numbers, timestamps, snake_case names", () => {
    const req = requestFromRest(
      queryAudit,
      {},
      new URLSearchParams(
        "risk_level=high&result_status=SUCCESS&limit=5&after_id=9007199254740993&since=2026-01-01T00:00:00Z&agent_id=bot&unknown=1",
      ),
      undefined,
    ) as ReturnType<typeof create<typeof GovernanceService.method.queryAudit.input>>;
    assert.equal(req.riskLevel, RiskLevel.HIGH);
    assert.equal(req.resultStatus, ResultStatus.SUCCESS);
    assert.equal(req.limit, 5);
    assert.equal(req.afterId, 9007199254740993n, "int64 stays exact");
    assert.equal(req.agentId, "bot");
    assert.equal(req.since?.seconds, 1767225600n);
  });

  test("bad values are 400s naming the parameter", () => {
    for (const q of ["risk_level=extreme", "limit=abc"]) {
      assert.throws(
        () => requestFromRest(queryAudit, {}, new URLSearchParams(q), undefined),
        (e: unknown) =>
          e instanceof AegisError &&
          e.code === "invalid_argument" &&
          e.message.includes(q.split("=")[0] as string),
        q,
      );
    }
  });

  test("bodies: oneofs and Structs by proto field name", () => {
    const req = requestFromRest(update, {}, new URLSearchParams(), { document: { rules: [] } }) as {
      policy: { case: string; value: unknown };
    };
    assert.equal(req.policy.case, "document");
    assert.deepEqual(req.policy.value, { rules: [] });
  });

  test("responses: snake_case, Aegis enum spellings, int64 as numbers, RFC 3339, null for absent", () => {
    const rec = create(AuditRecordSchema, {
      id: 42n,
      riskLevel: RiskLevel.LOW,
      approval: Approval.AUTO,
      resultStatus: ResultStatus.SUCCESS,
      timestamp: timestampFromDate(new Date("2026-01-02T03:04:05.000Z")),
      actionParams: { a: 1 },
    });
    const json = messageToRest(AuditRecordSchema, rec as unknown as Record<string, unknown>);
    assert.equal(json["id"], 42);
    assert.equal(json["risk_level"], "LOW");
    assert.equal(json["approval"], "auto");
    assert.equal(json["result_status"], "success");
    assert.equal(json["human_decision"], null);
    assert.equal(json["timestamp"], "2026-01-02T03:04:05.000Z");
    assert.deepEqual(json["action_params"], { a: 1 });
    assert.equal(json["action_desc"], null);
    const body = responseToRest(queryAudit, { records: [rec], nextPageToken: "" } as never);
    assert.equal((JSON.parse(body) as unknown[]).length, 1);
  });
});
