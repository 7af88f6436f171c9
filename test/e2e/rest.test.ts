// REST contract of DESIGN §3/§3.1, exercised with fetch against the real `aegis serve` process.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { get, jsonOfSize, post, put, type Reply, request } from "../support/http.js";
import { examplesDir, repoRoot } from "../support/paths.js";
import { seedPolicyAnswer } from "../support/policy-answer.js";
import { defaultPolicyPath, type ServerProcess, startServer } from "../support/server-process.js";

const version = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string })
  .version;
const defaultPolicyYaml = readFileSync(defaultPolicyPath, "utf8");
const MiB = 1024 * 1024;

const READ = { action_type: "read", target: "crm", risk_level: "LOW", approval: "auto", is_allowed: true };
const WRITE = {
  action_type: "write",
  target: "database",
  risk_level: "MEDIUM",
  approval: "approve",
  is_allowed: true,
};
const DELETE = {
  action_type: "delete",
  target: "storage",
  risk_level: "CRITICAL",
  approval: "block",
  is_allowed: false,
};

/** Asserts the contract fields of one decision object (extra fields may follow). */
function assertDecision(actual: unknown, expected: Record<string, unknown>, rule: string): void {
  assert.equal(typeof actual, "object");
  assert.ok(
    actual !== null && !Array.isArray(actual),
    `expected a decision object, got ${JSON.stringify(actual)}`,
  );
  const d = actual as Record<string, unknown>;
  for (const [k, v] of Object.entries(expected))
    assert.deepEqual(d[k], v, `field ${k} of ${JSON.stringify(d)}`);
  assert.equal(d["matched_rule"], rule, `matched_rule of ${JSON.stringify(d)}`);
}

function assertError(reply: Reply, status: number, pattern?: RegExp): string {
  assert.equal(reply.status, status, `status (body ${reply.text.slice(0, 300)})`);
  assert.match(reply.headers.get("content-type") ?? "", /application\/json/);
  assert.equal(typeof reply.json, "object", `error body must be JSON: ${reply.text.slice(0, 300)}`);
  const body = reply.json as Record<string, unknown>;
  assert.equal(typeof body["error"], "string", `{"error": ...} expected, got ${reply.text.slice(0, 300)}`);
  const message = body["error"] as string;
  assert.ok(message.length > 0);
  if (pattern) assert.match(message, pattern);
  return message;
}

describe("REST against the default policy", () => {
  let server: ServerProcess;
  let base: string;
  before(async () => {
    server = await startServer();
    base = server.url;
  });
  after(async () => {
    await server?.kill();
  });

  describe("health and readiness", () => {
    for (const path of ["/health", "/api/v1/health", "/health/", "/api/v1/health/"]) {
      test(`GET ${path} -> 200 {"status":"ok","version"}`, async () => {
        const r = await get(base, path);
        assert.equal(r.status, 200);
        assert.match(r.headers.get("content-type") ?? "", /application\/json/);
        const body = r.json as Record<string, unknown>;
        assert.equal(body["status"], "ok");
        assert.equal(body["version"], version);
      });
    }
    for (const path of ["/health", "/api/v1/health", "/ready", "/api/v1/policy"]) {
      test(`HEAD ${path} -> 200, no body`, async () => {
        const r = await request(base, "HEAD", path);
        assert.equal(r.status, 200);
        assert.equal(r.text, "");
      });
    }
    test("GET /ready -> 200 once a policy is loaded and the audit store answers", async () => {
      const r = await get(base, "/ready");
      assert.equal(r.status, 200, r.text);
      assert.equal((r.json as Record<string, unknown>)["status"], "ready");
    });
  });

  describe("POST /api/v1/evaluate, one action", () => {
    test("read / write / delete / unmatched follow the default policy", async () => {
      assertDecision(
        (await post(base, "/api/v1/evaluate", { action_type: "read", target: "crm" })).json,
        READ,
        "read_auto",
      );
      assertDecision(
        (await post(base, "/api/v1/evaluate", { action_type: "write", target: "database" })).json,
        WRITE,
        "write_approve",
      );
      assertDecision(
        (await post(base, "/api/v1/evaluate", { action_type: "delete", target: "storage" })).json,
        DELETE,
        "delete_block",
      );
      const r = await post(base, "/api/v1/evaluate", { action_type: "launch", target: "rocket" });
      assert.equal(r.status, 200);
      assertDecision(
        r.json,
        {
          action_type: "launch",
          target: "rocket",
          risk_level: "MEDIUM",
          approval: "approve",
          is_allowed: true,
        },
        "<default>",
      );
    });

    test("the decision is a JSON object with snake_case fields and a policy hash may follow", async () => {
      const r = await post(base, "/api/v1/evaluate", { action_type: "read", target: "crm" });
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type") ?? "", /application\/json/);
      const d = r.json as Record<string, unknown>;
      for (const key of ["action_type", "target", "risk_level", "approval", "is_allowed", "matched_rule"]) {
        assert.ok(key in d, `missing ${key}`);
      }
      for (const key of Object.keys(d)) assert.match(key, /^[a-z][a-z0-9_]*$/, `not snake_case: ${key}`);
    });

    test("params, agent_id, session_id, description are accepted; params null or absent is {}", async () => {
      const full = await post(base, "/api/v1/evaluate", {
        action_type: "read",
        target: "crm",
        params: { limit: 5, nested: { a: [1, 2] } },
        agent_id: "agent-7",
        session_id: "s-1",
        description: "look something up",
      });
      assertDecision(full.json, READ, "read_auto");
      assertDecision(
        (await post(base, "/api/v1/evaluate", { action_type: "read", target: "crm", params: null })).json,
        READ,
        "read_auto",
      );
    });

    test("target may be omitted (-> empty string)", async () => {
      const r = await post(base, "/api/v1/evaluate", { action_type: "read" });
      assert.equal(r.status, 200, r.text);
      assertDecision(r.json, { ...READ, target: "" }, "read_auto");
    });

    test("`type` is an alias of action_type, used only when action_type is absent", async () => {
      assertDecision(
        (await post(base, "/api/v1/evaluate", { type: "read", target: "crm" })).json,
        READ,
        "read_auto",
      );
      const both = await post(base, "/api/v1/evaluate", {
        action_type: "delete",
        type: "read",
        target: "storage",
      });
      assertDecision(both.json, DELETE, "delete_block");
      assertError(
        await post(base, "/api/v1/evaluate", { action_type: "", type: "read", target: "crm" }),
        400,
        /action_type/,
      );
    });

    test("unknown request fields are ignored", async () => {
      const r = await post(base, "/api/v1/evaluate", {
        action_type: "read",
        target: "crm",
        color: "blue",
        n: 1,
      });
      assertDecision(r.json, READ, "read_auto");
    });

    test("a body is read as JSON whatever the Content-Type (curl -d sends a form type)", async () => {
      const body = '{"action_type": "read", "target": "crm"}';
      for (const type of ["application/x-www-form-urlencoded", "text/plain", "application/octet-stream"]) {
        const r = await post(base, "/api/v1/evaluate", body, { "content-type": type });
        assert.equal(r.status, 200, `${type}: ${r.text}`);
        assertDecision(r.json, READ, "read_auto");
      }
      const none = await request(base, "POST", "/api/v1/evaluate", { body: Buffer.from(body) });
      assert.equal(none.status, 200, none.text);
    });

    test("trailing slash is the same route", async () => {
      const r = await post(base, "/api/v1/evaluate/", { action_type: "read", target: "crm" });
      assert.equal(r.status, 200, r.text);
      assertDecision(r.json, READ, "read_auto");
    });
  });

  describe("bad input -> 400 naming the problem, never 500", () => {
    test('invalid JSON -> 400 {"error":"Invalid JSON"}', async () => {
      for (const body of ['{"action_type": ', "{action_type: read}", "not json", "{}}"]) {
        const r = await post(base, "/api/v1/evaluate", body, { "content-type": "application/json" });
        assert.equal(r.status, 400, body);
        assert.deepEqual(r.json, { error: "Invalid JSON" }, body);
      }
    });
    test("an empty body is a 400", async () => {
      assertError(await post(base, "/api/v1/evaluate", "", { "content-type": "application/json" }), 400);
    });
    test("missing or empty action_type -> 400 naming action_type", async () => {
      assertError(await post(base, "/api/v1/evaluate", {}), 400, /action_type/);
      assertError(await post(base, "/api/v1/evaluate", { target: "crm" }), 400, /action_type/);
      assertError(
        await post(base, "/api/v1/evaluate", { action_type: "", target: "crm" }),
        400,
        /action_type/,
      );
    });
    test("a non-string action_type -> 400", async () => {
      assertError(
        await post(base, "/api/v1/evaluate", { action_type: 5, target: "crm" }),
        400,
        /action_type/,
      );
      assertError(
        await post(base, "/api/v1/evaluate", { action_type: null, target: "crm" }),
        400,
        /action_type/,
      );
    });
    test("a JSON string, number, boolean or null body -> 400", async () => {
      for (const body of ['"read"', "null", "42", "true"]) {
        assertError(await post(base, "/api/v1/evaluate", body, { "content-type": "application/json" }), 400);
      }
    });
    test("non-object batch items -> 400", async () => {
      for (const body of [[1], [null], ["read"], [[]], { actions: [{ action_type: "read" }, 7] }]) {
        assertError(await post(base, "/api/v1/evaluate", body), 400);
      }
    });
    test("a batch item without action_type -> 400 naming action_type", async () => {
      assertError(
        await post(base, "/api/v1/evaluate", { actions: [{ action_type: "read" }, { target: "crm" }] }),
        400,
        /action_type/,
      );
    });
    test("`actions` that is not an array -> 400", async () => {
      assertError(await post(base, "/api/v1/evaluate", { actions: "read" }), 400);
      assertError(await post(base, "/api/v1/evaluate", { actions: { action_type: "read" } }), 400);
    });
    test("params that is not an object -> 400", async () => {
      assertError(
        await post(base, "/api/v1/evaluate", { action_type: "read", params: "x=1" }),
        400,
        /params/,
      );
      assertError(
        await post(base, "/api/v1/evaluate", { action_type: "read", params: [1, 2] }),
        400,
        /params/,
      );
    });
    test("the server still answers after all of that", async () => {
      assert.equal((await get(base, "/health")).status, 200);
      assert.equal(server.exitInfo, undefined);
    });
  });

  describe("batch forms", () => {
    const three = [
      { action_type: "read", target: "crm" },
      { action_type: "write", target: "database" },
      { action_type: "delete", target: "storage" },
    ];
    function assertThree(r: Reply): void {
      assert.equal(r.status, 200, r.text);
      assert.ok(Array.isArray(r.json), `array expected: ${r.text}`);
      const a = r.json as unknown[];
      assert.equal(a.length, 3);
      assertDecision(a[0], READ, "read_auto");
      assertDecision(a[1], WRITE, "write_approve");
      assertDecision(a[2], DELETE, "delete_block");
    }
    test('{"actions":[...]} -> array of decisions in input order', async () => {
      assertThree(await post(base, "/api/v1/evaluate", { actions: three }));
    });
    test("a bare JSON array -> array of decisions in input order", async () => {
      assertThree(await post(base, "/api/v1/evaluate", three));
    });
    test("POST /api/v1/evaluate:batch takes both forms", async () => {
      assertThree(await post(base, "/api/v1/evaluate:batch", { actions: three }));
      assertThree(await post(base, "/api/v1/evaluate:batch", three));
    });
    test("one item and zero items are still arrays", async () => {
      const one = await post(base, "/api/v1/evaluate", { actions: [three[0]] });
      assert.ok(Array.isArray(one.json), one.text);
      assert.equal((one.json as unknown[]).length, 1);
      assertDecision((one.json as unknown[])[0], READ, "read_auto");
      const bareOne = await post(base, "/api/v1/evaluate", [three[2]]);
      assert.ok(Array.isArray(bareOne.json), bareOne.text);
      assertDecision((bareOne.json as unknown[])[0], DELETE, "delete_block");
      for (const body of [{ actions: [] }, []]) {
        const r = await post(base, "/api/v1/evaluate", body);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json, []);
      }
    });
    test("top-level action fields next to `actions`: actions wins", async () => {
      const r = await post(base, "/api/v1/evaluate", {
        action_type: "delete",
        target: "x",
        actions: [three[0]],
      });
      assert.ok(Array.isArray(r.json), r.text);
      assert.equal((r.json as unknown[]).length, 1);
      assertDecision((r.json as unknown[])[0], READ, "read_auto");
    });
    test("batch items accept the `type` alias", async () => {
      const r = await post(base, "/api/v1/evaluate", [{ type: "read", target: "crm" }]);
      assertDecision((r.json as unknown[])[0], READ, "read_auto");
    });
  });

  describe("body size limit (1 MiB default)", () => {
    test("a body of exactly 1 MiB is accepted", async () => {
      const body = jsonOfSize(MiB);
      assert.equal(Buffer.byteLength(body), MiB);
      const r = await post(base, "/api/v1/evaluate", body, { "content-type": "application/json" });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assertDecision(r.json, READ, "read_auto");
    });
    test("1 MiB + 1 byte -> 413 JSON error", async () => {
      const r = await post(base, "/api/v1/evaluate", jsonOfSize(MiB + 1), {
        "content-type": "application/json",
      });
      assertError(r, 413);
    });
    test("a much larger body -> 413, and the server lives on", async () => {
      const r = await post(base, "/api/v1/evaluate", jsonOfSize(8 * MiB), {
        "content-type": "application/json",
      });
      assert.equal(r.status, 413);
      assert.equal((await get(base, "/health")).status, 200);
    });
  });

  describe("routing errors", () => {
    test("unknown path -> 404 JSON", async () => {
      for (const path of ["/nope", "/api/v1/evaluat", "/api/v2/evaluate", "/api/v1/policy/extra"]) {
        assertError(await get(base, path), 404);
      }
      assertError(await post(base, "/api/v1/nothing", { action_type: "read" }), 404);
    });
    test("wrong method -> 405 JSON with Allow", async () => {
      const cases: Array<[string, string, string]> = [
        ["GET", "/api/v1/evaluate", "POST"],
        ["PUT", "/api/v1/evaluate", "POST"],
        ["DELETE", "/api/v1/policy", "PUT"],
        ["POST", "/api/v1/policy", "GET"],
        ["POST", "/health", "GET"],
        ["DELETE", "/api/v1/health", "GET"],
        ["POST", "/ready", "GET"],
        ["GET", "/api/v1/evaluate:batch", "POST"],
      ];
      for (const [method, path, allowed] of cases) {
        const r = await request(base, method, path);
        assertError(r, 405);
        const allow = r.headers.get("allow") ?? "";
        assert.ok(
          allow
            .split(",")
            .map((s) => s.trim())
            .includes(allowed),
          `${method} ${path}: Allow "${allow}" lacks ${allowed}`,
        );
      }
      const policyAllow = (await request(base, "DELETE", "/api/v1/policy")).headers.get("allow") ?? "";
      assert.ok(policyAllow.includes("GET") && policyAllow.includes("PUT"), policyAllow);
    });
    test("405 with a trailing slash too", async () => {
      assertError(await get(base, "/api/v1/evaluate/"), 405);
    });
  });

  describe("execute and audit (served by the audit issue; until then unimplemented, never a fake success)", () => {
    test("POST /api/v1/execute is either a real result or 501", async () => {
      const r = await post(base, "/api/v1/execute", { action_type: "read", target: "crm" });
      if (r.status === 501) {
        assertError(r, 501);
        return;
      }
      assert.equal(r.status, 200, r.text);
      const res = r.json as Record<string, unknown>;
      assert.equal(res["action_type"], "read");
      assert.equal(res["target"], "crm");
      assert.equal(res["status"], "success");
      assert.deepEqual(res["data"], { executed: true });
      assert.equal(res["error"], null);
      const blocked = await post(base, "/api/v1/execute", { action_type: "delete", target: "crm" });
      assert.equal((blocked.json as Record<string, unknown>)["status"], "blocked");
      assert.equal(
        (blocked.json as Record<string, unknown>)["error"],
        "Blocked by policy rule: delete_block",
      );
    });
    test("GET /api/v1/audit is either an array or 501", async () => {
      const r = await get(base, "/api/v1/audit");
      if (r.status === 501) assertError(r, 501);
      else {
        assert.equal(r.status, 200, r.text);
        assert.ok(Array.isArray(r.json));
      }
    });
  });
});

describe("GET and PUT /api/v1/policy", () => {
  let server: ServerProcess;
  let base: string;
  before(async () => {
    server = await startServer();
    base = server.url;
  });
  after(async () => {
    await server?.kill();
  });

  async function policy(): Promise<Record<string, unknown>> {
    const r = await get(base, "/api/v1/policy");
    assert.equal(r.status, 200, r.text);
    return r.json as Record<string, unknown>;
  }
  async function evaluate(action: Record<string, unknown>): Promise<Record<string, unknown>> {
    const r = await post(base, "/api/v1/evaluate", action);
    assert.equal(r.status, 200, r.text);
    return r.json as Record<string, unknown>;
  }
  async function restoreDefault(): Promise<void> {
    const r = await put(base, "/api/v1/policy", { yaml: defaultPolicyYaml });
    assert.deepEqual(seedPolicyAnswer(r.json), { status: "updated", rule_count: 3 });
  }

  test("GET shows the seed's shape: defaults, rules with null match_target/conditions, hash, source, loaded_at", async () => {
    const p = await policy();
    assert.equal(p["default_risk_level"], "MEDIUM");
    assert.equal(p["default_approval"], "approve");
    const rules = p["rules"] as Array<Record<string, unknown>>;
    assert.equal(rules.length, 3);
    const expected = [
      ["read_auto", "read*", "LOW", "auto"],
      ["write_approve", "write*", "MEDIUM", "approve"],
      ["delete_block", "delete*", "CRITICAL", "block"],
    ] as const;
    expected.forEach(([name, type, risk, approval], i) => {
      const rule = rules[i]!;
      assert.equal(rule["name"], name);
      assert.equal(rule["match_type"], type);
      assert.equal(rule["match_target"], null);
      assert.equal(rule["risk_level"], risk);
      assert.equal(rule["approval"], approval);
      assert.equal(rule["conditions"], null);
    });
    assert.match(String(p["hash"]), /^[0-9a-f]{64}$/);
    assert.equal(p["source"], "file");
    assert.match(String(p["loaded_at"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  test("GET /api/v1/policy/ (trailing slash) is the same", async () => {
    const r = await get(base, "/api/v1/policy/");
    assert.equal(r.status, 200);
    assert.equal((r.json as Record<string, unknown>)["default_risk_level"], "MEDIUM");
  });

  test('PUT {"yaml": ...} (the seed\'s example) -> {"status":"updated","rule_count":1} and takes effect', async () => {
    const before = await policy();
    const r = await put(base, "/api/v1/policy", {
      yaml: 'version: "1"\nrules:\n  - name: block_all\n    match: {type: "*"}\n    approval: block',
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(seedPolicyAnswer(r.json), { status: "updated", rule_count: 1 });
    const d = await evaluate({ action_type: "read", target: "crm" });
    assert.equal(d["matched_rule"], "block_all");
    assert.equal(d["approval"], "block");
    assert.equal(d["is_allowed"], false);
    assert.equal(d["risk_level"], "MEDIUM"); // rule default risk
    const after = await policy();
    assert.equal(after["source"], "api");
    assert.notEqual(after["hash"], before["hash"]);
    assert.equal(after["default_approval"], "block"); // omitted defaults: approval block
    await restoreDefault();
  });

  test("PUT a policy object (the seed's example) -> rule_count 1; defaults and rule defaults apply", async () => {
    const r = await put(base, "/api/v1/policy", {
      defaults: { risk_level: "high", approval: "block" },
      rules: [{ name: "allow_reads", match: { type: "read*" }, approval: "auto" }],
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(seedPolicyAnswer(r.json), { status: "updated", rule_count: 1 });
    const read = await evaluate({ action_type: "read", target: "crm" });
    assert.equal(read["matched_rule"], "allow_reads");
    assert.equal(read["approval"], "auto");
    assert.equal(read["risk_level"], "MEDIUM");
    const other = await evaluate({ action_type: "write", target: "crm" });
    assert.equal(other["matched_rule"], "<default>");
    assert.equal(other["risk_level"], "HIGH");
    assert.equal(other["approval"], "block");
    assert.equal(other["is_allowed"], false);
    assert.equal((await policy())["source"], "api");
    await restoreDefault();
  });

  test('PUT {"yaml": ""} is a valid empty policy: MEDIUM / block', async () => {
    const r = await put(base, "/api/v1/policy", { yaml: "" });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(seedPolicyAnswer(r.json), { status: "updated", rule_count: 0 });
    const d = await evaluate({ action_type: "read", target: "crm" });
    assert.equal(d["risk_level"], "MEDIUM");
    assert.equal(d["approval"], "block");
    assert.equal(d["is_allowed"], false);
    assert.equal(d["matched_rule"], "<default>");
    const p = await policy();
    assert.deepEqual(p["rules"], []);
    assert.equal(p["default_risk_level"], "MEDIUM");
    assert.equal(p["default_approval"], "block");
    await restoreDefault();
  });

  test("PUT an invalid policy -> 400 naming the problem; the old policy stays active", async () => {
    const before = await policy();
    const invalid: Array<[unknown, RegExp | undefined]> = [
      [{ yaml: 'rules:\n  - name: x\n    match: {type: "read*"}\n    approval: maybe\n' }, /approval|maybe/],
      [{ yaml: "rules: [unclosed" }, undefined],
      [{ yaml: "rules:\n  - name: a\n  - name: a\n" }, /duplicate|a/i],
      [
        { yaml: 'rules:\n  - match: {type: "x"}\n    conditions: {param_matches: {p: "(?P<n>a)"}}\n' },
        undefined,
      ],
      [{ yaml: 'rules:\n  - match: {type: "x"}\n    scope: global\n' }, /scope/],
      [{ rules: [{ name: "r", match: { type: 5 } }] }, undefined],
      [{ defaults: { risk_level: "extreme" } }, /risk/],
      [{ rules: "none" }, /rules/],
      [{ yaml: 5 }, /yaml/],
    ];
    for (const [body, pattern] of invalid) {
      const r = await put(base, "/api/v1/policy", body);
      assertError(r, 400, pattern);
    }
    assertError(await put(base, "/api/v1/policy", "{not json", { "content-type": "application/json" }), 400);
    assert.deepEqual((await put(base, "/api/v1/policy", "{not json")).json, { error: "Invalid JSON" });
    const after = await policy();
    assert.equal(after["hash"], before["hash"]);
    assert.equal(after["source"], before["source"]);
    assert.equal((await evaluate({ action_type: "read", target: "crm" }))["matched_rule"], "read_auto");
  });

  test("PUT a body that is neither {yaml} nor a policy object -> 400, old policy kept", async () => {
    const before = await policy();
    for (const body of [{}, { color: "blue" }, "null", "[]", '"rules"']) {
      const r = await put(base, "/api/v1/policy", body, { "content-type": "application/json" });
      assertError(r, 400);
    }
    assert.equal((await policy())["hash"], before["hash"]);
  });

  test("an invalid policy names the YAML line", async () => {
    const r = await put(base, "/api/v1/policy", {
      yaml: 'version: "1"\nrules:\n  - name: ok\n    match: {type: "a"}\n  - name: bad\n    match: {type: "b"}\n    risk_level: enormous\n',
    });
    assertError(r, 400, /\b7\b/);
  });
});

describe("REST with the e-commerce policy (conditions)", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ policy: join(examplesDir, "ecommerce.yaml") });
  });
  after(async () => {
    await server?.kill();
  });

  test("param conditions decide; a wrong param type is a 400 naming the rule and the param", async () => {
    const big = await post(server.url, "/api/v1/evaluate", {
      action_type: "place_order",
      target: "checkout",
      params: { total: 1000 },
    });
    assert.equal(big.status, 200, big.text);
    assert.equal((big.json as Record<string, unknown>)["risk_level"], "CRITICAL");
    assert.equal((big.json as Record<string, unknown>)["approval"], "block");
    assert.equal((big.json as Record<string, unknown>)["matched_rule"], "block_large_orders");
    const small = await post(server.url, "/api/v1/evaluate", {
      action_type: "place_order",
      target: "checkout",
      params: { total: 20 },
    });
    assert.equal((small.json as Record<string, unknown>)["matched_rule"], "place_order");
    const wrong = await post(server.url, "/api/v1/evaluate", {
      action_type: "place_order",
      target: "checkout",
      params: { total: "lots" },
    });
    const message = assertError(wrong, 400, /total/);
    assert.match(message, /place_order/);
  });
});

describe("CORS", () => {
  test("off by default: no Access-Control-Allow-Origin on preflight or request", async () => {
    const server = await startServer();
    try {
      const pre = await request(server.url, "OPTIONS", "/api/v1/evaluate", {
        headers: {
          origin: "https://app.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
      assert.equal(pre.headers.get("access-control-allow-origin"), null);
      const r = await post(
        server.url,
        "/api/v1/evaluate",
        { action_type: "read" },
        { origin: "https://app.example" },
      );
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("access-control-allow-origin"), null);
    } finally {
      await server.kill();
    }
  });

  test("AEGIS_CORS_ORIGINS: listed origins get preflights (REST, Connect, gRPC-Web) and headers; others do not", async () => {
    const server = await startServer({
      env: { AEGIS_CORS_ORIGINS: "https://app.example,https://other.example", AEGIS_API_KEY: "k-cors" },
    });
    try {
      const preflights: Array<[string, string]> = [
        ["/api/v1/evaluate", "content-type,x-api-key"],
        ["/aegis.v1.GovernanceService/Evaluate", "content-type,connect-protocol-version,x-api-key"],
        ["/aegis.v1.GovernanceService/Evaluate", "content-type,x-grpc-web,x-user-agent,x-api-key"],
      ];
      for (const [path, headers] of preflights) {
        const pre = await request(server.url, "OPTIONS", path, {
          headers: {
            origin: "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": headers,
          },
        });
        assert.ok(
          pre.status === 200 || pre.status === 204,
          `${path}: preflight status ${pre.status} ${pre.text}`,
        );
        assert.equal(pre.headers.get("access-control-allow-origin"), "https://app.example", path);
        assert.match(pre.headers.get("access-control-allow-methods") ?? "", /POST/, path);
        const allowed = (pre.headers.get("access-control-allow-headers") ?? "").toLowerCase();
        for (const h of headers.split(",")) {
          assert.ok(allowed.includes(h) || allowed.includes("*"), `${path}: ${h} not in "${allowed}"`);
        }
      }
      const r = await post(
        server.url,
        "/api/v1/evaluate",
        { action_type: "read" },
        { origin: "https://other.example", "x-api-key": "k-cors" },
      );
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("access-control-allow-origin"), "https://other.example");
      const evil = await post(
        server.url,
        "/api/v1/evaluate",
        { action_type: "read" },
        { origin: "https://evil.example", "x-api-key": "k-cors" },
      );
      assert.equal(evil.headers.get("access-control-allow-origin"), null);
      const evilPre = await request(server.url, "OPTIONS", "/api/v1/evaluate", {
        headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
      });
      assert.equal(evilPre.headers.get("access-control-allow-origin"), null);
    } finally {
      await server.kill();
    }
  });
});

describe("request logging", () => {
  test("at INFO: one line per request with a request id; no raw params, no keys", async () => {
    const server = await startServer({ env: { AEGIS_LOG_LEVEL: "info", AEGIS_API_KEY: "sekret-api-key-1" } });
    try {
      const r = await post(
        server.url,
        "/api/v1/evaluate",
        {
          action_type: "read",
          target: "crm",
          params: { password: "hunter2-do-not-log", note: "zebra-param" },
        },
        { "x-api-key": "sekret-api-key-1" },
      );
      assert.equal(r.status, 200);
      await server.waitForLog(
        (l) =>
          JSON.stringify(l).includes("/api/v1/evaluate") && Object.keys(l).some((k) => /req.*id/i.test(k)),
        10_000,
        "a request log line with a request id",
      );
      assert.ok(!server.stdout.includes("hunter2-do-not-log"), "a raw param value was logged");
      assert.ok(!server.stdout.includes("zebra-param"), "a raw param value was logged");
      assert.ok(!server.stdout.includes("sekret-api-key-1"), "the API key was logged");
      assert.ok(!server.stderr.includes("sekret-api-key-1"), "the API key was logged");
    } finally {
      await server.kill();
    }
  });
});
