// Debian's python3-grpcio as a foreign gRPC client: raw unary calls with identity serializers; the
// request bytes are made and the response bytes checked with the generated TypeScript messages.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  EvaluateBatchRequestSchema,
  EvaluateBatchResponseSchema,
  EvaluateRequestSchema,
  EvaluateResponseSchema,
  GovernanceService,
  UpdatePolicyRequestSchema,
} from "../../gen/aegis/v1/governance_service_pb.js";
import { Approval, RiskLevel } from "../../gen/aegis/v1/types_pb.js";
import {
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../gen/grpc/health/v1/health_pb.js";
import { methodPath } from "../support/grpc.js";
import { okBytes, runPython } from "../support/python.js";
import { type ServerProcess, startServer } from "../support/server-process.js";

const API = "py-api-key";
const ADMIN = "py-admin-key";

describe("python3-grpcio against the server (h2c)", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ env: { AEGIS_API_KEY: API, AEGIS_ADMIN_KEY: ADMIN } });
  });
  after(async () => {
    await server?.kill();
  });

  test("Evaluate, EvaluateBatch, health Check, and auth codes", async () => {
    const evaluate = toBinary(
      EvaluateRequestSchema,
      create(EvaluateRequestSchema, { action: { actionType: "read", target: "crm", params: { n: 1 } } }),
    );
    const batch = toBinary(
      EvaluateBatchRequestSchema,
      create(EvaluateBatchRequestSchema, {
        actions: [
          { actionType: "delete", target: "storage" },
          { actionType: "write", target: "db" },
        ],
      }),
    );
    const update = toBinary(
      UpdatePolicyRequestSchema,
      create(UpdatePolicyRequestSchema, { policy: { case: "yaml", value: "" } }),
    );
    const key = [["x-api-key", API]] as const;
    const results = await runPython(server.authority, [
      {
        path: "/grpc.health.v1.Health/Check",
        request: toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema)),
      },
      { path: methodPath(GovernanceService.method.evaluate), request: evaluate },
      { path: methodPath(GovernanceService.method.evaluate), request: evaluate, metadata: key },
      {
        path: methodPath(GovernanceService.method.evaluate),
        request: evaluate,
        metadata: [["authorization", `Bearer ${API}`]],
      },
      { path: methodPath(GovernanceService.method.evaluateBatch), request: batch, metadata: key },
      { path: methodPath(GovernanceService.method.updatePolicy), request: update, metadata: key },
      { path: methodPath(GovernanceService.method.evaluate), request: new Uint8Array(), metadata: key },
    ]);
    assert.equal(results.length, 7);
    const health = fromBinary(HealthCheckResponseSchema, okBytes(results[0]));
    assert.equal(health.status, HealthCheckResponse_ServingStatus.SERVING);
    assert.deepEqual(
      { ok: results[1]?.ok, code: (results[1] as { code?: string }).code },
      { ok: false, code: "UNAUTHENTICATED" },
    );
    for (const r of [results[2], results[3]]) {
      const d = fromBinary(EvaluateResponseSchema, okBytes(r)).decision;
      assert.equal(d?.riskLevel, RiskLevel.LOW);
      assert.equal(d?.approval, Approval.AUTO);
      assert.equal(d?.matchedRule, "read_auto");
    }
    const decisions = fromBinary(EvaluateBatchResponseSchema, okBytes(results[4])).decisions;
    assert.deepEqual(
      decisions.map((d) => d.matchedRule),
      ["delete_block", "write_approve"],
    );
    assert.equal((results[5] as { code?: string }).code, "PERMISSION_DENIED");
    assert.equal((results[6] as { code?: string }).code, "INVALID_ARGUMENT");
  });
});
