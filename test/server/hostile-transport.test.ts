// Client mistakes and hostile input on every transport: never a 5xx, never a crash, never an
// ERROR line for something the client did.
//   - a gRPC message flagged compressed without grpc-encoding: INVALID_ARGUMENT (fast path and
//     Connect alike, header for header)
//   - a bidi-streaming RPC (reflection) over HTTP/1.1: UNIMPLEMENTED in the request's protocol,
//     not HTTP 505
//   - an unknown method asked for in gRPC / gRPC-Web / Connect: UNIMPLEMENTED as those clients
//     read it (REST keeps its 404 JSON)
//   - malformed requests (authority, percent-encoding, oversized headers, bad prefaces and frames)
//   - a client that resets or cancels mid-request is logged at debug, without a stack; an error
//     that is not an Error is described, never "[object Object]"
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { Writable } from "node:stream";
import { after, before, beforeEach, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { EvaluateRequestSchema } from "../../gen/aegis/v1/governance_service_pb.js";
import { HealthCheckRequestSchema } from "../../gen/grpc/health/v1/health_pb.js";
import { createLogger } from "../../src/server/logger.js";
import { describeValue, errorInfo, isClientAbort } from "../../src/server/private/log-error.js";
import {
  envelopeHeader,
  FrameType,
  frame,
  hpack,
  PREFACE,
  RawH2,
  requestHeaders,
} from "../support/h2-raw.js";
import { type Harness, startHarness } from "./harness.js";

const EVALUATE = "/aegis.v1.GovernanceService/Evaluate";
const REFLECTION = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
const WATCH = "/grpc.health.v1.Health/Watch";
const COMPRESSED_WORDS = "received compressed envelope, but do not know how to decompress";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function envelope(message: Uint8Array, flag = 0): Buffer {
  return Buffer.concat([envelopeHeader(message.length, flag), message]);
}
const evaluateMsg = toBinary(
  EvaluateRequestSchema,
  create(EvaluateRequestSchema, { action: { actionType: "read" } }),
);

interface Lines {
  readonly all: Array<Record<string, unknown>>;
  errors(): Array<Record<string, unknown>>;
}

function captureLogs(): { lines: Lines; stream: Writable } {
  const all: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString("utf8").split("\n")) if (l.trim() !== "") all.push(JSON.parse(l));
      cb();
    },
  });
  return {
    stream,
    lines: {
      all,
      errors: () => all.filter((l) => l["level"] === "error" || l["level"] === "fatal"),
    },
  };
}

interface H2Reply {
  readonly headers: Record<string, unknown>;
  readonly trailers: Record<string, unknown>;
  readonly body: Buffer;
}

/** One HTTP/2 request with node:http2; date and request id left out of the headers. */
function h2call(url: string, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const s = session.request({ ":method": "POST", te: "trailers", ...headers });
    let h: Record<string, unknown> = {};
    let t: Record<string, unknown> = {};
    const data: Buffer[] = [];
    s.on("response", (x) => {
      h = { ...x };
    });
    s.on("trailers", (x) => {
      t = { ...x };
    });
    s.on("data", (d: Buffer) => data.push(d));
    s.on("error", reject);
    s.on("close", () => {
      session.close();
      delete h["date"];
      delete h["x-request-id"];
      resolve({ headers: h, trailers: t, body: Buffer.concat(data) });
    });
    s.end(body);
  });
}

/** Sends raw bytes over HTTP/1.1 and returns what came back until the server closed or `ms` passed. */
function h1raw(port: number, bytes: string | Buffer, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    let text = "";
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, ms);
    s.on("data", (d: Buffer) => {
      text += d.toString("latin1");
    });
    s.on("error", done);
    s.on("close", done);
    s.write(bytes);
  });
}

function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
}

function h1post(
  port: number,
  path: string,
  type: string,
  body: Buffer | string,
  extra = "",
): Promise<string> {
  const b = typeof body === "string" ? Buffer.from(body) : body;
  const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: ${b.length}\r\nConnection: close\r\n${extra}\r\n`;
  return h1raw(port, Buffer.concat([Buffer.from(head, "latin1"), b]));
}

/** The body of a raw HTTP/1.1 response, de-chunked if need be. */
function bodyOf(raw: string): Buffer {
  const rest = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  if (!/^transfer-encoding: *chunked/im.test(raw.slice(0, raw.indexOf("\r\n\r\n"))))
    return Buffer.from(rest, "latin1");
  const parts: Buffer[] = [];
  for (let o = 0; ; ) {
    const eol = rest.indexOf("\r\n", o);
    const n = Number.parseInt(rest.slice(o, eol), 16);
    if (!(n > 0)) break;
    parts.push(Buffer.from(rest.slice(eol + 2, eol + 2 + n), "latin1"));
    o = eol + 2 + n + 2;
  }
  return Buffer.concat(parts);
}

/** The gRPC-Web trailer frame of a raw HTTP/1.1 response (after the headers). */
function grpcWebTrailer(raw: string): Record<string, string> {
  const body = bodyOf(raw);
  const out: Record<string, string> = {};
  for (let o = 0; o + 5 <= body.length; ) {
    const len = body.readUInt32BE(o + 1);
    if (body[o] === 0x80) {
      for (const line of body
        .subarray(o + 5, o + 5 + len)
        .toString("utf8")
        .split("\r\n")) {
        const i = line.indexOf(":");
        if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
      }
    }
    o += 5 + len;
  }
  return out;
}

function headerOf(raw: string, name: string): string | undefined {
  const head = raw.slice(0, raw.indexOf("\r\n\r\n"));
  const m = new RegExp(`^${name}: *(.*)$`, "im").exec(head);
  return m?.[1]?.trim();
}

describe("hostile input: no 5xx for client mistakes, no error lines for client aborts", () => {
  let h: Harness;
  let port: number;
  let logs: Lines;

  before(async () => {
    const { lines, stream } = captureLogs();
    logs = lines;
    h = await startHarness({ logger: createLogger("debug", stream) });
    port = Number(new URL(h.url).port);
  });
  after(async () => {
    await h.close();
  });
  let errorsBefore = 0;
  beforeEach(() => {
    errorsBefore = logs.errors().length;
  });
  const noNewErrors = () =>
    assert.deepEqual(logs.errors().slice(errorsBefore), [], "no ERROR line for a client's doing");

  describe("a message flagged compressed without grpc-encoding is INVALID_ARGUMENT", () => {
    test("gRPC: fast path and Connect answer the same, header for header", async () => {
      const body = envelope(evaluateMsg, 1);
      const fast = await h2call(h.url, { ":path": EVALUATE, "content-type": "application/grpc" }, body);
      const connect = await h2call(h.url, { ":path": EVALUATE, "content-type": "application/GRPC" }, body);
      assert.equal(fast.headers[":status"], 200);
      assert.equal(fast.trailers["grpc-status"], "3");
      assert.equal(decodeURIComponent(String(fast.trailers["grpc-message"])), COMPRESSED_WORDS);
      assert.deepEqual(fast, connect);
      // identity is no encoding either
      const identity = await h2call(
        h.url,
        { ":path": EVALUATE, "content-type": "application/grpc", "grpc-encoding": "identity" },
        body,
      );
      assert.equal(identity.trailers["grpc-status"], "3");
      noNewErrors();
    });

    test("gRPC-Web over HTTP/1.1: grpc-status 3 in the trailer frame", async () => {
      const raw = await h1post(port, EVALUATE, "application/grpc-web+proto", envelope(evaluateMsg, 1));
      assert.equal(statusOf(raw), 200);
      assert.equal(grpcWebTrailer(raw)["grpc-status"], "3");
    });

    test("Connect streaming (Health/Watch): the end-stream error is invalid_argument", async () => {
      const msg = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" }));
      const r = await h2call(
        h.url,
        { ":path": WATCH, "content-type": "application/connect+proto" },
        envelope(msg, 1),
      );
      assert.equal(r.headers[":status"], 200);
      // the end-stream message: flag 0x02, JSON
      assert.equal(r.body[0], 0x02);
      const end = JSON.parse(r.body.subarray(5).toString("utf8")) as { error?: { code?: string } };
      assert.equal(end.error?.code, "invalid_argument");
    });

    test("a message sent as one-byte DATA frames is still answered (Connect path and fast path)", async () => {
      for (const type of ["application/grpc", "application/GRPC"]) {
        const c = await RawH2.connect(port);
        const id = c.open(requestHeaders(EVALUATE, type));
        c.send(id, envelope(evaluateMsg), 1, true);
        const start = performance.now();
        while (!c.frames.some((f) => f.type === FrameType.HEADERS && f.streamId === id && f.flags & 1)) {
          if (performance.now() - start > 3000) assert.fail(`no trailers for ${type}`);
          await sleep(10);
        }
        c.destroy();
      }
    });
  });

  describe("bidi streaming (reflection) over HTTP/1.1: UNIMPLEMENTED, not 505", () => {
    test("gRPC-Web: HTTP 200, grpc-status 12 in the trailer frame, Connection: close", async () => {
      const raw = await h1post(port, REFLECTION, "application/grpc-web+proto", envelope(new Uint8Array()));
      assert.equal(statusOf(raw), 200, raw);
      const t = grpcWebTrailer(raw);
      assert.equal(t["grpc-status"], "12");
      assert.equal(decodeURIComponent(t["grpc-message"] ?? ""), "bidirectional streaming needs HTTP/2");
      assert.equal(headerOf(raw, "connection"), "close");
      assert.match(headerOf(raw, "content-type") ?? "", /^application\/grpc-web\+proto/);
    });

    test("Connect protocol: 404 with Connect's error JSON (code unimplemented)", async () => {
      const raw = await h1post(port, REFLECTION, "application/connect+proto", envelope(new Uint8Array()));
      assert.equal(statusOf(raw), 404, raw);
      const body = JSON.parse(bodyOf(raw).toString("utf8")) as { code: string; message: string };
      assert.deepEqual(body, { code: "unimplemented", message: "bidirectional streaming needs HTTP/2" });
    });

    test("gRPC over HTTP/1.1: HTTP 200 with grpc-status 12 (trailers-only)", async () => {
      const raw = await h1post(port, REFLECTION, "application/grpc", envelope(new Uint8Array()));
      assert.equal(statusOf(raw), 200, raw);
      assert.equal(headerOf(raw, "grpc-status"), "12");
    });

    test("a GET or a wrong content type: Connect's own 405 and 415", async () => {
      assert.equal(
        statusOf(await h1raw(port, `GET ${REFLECTION} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)),
        405,
      );
      assert.equal(statusOf(await h1post(port, REFLECTION, "text/plain", "x")), 415);
    });
  });

  describe("an unknown method: UNIMPLEMENTED the way each protocol's clients read it", () => {
    test("gRPC over HTTP/2: HTTP 200, grpc-status 12 (unknown method, unknown service)", async () => {
      const m = await h2call(
        h.url,
        { ":path": "/aegis.v1.GovernanceService/Nope", "content-type": "application/grpc" },
        envelope(new Uint8Array()),
      );
      assert.equal(m.headers[":status"], 200);
      assert.equal(m.trailers["grpc-status"], "12");
      assert.equal(
        decodeURIComponent(String(m.trailers["grpc-message"])),
        "unknown method Nope for service aegis.v1.GovernanceService",
      );
      const s = await h2call(
        h.url,
        { ":path": "/no.such.Service/Call", "content-type": "application/grpc+proto" },
        envelope(new Uint8Array()),
      );
      assert.equal(s.headers[":status"], 200);
      assert.equal(s.trailers["grpc-status"], "12");
      assert.equal(decodeURIComponent(String(s.trailers["grpc-message"])), "unknown service no.such.Service");
    });

    test("gRPC-Web over HTTP/1.1: HTTP 200, grpc-status 12 in the trailer frame", async () => {
      const raw = await h1post(
        port,
        "/no.such.Service/Call",
        "application/grpc-web+proto",
        envelope(new Uint8Array()),
      );
      assert.equal(statusOf(raw), 200, raw);
      assert.equal(grpcWebTrailer(raw)["grpc-status"], "12");
    });

    test("Connect (application/proto, or JSON with connect-protocol-version): 404, code unimplemented", async () => {
      for (const [type, extra] of [
        ["application/proto", ""],
        ["application/json", "Connect-Protocol-Version: 1\r\n"],
        ["application/connect+json", ""],
      ] as const) {
        const raw = await h1post(port, "/no.such.Service/Call", type, "{}", extra);
        assert.equal(statusOf(raw), 404, `${type}: ${raw}`);
        const body = JSON.parse(bodyOf(raw).toString("utf8")) as { code: string };
        assert.equal(body.code, "unimplemented");
      }
    });

    test('REST keeps its 404 {"error"}', async () => {
      const raw = await h1post(port, "/api/v1/nothing", "application/json", "{}");
      assert.equal(statusOf(raw), 404);
      assert.deepEqual(JSON.parse(bodyOf(raw).toString("utf8")), {
        error: "Not found: POST /api/v1/nothing",
      });
    });
  });

  describe("malformed requests: 4xx or a closed connection, never a 5xx or a crash", () => {
    test("an RPC with an unparsable authority (HTTP/1.1 Host, HTTP/2 :authority): INVALID_ARGUMENT", async () => {
      const raw = await h1raw(
        port,
        `POST ${EVALUATE} HTTP/1.1\r\nHost: a b\r\nContent-Type: application/proto\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(statusOf(raw), 400, raw);
      assert.equal((JSON.parse(bodyOf(raw).toString("utf8")) as { code: string }).code, "invalid_argument");
      const g = await h2call(
        h.url,
        { ":path": "/grpc.health.v1.Health/Check", ":authority": "[", "content-type": "application/grpc" },
        envelope(new Uint8Array()),
      );
      assert.equal(g.headers[":status"], 200);
      assert.equal(g.trailers["grpc-status"], "3");
      noNewErrors();
    });

    test("an RPC without :authority (HTTP/2): refused (Node resets it), not a 5xx", async () => {
      const c = await RawH2.connect(port);
      const id = c.open(
        hpack([
          [":method", "POST"],
          [":scheme", "http"],
          [":path", "/grpc.health.v1.Health/Check"],
          ["content-type", "application/grpc"],
        ]),
      );
      c.send(id, envelope(new Uint8Array()), 16_384, true);
      const start = performance.now();
      const answer = () =>
        c.frames.find(
          (f) => [FrameType.HEADERS, FrameType.RST_STREAM].includes(f.type as 1) && f.streamId === id,
        );
      while (answer() === undefined && performance.now() - start < 3000) await sleep(10);
      const a = answer();
      // RST_STREAM PROTOCOL_ERROR, or HEADERS with 0x88 first (HPACK static table: ":status: 200").
      if (a?.type === FrameType.RST_STREAM) assert.equal(a.payload.readUInt32BE(0), 0x1);
      else assert.equal(a?.payload[0], 0x88);
      c.destroy();
      noNewErrors();
    });

    test("bad percent-encoding and odd request targets: 404 / 400", async () => {
      for (const target of ["/api/v1/%zz", "/%E0%A4%A", "/api/v1/evaluate%", "*", "//x//", "/a?%%"]) {
        const s = statusOf(
          await h1raw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
        );
        assert.ok(s >= 400 && s < 500, `${target}: ${s}`);
      }
      assert.equal(
        statusOf(
          await h1raw(port, "GET /api/v1/audit?limit=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ),
        400,
      );
      noNewErrors();
    });

    test("an oversized header block: 431 on HTTP/1.1, a refused stream or connection on HTTP/2", async () => {
      const big = "x".repeat(20_000);
      const s = statusOf(await h1raw(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`));
      assert.equal(s, 431);
      const session = http2.connect(h.url);
      session.on("error", () => {});
      const r = await new Promise<string>((resolve) => {
        const st = session.request({ ":path": "/health", ":method": "GET", "x-big": "y".repeat(70_000) });
        st.on("response", (hd) => resolve(`status ${hd[":status"]}`));
        st.on("error", (e) => resolve(`error ${(e as NodeJS.ErrnoException).code}`));
        st.on("close", () => resolve(`closed ${st.rstCode}`));
      });
      session.destroy();
      assert.doesNotMatch(r, /^status 5/, r);
      noNewErrors();
    });

    test("bad prefaces and invalid frames close the connection; the server keeps serving", async () => {
      const probes: Buffer[] = [
        Buffer.from("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"), // almost the preface: HTTP/1.1 says 400
        Buffer.concat([PREFACE, Buffer.from("garbage that is not a frame at all.......")]),
        Buffer.concat([PREFACE, frame(FrameType.HEADERS, 4, 0, Buffer.from([0x82]))]), // HEADERS on stream 0
        Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5))]), // bad SETTINGS length
        Buffer.concat([
          PREFACE,
          frame(FrameType.SETTINGS, 0, 0),
          frame(FrameType.DATA, 0, 5, Buffer.from("x")),
        ]),
        Buffer.concat([
          PREFACE,
          frame(FrameType.SETTINGS, 0, 0),
          frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(4)),
        ]),
        Buffer.concat([
          PREFACE,
          frame(FrameType.SETTINGS, 0, 0),
          frame(
            FrameType.HEADERS,
            4,
            1,
            hpack([
              [":method", "GET"],
              [":path", "/health"],
              ["Upper", "x"],
            ]),
          ),
        ]),
        Buffer.concat([
          PREFACE,
          frame(FrameType.SETTINGS, 0, 0),
          frame(FrameType.HEADERS, 4, 1, Buffer.from([0xff, 0xff, 0xff])),
        ]),
        Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]), // a TLS record on the cleartext port
        Buffer.from("\r\n\r\n\r\n"),
      ];
      for (const p of probes) {
        const out = await h1raw(port, p, 1000);
        assert.doesNotMatch(
          out,
          /^HTTP\/1\.1 5/,
          `${p.toString("latin1").slice(0, 40)}: ${out.slice(0, 80)}`,
        );
      }
      const c = await RawH2.connect(port);
      c.open(
        hpack([
          [":method", "GET"],
          [":scheme", "http"],
          [":path", "/health"],
          [":authority", "x"],
        ]),
        true,
      );
      await sleep(100);
      assert.ok(
        c.frames.some((f) => f.type === FrameType.HEADERS && f.payload[0] === 0x88),
        "/health: 200",
      );
      c.destroy();
      noNewErrors();
    });
  });

  describe("client aborts are not errors", () => {
    test("a REST body cut off by a reset (HTTP/1.1): debug, no stack", async () => {
      const s = net.connect(port, "127.0.0.1");
      await new Promise((r) => s.once("connect", r));
      s.write('POST /api/v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"action_');
      await sleep(100);
      s.resetAndDestroy();
      await sleep(200);
      noNewErrors();
      const gone = logs.all.filter((l) => l["msg"] === "client went away");
      assert.ok(gone.length > 0, "a debug line says so");
      for (const l of gone) {
        assert.equal(l["level"], "debug");
        assert.equal(JSON.stringify(l).includes("stack"), false);
      }
    });

    test("HTTP/2 streams reset mid-request (fast path, Connect, REST): no ERROR line", async () => {
      for (const [path, type] of [
        [EVALUATE, "application/grpc"],
        [EVALUATE, "application/GRPC"],
        ["/grpc.health.v1.Health/Check", "application/grpc-web+proto"],
        [EVALUATE, "application/proto"],
        ["/api/v1/evaluate", "application/json"],
      ] as const) {
        const c = await RawH2.connect(port);
        const id = c.open(requestHeaders(path, type));
        c.send(id, Buffer.from([0, 0, 0, 0, 50, 1, 2]));
        await sleep(50);
        const code = Buffer.alloc(4);
        code.writeUInt32BE(0x8, 0); // CANCEL
        c.write(frame(FrameType.RST_STREAM, 0, id, code));
        await sleep(50);
        c.destroy();
      }
      await sleep(200);
      noNewErrors();
    });

    test("a Watch stream the client cancels: no ERROR line", async () => {
      const session = http2.connect(h.url);
      const msg = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" }));
      const st = session.request({
        ":method": "POST",
        ":path": WATCH,
        "content-type": "application/grpc",
        te: "trailers",
      });
      st.on("error", () => {});
      st.end(envelope(msg));
      await new Promise((r) => st.once("data", r));
      st.close(http2.constants.NGHTTP2_CANCEL);
      await sleep(200);
      session.destroy();
      await sleep(100);
      noNewErrors();
    });
  });
});

describe("log-error: descriptions and client-abort classification", () => {
  test("a thrown non-Error is described, never [object Object]", () => {
    assert.equal(describeValue({ done: true }), '{"done":true}');
    assert.equal(describeValue("plain"), "plain");
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic["self"] = cyclic;
    assert.doesNotMatch(describeValue(cyclic), /\[object Object\]/);
    assert.doesNotMatch(describeValue(Object.create(null)), /\[object Object\]/);
    assert.equal(describeValue(42n), "42n");
    assert.equal(errorInfo({ code: 7 }).message, '{"code":7}');
    const e = Object.assign(new Error("boom"), { code: "EX" });
    assert.deepEqual(
      { ...errorInfo(e), stack: undefined },
      { message: "boom", type: "Error", code: "EX", stack: undefined },
    );
  });

  test("resets, cancels and destroyed streams are client aborts; other errors are not", () => {
    assert.ok(isClientAbort(Object.assign(new Error("aborted"), { code: "ECONNRESET" })));
    assert.ok(
      isClientAbort(
        new Error("x", { cause: Object.assign(new Error("y"), { code: "ERR_STREAM_PREMATURE_CLOSE" }) }),
      ),
    );
    assert.equal(isClientAbort(new Error("a bug")), false);
    assert.equal(isClientAbort({ done: true }), false);
  });
});
