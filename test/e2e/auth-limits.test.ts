// Auth (DESIGN §3.1) and limits (AEGIS_MAX_BODY_BYTES, AEGIS_MAX_BATCH) over REST, Connect, gRPC-Web
// and gRPC: the same rules whatever the encoding.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import {
  EvaluateBatchRequestSchema,
  EvaluateRequestSchema,
  GetPolicyRequestSchema,
  GovernanceService,
  UpdatePolicyRequestSchema,
} from "../../gen/aegis/v1/governance_service_pb.js";
import { Approval } from "../../gen/aegis/v1/types_pb.js";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
} from "../../gen/grpc/health/v1/health_pb.js";
import { codeName, connectCode, connectTransports } from "../support/connect.js";
import { grpc, grpcClient, grpcCode, unary } from "../support/grpc.js";
import { get, jsonOfSize, post, put, request } from "../support/http.js";
import { seedPolicyAnswer } from "../support/policy-answer.js";
import { type ServerProcess, startServer } from "../support/server-process.js";

const API = "api-key-3f9a";
const ADMIN = "admin-key-77c1";
const readAction = { actionType: "read", target: "crm" };
const policyYaml =
  'version: "1"\nrules:\n  - name: read_auto\n    match: {type: "read*"}\n    risk_level: low\n    approval: auto\n';

describe("auth with AEGIS_API_KEY and AEGIS_ADMIN_KEY", () => {
  let server: ServerProcess;
  let base: string;
  let client: grpc.Client;
  before(async () => {
    server = await startServer({ env: { AEGIS_API_KEY: API, AEGIS_ADMIN_KEY: ADMIN } });
    base = server.url;
    client = grpcClient(server.authority);
  });
  after(async () => {
    client?.close();
    await server?.kill();
  });

  describe("REST", () => {
    test("health is open (GET and HEAD)", async () => {
      for (const path of ["/health", "/api/v1/health"]) {
        assert.equal((await get(base, path)).status, 200, path);
        assert.equal((await request(base, "HEAD", path)).status, 200, path);
      }
    });
    test("every other route needs the key: missing or wrong -> 401 JSON", async () => {
      const calls: Array<[string, string, unknown]> = [
        ["POST", "/api/v1/evaluate", { action_type: "read" }],
        ["POST", "/api/v1/evaluate:batch", []],
        ["POST", "/api/v1/execute", { action_type: "read" }],
        ["GET", "/api/v1/audit", undefined],
        ["GET", "/api/v1/policy", undefined],
        ["PUT", "/api/v1/policy", { yaml: policyYaml }],
      ];
      for (const [method, path, body] of calls) {
        for (const headers of [
          {},
          { "x-api-key": "wrong" },
          { authorization: "Bearer wrong" },
          { authorization: `Basic ${Buffer.from(`u:${API}`).toString("base64")}` },
          { "x-api-key": "" },
        ] as Array<Record<string, string>>) {
          const r = await request(base, method, path, body === undefined ? { headers } : { body, headers });
          assert.equal(r.status, 401, `${method} ${path} ${JSON.stringify(headers)}: ${r.status} ${r.text}`);
          assert.equal(typeof (r.json as Record<string, unknown>)["error"], "string");
        }
      }
    });
    test("GET /ready needs the key too (DESIGN §3.1 exempts only /health and /api/v1/health)", async () => {
      for (const headers of [{}, { "x-api-key": "wrong" }] as Array<Record<string, string>>) {
        const r = await get(base, "/ready", headers);
        assert.equal(r.status, 401, `GET /ready ${JSON.stringify(headers)}: ${r.status} ${r.text}`);
      }
      assert.equal((await get(base, "/ready", { "x-api-key": API })).status, 200);
    });
    test("X-API-Key and Authorization: Bearer both work", async () => {
      for (const headers of [
        { "x-api-key": API },
        { authorization: `Bearer ${API}` },
        { "X-API-Key": API },
      ] as Array<Record<string, string>>) {
        const r = await post(base, "/api/v1/evaluate", { action_type: "read", target: "crm" }, headers);
        assert.equal(r.status, 200, `${JSON.stringify(headers)}: ${r.text}`);
        assert.equal((r.json as Record<string, unknown>)["matched_rule"], "read_auto");
        assert.equal((await get(base, "/api/v1/policy", headers)).status, 200);
        assert.equal((await get(base, "/ready", headers)).status, 200);
      }
    });
    test("the admin key passes every API-key check", async () => {
      for (const headers of [{ "x-api-key": ADMIN }, { authorization: `Bearer ${ADMIN}` }] as Array<
        Record<string, string>
      >) {
        assert.equal((await post(base, "/api/v1/evaluate", { action_type: "read" }, headers)).status, 200);
        assert.equal((await get(base, "/api/v1/policy", headers)).status, 200);
      }
    });
    test("PUT /api/v1/policy: API key -> 403, no or wrong key -> 401, admin key -> 200", async () => {
      const api = await put(base, "/api/v1/policy", { yaml: policyYaml }, { "x-api-key": API });
      assert.equal(api.status, 403, api.text);
      assert.equal(typeof (api.json as Record<string, unknown>)["error"], "string");
      assert.equal(
        (await put(base, "/api/v1/policy", { yaml: policyYaml }, { authorization: `Bearer ${API}` })).status,
        403,
      );
      assert.equal((await put(base, "/api/v1/policy", { yaml: policyYaml })).status, 401);
      assert.equal(
        (await put(base, "/api/v1/policy", { yaml: policyYaml }, { "x-api-key": "nope" })).status,
        401,
      );
      for (const headers of [{ "x-api-key": ADMIN }, { authorization: `Bearer ${ADMIN}` }] as Array<
        Record<string, string>
      >) {
        const ok = await put(base, "/api/v1/policy", { yaml: policyYaml }, headers);
        assert.equal(ok.status, 200, ok.text);
        assert.deepEqual(seedPolicyAnswer(ok.json), { status: "updated", rule_count: 1 });
      }
    });
    test("the keys never appear in the logs", () => {
      assert.ok(!server.stdout.includes(API) && !server.stderr.includes(API));
      assert.ok(!server.stdout.includes(ADMIN) && !server.stderr.includes(ADMIN));
    });
  });

  describe("Connect-Node transports (Connect, gRPC-Web, gRPC)", () => {
    test("Evaluate: no key / wrong key -> unauthenticated; API key, Bearer and admin key pass", async () => {
      for (const { name, transport } of connectTransports(base)) {
        const c = createClient(GovernanceService, transport);
        const req = { action: readAction };
        for (const headers of [{}, { "x-api-key": "wrong" }, { authorization: "Bearer wrong" }]) {
          const code = await connectCode(c.evaluate(req, { headers }));
          assert.equal(codeName(code), "Unauthenticated", `${name} ${JSON.stringify(headers)}`);
        }
        for (const headers of [
          { "x-api-key": API },
          { authorization: `Bearer ${API}` },
          { "x-api-key": ADMIN },
        ]) {
          const res = await c.evaluate(req, { headers });
          assert.equal(res.decision?.matchedRule, "read_auto", name);
          assert.equal(res.decision?.approval, Approval.AUTO, name);
        }
        assert.equal(codeName(await connectCode(c.getPolicy({}))), "Unauthenticated", name);
        assert.ok((await c.getPolicy({}, { headers: { "x-api-key": API } })).policy, name);
      }
    });
    test("UpdatePolicy: API key -> permission_denied, none -> unauthenticated, admin -> ok", async () => {
      for (const { name, transport } of connectTransports(base)) {
        const c = createClient(GovernanceService, transport);
        const req = { policy: { case: "yaml" as const, value: policyYaml } };
        assert.equal(codeName(await connectCode(c.updatePolicy(req))), "Unauthenticated", name);
        assert.equal(
          codeName(await connectCode(c.updatePolicy(req, { headers: { "x-api-key": API } }))),
          "PermissionDenied",
          name,
        );
        assert.equal(
          codeName(await connectCode(c.updatePolicy(req, { headers: { authorization: `Bearer ${API}` } }))),
          "PermissionDenied",
          name,
        );
        const res = await c.updatePolicy(req, { headers: { authorization: `Bearer ${ADMIN}` } });
        assert.equal(res.status, "updated", name);
        assert.equal(res.ruleCount, 1, name);
      }
    });
  });

  describe("gRPC with @grpc/grpc-js", () => {
    const evaluate = GovernanceService.method.evaluate;
    const update = GovernanceService.method.updatePolicy;
    test("Evaluate needs the key as metadata", async () => {
      const req = create(EvaluateRequestSchema, { action: readAction });
      assert.equal(await grpcCode(unary(client, evaluate, req)), grpc.status.UNAUTHENTICATED);
      assert.equal(
        await grpcCode(unary(client, evaluate, req, { "x-api-key": "bad" })),
        grpc.status.UNAUTHENTICATED,
      );
      for (const md of [
        { "x-api-key": API },
        { authorization: `Bearer ${API}` },
        { "x-api-key": ADMIN },
      ] as Array<Record<string, string>>) {
        const res = await unary(client, evaluate, req, md);
        assert.equal(res.decision?.matchedRule, "read_auto");
      }
    });
    test("UpdatePolicy: API key -> PERMISSION_DENIED, admin -> ok", async () => {
      const req = create(UpdatePolicyRequestSchema, { policy: { case: "yaml", value: policyYaml } });
      assert.equal(await grpcCode(unary(client, update, req)), grpc.status.UNAUTHENTICATED);
      assert.equal(
        await grpcCode(unary(client, update, req, { "x-api-key": API })),
        grpc.status.PERMISSION_DENIED,
      );
      const res = await unary(client, update, req, { "x-api-key": ADMIN });
      assert.equal(res.ruleCount, 1);
    });
    test("GetPolicy needs the key", async () => {
      const req = create(GetPolicyRequestSchema, {});
      assert.equal(
        await grpcCode(unary(client, GovernanceService.method.getPolicy, req)),
        grpc.status.UNAUTHENTICATED,
      );
      const res = await unary(client, GovernanceService.method.getPolicy, req, { "x-api-key": API });
      assert.ok(res.policy);
    });
    test("grpc.health.v1 Check is open", async () => {
      const res = await unary(client, Health.method.check, create(HealthCheckRequestSchema, { service: "" }));
      assert.equal(res.status, HealthCheckResponse_ServingStatus.SERVING);
    });
  });
});

describe("auth: only AEGIS_ADMIN_KEY set", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ env: { AEGIS_ADMIN_KEY: ADMIN } });
  });
  after(async () => {
    await server?.kill();
  });
  test("API routes are open; policy updates need the admin key", async () => {
    assert.equal((await post(server.url, "/api/v1/evaluate", { action_type: "read" })).status, 200);
    assert.equal((await get(server.url, "/api/v1/policy")).status, 200);
    assert.equal((await put(server.url, "/api/v1/policy", { yaml: policyYaml })).status, 401);
    assert.equal(
      (await put(server.url, "/api/v1/policy", { yaml: policyYaml }, { "x-api-key": "x" })).status,
      401,
    );
    assert.equal(
      (await put(server.url, "/api/v1/policy", { yaml: policyYaml }, { "x-api-key": ADMIN })).status,
      200,
    );
    const c = createClient(GovernanceService, connectTransports(server.url)[0]!.transport);
    assert.equal((await c.evaluate({ action: readAction })).decision?.matchedRule, "read_auto");
    const req = { policy: { case: "yaml" as const, value: policyYaml } };
    assert.equal(codeName(await connectCode(c.updatePolicy(req))), "Unauthenticated");
  });
});

describe("auth: only AEGIS_API_KEY set (policy updates fall back to it)", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ env: { AEGIS_API_KEY: API } });
  });
  after(async () => {
    await server?.kill();
  });
  test("the API key updates the policy; without it 401", async () => {
    assert.equal((await put(server.url, "/api/v1/policy", { yaml: policyYaml })).status, 401);
    const ok = await put(
      server.url,
      "/api/v1/policy",
      { yaml: policyYaml },
      { authorization: `Bearer ${API}` },
    );
    assert.equal(ok.status, 200, ok.text);
    const c = createClient(GovernanceService, connectTransports(server.url)[4]!.transport);
    const res = await c.updatePolicy(
      { policy: { case: "yaml", value: policyYaml } },
      { headers: { "x-api-key": API } },
    );
    assert.equal(res.ruleCount, 1);
  });
});

describe("no keys: development mode", () => {
  test("everything is open and the startup log warns", async () => {
    const server = await startServer();
    try {
      assert.equal((await put(server.url, "/api/v1/policy", { yaml: policyYaml })).status, 200);
      const all = server.stdout + server.stderr;
      assert.match(all, /warn/i);
      assert.ok(
        server.logs.some((l) => (l.level === 40 || l.level === "warn") && /key|auth/i.test(String(l.msg))),
        `no startup warning about missing keys:\n${server.stdout}`,
      );
    } finally {
      await server.kill();
    }
  });
});

describe("limits over every protocol (AEGIS_MAX_BATCH=3, AEGIS_MAX_BODY_BYTES=4096)", () => {
  let server: ServerProcess;
  let client: grpc.Client;
  const LIMIT = 4096;
  const actions = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ actionType: "read", target: `t${i}` }));
  const restActions = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ action_type: "read", target: `t${i}` }));
  before(async () => {
    server = await startServer({ env: { AEGIS_MAX_BATCH: "3", AEGIS_MAX_BODY_BYTES: String(LIMIT) } });
    client = grpcClient(server.authority);
  });
  after(async () => {
    client?.close();
    await server?.kill();
  });

  test("REST: a batch of 3 is fine, 4 -> 400 (all batch forms)", async () => {
    for (const [path, body] of [
      ["/api/v1/evaluate", { actions: restActions(3) }],
      ["/api/v1/evaluate", restActions(3)],
      ["/api/v1/evaluate:batch", { actions: restActions(3) }],
    ] as const) {
      const r = await post(server.url, path, body);
      assert.equal(r.status, 200, r.text);
      assert.equal((r.json as unknown[]).length, 3);
    }
    for (const [path, body] of [
      ["/api/v1/evaluate", { actions: restActions(4) }],
      ["/api/v1/evaluate", restActions(4)],
      ["/api/v1/evaluate:batch", { actions: restActions(4) }],
      ["/api/v1/execute", restActions(4)],
    ] as const) {
      const r = await post(server.url, path, body);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.match(String((r.json as Record<string, unknown>)["error"]), /batch|3|actions/i);
    }
  });

  test("REST: a body of exactly the limit is accepted, one byte more -> 413 (evaluate, batch, policy)", async () => {
    const exact = await post(server.url, "/api/v1/evaluate", jsonOfSize(LIMIT), {
      "content-type": "application/json",
    });
    assert.equal(exact.status, 200, exact.text.slice(0, 200));
    const over = await post(server.url, "/api/v1/evaluate", jsonOfSize(LIMIT + 1), {
      "content-type": "application/json",
    });
    assert.equal(over.status, 413, over.text.slice(0, 200));
    assert.equal(typeof (over.json as Record<string, unknown>)["error"], "string");
    const batch = await post(server.url, "/api/v1/evaluate:batch", `[${jsonOfSize(LIMIT)}]`, {
      "content-type": "application/json",
    });
    assert.equal(batch.status, 413);
    const policy = await put(server.url, "/api/v1/policy", { yaml: `# ${"x".repeat(LIMIT)}\n` });
    assert.equal(policy.status, 413);
  });

  test("Connect, gRPC-Web and gRPC: batch of 4 -> invalid_argument; body over the limit -> resource_exhausted", async () => {
    const big = { actionType: "read", target: "crm", description: "x".repeat(2 * LIMIT) };
    for (const { name, transport } of connectTransports(server.url)) {
      const c = createClient(GovernanceService, transport);
      const ok = await c.evaluateBatch({ actions: actions(3) });
      assert.equal(ok.decisions.length, 3, name);
      assert.equal(
        codeName(await connectCode(c.evaluateBatch({ actions: actions(4) }))),
        "InvalidArgument",
        name,
      );
      assert.equal(codeName(await connectCode(c.evaluate({ action: big }))), "ResourceExhausted", name);
      const small = await c.evaluate({ action: readAction });
      assert.equal(small.decision?.matchedRule, "read_auto", name);
    }
  });

  test("@grpc/grpc-js: batch of 4 -> INVALID_ARGUMENT; body over the limit -> RESOURCE_EXHAUSTED", async () => {
    const batch = GovernanceService.method.evaluateBatch;
    const ok = await unary(client, batch, create(EvaluateBatchRequestSchema, { actions: actions(3) }));
    assert.equal(ok.decisions.length, 3);
    assert.equal(
      await grpcCode(unary(client, batch, create(EvaluateBatchRequestSchema, { actions: actions(4) }))),
      grpc.status.INVALID_ARGUMENT,
    );
    const big = create(EvaluateRequestSchema, {
      action: { actionType: "read", target: "crm", description: "x".repeat(2 * LIMIT) },
    });
    assert.equal(
      await grpcCode(unary(client, GovernanceService.method.evaluate, big)),
      grpc.status.RESOURCE_EXHAUSTED,
    );
    const res = await unary(
      client,
      GovernanceService.method.evaluate,
      create(EvaluateRequestSchema, { action: readAction }),
    );
    assert.equal(res.decision?.matchedRule, "read_auto");
  });

  test("Connect JSON: a raw POST over the limit gets resource_exhausted, not a 500", async () => {
    const r = await request(server.url, "POST", "/aegis.v1.GovernanceService/Evaluate", {
      body: JSON.stringify({ action: { actionType: "read", description: "y".repeat(2 * LIMIT) } }),
      headers: { "content-type": "application/json" },
    });
    assert.notEqual(r.status, 500);
    assert.equal((r.json as Record<string, unknown>)["code"], "resource_exhausted", r.text);
  });
});
