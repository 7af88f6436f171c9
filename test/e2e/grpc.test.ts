// gRPC over h2c with @grpc/grpc-js (protobuf-es messages, no .proto loading): Evaluate,
// EvaluateBatch, GetPolicy, grpc.health.v1 Check and Watch, and bad input.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  EvaluateBatchRequestSchema,
  EvaluateRequestSchema,
  GetPolicyRequestSchema,
  GovernanceService,
} from "../../gen/aegis/v1/governance_service_pb.js";
import { Approval, PolicySource, RiskLevel } from "../../gen/aegis/v1/types_pb.js";
import {
  Health,
  HealthCheckRequestSchema,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Serving,
} from "../../gen/grpc/health/v1/health_pb.js";
import { grpc, grpcClient, grpcCode, methodPath, serverStream, unary, unaryRaw } from "../support/grpc.js";
import { get, post } from "../support/http.js";
import { poll, type ServerProcess, startServer } from "../support/server-process.js";

describe("gRPC (h2c) with @grpc/grpc-js", () => {
  let server: ServerProcess;
  let client: grpc.Client;
  before(async () => {
    server = await startServer();
    client = grpcClient(server.authority);
  });
  after(async () => {
    client?.close();
    await server?.kill();
  });

  test("Evaluate answers with typed enums", async () => {
    const res = await unary(
      client,
      GovernanceService.method.evaluate,
      create(EvaluateRequestSchema, { action: { actionType: "read", target: "crm" } }),
    );
    const d = res.decision;
    assert.ok(d);
    assert.equal(d.actionType, "read");
    assert.equal(d.target, "crm");
    assert.equal(d.riskLevel, RiskLevel.LOW);
    assert.equal(d.approval, Approval.AUTO);
    assert.equal(d.isAllowed, true);
    assert.equal(d.matchedRule, "read_auto");
    assert.match(d.policyHash, /^[0-9a-f]{64}$/);
  });

  test("Evaluate with params (Struct), agent and session ids", async () => {
    const res = await unary(
      client,
      GovernanceService.method.evaluate,
      create(EvaluateRequestSchema, {
        action: {
          actionType: "delete",
          target: "storage",
          params: { recursive: true, depth: 3, path: "/tmp" },
          agentId: "a-1",
          sessionId: "s-1",
        },
      }),
    );
    assert.equal(res.decision?.riskLevel, RiskLevel.CRITICAL);
    assert.equal(res.decision?.approval, Approval.BLOCK);
    assert.equal(res.decision?.isAllowed, false);
    assert.equal(res.decision?.matchedRule, "delete_block");
  });

  test("EvaluateBatch keeps input order; zero actions -> zero decisions", async () => {
    const res = await unary(
      client,
      GovernanceService.method.evaluateBatch,
      create(EvaluateBatchRequestSchema, {
        actions: [
          { actionType: "delete", target: "storage" },
          { actionType: "read", target: "crm" },
          { actionType: "write", target: "db" },
          { actionType: "zzz", target: "q" },
        ],
      }),
    );
    assert.deepEqual(
      res.decisions.map((d) => [d.actionType, d.matchedRule, d.riskLevel, d.approval, d.isAllowed]),
      [
        ["delete", "delete_block", RiskLevel.CRITICAL, Approval.BLOCK, false],
        ["read", "read_auto", RiskLevel.LOW, Approval.AUTO, true],
        ["write", "write_approve", RiskLevel.MEDIUM, Approval.APPROVE, true],
        ["zzz", "<default>", RiskLevel.MEDIUM, Approval.APPROVE, true],
      ],
    );
    const empty = await unary(
      client,
      GovernanceService.method.evaluateBatch,
      create(EvaluateBatchRequestSchema, {}),
    );
    assert.equal(empty.decisions.length, 0);
  });

  test("GetPolicy: rules, hash and source", async () => {
    const res = await unary(client, GovernanceService.method.getPolicy, create(GetPolicyRequestSchema, {}));
    const p = res.policy;
    assert.ok(p);
    assert.deepEqual(
      p.rules.map((r) => r.name),
      ["read_auto", "write_approve", "delete_block"],
    );
    assert.equal(p.defaultRiskLevel, RiskLevel.MEDIUM);
    assert.equal(p.defaultApproval, Approval.APPROVE);
    assert.equal(p.source, PolicySource.FILE);
    assert.match(p.hash, /^[0-9a-f]{64}$/);
    assert.equal(p.rules[0]?.matchTarget, undefined);
  });

  test("bad input: missing action or empty action_type -> INVALID_ARGUMENT", async () => {
    const evaluate = GovernanceService.method.evaluate;
    assert.equal(
      await grpcCode(unary(client, evaluate, create(EvaluateRequestSchema, {}))),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.equal(
      await grpcCode(unary(client, evaluate, create(EvaluateRequestSchema, { action: { target: "crm" } }))),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.equal(
      await grpcCode(
        unary(
          client,
          GovernanceService.method.evaluateBatch,
          create(EvaluateBatchRequestSchema, { actions: [{ actionType: "read" }, { actionType: "" }] }),
        ),
      ),
      grpc.status.INVALID_ARGUMENT,
    );
  });

  test("bad input: undecodable protobuf bytes -> INVALID_ARGUMENT (never INTERNAL), server lives on", async () => {
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    const code = await grpcCode(unaryRaw(client, methodPath(GovernanceService.method.evaluate), garbage));
    assert.equal(grpc.status[code as number], "INVALID_ARGUMENT");
    const res = await unary(
      client,
      GovernanceService.method.evaluate,
      create(EvaluateRequestSchema, { action: { actionType: "read" } }),
    );
    assert.equal(res.decision?.matchedRule, "read_auto");
  });

  test("unknown method -> UNIMPLEMENTED", async () => {
    const code = await grpcCode(unaryRaw(client, "/aegis.v1.GovernanceService/Nope", new Uint8Array()));
    assert.equal(code, grpc.status.UNIMPLEMENTED);
    const code2 = await grpcCode(unaryRaw(client, "/no.such.Service/Call", new Uint8Array()));
    assert.equal(code2, grpc.status.UNIMPLEMENTED);
  });

  test("Execute is either implemented for real or UNIMPLEMENTED (never a fake success)", async () => {
    const req = toBinary(
      GovernanceService.method.execute.input,
      create(GovernanceService.method.execute.input, { action: { actionType: "delete", target: "x" } }),
    );
    try {
      const bytes = await unaryRaw(client, methodPath(GovernanceService.method.execute), req);
      assert.ok(bytes.length > 0);
    } catch (err) {
      assert.equal((err as { code?: number }).code, grpc.status.UNIMPLEMENTED);
    }
  });

  test("grpc.health.v1 Check: '' and aegis.v1.GovernanceService SERVING; unknown service NOT_FOUND", async () => {
    const check = (service: string) =>
      unary(client, Health.method.check, create(HealthCheckRequestSchema, { service }));
    assert.equal((await check("")).status, Serving.SERVING);
    assert.equal((await check("aegis.v1.GovernanceService")).status, Serving.SERVING);
    assert.equal(await grpcCode(check("no.such.Service")), grpc.status.NOT_FOUND);
  });

  test("grpc.health.v1 Watch streams the current status", async () => {
    const seen: HealthCheckResponse[] = [];
    const call = serverStream(
      client,
      Health.method.watch,
      create(HealthCheckRequestSchema, { service: "" }),
      (m) => seen.push(m),
    );
    call.on("error", () => {});
    try {
      await poll(() => (seen.length > 0 ? true : undefined), { timeoutMs: 10_000, what: "a Watch message" });
      assert.equal(seen[0]?.status, Serving.SERVING);
    } finally {
      call.cancel();
    }
  });
});

describe("gRPC health while shutting down", () => {
  test("Watch reports NOT_SERVING for the service after SIGTERM, then the process exits 0", async () => {
    const server = await startServer();
    const client = grpcClient(server.authority);
    const seen: HealthCheckResponse[] = [];
    const call = serverStream(
      client,
      Health.method.watch,
      create(HealthCheckRequestSchema, { service: "aegis.v1.GovernanceService" }),
      (m) => seen.push(m),
    );
    call.on("error", () => {});
    try {
      await poll(() => (seen.length > 0 ? true : undefined), { timeoutMs: 10_000, what: "a Watch message" });
      assert.equal(seen[0]?.status, Serving.SERVING);
      server.child.kill("SIGTERM");
      await poll(() => (seen.some((m) => m.status === Serving.NOT_SERVING) ? true : undefined), {
        timeoutMs: 15_000,
        what: "NOT_SERVING on Watch",
      });
      const exit = await server.exited;
      assert.equal(exit.code, 0, server.describe());
    } finally {
      call.cancel();
      client.close();
      await server.kill();
    }
  });
});

describe("not ready: the audit store is unreachable", () => {
  test("/ready 503 with the reason, health NOT_SERVING for the service, evaluate keeps working", async () => {
    const server = await startServer({ env: { AEGIS_AUDIT_DB: "postgres://aegis:x@127.0.0.1:1/aegis" } });
    const client = grpcClient(server.authority);
    try {
      const ready = await get(server.url, "/ready");
      assert.equal(ready.status, 503, ready.text);
      const body = ready.json as Record<string, unknown>;
      assert.equal(body["status"], "not_ready");
      assert.match(String(body["reason"]), /audit/i);
      assert.equal((await get(server.url, "/health")).status, 200);

      const check = (service: string) =>
        unary(client, Health.method.check, create(HealthCheckRequestSchema, { service }));
      assert.equal((await check("")).status, Serving.SERVING);
      assert.equal((await check("aegis.v1.GovernanceService")).status, Serving.NOT_SERVING);

      const d = await post(server.url, "/api/v1/evaluate", { action_type: "read", target: "crm" });
      assert.equal(d.status, 200, d.text);
      const e = await post(server.url, "/api/v1/execute", { action_type: "read", target: "crm" });
      assert.equal(e.status, 503, e.text);
      assert.equal(typeof (e.json as Record<string, unknown>)["error"], "string");
      const execCode = await grpcCode(
        unary(
          client,
          GovernanceService.method.execute,
          create(GovernanceService.method.execute.input, { action: { actionType: "read" } }),
        ),
      );
      assert.equal(execCode, grpc.status.UNAVAILABLE);
    } finally {
      client.close();
      await server.kill();
    }
  });
});
