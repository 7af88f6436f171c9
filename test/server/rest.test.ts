// The REST presentation over a real socket: shapes, batch routing, errors, routing rules.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parsePolicy } from "../../src/policy/index.js";
import type { Policy } from "../../src/policy/types.js";
import { seedPolicyAnswer } from "../support/policy-answer.js";
import { call, type Harness, SEED_POLICY, startHarness } from "./harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

describe("POST /api/v1/evaluate", () => {
  test("one action -> one decision in the seed's shape", async () => {
    const r = await call(`${h.url}/api/v1/evaluate`, "POST", { action_type: "read", target: "crm" });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
    const d = r.json as Record<string, unknown>;
    assert.deepEqual(
      { ...d, policy_hash: undefined },
      {
        action_type: "read",
        target: "crm",
        risk_level: "LOW",
        approval: "auto",
        is_allowed: true,
        matched_rule: "read_auto",
        policy_hash: undefined,
      },
    );
    assert.match(String(d["policy_hash"]), /^[0-9a-f]{64}$/);
  });

  test("{actions:[...]}, a bare array, one item and zero items all give arrays", async () => {
    const two = await call(`${h.url}/api/v1/evaluate`, "POST", {
      actions: [{ action_type: "read" }, { action_type: "delete", target: "s" }],
    });
    assert.equal(two.status, 200);
    const arr = two.json as Array<Record<string, unknown>>;
    assert.deepEqual(
      arr.map((d) => [d["action_type"], d["risk_level"], d["approval"], d["is_allowed"]]),
      [
        ["read", "LOW", "auto", true],
        ["delete", "CRITICAL", "block", false],
      ],
    );
    const bare = await call(`${h.url}/api/v1/evaluate`, "POST", [{ action_type: "write" }]);
    assert.equal((bare.json as unknown[]).length, 1);
    assert.deepEqual((await call(`${h.url}/api/v1/evaluate`, "POST", { actions: [] })).json, []);
    assert.deepEqual((await call(`${h.url}/api/v1/evaluate`, "POST", [])).json, []);
    const batchRoute = await call(`${h.url}/api/v1/evaluate:batch`, "POST", {
      actions: [{ action_type: "read" }],
    });
    assert.equal((batchRoute.json as unknown[]).length, 1);
  });

  test("actions wins over top-level action fields; type is an alias; defaults for target/params", async () => {
    const r = await call(`${h.url}/api/v1/evaluate`, "POST", {
      action_type: "delete",
      actions: [{ type: "read", params: null }],
    });
    assert.equal((r.json as Array<Record<string, unknown>>)[0]?.["matched_rule"], "read_auto");
    const alias = await call(`${h.url}/api/v1/evaluate`, "POST", { type: "delete" });
    assert.equal((alias.json as Record<string, unknown>)["target"], "");
    assert.equal((alias.json as Record<string, unknown>)["approval"], "block");
  });

  test("the body is JSON whatever the Content-Type (curl -d sends a form type)", async () => {
    const r = await call(`${h.url}/api/v1/evaluate`, "POST", '{"action_type":"read"}', {
      "content-type": "application/x-www-form-urlencoded",
    });
    assert.equal(r.status, 200);
  });

  test("conditions see params; a type mismatch is a 400 naming the rule and param", async () => {
    const big = await call(`${h.url}/api/v1/evaluate`, "POST", {
      action_type: "order",
      params: { total: 900 },
    });
    assert.equal((big.json as Record<string, unknown>)["matched_rule"], "big_orders");
    const bad = await call(`${h.url}/api/v1/evaluate`, "POST", {
      action_type: "order",
      params: { total: "900" },
    });
    assert.equal(bad.status, 400);
    const msg = String((bad.json as Record<string, unknown>)["error"]);
    assert.match(msg, /big_orders/);
    assert.match(msg, /total/);
  });

  for (const [name, body, pattern] of [
    ["invalid JSON", "{nope", /^Invalid JSON$/],
    ["empty body", "", /^Invalid JSON$/],
    ["null", "null", /null/],
    ["a JSON string", '"read"', /string/],
    ["a number", "42", /number/],
    ["missing action_type", "{}", /action_type is required/],
    [
      "empty action_type (type is not consulted)",
      '{"action_type":"","type":"read"}',
      /action_type must not be empty/,
    ],
    ["non-string action_type", '{"action_type":7}', /action_type must be a string/],
    ["non-object item", '{"actions":[{"action_type":"read"}, 3]}', /actions\[1\] must be a JSON object/],
    ["actions not an array", '{"actions":{"action_type":"read"}}', /"actions" must be an array/],
    ["params an array", '{"action_type":"read","params":[1]}', /params must be a JSON object/],
    ["target a number", '{"action_type":"read","target":1}', /target must be a string/],
  ] as const) {
    test(`400 for ${name}`, async () => {
      const r = await call(`${h.url}/api/v1/evaluate`, "POST", body);
      assert.equal(r.status, 400, r.text);
      const err = (r.json as Record<string, unknown>)["error"];
      assert.equal(typeof err, "string");
      assert.match(err as string, pattern);
    });
  }
});

describe("routing", () => {
  test("unknown path -> 404 JSON", async () => {
    const r = await call(`${h.url}/api/v1/nope`, "GET");
    assert.equal(r.status, 404);
    assert.equal(typeof (r.json as Record<string, unknown>)["error"], "string");
  });

  test("wrong method -> 405 JSON with Allow", async () => {
    const r = await call(`${h.url}/api/v1/evaluate`, "GET");
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("allow"), "POST");
    const p = await call(`${h.url}/api/v1/policy`, "DELETE");
    assert.equal(p.status, 405);
    assert.equal(p.headers.get("allow"), "GET, PUT, HEAD");
    assert.equal(typeof (p.json as Record<string, unknown>)["error"], "string");
  });

  test("a trailing slash is the same route", async () => {
    assert.equal((await call(`${h.url}/api/v1/evaluate/`, "POST", { action_type: "read" })).status, 200);
    assert.equal((await call(`${h.url}/health/`, "GET")).status, 200);
  });

  test("HEAD works wherever GET does, without a body", async () => {
    for (const path of ["/health", "/api/v1/health", "/api/v1/policy", "/ready"]) {
      const res = await fetch(`${h.url}${path}`, { method: "HEAD" });
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), "");
      assert.ok(Number(res.headers.get("content-length")) > 0, path);
    }
  });

  test("every response carries a request id; a sane incoming one is echoed", async () => {
    const r = await call(`${h.url}/health`, "GET", undefined, { "x-request-id": "abc-123" });
    assert.equal(r.headers.get("x-request-id"), "abc-123");
    const g = await call(`${h.url}/health`, "GET");
    assert.ok((g.headers.get("x-request-id") ?? "").length > 0);
  });
});

describe("health and readiness", () => {
  test("GET /health and /api/v1/health", async () => {
    for (const path of ["/health", "/api/v1/health"]) {
      const r = await call(`${h.url}${path}`, "GET");
      assert.equal(r.status, 200);
      const j = r.json as Record<string, unknown>;
      assert.equal(j["status"], "ok");
      assert.match(String(j["version"]), /^\d+\.\d+\.\d+/);
    }
  });

  test("GET /ready is 200 without an audit store (not configured)", async () => {
    const r = await call(`${h.url}/ready`, "GET");
    assert.equal(r.status, 200);
    assert.deepEqual((r.json as Record<string, unknown>)["components"], {
      policy: "ok",
      audit: "not_configured",
    });
  });
});

describe("policy", () => {
  test("GET shows the seed's shape plus hash, source and loaded_at", async () => {
    const r = await call(`${h.url}/api/v1/policy`, "GET");
    const j = r.json as Record<string, unknown>;
    assert.equal(j["default_risk_level"], "MEDIUM");
    assert.equal(j["default_approval"], "approve");
    const rules = j["rules"] as Array<Record<string, unknown>>;
    assert.deepEqual(
      { ...rules[0], match_agent: undefined },
      {
        name: "read_auto",
        match_type: "read*",
        match_target: null,
        match_agent: undefined,
        risk_level: "LOW",
        approval: "auto",
        conditions: null,
      },
    );
    assert.equal(j["source"], "file");
    assert.match(String(j["loaded_at"]), /Z$/);
  });

  test("PUT yaml or object swaps; invalid keeps the old policy; execute is unimplemented", async () => {
    const h2 = await startHarness();
    try {
      const bad = await call(`${h2.url}/api/v1/policy`, "PUT", { yaml: "rules: [{approval: maybe}]" });
      assert.equal(bad.status, 400);
      assert.match(String((bad.json as Record<string, unknown>)["error"]), /approval/);
      assert.equal(
        ((await call(`${h2.url}/api/v1/policy`, "GET")).json as Record<string, unknown>)["source"],
        "file",
      );

      const notPolicy = await call(`${h2.url}/api/v1/policy`, "PUT", { hello: 1 });
      assert.equal(notPolicy.status, 400);

      const ok = await call(`${h2.url}/api/v1/policy`, "PUT", {
        defaults: { risk_level: "high", approval: "block" },
        rules: [],
      });
      // Without a database there is no version store: the answer has the hash but no version id.
      assert.equal((ok.json as Record<string, unknown>)["version"], undefined);
      assert.deepEqual(seedPolicyAnswer(ok.json), { status: "updated", rule_count: 0 });
      const e = await call(`${h2.url}/api/v1/evaluate`, "POST", { action_type: "read", target: "crm" });
      assert.deepEqual(
        [(e.json as Record<string, unknown>)["risk_level"], (e.json as Record<string, unknown>)["approval"]],
        ["HIGH", "block"],
      );
      const g = (await call(`${h2.url}/api/v1/policy`, "GET")).json as Record<string, unknown>;
      assert.equal(g["source"], "api");

      const y = await call(`${h2.url}/api/v1/policy`, "PUT", { yaml: "" });
      assert.deepEqual(seedPolicyAnswer(y.json), { status: "updated", rule_count: 0 });

      const ex = await call(`${h2.url}/api/v1/execute`, "POST", { action_type: "read" });
      assert.equal(ex.status, 501);
      const au = await call(`${h2.url}/api/v1/audit`, "GET");
      assert.equal(au.status, 501);
    } finally {
      await h2.close();
    }
  });
});

describe("an unexpected exception", () => {
  test("is a 500 / internal and the server lives on", async () => {
    const real = parsePolicy(SEED_POLICY);
    const flaky: Policy = {
      ruleCount: real.ruleCount,
      hash: real.hash,
      view: real.view,
      warnings: real.warnings,
      evaluate(a) {
        if (a.actionType === "boom") throw new TypeError("kaboom");
        return real.evaluate(a);
      },
    };
    const h3 = await startHarness({ policy: flaky });
    try {
      const r = await call(`${h3.url}/api/v1/evaluate`, "POST", { action_type: "boom" });
      assert.equal(r.status, 500);
      assert.deepEqual(r.json, { error: "Internal server error" });
      const c = await call(`${h3.url}/aegis.v1.GovernanceService/Evaluate`, "POST", {
        action: { actionType: "boom" },
      });
      assert.equal(c.status, 500);
      assert.equal((c.json as Record<string, unknown>)["code"], "internal");
      assert.equal((await call(`${h3.url}/api/v1/evaluate`, "POST", { action_type: "read" })).status, 200);
    } finally {
      await h3.close();
    }
  });
});
