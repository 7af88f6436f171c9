// Who is asking, against real `aegis serve` processes: principals from AEGIS_KEYS_FILE with
// roles, agent-id bindings on REST, Connect and gRPC (single actions and every item of a batch),
// refused executes in the audit trail, the principal column and filter, keys-file reloads, the
// agent registry and kill switch across two processes on one PostgreSQL, and the original
// Python SDK's calls replayed as the raw HTTP it sends.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { GovernanceService } from "../../gen/aegis/v1/governance_service_pb.js";
import { sha256Hex } from "../../src/identity/index.js";
import { createTestDatabase, loudNotRun, postgresUrl } from "../support/postgres.js";
import { makeTempDir, type ServerProcess, startServer, type TempDir } from "../support/server-process.js";

const POLICY = `version: "1"
defaults: {risk_level: high, approval: block}
rules:
  - name: billing_pays
    match: {type: "pay", agent: "billing-bot"}
    risk_level: low
    approval: auto
  - name: reads
    match: {type: "read*"}
    risk_level: low
    approval: auto
`;

const KEYS = {
  billing: "billing-key-0123456789abcdef",
  ops: "ops-key-0123456789abcdef",
  alice: "alice-key-0123456789abcdef",
  free: "free-key-0123456789abcdef",
  admin: "admin-key-0123456789abcdef",
  later: "later-key-0123456789abcdef",
};

const KEYS_FILE = `- name: billing-bot
  sha256: ${sha256Hex(KEYS.billing)}
  role: agent
  agent_id: billing-bot
- name: ops
  sha256: ${sha256Hex(KEYS.ops)}
  role: agent
  agent_id: "ops-*"
- name: alice
  sha256: ${sha256Hex(KEYS.alice)}
  role: approver
- name: free-agent
  sha256: ${sha256Hex(KEYS.free)}
  role: agent
`;

async function rest(
  s: ServerProcess,
  method: string,
  path: string,
  key: string | undefined,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key !== undefined) headers["x-api-key"] = key;
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? undefined : JSON.parse(text) };
}

async function code(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

describe("principals and agent bindings", () => {
  let dir: TempDir;
  let server: ServerProcess;
  let keysPath: string;

  before(async () => {
    dir = makeTempDir("aegis-identity-");
    keysPath = dir.file("keys.yaml", KEYS_FILE);
    server = await startServer({
      policy: dir.file("policy.yaml", POLICY),
      env: { AEGIS_KEYS_FILE: keysPath, AEGIS_ADMIN_KEY: KEYS.admin },
    });
  });
  after(async () => {
    await server.stop();
    dir.cleanup();
  });

  test("a request without agent_id acts as the key's plain bound id (REST, Connect, gRPC)", async () => {
    const r = await rest(server, "POST", "/api/v1/evaluate", KEYS.billing, {
      action_type: "pay",
      target: "invoice",
    });
    assert.equal(r.status, 200);
    assert.equal((r.json as { matched_rule: string }).matched_rule, "billing_pays");
    for (const transport of [
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
      createGrpcTransport({ baseUrl: server.url }),
    ]) {
      const c = createClient(GovernanceService, transport);
      const res = await c.evaluate(
        { action: { actionType: "pay" } },
        { headers: { "x-api-key": KEYS.billing } },
      );
      assert.equal(res.decision?.matchedRule, "billing_pays");
      // An unbound key gets nothing for free: no agent id, the default (block).
      const free = await c.evaluate(
        { action: { actionType: "pay" } },
        { headers: { "x-api-key": KEYS.free } },
      );
      assert.equal(free.decision?.matchedRule, "<default>");
    }
  });

  test("another agent's id is 403 / permission_denied on every transport and for every batch item", async () => {
    const r = await rest(server, "POST", "/api/v1/evaluate", KEYS.billing, {
      action_type: "pay",
      agent_id: "ops-1",
    });
    assert.equal(r.status, 403);
    assert.match(
      (r.json as { error: string }).error,
      /agent_id "ops-1" is not allowed for the key of billing-bot/,
    );
    const batch = await rest(server, "POST", "/api/v1/evaluate", KEYS.billing, {
      actions: [{ action_type: "read" }, { action_type: "pay", agent_id: "someone-else" }],
    });
    assert.equal(batch.status, 403);
    assert.match((batch.json as { error: string }).error, /^actions\[1\]: agent_id "someone-else"/);
    for (const transport of [
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
      createGrpcTransport({ baseUrl: server.url }),
    ]) {
      const c = createClient(GovernanceService, transport);
      const h = { headers: { "x-api-key": KEYS.billing } };
      assert.equal(
        await code(c.evaluate({ action: { actionType: "pay", agentId: "ops-1" } }, h)),
        Code.PermissionDenied,
      );
      assert.equal(
        await code(
          c.executeBatch({ actions: [{ actionType: "read" }, { actionType: "pay", agentId: "x" }] }, h),
        ),
        Code.PermissionDenied,
      );
    }
    // A glob binding must name its agent id, one that the glob allows.
    assert.equal(
      (await rest(server, "POST", "/api/v1/evaluate", KEYS.ops, { action_type: "read" })).status,
      403,
    );
    const ops = await rest(server, "POST", "/api/v1/evaluate", KEYS.ops, {
      action_type: "read",
      agent_id: "ops-7",
    });
    assert.equal(ops.status, 200);
    // An unbound key may still send any agent id (and gets that agent's rules: the README warns).
    const free = await rest(server, "POST", "/api/v1/evaluate", KEYS.free, {
      action_type: "pay",
      agent_id: "billing-bot",
    });
    assert.equal((free.json as { matched_rule: string }).matched_rule, "billing_pays");
  });

  test("a refused execute is audited as a refused attempt; nothing of its batch runs; rows name the principal", async () => {
    const target = `refused-${Date.now()}`;
    const r = await rest(server, "POST", "/api/v1/execute", KEYS.billing, {
      actions: [
        { action_type: "read", target },
        { action_type: "pay", target, agent_id: "ops-1" },
      ],
    });
    assert.equal(r.status, 403);
    const ok = await rest(server, "POST", "/api/v1/execute", KEYS.billing, { action_type: "pay", target });
    assert.equal((ok.json as { status: string }).status, "success");
    const rows = (
      await rest(server, "GET", `/api/v1/audit?principal=billing-bot&limit=100&order=desc`, KEYS.admin)
    ).json as Array<Record<string, unknown>>;
    const mine = rows.filter((x) => x["action_target"] === target);
    assert.deepEqual(
      mine.map((x) => [x["action_type"], x["result_status"], x["matched_rule"], x["agent_id"]]),
      [
        ["pay", "success", "billing_pays", "billing-bot"],
        ["pay", "blocked", "<agent-binding>", "ops-1"],
      ],
    );
    assert.match(String(mine[1]?.["result_error"]), /not allowed for the key of billing-bot/);
    assert.ok(mine.every((x) => x["principal"] === "billing-bot"));
    const none = (await rest(server, "GET", "/api/v1/audit?principal=nobody", KEYS.admin)).json as unknown[];
    assert.deepEqual(none, []);
  });

  test("roles nest: an approver is not an admin; the admin passes every check", async () => {
    const put = (key: string) => rest(server, "PUT", "/api/v1/policy", key, { yaml: POLICY });
    assert.equal((await put(KEYS.alice)).status, 403);
    assert.equal((await put(KEYS.billing)).status, 403);
    assert.equal((await put(KEYS.admin)).status, 200);
    assert.equal((await rest(server, "GET", "/api/v1/policy", KEYS.alice)).status, 200);
    assert.equal((await rest(server, "GET", "/api/v1/policy", "not-a-key")).status, 401);
    assert.equal((await rest(server, "GET", "/api/v1/policy", undefined)).status, 401);
    // Keys never appear in logs.
    for (const k of Object.values(KEYS)) assert.ok(!server.stdout.includes(k), "a key in the log");
  });

  test("the keys file reloads on change; a broken file keeps the previous keys", async () => {
    assert.equal((await rest(server, "GET", "/api/v1/policy", KEYS.later)).status, 401);
    writeFileSync(keysPath, `${KEYS_FILE}- {name: later, key: ${KEYS.later}, role: agent}\n`);
    await server.waitForLog((l) => l.msg === "keys reloaded", 10_000, "the keys reload");
    assert.equal((await rest(server, "GET", "/api/v1/policy", KEYS.later)).status, 200);
    writeFileSync(keysPath, "- {name: broken, role: wizard}\n");
    await server.waitForLog(
      (l) => l.msg === "keys reload failed; keeping the previous keys",
      10_000,
      "the failed reload",
    );
    assert.equal((await rest(server, "GET", "/api/v1/policy", KEYS.later)).status, 200);
    assert.equal((await rest(server, "GET", "/api/v1/policy", KEYS.billing)).status, 200);
  });
});

describe("the keys file at startup", () => {
  test("an invalid file stops the server with every problem, line and column", async () => {
    const dir = makeTempDir("aegis-badkeys-");
    try {
      const keys = dir.file("keys.yaml", "- name: a\n  role: boss\n  key: short\n");
      await assert.rejects(
        startServer({ env: { AEGIS_KEYS_FILE: keys }, startTimeoutMs: 20_000 }),
        (err: unknown) => {
          const text = String(err);
          assert.match(text, /keys\.yaml:2:9: \[0\]\.role: role must be agent, approver or admin/);
          assert.match(text, /keys\.yaml:3:8: \[0\]\.key: key must be a string of at least 16 characters/);
          assert.ok(!text.includes("short"), "the key is never echoed");
          return true;
        },
      );
    } finally {
      dir.cleanup();
    }
  });
});

describe("the original SDK's calls, as raw HTTP", () => {
  let dir: TempDir;
  let server: ServerProcess;
  before(async () => {
    dir = makeTempDir("aegis-sdk-");
    server = await startServer({
      policy: dir.file("policy.yaml", POLICY),
      env: { AEGIS_KEYS_FILE: dir.file("keys.yaml", KEYS_FILE) },
    });
  });
  after(async () => {
    await server.stop();
    dir.cleanup();
  });

  test("register, heartbeat, status, evaluate, execute, get_policy, get_audit, guardrails, disconnect", async () => {
    const key = KEYS.billing;
    // AegisClient(auto_register=True): POST /api/v1/agents.
    const reg = await rest(server, "POST", "/api/v1/agents", key, {
      agent_id: "billing-bot",
      name: "Billing bot",
      framework: "langchain",
      version: "0.9.1",
      metadata: { team: "finance" },
    });
    assert.equal(reg.status, 201);
    const agent = reg.json as Record<string, unknown>;
    assert.deepEqual(
      Object.keys(agent)
        .filter((k) => k !== "suspension")
        .sort(),
      [
        "agent_id",
        "framework",
        "last_heartbeat",
        "metadata",
        "name",
        "registered_at",
        "status",
        "uptime_seconds",
        "version",
      ],
    );
    assert.equal(agent["agent_id"], "billing-bot");
    assert.equal(typeof agent["registered_at"], "number");
    assert.ok(Math.abs((agent["registered_at"] as number) - Date.now() / 1000) < 60);
    assert.equal(agent["status"], "alive");
    assert.deepEqual(agent["metadata"], { team: "finance" });

    const beat = await rest(server, "POST", "/api/v1/agents/billing-bot/heartbeat", key, {});
    assert.deepEqual(beat, { status: 200, json: { status: "ok", agent_id: "billing-bot" } });
    const status = await rest(server, "GET", "/api/v1/agents/billing-bot", key);
    assert.equal((status.json as { name: string }).name, "Billing bot");
    const list = await rest(server, "GET", "/api/v1/agents?alive=true", key);
    assert.deepEqual(
      [(list.json as { total: number }).total, (list.json as { alive: number }).alive],
      [1, 1],
    );

    // No agent_id in evaluate and execute: the binding gives them their identity.
    const ev = await rest(server, "POST", "/api/v1/evaluate", key, {
      action_type: "pay",
      target: "inv-1",
      params: { amount: 5 },
    });
    assert.equal((ev.json as { matched_rule: string }).matched_rule, "billing_pays");
    const ex = await rest(server, "POST", "/api/v1/execute", key, {
      action_type: "pay",
      target: "inv-1",
      params: { amount: 5 },
    });
    assert.equal((ex.json as { status: string }).status, "success");
    assert.equal((await rest(server, "GET", "/api/v1/policy", key)).status, 200);
    const audit = (await rest(server, "GET", "/api/v1/audit?agent_id=billing-bot", key)).json as unknown[];
    assert.equal(audit.length, 1);

    assert.deepEqual(await rest(server, "GET", "/api/v1/guardrails", key), {
      status: 200,
      json: { enabled: false, guardrails: [] },
    });
    assert.deepEqual(await rest(server, "POST", "/api/v1/guardrails/check", key, { content: "hi" }), {
      status: 501,
      json: { error: "No guardrails configured" },
    });

    // Bound keys may not touch other agents.
    assert.equal((await rest(server, "POST", "/api/v1/agents", key, { agent_id: "intruder" })).status, 403);
    assert.equal((await rest(server, "POST", "/api/v1/agents/ops-1/heartbeat", key, {})).status, 403);
    // Bad input.
    assert.deepEqual(await rest(server, "POST", "/api/v1/agents", KEYS.free, { name: "x" }), {
      status: 400,
      json: { error: "agent_id is required" },
    });
    assert.equal(
      (await rest(server, "POST", "/api/v1/agents", KEYS.free, { agent_id: "x".repeat(300) })).status,
      400,
    );
    assert.equal(
      (await rest(server, "POST", "/api/v1/agents", KEYS.free, { agent_id: "bad\u0007bell" })).status,
      400,
    );
    assert.deepEqual(await rest(server, "GET", "/api/v1/agents/nobody", KEYS.free), {
      status: 404,
      json: { error: "Agent not found" },
    });

    // disconnect(): DELETE.
    assert.deepEqual(await rest(server, "DELETE", "/api/v1/agents/billing-bot", key), {
      status: 200,
      json: { status: "removed", agent_id: "billing-bot" },
    });
    assert.equal((await rest(server, "DELETE", "/api/v1/agents/billing-bot", key)).status, 404);
  });
});

describe("the agent registry and kill switch across two processes on one PostgreSQL", async () => {
  const admin = await postgresUrl();
  if (admin === null) {
    loudNotRun("the agent registry across two processes");
    test("PostgreSQL not reachable: the two-process registry test did not run", () => {});
    return;
  }
  let dir: TempDir;
  let drop: () => Promise<void>;
  let a: ServerProcess;
  let b: ServerProcess;
  let env: Record<string, string>;
  let policy: string;
  before(async () => {
    dir = makeTempDir("aegis-registry-");
    const db = await createTestDatabase(admin);
    drop = db.drop;
    env = {
      AEGIS_AUDIT_DB: db.url,
      AEGIS_KEYS_FILE: dir.file("keys.yaml", KEYS_FILE),
      AEGIS_ADMIN_KEY: KEYS.admin,
    };
    policy = dir.file("policy.yaml", POLICY);
    a = await startServer({ policy, env });
    b = await startServer({ policy, env });
  });
  after(async () => {
    await a.stop();
    await b.stop();
    await drop();
    dir.cleanup();
  });

  test("registered on one, seen on the other; a suspension on one blocks on the other within a second", async () => {
    assert.equal(
      (await rest(a, "POST", "/api/v1/agents", KEYS.billing, {})).status,
      201,
      "a plain binding names the id",
    );
    const seen = await rest(b, "GET", "/api/v1/agents/billing-bot", KEYS.billing);
    assert.equal(seen.status, 200);
    // Only admins suspend.
    assert.equal(
      (await rest(b, "POST", "/api/v1/agents/billing-bot:suspend", KEYS.alice, { reason: "x" })).status,
      403,
    );
    assert.equal((await rest(b, "POST", "/api/v1/agents/billing-bot:suspend", KEYS.admin, {})).status, 400);
    const s = await rest(b, "POST", "/api/v1/agents/billing-bot:suspend", KEYS.admin, {
      reason: "runaway spend",
    });
    assert.equal(s.status, 200);
    const start = Date.now();
    let decision: Record<string, unknown> = {};
    while (Date.now() - start < 1500) {
      decision = (await rest(a, "POST", "/api/v1/evaluate", KEYS.billing, { action_type: "pay" }))
        .json as Record<string, unknown>;
      if (decision["matched_rule"] === "<suspended>") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = Date.now() - start;
    assert.equal(decision["matched_rule"], "<suspended>");
    assert.equal(decision["approval"], "block");
    assert.ok(ms < 1000, `suspension reached the other replica after ${ms} ms`);
    const ex = await rest(a, "POST", "/api/v1/execute", KEYS.billing, {
      action_type: "pay",
      target: "blocked-by-switch",
    });
    assert.equal((ex.json as { status: string }).status, "blocked");
    assert.match(String((ex.json as { error: string }).error), /suspended: runaway spend/);
    // An id that never registered can be suspended too.
    assert.equal(
      (await rest(a, "POST", "/api/v1/agents/ghost:suspend", KEYS.admin, { reason: "never trusted" })).status,
      200,
    );
    const ghost = (
      await rest(b, "POST", "/api/v1/evaluate", KEYS.free, { action_type: "read", agent_id: "ghost" })
    ).json;
    assert.equal((ghost as { matched_rule: string }).matched_rule, "<suspended>");
    assert.equal((await rest(a, "POST", "/api/v1/agents/billing-bot:resume", KEYS.admin, {})).status, 200);
    assert.equal((await rest(a, "POST", "/api/v1/agents/billing-bot:resume", KEYS.admin, {})).status, 404);
  });

  test("a suspension survives a restart of every replica", async () => {
    await a.stop();
    await b.stop();
    a = await startServer({ policy, env });
    b = await startServer({ policy, env });
    const ghost = (
      await rest(b, "POST", "/api/v1/evaluate", KEYS.free, { action_type: "read", agent_id: "ghost" })
    ).json;
    assert.equal((ghost as { matched_rule: string }).matched_rule, "<suspended>");
  });
});
