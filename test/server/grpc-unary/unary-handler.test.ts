// The unary gRPC fast path (src/server/grpc-fast-path.ts) for Evaluate, EvaluateBatch, Execute and
// ExecuteBatch, tested
// through behaviour only: answers over grpc-js, every error code, the hand-over to Connect for
// what the fast path does not serve, and byte-for-byte the same headers and trailers as the
// Connect path. Connect's gRPC content-type match is case-insensitive, the fast path's is exact,
// so `application/GRPC` reaches the very same RPC through Connect: the reference to compare with.
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import http2 from "node:http2";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  EvaluateBatchRequestSchema,
  EvaluateRequestSchema,
  ExecuteBatchRequestSchema,
  ExecuteRequestSchema,
  GovernanceService,
} from "../../../gen/aegis/v1/governance_service_pb.js";
import { Approval, ResultStatus, RiskLevel } from "../../../gen/aegis/v1/types_pb.js";
import type { AuditStore } from "../../../src/audit/audit-store.js";
import { createEmbeddedStore } from "../../../src/audit/open-audit-store.js";
import {
  type AuditedExecutePipeline,
  createExecutePipeline,
} from "../../../src/governance/execute-pipeline.js";
import {
  type AuditLog,
  type ExecutePipeline,
  GovernanceService as Gov,
  PolicyHolder,
} from "../../../src/governance/index.js";
import type { ApprovalHandler, Executor } from "../../../src/governance/types.js";
import { KeyRing } from "../../../src/identity/index.js";
import { parsePolicy } from "../../../src/policy/index.js";
import { Cors } from "../../../src/server/cors.js";
import { HealthState } from "../../../src/server/health.js";
import { Listener } from "../../../src/server/listener.js";
import { createLogger } from "../../../src/server/logger.js";
import { buildRequestHandler } from "../../../src/server/services.js";
import { MEMORY_LOCATION } from "../../../src/storage/index.js";
import { grpc, grpcClient, metadataOf, unary, unaryRaw } from "../../support/grpc.js";
import { type Harness, SEED_POLICY, startHarness } from "../harness.js";

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
    const rh = buildRequestHandler({
      governance,
      health: new HealthState(governance),
      keys: once(new KeyRing({ apiKey: KEY })),
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

const EXECUTE = "/aegis.v1.GovernanceService/Execute";
const EXECUTE_BATCH = "/aegis.v1.GovernanceService/ExecuteBatch";

const executeBytes = (actionType: string, target = "t", params?: Record<string, string>) =>
  toBinary(ExecuteRequestSchema, create(ExecuteRequestSchema, { action: { actionType, target, params } }));
const executeBatchBytes = (...types: string[]) =>
  toBinary(
    ExecuteBatchRequestSchema,
    create(ExecuteBatchRequestSchema, { actions: types.map((actionType) => ({ actionType, target: "t" })) }),
  );

/** The answer with every audit id set to 0: each call writes its own row, the rest must match. */
function withoutAuditIds(path: string, r: Raw): Raw {
  if (r.body.length < 5) return r;
  const m = GovernanceService.method;
  if (path === EXECUTE) {
    const msg = fromBinary(m.execute.output, r.body.subarray(5));
    if (msg.result) msg.result.auditId = 0n;
    return { ...r, body: frame(toBinary(m.execute.output, msg)) };
  }
  const msg = fromBinary(m.executeBatch.output, r.body.subarray(5));
  for (const x of msg.results) x.auditId = 0n;
  return { ...r, body: frame(toBinary(m.executeBatch.output, msg)) };
}

async function bothExecute(url: string, path: string, body: Buffer, extra = {}): Promise<[Raw, Raw]> {
  const [fast, connect] = await both(url, path, body, extra);
  return [withoutAuditIds(path, fast), withoutAuditIds(path, connect)];
}

/** What an executor or approval handler was given. */
interface Seen {
  readonly target: string;
  readonly requestId: string | undefined;
  readonly signal: AbortSignal;
}

function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener("abort", () => resolve(signal.reason), { once: true });
  });
}

/** A reason as code and message (ConnectError) or name and message (DOMException). */
function describeReason(r: unknown): string {
  const e = r as { code?: unknown; name?: string; message?: string };
  return `${typeof e.code === "number" ? e.code : e.name}: ${e.message}`;
}

async function until(ok: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Starts a raw call and returns the stream, without waiting for the answer. */
function open(url: string, path: string, contentType: string, body: Buffer, extra = {}) {
  const session = http2.connect(url);
  session.on("error", () => {});
  const s = session.request({
    ":method": "POST",
    ":path": path,
    "content-type": contentType,
    te: "trailers",
    "x-api-key": KEY,
    ...extra,
  });
  s.on("error", () => {});
  s.end(body);
  return { session, stream: s };
}

describe("unary gRPC fast path: Execute and ExecuteBatch", () => {
  let h: Harness;
  let client: grpc.Client;
  let store: AuditStore;
  let audit: AuditedExecutePipeline;
  let storeDown = false;
  const auth = { "x-api-key": KEY };
  // Every executor and approval call, by target; targets ending in "-wait" wait for the signal.
  const seen = new Map<string, Seen>();
  const record = (target: string, requestId: string | undefined, signal: AbortSignal | undefined) => {
    assert.ok(signal, "the execution context carries a signal");
    seen.set(target, { target, requestId, signal });
  };
  const executor: Executor = {
    async execute(action, _d, ctx) {
      record(action.target, ctx.requestId, ctx.signal);
      if (action.target.endsWith("-wait")) throw await aborted(ctx.signal as AbortSignal);
      return { data: { ran: action.actionType } };
    },
  };
  const approvalHandler: ApprovalHandler = {
    async approve(action, _d, ctx) {
      record(action.target, ctx.requestId, ctx.signal);
      if (action.target.endsWith("-wait")) await aborted(ctx.signal as AbortSignal);
      return { approved: true };
    },
  };

  before(async () => {
    store = await createEmbeddedStore({ location: MEMORY_LOCATION });
    await store.migrate();
    // The store's ping fails while storeDown is set, so the breaker's probe keeps it down.
    const flaky = new Proxy(store, {
      get(t, p) {
        if (p === "ping" && storeDown)
          return () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432"));
        const v = Reflect.get(t, p) as unknown;
        return typeof v === "function" ? v.bind(t) : v;
      },
    });
    audit = createExecutePipeline({
      store: flaky,
      executor,
      approvalHandler,
      writer: { probeIntervalMs: 20 },
    });
    h = await startHarness({ apiKey: KEY, maxBodyBytes: MAX_BODY, maxBatch: MAX_BATCH, audit });
    client = grpcClient(new URL(h.url).host);
  });
  after(async () => {
    client.close();
    await h.close();
    await audit.close();
  });

  test("Execute and ExecuteBatch answer over grpc-js; a blocked action does not stop the others", async () => {
    const m = GovernanceService.method.execute;
    const r = await unary(
      client,
      m,
      create(m.input, { action: { actionType: "read", target: "one" } }),
      auth,
    );
    assert.equal(r.result?.status, ResultStatus.SUCCESS);
    assert.equal(r.result?.decision?.matchedRule, "read_auto");
    assert.ok(r.result?.data);
    assert.deepEqual(toJson(ValueSchema, r.result.data), { ran: "read" });
    assert.ok((r.result?.auditId ?? 0n) > 0n);
    assert.ok(seen.has("one"));

    const b = GovernanceService.method.executeBatch;
    const out = await unary(
      client,
      b,
      create(b.input, {
        actions: [
          { actionType: "read", target: "b1" },
          { actionType: "delete", target: "b2" },
          { actionType: "write", target: "b3" },
        ],
      }),
      auth,
    );
    assert.deepEqual(
      out.results.map((x) => x.status),
      [ResultStatus.SUCCESS, ResultStatus.BLOCKED, ResultStatus.SUCCESS],
    );
    assert.equal(out.results[1]?.error, "Blocked by policy rule: delete_block");
    assert.ok(seen.has("b1") && seen.has("b3") && !seen.has("b2"));
    const { records: rows } = await h.governance.queryAudit({ limit: 100, order: "asc" });
    assert.deepEqual(
      rows.filter((x) => x.action_target.startsWith("b")).map((x) => x.result_status),
      ["success", "blocked", "success"],
    );
    const empty = await unary(client, b, create(b.input, {}), auth);
    assert.equal(empty.results.length, 0);
  });

  test("the same answer as the Connect path, header for header", async () => {
    for (const [path, body] of [
      [EXECUTE, frame(executeBytes("read"))],
      [EXECUTE, frame(executeBytes("delete"))],
      [EXECUTE_BATCH, frame(executeBatchBytes("read", "delete", "write"))],
      [EXECUTE_BATCH, frame(executeBatchBytes())],
    ] as const) {
      const [fast, connect] = await bothExecute(h.url, path, body, auth);
      assert.deepEqual(fast, connect);
      assert.equal(fast.headers[":status"], 200);
      assert.equal(fast.headers["content-type"], "application/grpc+proto");
      assert.deepEqual(fast.trailers, { "grpc-status": "0" });
      assert.ok(fast.body.length > 5 || path === EXECUTE_BATCH);
    }
  });

  test("the execution context: the request id, the client's when it sends one, as on Connect", async () => {
    for (const [type, target] of [
      ["application/grpc", "id-fast"],
      ["application/GRPC", "id-connect"],
    ] as const) {
      await raw(h.url, EXECUTE, type, frame(executeBytes("read", target)), {
        ...auth,
        "x-request-id": "r-1",
      });
      assert.equal(seen.get(target)?.requestId, "r-1");
      await raw(h.url, EXECUTE, type, frame(executeBytes("read", `${target}-none`)), auth);
      // None sent: the id the server made, the same one its answer and log line carry.
      assert.match(seen.get(`${target}-none`)?.requestId ?? "", /^[0-9a-z]+-[0-9a-z]+-[0-9a-z]+$/);
    }
  });

  test("missing and wrong keys: UNAUTHENTICATED, nothing runs, identically on both paths", async () => {
    const m = GovernanceService.method.execute;
    const req = create(m.input, { action: { actionType: "read", target: "no-key" } });
    const missing = await grpcError(unary(client, m, req));
    assert.equal(missing.code, grpc.status.UNAUTHENTICATED);
    assert.equal(missing.details, "Missing API key");
    const wrong = await grpcError(unary(client, m, req, { authorization: "Bearer nope" }));
    assert.equal(wrong.code, grpc.status.UNAUTHENTICATED);
    assert.equal(wrong.details, "Invalid API key");
    for (const path of [EXECUTE, EXECUTE_BATCH]) {
      const body = path === EXECUTE ? executeBytes("read", "no-key") : executeBatchBytes("read");
      for (const extra of [{}, { "x-api-key": "nope" }]) {
        const [fast, connect] = await both(h.url, path, frame(body), extra);
        assert.deepEqual(fast, connect);
        assert.equal(fast.trailers["grpc-status"], "16");
      }
    }
    assert.ok(!seen.has("no-key"));
  });

  test("over the body limit, undecodable bytes, a batch over the limit: as on Connect", async () => {
    const big = executeBytes("read", "big", { pad: "x".repeat(MAX_BODY) });
    const e = await grpcError(unaryRaw(client, EXECUTE, big, auth));
    assert.equal(e.code, grpc.status.RESOURCE_EXHAUSTED);
    const junk = Buffer.from([0xff, 0xff, 0xff]);
    const j = await grpcError(unaryRaw(client, EXECUTE_BATCH, junk, auth));
    assert.equal(j.code, grpc.status.INVALID_ARGUMENT);
    assert.match(j.details, /^parse binary/);
    const l = await grpcError(unaryRaw(client, EXECUTE_BATCH, executeBatchBytes("a", "b", "c", "d"), auth));
    assert.equal(l.code, grpc.status.INVALID_ARGUMENT);
    assert.match(l.details, /exceeds the limit of 3/);
    const cases: Array<[string, Buffer, Record<string, string>, string]> = [
      [EXECUTE, frame(big), auth, "8"],
      [EXECUTE_BATCH, frame(junk), auth, "3"],
      [EXECUTE, frame(junk), {}, "3"], // bad bytes win over a missing key
      [EXECUTE_BATCH, frame(executeBatchBytes("a", "b", "c", "d")), auth, "3"],
      [EXECUTE, frame(toBinary(ExecuteRequestSchema, create(ExecuteRequestSchema, {}))), auth, "3"],
    ];
    for (const [path, body, extra, status] of cases) {
      const [fast, connect] = await both(h.url, path, body, extra);
      assert.deepEqual(fast, connect);
      assert.equal(fast.trailers["grpc-status"], status);
    }
    assert.ok(!seen.has("big"));
  });

  test("an audit store that is down: the same UNAVAILABLE, message and retry-after on both paths", async () => {
    storeDown = true;
    audit.writer.markDown("connect ECONNREFUSED 127.0.0.1:5432");
    try {
      for (const [path, body] of [
        [EXECUTE, frame(executeBytes("read", "down"))],
        [EXECUTE_BATCH, frame(executeBatchBytes("read", "write"))],
      ] as const) {
        const [fast, connect] = await both(h.url, path, body, auth);
        assert.deepEqual(fast, connect);
        assert.deepEqual(fast.trailers, {
          "grpc-message": encodeURIComponent(
            "audit database unavailable: connect ECONNREFUSED 127.0.0.1:5432",
          ),
          "grpc-status": "14",
          "retry-after": "1",
        });
      }
      const e = await grpcError(unaryRaw(client, EXECUTE, executeBytes("read", "down"), auth));
      assert.equal(e.code, grpc.status.UNAVAILABLE);
      assert.ok(!seen.has("down"));
    } finally {
      storeDown = false;
      await until(() => audit.writer.health().ok, "the store to come back");
    }
  });

  test("a client that cancels mid-execute aborts the approval handler's signal (denied, recorded)", {
    timeout: 10_000,
  }, async () => {
    const target = "grpcjs-cancel-wait";
    const call = client.makeUnaryRequest<Uint8Array, Uint8Array>(
      EXECUTE,
      (b) => Buffer.from(b),
      (b) => new Uint8Array(b),
      executeBytes("write", target),
      metadataOf(auth),
      () => {},
    );
    await until(() => seen.has(target), "the approval handler");
    call.cancel();
    const why = await aborted(seen.get(target)!.signal);
    assert.equal(describeReason(why), "Error: the request was cancelled");
    let row: { result_status: string; result_error: string | null } | undefined;
    const end = Date.now() + 3000;
    while (row === undefined && Date.now() < end) {
      const { records: rows } = await h.governance.queryAudit({ limit: 1000, order: "desc" });
      row = rows.find((x) => x.action_target === target);
      if (row === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(row?.result_status, "denied");
    assert.equal(row?.result_error, "Denied: the request was cancelled while waiting for approval");
  });

  test("a reset stream aborts the executor's signal with Connect's reason, on both paths", {
    timeout: 10_000,
  }, async () => {
    const reasons: string[] = [];
    for (const type of ["application/grpc", "application/GRPC"]) {
      const target = `reset-${type}-wait`;
      const { session, stream } = open(h.url, EXECUTE, type, frame(executeBytes("read", target)));
      await until(() => seen.has(target), "the executor");
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reasons.push(describeReason(await aborted(seen.get(target)!.signal)));
      session.close();
    }
    assert.equal(reasons[0], `${1}: [canceled] http/2 stream closed with error code CANCEL (0x8)`);
    assert.equal(reasons[0], reasons[1]);
  });

  test("grpc-timeout: the deadline aborts the signal as on Connect, and the answer is the same", {
    timeout: 10_000,
  }, async () => {
    const results: Raw[] = [];
    const reasons: string[] = [];
    for (const type of ["application/grpc", "application/GRPC"]) {
      const target = `deadline-${type}-wait`;
      const start = Date.now();
      const r = await raw(h.url, EXECUTE, type, frame(executeBytes("read", target)), {
        ...auth,
        "grpc-timeout": "100m",
      });
      assert.ok(Date.now() - start >= 90, "the executor waited for the deadline");
      reasons.push(describeReason(seen.get(target)!.signal.reason));
      const msg = fromBinary(GovernanceService.method.execute.output, r.body.subarray(5));
      assert.equal(msg.result?.status, ResultStatus.FAILED);
      assert.equal(msg.result?.target, target);
      assert.equal(msg.result?.error, "[deadline_exceeded] the operation timed out");
      // The targets differ (one per path, to find the executor's call); the rest must not.
      if (msg.result?.decision) msg.result.decision.target = "";
      if (msg.result) msg.result.target = "";
      results.push(
        withoutAuditIds(EXECUTE, {
          ...r,
          body: frame(toBinary(GovernanceService.method.execute.output, msg)),
        }),
      );
    }
    assert.equal(reasons[0], `${4}: [deadline_exceeded] the operation timed out`);
    assert.equal(reasons[0], reasons[1]);
    assert.deepEqual(results[0], results[1]);
    assert.deepEqual(results[0]?.trailers, { "grpc-status": "0" });
  });

  test("a grpc-timeout Connect refuses gets Connect's answer (Evaluate and Execute)", async () => {
    for (const [path, body] of [
      [EXECUTE, frame(executeBytes("read", "bad-timeout"))],
      [EVALUATE, frame(evaluateBytes("read"))],
    ] as const) {
      for (const value of ["soon", "123456789S", "1x"]) {
        const [fast, connect] = await both(h.url, path, body, { ...auth, "grpc-timeout": value });
        assert.deepEqual(fast, connect);
        assert.equal(fast.trailers["grpc-status"], "3");
      }
    }
    assert.ok(!seen.has("bad-timeout"));
  });

  test("many calls: every signal aborted after its answer, no listener left, no warning", {
    timeout: 10_000,
  }, async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const m = GovernanceService.method.execute;
      const targets = Array.from({ length: 60 }, (_, i) => `many-${i}`);
      const answers = await Promise.all(
        targets.map((target) =>
          unary(client, m, create(m.input, { action: { actionType: "read", target } }), auth),
        ),
      );
      assert.ok(answers.every((a) => a.result?.status === ResultStatus.SUCCESS));
      const signals = targets.map((t) => seen.get(t)!.signal);
      await until(() => signals.every((s) => s.aborted), "every call's signal to abort");
      for (const s of signals) assert.equal(getEventListeners(s, "abort").length, 0);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(
        warnings.map((w) => w.name),
        [],
      );
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("unary gRPC fast path: Execute errors the handler did not expect", () => {
  test("INTERNAL with the generic message, as on Connect", async () => {
    const h = await startHarness({
      apiKey: KEY,
      audit: {
        execute: async () => {
          throw new TypeError("boom");
        },
        query: async () => ({ records: [], truncated: false }),
        health: async () => ({ ok: true }),
        close: async () => {},
      },
    });
    try {
      for (const [path, body] of [
        [EXECUTE, frame(executeBytes("read"))],
        [EXECUTE_BATCH, frame(executeBatchBytes("read"))],
      ] as const) {
        const [fast, connect] = await both(h.url, path, body, { "x-api-key": KEY });
        assert.deepEqual(fast, connect);
        assert.deepEqual(fast.trailers, {
          "grpc-message": encodeURIComponent("Internal server error"),
          "grpc-status": "13",
        });
      }
    } finally {
      await h.close();
    }
  });
});

describe("unary gRPC fast path: Execute and ExecuteBatch are served on the stream", () => {
  test("taken by the fast path (with or without grpc-timeout), never reaching the compat layer", async () => {
    const audit: ExecutePipeline & AuditLog = {
      execute: async (items) =>
        items.map(({ action, decision }, i) => ({
          actionType: action.actionType,
          target: action.target,
          status: decision.approval === "block" ? ("blocked" as const) : ("success" as const),
          data: null,
          error: null,
          decision,
          auditId: i + 1,
        })),
      query: async () => ({ records: [], truncated: false }),
      health: async () => ({ ok: true }),
      close: async () => {},
    };
    const governance = new Gov({
      policy: new PolicyHolder(parsePolicy(SEED_POLICY), "file"),
      maxBatch: 10,
      pipeline: audit,
      auditLog: audit,
    });
    const rh = buildRequestHandler({
      governance,
      health: new HealthState(governance),
      keys: once(new KeyRing({ apiKey: KEY })),
      cors: new Cors([]),
      logger: createLogger("silent"),
      maxBodyBytes: MAX_BODY,
    });
    const taken: string[] = [];
    const compat: string[] = [];
    const listener = new Listener({
      handler: (req, res) => {
        compat.push(req.url ?? "");
        rh.handler(req, res);
      },
      stream: (s, headers, toCompat) => {
        const took = rh.stream(s, headers, toCompat);
        if (took) taken.push(String(headers[":path"]));
        return took;
      },
    });
    const bound = await listener.listen("127.0.0.1", 0);
    const c = grpcClient(new URL(bound.url).host);
    try {
      const auth = { "x-api-key": KEY };
      const m = GovernanceService.method.execute;
      const b = GovernanceService.method.executeBatch;
      const one = await unary(c, m, create(m.input, { action: { actionType: "read" } }), auth);
      assert.equal(one.result?.status, ResultStatus.SUCCESS);
      const many = await unary(
        c,
        b,
        create(b.input, { actions: [{ actionType: "delete" }, { actionType: "read" }] }),
        auth,
      );
      assert.deepEqual(
        many.results.map((r) => r.status),
        [ResultStatus.BLOCKED, ResultStatus.SUCCESS],
      );
      await raw(bound.url, EXECUTE, "application/grpc", frame(executeBytes("read")), auth);
      assert.deepEqual(taken, [EXECUTE, EXECUTE_BATCH, EXECUTE]);
      assert.deepEqual(compat, []);
      // The reference path and a refused grpc-timeout do go to Connect.
      await raw(bound.url, EXECUTE, "application/GRPC", frame(executeBytes("read")), auth);
      await raw(bound.url, EXECUTE, "application/grpc", frame(executeBytes("read")), {
        ...auth,
        "grpc-timeout": "soon",
      });
      assert.deepEqual(compat, [EXECUTE, EXECUTE]);
    } finally {
      c.close();
      await listener.close(1000);
    }
  });
});

function once<T>(value: T): () => T {
  return () => value;
}
