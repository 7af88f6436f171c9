// Hostile clients against a real `aegis serve` process: what a client can hold (streams that
// never finish, bodies in one-byte DATA frames, idle and half-open sockets, slow headers, stalled
// TLS handshakes) is bounded in memory and in time, and /health keeps answering meanwhile.
// Only 127.0.0.1. The server's memory is its RSS from /proc/<pid>/status (Linux).
//
// Memory is measured as growth: the embedded audit store (PGlite, `memory:`) alone makes the
// process ~430 MiB after its first garbage collection (~720 MiB before it), where the server
// with PostgreSQL starts at ~74 MiB. The baseline is taken after a warm-up that lets that
// collection happen; the bound (200 MiB of growth) is what keeps a PostgreSQL-backed server under
// ~300 MiB. Counts adapt to `ulimit -n` (the test process and the server each hold one fd per socket).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import { exec } from "../support/exec.js";
import { envelopeHeader, FrameType, PREFACE, RawH2, requestHeaders, rssMiB } from "../support/h2-raw.js";
import { makeTempDir, type ServerProcess, startServer, type TempDir } from "../support/server-process.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function openFileLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync("/proc/self/limits", "utf8"));
  return m === null || m[1] === "unlimited" ? 1_000_000 : Number(m[1]);
}

/** GET /health on a new connection; resolves with the status and the time it took. */
function health(port: number, timeoutMs = 5000): Promise<{ status: number; ms: number }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: "127.0.0.1", port, path: "/health", agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - start }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`/health did not answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

/** Opens `n` sockets (in batches), writes `first` on each if given, and keeps them. */
async function openSockets(port: number, n: number, first?: Buffer | string): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  for (let done = 0; done < n; ) {
    const batch = Math.min(500, n - done);
    const opened = await Promise.all(
      Array.from(
        { length: batch },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect(port, "127.0.0.1");
            s.once("connect", () => {
              s.on("error", () => {});
              if (first !== undefined) s.write(first);
              resolve(s);
            });
            s.once("error", reject);
          }),
      ),
    );
    out.push(...opened);
    done += batch;
  }
  return out;
}

/** Resolves when the socket is closed by the server (or rejects after `ms`), with what it read. */
function closedBy(s: net.Socket, ms: number): Promise<{ after: number; text: string }> {
  const start = performance.now();
  let text = "";
  s.on("data", (d: Buffer) => {
    text += d.toString("latin1");
  });
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve({ after: 0, text });
    const t = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    s.once("close", () => {
      clearTimeout(t);
      resolve({ after: performance.now() - start, text });
    });
  });
}

/** REST traffic until the process has collected its startup garbage (see the header). */
async function warmUp(server: ServerProcess): Promise<number> {
  const pid = server.child.pid!;
  const start = rssMiB(pid);
  const body = JSON.stringify({ action_type: "read", params: { note: "x".repeat(1000) } });
  for (let round = 0; round < 10; round++) {
    await Promise.all(
      Array.from({ length: 500 }, () =>
        fetch(`${server.url}/api/v1/evaluate`, { method: "POST", body }).then((r) => r.text()),
      ),
    );
    if (rssMiB(pid) < start * 0.85) break;
  }
  await sleep(500);
  return rssMiB(pid);
}

describe("hostile transport: bounded memory (real server process)", { timeout: 120_000 }, () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({
      // Nothing may time out while the resources are held and measured (the timeouts have their own tests).
      env: { AEGIS_HANDSHAKE_TIMEOUT: "120", AEGIS_HEADERS_TIMEOUT: "120", AEGIS_REQUEST_TIMEOUT: "120" },
    });
  });
  after(async () => {
    await server?.kill();
  });

  test("1,000 stalled HTTP/2 streams fed in one-byte DATA frames and thousands of idle sockets", async () => {
    const pid = server.child.pid!;
    const base = await warmUp(server);
    let peak = base;
    const sample = () => {
      peak = Math.max(peak, rssMiB(pid));
    };
    const sampler = setInterval(sample, 100);
    try {
      // 10 connections x 100 streams (AEGIS_MAX_STREAMS' default), spread over every way a body is
      // read: the gRPC fast path, Connect (gRPC, gRPC-Web, Connect unary) and REST. Each announces a
      // large message, sends 2 KiB of it one byte per DATA frame (10 bytes on the wire per byte),
      // and never ends.
      const targets: Array<readonly [string, string]> = [
        ["/aegis.v1.GovernanceService/Evaluate", "application/grpc"],
        ["/grpc.health.v1.Health/Check", "application/grpc"],
        ["/aegis.v1.GovernanceService/Evaluate", "application/grpc-web+proto"],
        ["/aegis.v1.GovernanceService/Evaluate", "application/proto"],
        ["/api/v1/evaluate", "application/json"],
      ];
      const PER_STREAM = 2048;
      const sessions: RawH2[] = [];
      for (let c = 0; c < 10; c++) {
        const h2 = await RawH2.connect(server.port);
        sessions.push(h2);
        const [path, type] = targets[c % targets.length]!;
        const enveloped = type.startsWith("application/grpc");
        for (let i = 0; i < 100; i++) {
          const id = h2.open(requestHeaders(path, type));
          const body = Buffer.alloc(PER_STREAM + (enveloped ? 5 : 0), 0x41);
          if (enveloped) envelopeHeader(1000 * 1000).copy(body);
          h2.send(id, body, 1);
        }
      }
      const limit = openFileLimit();
      const idle = Math.max(1000, Math.min(8000, limit - 3000));
      // Sockets that send nothing, 3 bytes of the HTTP/2 preface, or half an HTTP/1.1 request.
      const quiet = await openSockets(server.port, Math.floor(idle * 0.8));
      const halfPreface = await openSockets(server.port, Math.floor(idle * 0.1), PREFACE.subarray(0, 3));
      const slow = await openSockets(
        server.port,
        Math.floor(idle * 0.1),
        "POST /api/v1/evaluate HTTP/1.1\r\nHost: x\r\n",
      );
      const deadline = Date.now() + 45_000;
      while (sessions.some((s) => s.pending > 0) && Date.now() < deadline) await sleep(200);
      assert.equal(
        sessions.reduce((n, s) => n + s.pending, 0),
        0,
        "the server took every byte of the stalled streams",
      );
      await sleep(1000); // let the last frames be processed
      for (const s of sessions) assert.equal(s.closed, false, "the stalled streams' connections are held");
      assert.equal(
        sessions.reduce((n, s) => n + s.resets().size, 0),
        0,
        "no stream was refused (all 1,000 are held)",
      );
      const h = await health(server.port);
      sample();
      const held = [...quiet, ...halfPreface, ...slow].filter((s) => !s.destroyed).length;
      const growth = peak - base;
      process.stdout.write(
        `# RSS ${base.toFixed(0)} MiB -> peak ${peak.toFixed(0)} MiB (+${growth.toFixed(0)}) with 1,000 stalled streams ` +
          `(${PER_STREAM} one-byte frames each) and ${held} idle sockets; /health ${h.ms.toFixed(0)} ms\n`,
      );
      assert.equal(h.status, 200);
      assert.ok(h.ms < 1000, `/health answered within a second (took ${h.ms.toFixed(0)} ms)`);
      assert.equal(held, quiet.length + halfPreface.length + slow.length, "the idle sockets are all held");
      assert.ok(growth < 200, `RSS grew by ${growth.toFixed(0)} MiB (bound: 200 MiB)`);
      for (const s of [...quiet, ...halfPreface, ...slow]) s.destroy();
      for (const s of sessions) s.destroy();
    } finally {
      clearInterval(sampler);
    }
  });
});

describe("hostile transport: every phase has a timeout", { timeout: 60_000 }, () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({
      env: {
        AEGIS_HANDSHAKE_TIMEOUT: "1",
        AEGIS_HEADERS_TIMEOUT: "1",
        AEGIS_REQUEST_TIMEOUT: "2",
        // Longer than the request timeout: a connection whose stream was reset must still serve.
        AEGIS_IDLE_TIMEOUT: "4",
        AEGIS_MAX_STREAMS: "5",
      },
    });
  });
  after(async () => {
    await server?.kill();
  });

  test("a socket that sends nothing, or 3 bytes of the preface, is closed after the handshake timeout", async () => {
    const [quiet, half] = [
      ...(await openSockets(server.port, 1)),
      ...(await openSockets(server.port, 1, PREFACE.subarray(0, 3))),
    ];
    const [a, b] = await Promise.all([closedBy(quiet!, 5000), closedBy(half!, 5000)]);
    assert.ok(a.after >= 800 && b.after >= 800, "not before the timeout");
  });

  test("slow headers (slowloris) get 408 and the connection closes", async () => {
    const [s] = await openSockets(server.port, 1, "GET /health HTTP/1.1\r\nHost: x\r\n");
    const { text } = await closedBy(s!, 5000);
    assert.match(text, /^HTTP\/1\.1 408/);
  });

  test("an HTTP/1.1 body that never completes gets 408 after the request timeout", async () => {
    const [s] = await openSockets(
      server.port,
      1,
      "POST /api/v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    );
    const { after: ms, text } = await closedBy(s!, 6000);
    assert.match(text, /^HTTP\/1\.1 408/);
    assert.ok(ms >= 1500, `not before the request timeout (${ms.toFixed(0)} ms)`);
  });

  test("an idle HTTP/1.1 keep-alive connection is closed after the idle timeout", async () => {
    const [s] = await openSockets(server.port, 1, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    const { after: ms, text } = await closedBy(s!, 8000);
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.ok(ms >= 3500, `kept alive until the idle timeout (${ms.toFixed(0)} ms)`);
  });

  test("an HTTP/2 stream that never ends is reset (CANCEL); its connection keeps serving", async () => {
    const h2 = await RawH2.connect(server.port);
    const id = h2.open(requestHeaders("/aegis.v1.GovernanceService/Evaluate", "application/grpc"));
    h2.send(id, envelopeHeader(100), 16_384);
    const start = performance.now();
    while (!h2.resets().has(id) && performance.now() - start < 6000) await sleep(50);
    assert.equal(h2.resets().get(id), 0x8, "RST_STREAM CANCEL");
    assert.ok(performance.now() - start >= 1500, "not before the request timeout");
    // The same connection answers a complete request.
    const ok = h2.open(requestHeaders("/health", "application/json", [], "GET"), true);
    const seen = performance.now();
    while (
      !h2.frames.some((f) => f.type === FrameType.HEADERS && f.streamId === ok) &&
      performance.now() - seen < 3000
    )
      await sleep(20);
    assert.ok(h2.frames.some((f) => f.type === FrameType.HEADERS && f.streamId === ok));
    h2.destroy();
  });

  test("an HTTP/2 connection without traffic gets GOAWAY after the idle timeout", async () => {
    const h2 = await RawH2.connect(server.port);
    await h2.settings;
    const start = performance.now();
    while (h2.goaway() === undefined && performance.now() - start < 8000) await sleep(50);
    assert.equal(h2.goaway()?.code, 0, "GOAWAY NO_ERROR");
    assert.ok(performance.now() - start >= 3500);
    await Promise.race([h2.done, sleep(3000)]);
    assert.ok(h2.closed, "then the connection closes");
  });

  test("at most AEGIS_MAX_STREAMS concurrent streams per HTTP/2 connection", async () => {
    const evaluate = () => requestHeaders("/aegis.v1.GovernanceService/Evaluate", "application/grpc");
    // Before the client acknowledged the server's SETTINGS: the stream over the limit is refused.
    const early = await RawH2.connect(server.port);
    const ids = Array.from({ length: 6 }, () => early.open(evaluate()));
    const settings = await early.settings;
    assert.equal(settings.get(3), 5, "SETTINGS_MAX_CONCURRENT_STREAMS");
    let start = performance.now();
    while (!early.resets().has(ids[5]!) && performance.now() - start < 1500) await sleep(20);
    assert.equal(early.resets().get(ids[5]!), 0x7, "the sixth stream is refused (REFUSED_STREAM)");
    assert.equal(ids.slice(0, 5).filter((id) => early.resets().has(id)).length, 0, "the first five are not");
    early.destroy();
    // After the ACK, a client that opens more than it was allowed loses the connection.
    const late = await RawH2.connect(server.port);
    await late.settings;
    await sleep(100);
    for (let i = 0; i < 6; i++) late.open(evaluate());
    start = performance.now();
    while (late.goaway() === undefined && performance.now() - start < 1500) await sleep(20);
    assert.notEqual(late.goaway(), undefined, "GOAWAY");
    await Promise.race([late.done, sleep(2000)]);
    assert.ok(late.closed);
  });

  test("/health still answers", async () => {
    assert.equal((await health(server.port)).status, 200);
  });
});

describe("hostile transport: the connection limit", { timeout: 30_000 }, () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ env: { AEGIS_MAX_CONNECTIONS: "20" } });
  });
  after(async () => {
    await server?.kill();
  });

  test("past AEGIS_MAX_CONNECTIONS a connection is closed at once; freed slots serve again", async () => {
    const held = await openSockets(server.port, 20);
    await sleep(200);
    const [extra] = await openSockets(server.port, 1);
    const { after: ms, text } = await closedBy(extra!, 2000);
    assert.equal(text, "", "closed before anything was read or written");
    assert.ok(ms < 1000);
    await assert.rejects(health(server.port, 2000));
    for (const s of held) s.destroy();
    await sleep(200);
    assert.equal((await health(server.port)).status, 200);
    await server.waitForLog((l) => String(l.msg).startsWith("connection limit reached"), 5000, "the warning");
  });
});

describe("hostile transport: a stalled TLS handshake", { timeout: 30_000 }, () => {
  let server: ServerProcess;
  let dir: TempDir;
  let ca: string;
  before(async () => {
    dir = makeTempDir("aegis-tls-limits-");
    const keyPath = join(dir.path, "key.pem");
    const certPath = join(dir.path, "cert.pem");
    const r = await exec("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]);
    assert.equal(r.code, 0, `openssl failed (apt-get install -y openssl): ${r.stderr}`);
    ca = readFileSync(certPath, "utf8");
    server = await startServer({
      env: {
        AEGIS_TLS_CERT: certPath,
        AEGIS_TLS_KEY: keyPath,
        AEGIS_HANDSHAKE_TIMEOUT: "1",
        AEGIS_HEADERS_TIMEOUT: "1",
        AEGIS_REQUEST_TIMEOUT: "2",
        AEGIS_IDLE_TIMEOUT: "2",
      },
    });
  });
  after(async () => {
    await server?.kill();
    dir?.cleanup();
  });

  test("a TCP connection that never sends a ClientHello (or half of one) is closed", async () => {
    const [quiet, half] = [
      ...(await openSockets(server.port, 1)),
      ...(await openSockets(server.port, 1, Buffer.from([0x16, 0x03, 0x01, 0x02]))),
    ];
    const [a, b] = await Promise.all([closedBy(quiet!, 5000), closedBy(half!, 5000)]);
    assert.ok(a.after >= 800 && b.after >= 800);
  });

  test("HTTP/1.1 over TLS: slow headers get 408, an idle keep-alive connection closes", async () => {
    const open = () =>
      new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port: server.port, ca, ALPNProtocols: ["http/1.1"] }, () =>
          resolve(s),
        );
        s.once("error", reject);
      });
    const slow = await open();
    slow.write("GET /health HTTP/1.1\r\nHost: x\r\n");
    const idle = await open();
    idle.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    const [a, b] = await Promise.all([
      closedBy(slow as unknown as net.Socket, 6000),
      closedBy(idle as unknown as net.Socket, 8000),
    ]);
    assert.match(a.text, /^HTTP\/1\.1 408/);
    assert.match(b.text, /^HTTP\/1\.1 200/);
    assert.ok(b.after >= 1500, `kept alive until the idle timeout (${b.after.toFixed(0)} ms)`);
  });
});
