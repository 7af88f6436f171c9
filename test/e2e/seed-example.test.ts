// The seed's end-to-end example (docker-deployment.md, steps 3-7) replayed literally: the same
// requests (bodies and headers as the curl commands send them) and the results it shows. Step 2
// runs `aegis serve policy.yaml` in a directory holding the default policy, as the image does.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { request } from "../support/http.js";
import { seedPolicyAnswer } from "../support/policy-answer.js";
import {
  defaultPolicyPath,
  makeTempDir,
  type ServerProcess,
  startServer,
  type TempDir,
} from "../support/server-process.js";

describe("seed end-to-end example, steps 3-7", () => {
  let dir: TempDir;
  let server: ServerProcess;
  before(async () => {
    dir = makeTempDir("aegis-seed-");
    dir.file("policy.yaml", readFileSync(defaultPolicyPath, "utf8"));
    server = await startServer({ policy: "policy.yaml", cwd: dir.path });
  });
  after(async () => {
    await server?.kill();
    dir?.cleanup();
  });

  // curl -d sends exactly the quoted text; -H sets the content type.
  const curlPost = (method: string, path: string, body: string) =>
    request(server.url, method, path, { body, headers: { "Content-Type": "application/json" } });

  function expectFields(actual: unknown, expected: Record<string, unknown>): void {
    assert.equal(typeof actual, "object");
    for (const [k, v] of Object.entries(expected)) {
      assert.deepEqual((actual as Record<string, unknown>)[k], v, `${k} in ${JSON.stringify(actual)}`);
    }
  }

  test("3-7 in order", async () => {
    // 3. Verify health
    const health = await request(server.url, "GET", "/health");
    assert.equal(health.status, 200);
    assert.equal((health.json as Record<string, unknown>)["status"], "ok");

    // 4. Evaluate a safe action
    const safe = await curlPost("POST", "/api/v1/evaluate", '{"action_type": "read", "target": "crm"}');
    assert.equal(safe.status, 200, safe.text);
    expectFields(safe.json, { risk_level: "LOW", approval: "auto", is_allowed: true });

    // 5. Evaluate a blocked action
    const blocked = await curlPost("POST", "/api/v1/evaluate", '{"action_type": "delete", "target": "crm"}');
    assert.equal(blocked.status, 200, blocked.text);
    expectFields(blocked.json, { risk_level: "CRITICAL", approval: "block", is_allowed: false });

    // 6. Hot-reload a stricter policy
    const reload = await curlPost(
      "PUT",
      "/api/v1/policy",
      '{"defaults": {"risk_level": "high", "approval": "block"}, "rules": []}',
    );
    assert.equal(reload.status, 200, reload.text);
    assert.deepEqual(seedPolicyAnswer(reload.json), { status: "updated", rule_count: 0 });

    // 7. Now everything is blocked
    const now = await curlPost("POST", "/api/v1/evaluate", '{"action_type": "read", "target": "crm"}');
    assert.equal(now.status, 200, now.text);
    expectFields(now.json, { risk_level: "HIGH", approval: "block", is_allowed: false });
  });

  test("the seed's API examples: evaluate response in full, batch, policy view", async () => {
    await curlPost(
      "PUT",
      "/api/v1/policy",
      JSON.stringify({ yaml: readFileSync(defaultPolicyPath, "utf8") }),
    );
    const one = await curlPost("POST", "/api/v1/evaluate", '{"action_type": "read", "target": "crm"}');
    expectFields(one.json, {
      action_type: "read",
      target: "crm",
      risk_level: "LOW",
      approval: "auto",
      is_allowed: true,
      matched_rule: "read_auto",
    });
    const batch = await curlPost(
      "POST",
      "/api/v1/evaluate",
      `{"actions": [
  {"action_type": "read", "target": "crm"},
  {"action_type": "write", "target": "database"},
  {"action_type": "delete", "target": "storage"}
]}`,
    );
    assert.ok(Array.isArray(batch.json), batch.text);
    assert.deepEqual(
      (batch.json as Array<Record<string, unknown>>).map((d) => d["matched_rule"]),
      ["read_auto", "write_approve", "delete_block"],
    );
    const policy = await request(server.url, "GET", "/api/v1/policy");
    const rules = (policy.json as { rules: unknown[] }).rules;
    expectFields(rules[0], {
      name: "read_auto",
      match_type: "read*",
      match_target: null,
      risk_level: "LOW",
      approval: "auto",
      conditions: null,
    });
  });
});
