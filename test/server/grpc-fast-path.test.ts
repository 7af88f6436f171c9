// The unary gRPC fast path (src/server/grpc-fast-path.ts) for Evaluate and EvaluateBatch, tested
// through behaviour only: answers over grpc-js, every error code, the hand-over to Connect for
// what the fast path does not serve, and byte-for-byte the same headers and trailers as the
// Connect path. Connect's gRPC content-type match is case-insensitive, the fast path's is exact,
// so `application/GRPC` reaches the very same RPC through Connect: the reference to compare with.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  EvaluateBatchRequestSchema,
  EvaluateRequestSchema,
  GovernanceService,
} from "../../gen/aegis/v1/governance_service_pb.js";
import { Approval, RiskLevel } from "../../gen/aegis/v1/types_pb.js";
import { GovernanceService as Gov, PolicyHolder } from "../../src/governance/index.js";
import { parsePolicy } from "../../src/policy/index.js";
import { Authenticator } from "../../src/server/auth.js";
import { Cors } from "../../src/server/cors.js";
import { createRequestHandler } from "../../src/server/handler.js";
import { HealthState } from "../../src/server/health.js";
import { Listener } from "../../src/server/listener.js";
import { createLogger } from "../../src/server/logger.js";
import { grpc, grpcClient, unary, unaryRaw } from "../support/grpc.js";
import { type Harness, SEED_POLICY, startHarness } from "./harness.js";

const KEY = "fast-path-key";
const EVALUATE = "/aegis.v1.GovernanceService/Evaluate";
const BATCH = "/aegis.v1.GovernanceService/EvaluateBatch";
const MAX_BODY = 2048;
const MAX_BATCH = 3;

function frame(message: Uint8Array, flag = 0): Buffer {
  const f = Buffer.alloc(5 + message.length);
  f[0] = flag;
  f.writeUInt32BE(message.length, 1);
  f.set(message, 5);
  return f;
}

const evaluateBytes = (actionType: string, params?: Record<string, string | number>) =>
  toBinary(
    EvaluateRequestSchema,
    create(EvaluateRequestSchema, { action: { actionType, target: "t", params } }),
  );
const batchBytes = (...types: string[]) =>
  toBinary(
    EvaluateBatchRequestSchema,
    create(EvaluateBatchRequestSchema, { actions: types.map((actionType) => ({ actionType })) }),
  );

interface Raw {
  readonly headers: Record<string, unknown>;
  readonly trailers: Record<string, unknown>;
  readonly body: Buffer;
}

/** One raw HTTP/2 call; the response without its per-request parts (date, request id). */
function raw(url: string, path: string, contentType: string, body: Buffer, extra = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const s = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": contentType,
      te: "trailers",
      ...extra,
    });
    let headers: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    const data: Buffer[] = [];
    s.on("response", (h) => {
      headers = Object.fromEntries(Object.entries(h));
    });
    s.on("trailers", (t) => {
      trailers = Object.fromEntries(Object.entries(t));
    });
    s.on("data", (d: Buffer) => data.push(d));
    s.on("error", reject);
    s.on("close", () => {
      session.close();
      delete headers.date;
      delete headers["x-request-id"];
      resolve({ headers, trailers, body: Buffer.concat(data) });
    });
    s.end(body);
  });
}

/** The fast path's answer and Connect's answer to the same request. */
async function both(url: string, path: string, body: Buffer, extra = {}): Promise<[Raw, Raw]> {
  const fast = await raw(url, path, "application/grpc", body, extra);
  const connect = await raw(url, path, "application/GRPC", body, extra);
  return [fast, connect];
}

function grpcError(p: Promise<unknown>): Promise<grpc.ServiceError> {
  return p.then(
    () => assert.fail("expected a gRPC error"),
    (e: grpc.ServiceError) => e,
  );
}

describe("unary gRPC fast path", () => {
  let h: Harness;
  let client: grpc.Client;
  const auth = { "x-api-key": KEY };

  before(async () => {
    h = await startHarness({ apiKey: KEY, maxBodyBytes: MAX_BODY, maxBatch: MAX_BATCH });
    client = grpcClient(new URL(h.url).host);
  });
  after(async () => {
    client.close();
    await h.close();
  });

  test("Evaluate answers over grpc-js (x-api-key and Bearer)", async () => {
    const m = GovernanceService.method.evaluate;
    const r = await unary(
      client,
      m,
      create(m.input, { action: { actionType: "read_file", target: "/x" } }),
      auth,
    );
    assert.equal(r.decision?.matchedRule, "read_auto");
    assert.equal(r.decision?.riskLevel, RiskLevel.LOW);
    assert.equal(r.decision?.approval, Approval.AUTO);
    assert.equal(r.decision?.isAllowed, true);
    assert.equal(r.decision?.policyHash, h.governance.getPolicy().hash);
    const b = await unary(
      client,
      m,
      create(m.input, { action: { actionType: "delete_all", target: "db" } }),
      {
        authorization: `Bearer ${KEY}`,
      },
    );
    assert.equal(b.decision?.matchedRule, "delete_block");
    assert.equal(b.decision?.isAllowed, false);
  });

  test("EvaluateBatch answers over grpc-js, in order", async () => {
    const m = GovernanceService.method.evaluateBatch;
    const r = await unary(
      client,
      m,
      create(m.input, {
        actions: [{ actionType: "read" }, { actionType: "write" }, { actionType: "delete" }],
      }),
      auth,
    );
    assert.deepEqual(
      r.decisions.map((d) => d.matchedRule),
      ["read_auto", "write_approve", "delete_block"],
    );
    const empty = await unary(client, m, create(m.input, {}), auth);
    assert.equal(empty.decisions.length, 0);
  });

  test("the same answer as the Connect path, header for header", async () => {
    for (const [path, body] of [
      [EVALUATE, frame(evaluateBytes("read"))],
      [BATCH, frame(batchBytes("read", "order"))],
    ] as const) {
      const [fast, connect] = await both(h.url, path, body, auth);
      assert.deepEqual(fast, connect);
      assert.equal(fast.headers[":status"], 200);
      assert.equal(fast.headers["content-type"], "application/grpc+proto");
      assert.deepEqual(fast.trailers, { "grpc-status": "0" });
    }
  });

  test("missing and wrong keys: UNAUTHENTICATED, refused identically on both paths", async () => {
    const m = GovernanceService.method.evaluate;
    const req = create(m.input, { action: { actionType: "read" } });
    const missing = await grpcError(unary(client, m, req));
    assert.equal(missing.code, grpc.status.UNAUTHENTICATED);
    assert.equal(missing.details, "Missing API key");
    const wrong = await grpcError(unary(client, m, req, { "x-api-key": "nope" }));
    assert.equal(wrong.code, grpc.status.UNAUTHENTICATED);
    assert.equal(wrong.details, "Invalid API key");
    const bearer = await grpcError(unary(client, m, req, { authorization: "Bearer nope" }));
    assert.equal(bearer.code, grpc.status.UNAUTHENTICATED);

    for (const extra of [{}, { "x-api-key": "nope" }, { authorization: "Bearer nope" }]) {
      const [fast, connect] = await both(h.url, EVALUATE, frame(evaluateBytes("read")), extra);
      assert.deepEqual(fast, connect);
      assert.equal(fast.trailers["grpc-status"], "16");
    }
  });

  test("a message over the body limit: RESOURCE_EXHAUSTED, as on Connect", async () => {
    const big = evaluateBytes("read", { pad: "x".repeat(MAX_BODY) });
    const e = await grpcError(unaryRaw(client, EVALUATE, big, auth));
    assert.equal(e.code, grpc.status.RESOURCE_EXHAUSTED);
    const [fast, connect] = await both(h.url, EVALUATE, frame(big), auth);
    assert.deepEqual(fast, connect);
    assert.equal(fast.trailers["grpc-status"], "8");
  });

  test("a batch over the limit: INVALID_ARGUMENT from the governance service", async () => {
    const e = await grpcError(unaryRaw(client, BATCH, batchBytes("a", "b", "c", "d"), auth));
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.match(e.details, /exceeds the limit of 3/);
    const [fast, connect] = await both(h.url, BATCH, frame(batchBytes("a", "b", "c", "d")), auth);
    assert.deepEqual(fast, connect);
  });

  test("undecodable bytes: INVALID_ARGUMENT (before auth, as on Connect)", async () => {
    const junk = Buffer.from([0xff, 0xff, 0xff]);
    const e = await grpcError(unaryRaw(client, EVALUATE, junk, auth));
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.match(e.details, /^parse binary/); // grpc-js leaves Connect's "%3A" encoded
    for (const extra of [auth, {}]) {
      const [fast, connect] = await both(h.url, EVALUATE, frame(junk), extra);
      assert.deepEqual(fast, connect);
      assert.equal(fast.trailers["grpc-status"], "3");
    }
  });

  test("domain errors: missing action, empty batch entry, PolicyEvaluationError", async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      [
        EVALUATE,
        frame(toBinary(EvaluateRequestSchema, create(EvaluateRequestSchema, {}))),
        /action is required/,
      ],
      [BATCH, frame(batchBytes("read", "")), /actions\[1\]/],
      [EVALUATE, frame(evaluateBytes("order", { total: "lots" })), /big_orders/],
    ];
    for (const [path, body, message] of cases) {
      const e = await grpcError(unaryRaw(client, path, body.subarray(5), auth));
      assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
      assert.match(e.details, message);
      const [fast, connect] = await both(h.url, path, body, auth);
      assert.deepEqual(fast, connect);
    }
  });

  test("application/grpc+json still works, through Connect", async () => {
    const c = createClient(
      GovernanceService,
      createGrpcTransport({ baseUrl: h.url, useBinaryFormat: false, interceptors: [] }),
    );
    const r = await c.evaluate({ action: { actionType: "read" } }, { headers: auth });
    assert.equal(r.decision?.matchedRule, "read_auto");
  });

  test("a compressed message still works, through Connect", async () => {
    const gz = grpcClient(new URL(h.url).host, grpc.credentials.createInsecure(), {
      "grpc.default_compression_algorithm": 2, // gzip
    });
    try {
      const m = GovernanceService.method.evaluateBatch;
      const r = await unary(gz, m, create(m.input, { actions: [{ actionType: "write" }] }), auth);
      assert.equal(r.decisions[0]?.matchedRule, "write_approve");
    } finally {
      gz.close();
    }
  });

  test("what the fast path hands over gets Connect's answer (flag 1, two messages, none, partial)", async () => {
    const one = frame(evaluateBytes("read"));
    for (const body of [
      frame(evaluateBytes("read"), 1),
      Buffer.concat([one, one]),
      Buffer.alloc(0),
      one.subarray(0, 7),
    ]) {
      const [fast, connect] = await both(h.url, EVALUATE, body, auth);
      assert.deepEqual(fast, connect);
      assert.notEqual(fast.trailers["grpc-status"], "0");
    }
  });

  test("the server keeps answering on the same connection after errors", async () => {
    await grpcError(unaryRaw(client, EVALUATE, Buffer.from([0xff]), auth));
    const m = GovernanceService.method.evaluate;
    const r = await unary(client, m, create(m.input, { action: { actionType: "read" } }), auth);
    assert.equal(r.decision?.matchedRule, "read_auto");
  });
});

describe("unary gRPC fast path: the per-request log line", () => {
  test("one INFO line with the request id, like every other request", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString("utf8").split("\n")) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    const governance = new Gov({ policy: new PolicyHolder(parsePolicy(SEED_POLICY), "file"), maxBatch: 10 });
    const rh = createRequestHandler({
      governance,
      health: new HealthState(governance),
      auth: new Authenticator({ apiKey: KEY }),
      cors: new Cors([]),
      logger: createLogger("info", sink),
      maxBodyBytes: MAX_BODY,
    });
    const listener = new Listener({ handler: rh.handler, stream: rh.stream });
    const bound = await listener.listen("127.0.0.1", 0);
    try {
      const session = http2.connect(bound.url);
      const reply = await new Promise<{ id: unknown; body: Buffer }>((resolve, reject) => {
        const s = session.request({
          ":method": "POST",
          ":path": EVALUATE,
          "content-type": "application/grpc",
          "x-api-key": KEY,
          "x-request-id": "fast-123",
        });
        let id: unknown;
        const data: Buffer[] = [];
        s.on("response", (hd) => {
          id = hd["x-request-id"];
        });
        s.on("data", (d: Buffer) => data.push(d));
        s.on("error", reject);
        s.on("close", () => resolve({ id, body: Buffer.concat(data) }));
        s.end(frame(evaluateBytes("read")));
      });
      session.close();
      assert.equal(reply.id, "fast-123");
      const decoded = fromBinary(GovernanceService.method.evaluate.output, reply.body.subarray(5));
      assert.equal(decoded.decision?.matchedRule, "read_auto");
      await new Promise((r) => setTimeout(r, 20));
      const line = lines.find((l) => l.msg === "request" && l.req_id === "fast-123");
      assert.ok(line, JSON.stringify(lines));
      assert.equal(line.level, "info");
      assert.equal(line.method, "POST");
      assert.equal(line.path, EVALUATE);
      assert.equal(line.status, 200);
      assert.equal(line.proto, "h2");
    } finally {
      await listener.close(1000);
    }
  });
});
