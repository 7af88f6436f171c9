// Connect-Node clients on the generated service descriptor: Connect (HTTP/1.1 and HTTP/2, JSON and
// binary), gRPC-Web and gRPC transports, plus raw Connect JSON as curl would send it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { GovernanceService } from "../../gen/aegis/v1/governance_service_pb.js";
import { Approval, PolicySource, RiskLevel } from "../../gen/aegis/v1/types_pb.js";
import { ConnectError, codeName, connectCode, connectTransports } from "../support/connect.js";
import { post } from "../support/http.js";
import { examplesDir } from "../support/paths.js";
import { type ServerProcess, startServer } from "../support/server-process.js";

describe("Connect-Node transports", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.kill();
  });

  test("every transport: Evaluate, EvaluateBatch, GetPolicy, GetHealth, GetReadiness", async () => {
    for (const { name, transport } of connectTransports(server.url)) {
      const c = createClient(GovernanceService, transport);
      const one = await c.evaluate({ action: { actionType: "read", target: "crm" } });
      assert.equal(one.decision?.riskLevel, RiskLevel.LOW, name);
      assert.equal(one.decision?.approval, Approval.AUTO, name);
      assert.equal(one.decision?.isAllowed, true, name);
      assert.equal(one.decision?.matchedRule, "read_auto", name);
      assert.equal(one.decision?.target, "crm", name);

      const batch = await c.evaluateBatch({
        actions: [
          {
            actionType: "write",
            target: "db",
            params: { rows: 3, dry: false, tags: ["a", "b"], nested: { k: null } },
          },
          { actionType: "delete", target: "storage" },
        ],
      });
      assert.deepEqual(
        batch.decisions.map((d) => [d.matchedRule, d.riskLevel, d.isAllowed]),
        [
          ["write_approve", RiskLevel.MEDIUM, true],
          ["delete_block", RiskLevel.CRITICAL, false],
        ],
        name,
      );

      const policy = await c.getPolicy({});
      assert.equal(policy.policy?.rules.length, 3, name);
      assert.equal(policy.policy?.source, PolicySource.FILE, name);

      const health = await c.getHealth({});
      assert.equal(health.status, "ok", name);
      const ready = await c.getReadiness({});
      assert.equal(ready.status, "ready", name);

      assert.equal(
        codeName(await connectCode(c.evaluate({ action: { actionType: "" } }))),
        "InvalidArgument",
        `${name}: empty action_type`,
      );
      assert.equal(codeName(await connectCode(c.evaluate({}))), "InvalidArgument", `${name}: no action`);
    }
  });

  test("raw Connect JSON (no Connect-Protocol-Version header, curl-style) follows proto3 JSON", async () => {
    const r = await post(
      server.url,
      "/aegis.v1.GovernanceService/EvaluateBatch",
      { actions: [{ actionType: "read", target: "crm" }] },
      { "content-type": "application/json" },
    );
    assert.equal(r.status, 200, r.text);
    const decisions = (r.json as { decisions: Array<Record<string, unknown>> }).decisions;
    assert.equal(decisions[0]?.["riskLevel"], "RISK_LEVEL_LOW");
    assert.equal(decisions[0]?.["approval"], "APPROVAL_AUTO");
    assert.equal(decisions[0]?.["matchedRule"], "read_auto");
    const bad = await post(server.url, "/aegis.v1.GovernanceService/Evaluate", "{nope", {
      "content-type": "application/json",
    });
    assert.notEqual(bad.status, 500, bad.text);
    assert.equal((bad.json as Record<string, unknown>)["code"], "invalid_argument", bad.text);
  });

  test("UpdatePolicy with a YAML string and with a Struct document, over two transports", async () => {
    const [connect, , , grpcWeb] = connectTransports(server.url);
    const a = createClient(GovernanceService, connect!.transport);
    const b = createClient(GovernanceService, grpcWeb!.transport);
    const byDoc = await a.updatePolicy({
      policy: {
        case: "document",
        value: {
          defaults: { risk_level: "high", approval: "block" },
          rules: [{ name: "allow_reads", match: { type: "read*" }, approval: "auto" }],
        },
      },
    });
    assert.equal(byDoc.status, "updated");
    assert.equal(byDoc.ruleCount, 1);
    const d = await b.evaluate({ action: { actionType: "write", target: "x" } });
    assert.equal(d.decision?.riskLevel, RiskLevel.HIGH);
    assert.equal(d.decision?.approval, Approval.BLOCK);
    assert.equal(d.decision?.matchedRule, "<default>");
    assert.equal((await b.getPolicy({})).policy?.source, PolicySource.API);

    const invalid = await connectCode(
      a.updatePolicy({ policy: { case: "yaml", value: "rules: [{approval: sometimes}]" } }),
    );
    assert.equal(codeName(invalid), "InvalidArgument");
    assert.equal(codeName(await connectCode(a.updatePolicy({}))), "InvalidArgument");
    assert.equal((await b.getPolicy({})).policy?.rules[0]?.name, "allow_reads");

    const byYaml = await b.updatePolicy({
      policy: { case: "yaml", value: 'rules:\n  - name: r1\n    match: {type: "*"}\n    approval: auto\n' },
    });
    assert.equal(byYaml.ruleCount, 1);
    assert.equal((await a.evaluate({ action: { actionType: "anything" } })).decision?.matchedRule, "r1");
  });
});

describe("Connect with the e-commerce policy", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ policy: join(examplesDir, "ecommerce.yaml") });
  });
  after(async () => {
    await server?.kill();
  });
  test("a param of the wrong type -> invalid_argument naming the rule and the param", async () => {
    for (const { name, transport } of connectTransports(server.url)) {
      const c = createClient(GovernanceService, transport);
      const big = await c.evaluate({
        action: { actionType: "place_order", target: "checkout", params: { total: 1000 } },
      });
      assert.equal(big.decision?.matchedRule, "block_large_orders", name);
      await assert.rejects(
        c.evaluate({ action: { actionType: "place_order", target: "checkout", params: { total: "lots" } } }),
        (err: unknown) => {
          const e = ConnectError.from(err);
          assert.equal(codeName(e.code), "InvalidArgument", name);
          assert.match(e.rawMessage, /total/, name);
          assert.match(e.rawMessage, /place_order/, name);
          return true;
        },
      );
    }
  });
});
