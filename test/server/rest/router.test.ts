// The REST route table: literal paths from the annotations, path templates with variables and
// custom verbs, HEAD for GET, 405 with Allow, trailing slashes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DescMethod } from "@bufbuild/protobuf";
import { GovernanceService } from "../../../gen/aegis/v1/governance_service_pb.js";
import { AegisError } from "../../../src/errors.js";
import { normalisePath, type RestRoute, RestRouter, routesOf } from "../../../src/server/rest/router.js";

const method = GovernanceService.method.getPolicy as DescMethod;

function route(httpMethod: string, path: string): RestRoute {
  const vars = [...path.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1] as string);
  return { httpMethod, path, method, body: "", responseBody: "", vars };
}

describe("routesOf", () => {
  test("every seed route comes from the annotations, additional bindings included", () => {
    const routes = routesOf([GovernanceService]).map((r) => `${r.httpMethod} ${r.path}`);
    for (const r of [
      "POST /api/v1/evaluate",
      "POST /api/v1/evaluate:batch",
      "POST /api/v1/execute",
      "POST /api/v1/execute:batch",
      "GET /api/v1/audit",
      "GET /api/v1/policy",
      "PUT /api/v1/policy",
      "GET /health",
      "GET /api/v1/health",
      "GET /ready",
    ]) {
      assert.ok(routes.includes(r), `${r} in ${routes.join(", ")}`);
    }
  });

  test("normalisePath drops trailing slashes only", () => {
    assert.equal(normalisePath("/api/v1/audit///"), "/api/v1/audit");
    assert.equal(normalisePath("/"), "/");
  });
});

describe("RestRouter", () => {
  const router = new RestRouter(
    [
      route("GET", "/api/v1/agents"),
      route("POST", "/api/v1/agents"),
      route("GET", "/api/v1/agents/{agent_id}"),
      route("DELETE", "/api/v1/agents/{agent_id}"),
      route("POST", "/api/v1/agents/{agent_id}:suspend"),
      route("POST", "/api/v1/agents/{agent_id}/heartbeat"),
    ],
    (r) => `${r.httpMethod} ${r.path}`,
  );

  test("literal paths, HEAD answered by GET, 405 with Allow", () => {
    const m = router.match("GET", "/api/v1/agents");
    assert.equal(m?.kind, "route");
    assert.equal(m?.kind === "route" && m.handler, "GET /api/v1/agents");
    const head = router.match("HEAD", "/api/v1/agents");
    assert.ok(head?.kind === "route" && head.head);
    const put = router.match("PUT", "/api/v1/agents");
    assert.deepEqual(put, { kind: "method_not_allowed", allow: "GET, POST, HEAD" });
    assert.equal(router.match("GET", "/api/v1/nothing"), undefined);
  });

  test("templates bind one decoded segment; a custom verb is a suffix of it", () => {
    const get = router.match("GET", "/api/v1/agents/bot%201");
    assert.ok(get?.kind === "route");
    assert.deepEqual(get.params, { agent_id: "bot 1" });
    const suspend = router.match("POST", "/api/v1/agents/a:b:suspend");
    assert.ok(suspend?.kind === "route");
    assert.equal(suspend.handler, "POST /api/v1/agents/{agent_id}:suspend");
    assert.deepEqual(suspend.params, { agent_id: "a:b" });
    const beat = router.match("POST", "/api/v1/agents/x/heartbeat");
    assert.ok(beat?.kind === "route" && beat.params["agent_id"] === "x");
    assert.deepEqual(router.match("PATCH", "/api/v1/agents/x"), {
      kind: "method_not_allowed",
      allow: "GET, DELETE, HEAD",
    });
    // A variable never spans segments, and never matches an empty one.
    assert.equal(router.match("GET", "/api/v1/agents/a/b"), undefined);
    assert.equal(router.match("POST", "/api/v1/agents/:suspend")?.kind, "method_not_allowed");
  });

  test("a bad percent-encoding is a 400, not a crash", () => {
    assert.throws(
      () => router.match("GET", "/api/v1/agents/%E0%A4%A"),
      (e: unknown) => e instanceof AegisError && e.code === "invalid_argument",
    );
  });

  test("duplicate routes and unsupported templates fail at startup", () => {
    assert.throws(() => new RestRouter([route("GET", "/a"), route("GET", "/a")], () => 1), /duplicate route/);
    assert.throws(() => new RestRouter([route("GET", "/a/{x}{y}")], () => 1), /unsupported path template/);
  });
});
