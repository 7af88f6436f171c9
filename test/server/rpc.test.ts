// The same handlers over Connect (HTTP/1.1 and HTTP/2), gRPC (h2c) and gRPC-Web, with the same
// auth and limits as REST; plus gRPC health and reflection.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, type JsonObject } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { GovernanceService } from "../../gen/aegis/v1/governance_service_pb.js";
import { Approval, RiskLevel } from "../../gen/aegis/v1/types_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionAlpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { call, type Harness, startHarness } from "./harness.js";

const MAX = 64 * 1024;
let open: Harness;
let locked: Harness;

before(async () => {
  open = await startHarness({ maxBodyBytes: MAX, maxBatch: 10 });
  locked = await startHarness({ apiKey: "api-key", adminKey: "admin-key" });
});
after(async () => {
  await open.close();
  await locked.close();
});

function transports(baseUrl: string): Record<string, Transport> {
  return {
    "connect http/1.1": createConnectTransport({ baseUrl, httpVersion: "1.1" }),
    "connect h2c": createConnectTransport({ baseUrl, httpVersion: "2" }),
    "grpc h2c": createGrpcTransport({ baseUrl }),
    "grpc-web http/1.1": createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  };
}

function keyed(key: string) {
  return { headers: { "x-api-key": key } };
}

async function code(p: Promise<unknown>): Promise<Code> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err).code;
  }
  return -1 as Code;
}

describe("every RPC protocol", () => {
  for (const [name] of Object.entries(transports("http://x"))) {
    test(`${name}: evaluate, batch, policy, auth, limits`, async () => {
      const c = createClient(GovernanceService, transports(open.url)[name]!);
      const one = await c.evaluate({ action: { actionType: "read", target: "crm" } });
      assert.equal(one.decision?.riskLevel, RiskLevel.LOW);
      assert.equal(one.decision?.approval, Approval.AUTO);
      assert.equal(one.decision?.isAllowed, true);
      assert.equal(one.decision?.matchedRule, "read_auto");

      const batch = await c.evaluateBatch({ actions: [{ actionType: "delete" }, { actionType: "write" }] });
      assert.deepEqual(
        batch.decisions.map((d) => d.matchedRule),
        ["delete_block", "write_approve"],
      );
      const params: JsonObject = { total: 900 };
      const cond = await c.evaluate({ action: { actionType: "order", params } });
      assert.equal(cond.decision?.matchedRule, "big_orders");

      assert.equal(await code(c.evaluate({ action: { actionType: "" } })), Code.InvalidArgument);
      assert.equal(await code(c.evaluate({})), Code.InvalidArgument);
      assert.equal(
        await code(c.evaluate({ action: { actionType: "order", params: { total: "x" } } })),
        Code.InvalidArgument,
      );
      // batch limit (10 here)
      const eleven = Array.from({ length: 11 }, () => ({ actionType: "read" }));
      assert.equal(await code(c.evaluateBatch({ actions: eleven })), Code.InvalidArgument);
      // body limit (64 KiB here)
      const big = { action: { actionType: "read", params: { pad: "x".repeat(MAX) } } };
      assert.equal(await code(c.evaluate(big)), Code.ResourceExhausted);

      const p = await c.getPolicy({});
      assert.equal(p.policy?.rules[0]?.name, "read_auto");
      assert.equal(p.policy?.rules[0]?.matchTarget, undefined);
      assert.equal(await code(c.execute({ action: { actionType: "read" } })), Code.Unimplemented);

      const lc = createClient(GovernanceService, transports(locked.url)[name]!);
      assert.equal(await code(lc.evaluate({ action: { actionType: "read" } })), Code.Unauthenticated);
      assert.equal(
        await code(lc.evaluate({ action: { actionType: "read" } }, keyed("wrong"))),
        Code.Unauthenticated,
      );
      assert.equal(
        (await lc.evaluate({ action: { actionType: "read" } }, keyed("api-key"))).decision?.matchedRule,
        "read_auto",
      );
      const bearer = { headers: { authorization: "Bearer admin-key" } };
      assert.equal(
        (await lc.evaluate({ action: { actionType: "read" } }, bearer)).decision?.matchedRule,
        "read_auto",
      );
      assert.equal(
        await code(lc.updatePolicy({ policy: { case: "yaml", value: "" } }, keyed("api-key"))),
        Code.PermissionDenied,
      );
      assert.equal(
        await code(lc.updatePolicy({ policy: { case: "yaml", value: "" } })),
        Code.Unauthenticated,
      );
      // health needs no key
      const hc = createClient(Health, transports(locked.url)[name]!);
      assert.equal((await hc.check({ service: "" })).status, HealthCheckResponse_ServingStatus.SERVING);
      assert.equal((await lc.getHealth({})).status, "ok");
    });
  }
});

describe("REST and RPC agree on auth", () => {
  test("401 / 403 over REST with the same keys", async () => {
    assert.equal((await call(`${locked.url}/api/v1/evaluate`, "POST", { action_type: "read" })).status, 401);
    assert.equal(
      (await call(`${locked.url}/api/v1/evaluate`, "POST", { action_type: "read" }, { "x-api-key": "nope" }))
        .status,
      401,
    );
    assert.equal(
      (
        await call(
          `${locked.url}/api/v1/evaluate`,
          "POST",
          { action_type: "read" },
          { authorization: "Bearer api-key" },
        )
      ).status,
      200,
    );
    assert.equal(
      (await call(`${locked.url}/api/v1/policy`, "GET", undefined, { "x-api-key": "api-key" })).status,
      200,
    );
    assert.equal(
      (await call(`${locked.url}/api/v1/policy`, "PUT", { yaml: "" }, { "x-api-key": "api-key" })).status,
      403,
    );
    assert.equal((await call(`${locked.url}/api/v1/policy`, "PUT", { yaml: "" })).status, 401);
    assert.equal((await call(`${locked.url}/health`, "GET")).status, 200);
    assert.equal((await call(`${locked.url}/ready`, "GET")).status, 401);
    assert.equal(
      (await call(`${locked.url}/ready`, "GET", undefined, { "x-api-key": "api-key" })).status,
      200,
    );
  });

  test("REST body limit: exactly the limit is accepted, one byte more is 413", async () => {
    const base = JSON.stringify({ action_type: "read", params: { pad: "" } });
    const exact = JSON.stringify({ action_type: "read", params: { pad: "x".repeat(MAX - base.length) } });
    assert.equal(Buffer.byteLength(exact), MAX);
    assert.equal((await call(`${open.url}/api/v1/evaluate`, "POST", exact)).status, 200);
    const over = `${exact} `;
    const r = await call(`${open.url}/api/v1/evaluate`, "POST", over);
    assert.equal(r.status, 413);
    assert.match(String((r.json as Record<string, unknown>)["error"]), /limit/);
    // a chunked body without Content-Length is counted too
    const chunked = await fetch(`${open.url}/api/v1/evaluate`, {
      method: "POST",
      body: new Blob([over]).stream(),
      duplex: "half",
    } as RequestInit);
    assert.equal(chunked.status, 413);
    // and the server still answers on the same port
    assert.equal((await call(`${open.url}/api/v1/evaluate`, "POST", { action_type: "read" })).status, 200);
  });

  test("REST batch limit is a 400", async () => {
    const r = await call(
      `${open.url}/api/v1/evaluate`,
      "POST",
      Array.from({ length: 11 }, () => ({ action_type: "a" })),
    );
    assert.equal(r.status, 400);
    assert.match(String((r.json as Record<string, unknown>)["error"]), /limit of 10/);
  });
});

describe("gRPC health and reflection", () => {
  test("Check knows '' and aegis.v1.GovernanceService; unknown is NOT_FOUND", async () => {
    const hc = createClient(Health, createGrpcTransport({ baseUrl: open.url }));
    assert.equal(
      (await hc.check({ service: "aegis.v1.GovernanceService" })).status,
      HealthCheckResponse_ServingStatus.SERVING,
    );
    assert.equal(await code(hc.check({ service: "nope" })), Code.NotFound);
  });

  test("Watch streams the status and ends with NOT_SERVING at shutdown", async () => {
    const h = await startHarness();
    const hc = createClient(Health, createGrpcTransport({ baseUrl: h.url }));
    const seen: HealthCheckResponse_ServingStatus[] = [];
    const stream = (async () => {
      for await (const r of hc.watch({ service: "" })) seen.push(r.status);
    })();
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 10));
    await h.close();
    await stream;
    assert.deepEqual(seen, [
      HealthCheckResponse_ServingStatus.SERVING,
      HealthCheckResponse_ServingStatus.NOT_SERVING,
    ]);
  });

  for (const [version, service] of [
    ["v1", ServerReflection],
    ["v1alpha", ServerReflectionAlpha],
  ] as const) {
    test(`reflection ${version}: list services and resolve a symbol`, async () => {
      const rc = createClient(service as typeof ServerReflection, createGrpcTransport({ baseUrl: open.url }));
      async function* reqs() {
        yield create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
        yield create(ServerReflectionRequestSchema, {
          messageRequest: { case: "fileContainingSymbol", value: "aegis.v1.GovernanceService" },
        });
        yield create(ServerReflectionRequestSchema, {
          messageRequest: { case: "fileContainingSymbol", value: "no.such.Thing" },
        });
      }
      const out = [];
      for await (const r of rc.serverReflectionInfo(reqs())) out.push(r);
      assert.equal(out.length, 3);
      const list = out[0]!.messageResponse;
      assert.equal(list.case, "listServicesResponse");
      const names = list.case === "listServicesResponse" ? list.value.service.map((s) => s.name) : [];
      assert.deepEqual(names.sort(), [
        "aegis.v1.AgentService",
        "aegis.v1.GovernanceService",
        "aegis.v1.GuardrailService",
        "aegis.v1.PolicyService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]);
      const fd = out[1]!.messageResponse;
      assert.equal(fd.case, "fileDescriptorResponse");
      const files =
        fd.case === "fileDescriptorResponse"
          ? fd.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name)
          : [];
      assert.equal(files[0], "aegis/v1/governance_service.proto");
      for (const dep of [
        "aegis/v1/types.proto",
        "google/api/annotations.proto",
        "google/protobuf/struct.proto",
      ]) {
        assert.ok(files.includes(dep), dep);
      }
      assert.equal(out[2]!.messageResponse.case, "errorResponse");
    });
  }
});

describe("CORS", () => {
  test("off unless configured", async () => {
    const r = await fetch(`${open.url}/api/v1/evaluate`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
    });
    assert.equal(r.headers.get("access-control-allow-origin"), null);
  });

  test("preflights answered for listed origins on REST and RPC paths", async () => {
    const h = await startHarness({ cors: ["https://app.example.com"] });
    try {
      for (const path of ["/api/v1/evaluate", "/aegis.v1.GovernanceService/Evaluate"]) {
        const r = await fetch(`${h.url}${path}`, {
          method: "OPTIONS",
          headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
        });
        assert.equal(r.status, 204);
        assert.equal(r.headers.get("access-control-allow-origin"), "https://app.example.com");
        assert.match(r.headers.get("access-control-allow-headers") ?? "", /x-api-key/);
      }
      const other = await fetch(`${h.url}/health`, { headers: { origin: "https://evil.example.com" } });
      assert.equal(other.headers.get("access-control-allow-origin"), null);
      const ok = await fetch(`${h.url}/health`, { headers: { origin: "https://app.example.com" } });
      assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example.com");
    } finally {
      await h.close();
    }
  });
});

describe("undecodable protobuf bytes are the client's fault", () => {
  const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
  const envelope = (data: Uint8Array) => {
    const out = new Uint8Array(5 + data.length);
    new DataView(out.buffer).setUint32(1, data.length);
    out.set(data, 5);
    return out;
  };
  const path = "/aegis.v1.GovernanceService/Evaluate";

  test("Connect (application/proto): 400 invalid_argument", async () => {
    const r = await fetch(`${open.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: garbage,
    });
    assert.equal(r.status, 400);
    assert.equal(((await r.json()) as Record<string, unknown>)["code"], "invalid_argument");
  });

  test("gRPC-Web: grpc-status 3 in the trailer frame", async () => {
    const r = await fetch(`${open.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: envelope(garbage),
    });
    const body = Buffer.from(await r.arrayBuffer());
    assert.equal(body[0], 0x80);
    assert.match(body.subarray(5).toString("utf8"), /grpc-status: 3\r\n/);
  });

  test("gRPC: grpc-status 3 in the trailers, and the server still answers", async () => {
    const { connect } = await import("node:http2");
    const session = connect(open.url);
    try {
      const status = await new Promise<string | undefined>((resolve, reject) => {
        const req = session.request({
          ":method": "POST",
          ":path": path,
          "content-type": "application/grpc+proto",
          te: "trailers",
        });
        let s: string | undefined;
        req.on("response", (h) => {
          if (h["grpc-status"] !== undefined) s = String(h["grpc-status"]);
        });
        req.on("trailers", (t) => {
          s = String(t["grpc-status"]);
        });
        req.on("data", () => undefined);
        req.on("end", () => resolve(s));
        req.on("error", reject);
        req.end(envelope(garbage));
      });
      assert.equal(status, "3");
    } finally {
      session.close();
    }
    const c = createClient(GovernanceService, createGrpcTransport({ baseUrl: open.url }));
    assert.equal((await c.evaluate({ action: { actionType: "read" } })).decision?.matchedRule, "read_auto");
  });
});
