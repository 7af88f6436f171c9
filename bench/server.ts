// `npm run bench:server`: the server benchmark of issue 3 §9.
//
// In ONE run, 50 concurrent connections, a warm-up and then BENCH_DURATION (10) seconds each:
//   REST  (HTTP/1.1, wrk or autocannon): a bare node:http server answering a fixed JSON body (the
//         ceiling of this machine), Aegis POST /api/v1/evaluate, Cerbos POST /api/check/resources
//   gRPC  (h2c, h2load, 1 stream per connection): Aegis Evaluate, a no-op RPC of the same server build
//         (grpc.health.v1.Health/Check), Cerbos CheckResources; and two extra baselines that locate
//         the cost: plain node:http2 answering a fixed gRPC reply, and Connect-Node on a plain http2
//         server with a trivial handler
// The Aegis server runs at its default log level with the seed's default policy. Each run prints a
// table; with several runs (BENCH_RUNS, default 3) the medians and the ratios of the medians follow.
//
//   --profile     afterwards, profile the gRPC Evaluate path and the no-op RPC (node --cpu-prof on the
//                 server during an h2load run each): top self-time functions, a summary by area, and
//                 where Evaluate spends more CPU per request than the no-op
//   --profile-rest  likewise for REST Evaluate (wrk); implies no runs
//   --runs N      number of runs (default BENCH_RUNS or 3)
//   --only-profile  skip the runs, profile only
//
// Cerbos 0.55: the binary of the npm package @cerbos/cerbos-linux-x64, installed OUTSIDE the repo,
// e.g. `npm install --prefix /tmp/cerbos-bench @cerbos/cerbos-linux-x64@0.55.0`; found through
// CERBOS_BIN or at that default location. Its policy and config are in ../shared/peers/cerbos/.
// Load generators: wrk (Debian `wrk`; else autocannon from node_modules) and h2load (Debian
// `nghttp2-client`); the script says what is missing.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer as createNetServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  EvaluateBatchRequestSchema,
  EvaluateBatchResponseSchema,
  EvaluateRequestSchema,
  EvaluateResponseSchema,
  GovernanceService,
} from "../gen/aegis/v1/governance_service_pb.js";
import { HealthCheckRequestSchema, HealthCheckResponseSchema } from "../gen/grpc/health/v1/health_pb.js";
import { grpcClient, unaryRaw } from "../test/support/grpc.js";
import { repoRoot } from "../test/support/paths.js";
import { type ServerProcess, startServer } from "../test/support/server-process.js";

const CONNECTIONS = 50;
const DURATION_S = Number(process.env["BENCH_DURATION"] ?? 10);
const WARMUP_S = Number(process.env["BENCH_WARMUP"] ?? 3);
const CERBOS_DEFAULT = "/tmp/cerbos-bench/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64";
const CERBOS_PEER_DIR = resolve(repoRoot, "..", "shared", "peers", "cerbos");

const REST_BODY = '{"action_type":"read","target":"crm"}';
const CERBOS_REST_BODY =
  '{"requestId":"x","principal":{"id":"a1","roles":["agent"]},"resources":[{"resource":{"kind":"target","id":"crm"},"actions":["read"]}]}';

interface Result {
  readonly name: string;
  readonly rps: number;
  readonly p50ms: number;
  readonly p99ms: number;
  readonly errors: number;
  readonly tool: string;
}

// ---------------------------------------------------------------------------------------------
// small helpers

function which(bin: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(":")) {
    const p = join(dir, bin);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createNetServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

function run(
  cmd: string,
  args: readonly string[],
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      err += c;
    });
    child.on("error", reject);
    child.on("close", (code) => done({ code, out, err }));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** A gRPC length-prefixed message (uncompressed). */
function grpcFrame(message: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + message.length);
  b.writeUInt8(0, 0);
  b.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(b, 5);
  return b;
}

// Hand-encoded cerbos.request.v1.CheckResourcesRequest (request_id=1, principal=3 {id=1, roles=3},
// resources=4 {actions=1, resource=2 {kind=1, id=3}}); checked against @cerbos/api's schema.
function cerbosCheckResources(): Uint8Array {
  const varint = (n: number): number[] => {
    const o: number[] = [];
    let v = n;
    while (v > 127) {
      o.push((v & 127) | 128);
      v >>>= 7;
    }
    o.push(v);
    return o;
  };
  const bytes = (field: number, b: number[]): number[] => [(field << 3) | 2, ...varint(b.length), ...b];
  const str = (field: number, s: string): number[] => bytes(field, [...Buffer.from(s)]);
  const principal = [...str(1, "a1"), ...str(3, "agent")];
  const resource = [...str(1, "target"), ...str(3, "crm")];
  const entry = [...str(1, "read"), ...bytes(2, resource)];
  return new Uint8Array([...str(1, "x"), ...bytes(3, principal), ...bytes(4, entry)]);
}

// ---------------------------------------------------------------------------------------------
// load generators

const scratch = mkdtempSync(join(tmpdir(), "aegis-bench-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "ms" ? v : m[2] === "s" ? v * 1000 : v * 60_000;
}

/** HTTP/1.1 POST load with wrk (preferred: C, light on the shared CPU) or autocannon. */
async function http1(name: string, url: string, body: string): Promise<Result> {
  const wrk = which("wrk");
  if (wrk) {
    const script = join(scratch, "post.lua");
    writeFileSync(
      script,
      `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`,
    );
    const base = ["-t", "1", "-c", String(CONNECTIONS), "-s", script];
    await run(wrk, [...base, "-d", `${WARMUP_S}s`, url]);
    const r = await run(wrk, [...base, "-d", `${DURATION_S}s`, "--latency", url]);
    if (r.code !== 0) throw new Error(`wrk failed: ${r.err}`);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.out)?.[1]);
    const p50 = parseDuration(/^\s+50%\s+(\S+)/m.exec(r.out)?.[1] ?? "");
    const p99 = parseDuration(/^\s+99%\s+(\S+)/m.exec(r.out)?.[1] ?? "");
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.out)?.[1] ?? 0);
    const sockErr = /Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)/.exec(r.out);
    const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
    return { name, rps, p50ms: p50, p99ms: p99, errors, tool: "wrk" };
  }
  const autocannon = join(repoRoot, "node_modules", ".bin", "autocannon");
  const args = ["-c", String(CONNECTIONS), "-m", "POST", "-H", "content-type=application/json", "-b", body];
  await run(autocannon, [...args, "-d", String(WARMUP_S), url]);
  const r = await run(autocannon, [...args, "-d", String(DURATION_S), "-j", url]);
  const j = JSON.parse(r.out) as {
    requests: { average: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  };
  return {
    name,
    rps: j.requests.average,
    p50ms: j.latency.p50,
    p99ms: j.latency.p99,
    errors: j.non2xx + j.errors,
    tool: "autocannon",
  };
}

/** gRPC unary load over h2c with h2load: 50 connections, one stream each; latency from --log-file. */
async function h2(name: string, url: string, message: Uint8Array): Promise<Result> {
  const h2load = which("h2load");
  if (!h2load) throw new Error("h2load is missing: apt-get install -y nghttp2-client");
  const bodyFile = join(scratch, `${name.replace(/\W+/g, "_")}.bin`);
  writeFileSync(bodyFile, grpcFrame(message));
  const logFile = join(scratch, "h2load.log");
  rmSync(logFile, { force: true });
  const r = await run(h2load, [
    "-t",
    "1",
    "-c",
    String(CONNECTIONS),
    "-m",
    "1",
    `--warm-up-time=${WARMUP_S}`,
    "-D",
    String(DURATION_S),
    "-d",
    bodyFile,
    "-H",
    "content-type: application/grpc",
    "-H",
    "te: trailers",
    `--log-file=${logFile}`,
    url,
  ]);
  if (r.code !== 0) throw new Error(`h2load failed: ${r.out}\n${r.err}`);
  const rps = Number(/finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(r.out)?.[1]);
  const failed =
    /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored/.exec(r.out);
  const errors = failed ? Number(failed[1]) + Number(failed[2]) : Number.NaN;
  const latencies: number[] = [];
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    const cols = line.split("\t");
    if (cols.length >= 3) latencies.push(Number(cols[2]) / 1000);
  }
  latencies.sort((a, b) => a - b);
  return {
    name,
    rps,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
    errors,
    tool: "h2load",
  };
}

// ---------------------------------------------------------------------------------------------
// the servers

function startBareNode(): Promise<{ url: string; child: ChildProcess }> {
  const body = JSON.stringify({
    action_type: "read",
    target: "crm",
    risk_level: "LOW",
    approval: "auto",
    is_allowed: true,
    matched_rule: "read_auto",
  });
  const code = `
    const http = require("node:http");
    const body = Buffer.from(${JSON.stringify(body)});
    const s = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
        res.end(body);
      });
    });
    s.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: s.address().port })));`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((done, reject) => {
    child.stdout!.setEncoding("utf8").once("data", (line: string) => {
      const port = (JSON.parse(line) as { port: number }).port;
      done({ url: `http://127.0.0.1:${port}`, child });
    });
    child.on("error", reject);
  });
}

/** Spawns `node -e code` (ESM when `esm`) that prints {"port"} once listening. */
function startInline(code: string, esm: boolean): Promise<{ url: string; child: ChildProcess }> {
  const args = esm ? ["--input-type=module", "-e", code] : ["-e", code];
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((done, reject) => {
    child.stdout!.setEncoding("utf8").once("data", (line: string) => {
      const port = (JSON.parse(line) as { port: number }).port;
      done({ url: `http://127.0.0.1:${port}`, child });
    });
    child.on("error", reject);
  });
}

/** Extra baseline: plain node:http2 answering every stream with a fixed gRPC reply (Node's h2c ceiling). */
function startBareHttp2(): Promise<{ url: string; child: ChildProcess }> {
  return startInline(
    `
    const http2 = require("node:http2");
    const reply = Buffer.from([0, 0, 0, 0, 2, 8, 1]); // HealthCheckResponse{status: SERVING}
    const s = http2.createServer();
    s.on("stream", (stream) => {
      stream.on("data", () => {});
      stream.on("end", () => {
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(reply);
      });
    });
    s.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: s.address().port })));`,
    false,
  );
}

/** Extra baseline: Connect-Node on a plain http2 server with a trivial grpc.health.v1 Check handler. */
function startBareConnect(): Promise<{ url: string; child: ChildProcess }> {
  const health = pathToFileURL(join(repoRoot, "dist", "gen", "grpc", "health", "v1", "health_pb.js")).href;
  return startInline(
    `
    import http2 from "node:http2";
    import { connectNodeAdapter } from "@connectrpc/connect-node";
    import { Health } from ${JSON.stringify(health)};
    const routes = (router) => router.service(Health, { check: () => ({ status: 1 }), async *watch() {} });
    const s = http2.createServer(connectNodeAdapter({ routes }));
    s.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: s.address().port })));`,
    true,
  );
}

function cerbosBinary(): string | undefined {
  const bin = process.env["CERBOS_BIN"] ?? CERBOS_DEFAULT;
  if (!existsSync(bin)) return undefined;
  try {
    chmodSync(bin, 0o755);
  } catch {
    // read-only install: try as is
  }
  return bin;
}

async function startCerbos(bin: string): Promise<{ rest: string; grpc: string; child: ChildProcess }> {
  const httpPort = await freePort();
  const grpcPort = await freePort();
  // The peer's config with our free ports and an absolute policy directory.
  const peer = readFileSync(join(CERBOS_PEER_DIR, "config.yaml"), "utf8")
    .replace(/httpListenAddr:\s*"[^"]*"/, `httpListenAddr: "127.0.0.1:${httpPort}"`)
    .replace(/grpcListenAddr:\s*"[^"]*"/, `grpcListenAddr: "127.0.0.1:${grpcPort}"`)
    .replace(/directory:\s*\S+/, `directory: ${join(CERBOS_PEER_DIR, "policies")}`);
  const config = join(scratch, "cerbos.yaml");
  writeFileSync(config, peer);
  const child = spawn(bin, ["server", `--config=${config}`], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const rest = `http://127.0.0.1:${httpPort}`;
  try {
    await waitFor("Cerbos to answer", async () => (await fetch(`${rest}/_cerbos/health`)).ok);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  return { rest, grpc: `http://127.0.0.1:${grpcPort}`, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("close", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(t);
}

// ---------------------------------------------------------------------------------------------
// one run

const evaluateMessage = toBinary(
  EvaluateRequestSchema,
  create(EvaluateRequestSchema, { action: { actionType: "read", target: "crm" } }),
);
// A no-op on the unary gRPC fast path: EvaluateBatch with no actions (decode, auth, encode).
const emptyBatchMessage = toBinary(EvaluateBatchRequestSchema, create(EvaluateBatchRequestSchema, {}));
const emptyBatchPath = `/${GovernanceService.typeName}/${GovernanceService.method.evaluateBatch.name}`;
const healthMessage = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" }));
const evaluatePath = `/${GovernanceService.typeName}/${GovernanceService.method.evaluate.name}`;
const healthPath = "/grpc.health.v1.Health/Check";
const cerbosPath = "/cerbos.svc.v1.CerbosService/CheckResources";

/** One call of each load's exact request, so a benchmark of errors cannot pass for a fast one. */
async function verifyAegis(server: ServerProcess): Promise<void> {
  const r = await fetch(`${server.url}/api/v1/evaluate`, {
    method: "POST",
    body: REST_BODY,
    headers: { "content-type": "application/json" },
  });
  const d = (await r.json()) as Record<string, unknown>;
  if (r.status !== 200 || d["matched_rule"] !== "read_auto")
    throw new Error(`REST evaluate: ${JSON.stringify(d)}`);
  const client = grpcClient(server.authority);
  try {
    const e = fromBinary(EvaluateResponseSchema, await unaryRaw(client, evaluatePath, evaluateMessage));
    if (e.decision?.matchedRule !== "read_auto") throw new Error("gRPC Evaluate did not match read_auto");
    const h = fromBinary(HealthCheckResponseSchema, await unaryRaw(client, healthPath, healthMessage));
    if (h.status !== 1) throw new Error("gRPC health is not SERVING");
    const b = fromBinary(
      EvaluateBatchResponseSchema,
      await unaryRaw(client, emptyBatchPath, emptyBatchMessage),
    );
    if (b.decisions.length !== 0) throw new Error("empty gRPC EvaluateBatch returned decisions");
  } finally {
    client.close();
  }
}

async function verifyCerbos(rest: string, grpcUrl: string): Promise<void> {
  const r = await fetch(`${rest}/api/check/resources`, { method: "POST", body: CERBOS_REST_BODY });
  const text = await r.text();
  if (r.status !== 200 || !text.includes("EFFECT_ALLOW")) throw new Error(`Cerbos REST: ${r.status} ${text}`);
  const client = grpcClient(new URL(grpcUrl).host);
  try {
    const bytes = await unaryRaw(client, cerbosPath, cerbosCheckResources());
    if (bytes.length === 0) throw new Error("Cerbos gRPC: empty response");
  } finally {
    client.close();
  }
}

const NAMES = {
  bare: "bare node:http (REST ceiling)",
  aegisRest: "Aegis REST evaluate",
  cerbosRest: "Cerbos REST CheckResources",
  aegisGrpc: "Aegis gRPC Evaluate",
  aegisNoop: "Aegis gRPC no-op (health Check)",
  aegisFastNoop: "Aegis gRPC no-op (empty batch)",
  cerbosGrpc: "Cerbos gRPC CheckResources",
  bareHttp2: "bare node:http2 gRPC (fixed reply)",
  bareConnect: "bare Connect-Node gRPC (trivial)",
} as const;

async function oneRun(cerbosBin: string | undefined): Promise<Map<string, Result>> {
  const results = new Map<string, Result>();
  const add = (r: Result) => {
    results.set(r.name, r);
    process.stderr.write(`  ${r.name.padEnd(36)} ${r.rps.toFixed(0).padStart(8)} req/s  (${r.tool})\n`);
  };

  const bare = await startBareNode();
  try {
    add(await http1(NAMES.bare, `${bare.url}/api/v1/evaluate`, REST_BODY));
  } finally {
    await stopChild(bare.child);
  }

  for (const [name, start] of [
    [NAMES.bareHttp2, startBareHttp2],
    [NAMES.bareConnect, startBareConnect],
  ] as const) {
    const bareGrpc = await start();
    try {
      add(await h2(name, `${bareGrpc.url}${healthPath}`, healthMessage));
    } finally {
      await stopChild(bareGrpc.child);
    }
  }

  const aegis = await startServer();
  try {
    await verifyAegis(aegis);
    add(await http1(NAMES.aegisRest, `${aegis.url}/api/v1/evaluate`, REST_BODY));
    add(await h2(NAMES.aegisGrpc, `${aegis.url}${evaluatePath}`, evaluateMessage));
    add(await h2(NAMES.aegisNoop, `${aegis.url}${healthPath}`, healthMessage));
    add(await h2(NAMES.aegisFastNoop, `${aegis.url}${emptyBatchPath}`, emptyBatchMessage));
  } finally {
    await aegis.stop();
  }

  if (cerbosBin) {
    const cerbos = await startCerbos(cerbosBin);
    try {
      await verifyCerbos(cerbos.rest, cerbos.grpc);
      add(await http1(NAMES.cerbosRest, `${cerbos.rest}/api/check/resources`, CERBOS_REST_BODY));
      add(await h2(NAMES.cerbosGrpc, `${cerbos.grpc}${cerbosPath}`, cerbosCheckResources()));
    } finally {
      await stopChild(cerbos.child);
    }
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// report

const RATIOS: ReadonlyArray<[string, string, string, string]> = [
  ["REST evaluate / bare node:http", NAMES.aegisRest, NAMES.bare, "target >= 0.40"],
  ["gRPC evaluate / no-op gRPC", NAMES.aegisGrpc, NAMES.aegisNoop, "target >= 0.90 (no-op on Connect)"],
  ["gRPC evaluate / fast-path no-op", NAMES.aegisGrpc, NAMES.aegisFastNoop, "same path: empty batch"],
  ["Aegis gRPC / Cerbos gRPC", NAMES.aegisGrpc, NAMES.cerbosGrpc, "next goal: > 1"],
  ["Aegis REST / Cerbos REST", NAMES.aegisRest, NAMES.cerbosRest, ""],
  ["no-op gRPC / bare Connect-Node", NAMES.aegisNoop, NAMES.bareConnect, "Aegis' own gRPC overhead"],
  ["bare Connect-Node / bare http2", NAMES.bareConnect, NAMES.bareHttp2, "Connect-Node's overhead"],
];

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

function printTable(title: string, rows: readonly Result[]): void {
  console.log(`\n${title}`);
  console.log(
    `${"".padEnd(36)} ${"req/s".padStart(9)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)}  errors  tool`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(36)} ${fmt(r.rps).padStart(9)} ${fmt(r.p50ms, 2).padStart(8)} ${fmt(r.p99ms, 2).padStart(8)}  ${String(r.errors).padStart(6)}  ${r.tool}`,
    );
  }
}

function ratioLines(get: (name: string) => number | undefined): string[] {
  return RATIOS.map(([label, a, b, note]) => {
    const x = get(a);
    const y = get(b);
    const v = x !== undefined && y !== undefined && y > 0 ? x / y : Number.NaN;
    return `  ${label.padEnd(34)} ${fmt(v, 2).padStart(6)}   ${note}`;
  });
}

// ---------------------------------------------------------------------------------------------
// profile of the gRPC Evaluate path

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function area(url: string, fn: string): string {
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(idle)") return "idle";
  if (fn === "(program)") return "(program: native, not attributed)";
  if (url.startsWith("wasm://")) return "wasm (PGlite)";
  const pkg = /node_modules\/(@[^/]+\/[^/]+|[^/]+)\//.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.includes("/dist/src/server/")) return "aegis src/server";
  if (url.includes("/dist/src/policy/")) return "aegis src/policy";
  if (url.includes("/dist/src/governance/")) return "aegis src/governance";
  if (url.includes("/dist/src/")) return "aegis src (other)";
  if (url.includes("/dist/gen/")) return "aegis gen";
  if (url.includes("internal/http2")) return "node http2 (JS)";
  if (url.includes("internal/js_stream_socket") || url.includes("internal/streams"))
    return "node streams (JS)";
  if (url.startsWith("node:")) return "node core (JS)";
  if (url === "") return "native / builtins";
  return "other";
}

interface ProfileSummary {
  /** Busy (non-idle) CPU time per request, µs. */
  readonly busyPerRequest: number;
  readonly areas: Map<string, number>;
  readonly functions: Map<string, number>;
}

/**
 * Self time per function of the samples taken in [endTime - fromEndUs - lengthUs, endTime - fromEndUs]
 * (the measured load window: startup, PGlite and shutdown do not count), printed as shares of busy
 * time and as µs per request.
 */
function summariseProfile(
  title: string,
  file: string,
  fromEndUs: number,
  lengthUs: number,
  requests: number,
): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const hi = prof.endTime - fromEndUs;
  const lo = hi - lengthUs;
  let t = prof.startTime;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    t += dt;
    if (t < lo || t > hi) return;
    self.set(id, (self.get(id) ?? 0) + dt);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idleIds = prof.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id);
  const idle = idleIds.reduce((a, id) => a + (self.get(id) ?? 0), 0);
  const busy = total - idle;
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n || n.callFrame.functionName === "(idle)") continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const short = url.replace(/^file:\/\/.*\/node_modules\//, "").replace(/^file:\/\/.*\/dist\//, "dist/");
    const key = `${functionName || "(anonymous)"}  ${short}${short ? `:${lineNumber + 1}` : ""}`;
    functions.set(key, (functions.get(key) ?? 0) + us / requests);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + us / requests);
  }
  const busyPerRequest = busy / requests;
  const row = (us: number) =>
    `${`${((100 * us) / busyPerRequest).toFixed(1)}%`.padStart(6)} ${`${us.toFixed(1)} µs/req`.padStart(13)}`;
  console.log(`\nCPU profile of the server, ${title}, measured window only (${file})`);
  console.log(
    `  sampled ${(total / 1e6).toFixed(1)} s, idle ${((100 * idle) / total).toFixed(1)}%, ${requests} requests: ` +
      `${busyPerRequest.toFixed(0)} µs of busy CPU per request`,
  );
  console.log("\n  self time by area:");
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1])) console.log(`    ${row(us)}  ${a}`);
  console.log("\n  top 25 functions by self time:");
  for (const [k, us] of [...functions].sort((x, y) => y[1] - x[1]).slice(0, 25))
    console.log(`    ${row(us)}  ${k}`);
  return { busyPerRequest, areas, functions };
}

function profileGrpc(title: string, path: string, message: Uint8Array): Promise<ProfileSummary | undefined> {
  return profileLoad(title, (server) => h2(title, `${server.url}${path}`, message));
}

async function profileLoad(
  title: string,
  load: (server: ServerProcess) => Promise<Result>,
): Promise<ProfileSummary | undefined> {
  const dir = mkdtempSync(join(tmpdir(), "aegis-cpuprof-"));
  const server = await startServer({ nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`] });
  let result: Result;
  let loadEnded = Date.now();
  try {
    await verifyAegis(server);
    result = await load(server);
    loadEnded = Date.now();
  } finally {
    const exit = await server.stop();
    if (exit.code !== 0) console.log(`server exit ${JSON.stringify(exit)}: the profile may be missing`);
  }
  const exitedAt = Date.now();
  console.log(`\nprofiled run of ${title}: ${fmt(result.rps)} req/s (the profiler costs some throughput)`);
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  if (files.length === 0) {
    console.log(`no .cpuprofile written in ${dir}`);
    return undefined;
  }
  const requests = Math.round(result.rps * DURATION_S);
  return summariseProfile(
    title,
    join(dir, files[0]!),
    (exitedAt - loadEnded) * 1000,
    DURATION_S * 1e6,
    requests,
  );
}

/** Profiles gRPC Evaluate and the no-op RPC, then prints where Evaluate spends more per request. */
async function profileBoth(): Promise<void> {
  const evaluate = await profileGrpc(NAMES.aegisGrpc, evaluatePath, evaluateMessage);
  const noop = await profileGrpc(NAMES.aegisNoop, healthPath, healthMessage);
  if (!evaluate || !noop) return;
  const diff = (a: Map<string, number>, b: Map<string, number>) =>
    [...new Set([...a.keys(), ...b.keys()])]
      .map((k) => [k, (a.get(k) ?? 0) - (b.get(k) ?? 0)] as const)
      .sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]));
  console.log(
    `\nEvaluate minus no-op, busy CPU per request: ${evaluate.busyPerRequest.toFixed(0)} - ${noop.busyPerRequest.toFixed(0)} = ` +
      `${(evaluate.busyPerRequest - noop.busyPerRequest).toFixed(0)} µs`,
  );
  console.log("  by area:");
  for (const [k, d] of diff(evaluate.areas, noop.areas).slice(0, 12)) {
    console.log(`    ${`${d >= 0 ? "+" : ""}${d.toFixed(1)} µs`.padStart(11)}  ${k}`);
  }
  console.log("  by function (largest 20 differences):");
  for (const [k, d] of diff(evaluate.functions, noop.functions).slice(0, 20)) {
    console.log(`    ${`${d >= 0 ? "+" : ""}${d.toFixed(1)} µs`.padStart(11)}  ${k}`);
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const runsArg = argv.indexOf("--runs");
  const runs = Number(runsArg >= 0 ? argv[runsArg + 1] : (process.env["BENCH_RUNS"] ?? 3));
  const profile = argv.includes("--profile") || argv.includes("--only-profile");
  const onlyProfile = argv.includes("--only-profile") || argv.includes("--profile-rest");

  const tools = [
    `wrk: ${which("wrk") ?? "missing (apt-get install -y wrk); using autocannon"}`,
    `h2load: ${which("h2load") ?? "MISSING (apt-get install -y nghttp2-client)"}`,
  ];
  const cerbosBin = cerbosBinary();
  let cerbosVersion = "";
  if (cerbosBin) {
    cerbosVersion = execFileSync(cerbosBin, ["--version"], { encoding: "utf8" }).split("\n")[0] ?? "";
  }
  console.log(
    `Aegis server benchmark: ${CONNECTIONS} connections, ${WARMUP_S} s warm-up, ${DURATION_S} s measured`,
  );
  console.log(`node ${process.version}; ${tools.join("; ")}`);
  console.log(
    cerbosBin
      ? `Cerbos: ${cerbosBin} (${cerbosVersion})`
      : `Cerbos: ABSENT (set CERBOS_BIN or run: npm install --prefix /tmp/cerbos-bench @cerbos/cerbos-linux-x64@0.55.0); its rows are skipped`,
  );

  if (!onlyProfile) {
    const all: Array<Map<string, Result>> = [];
    for (let i = 1; i <= runs; i++) {
      process.stderr.write(`run ${i}/${runs}\n`);
      const before = loadavg()[0] ?? Number.NaN;
      const r = await oneRun(cerbosBin);
      all.push(r);
      // The load average says whether something else shared the CPUs with this run.
      printTable(
        `run ${i} (1-min load average: ${fmt(before, 1)} before, ${fmt(loadavg()[0] ?? Number.NaN, 1)} after)`,
        [...r.values()],
      );
      for (const line of ratioLines((n) => r.get(n)?.rps)) console.log(line);
    }
    if (runs > 1) {
      const names = Object.values(NAMES).filter((n) => all.some((r) => r.has(n)));
      const med = names.map((name) => {
        const rs = all.map((r) => r.get(name)).filter((r): r is Result => r !== undefined);
        return {
          name,
          rps: median(rs.map((r) => r.rps)),
          p50ms: median(rs.map((r) => r.p50ms)),
          p99ms: median(rs.map((r) => r.p99ms)),
          errors: rs.reduce((a, r) => a + r.errors, 0),
          tool: rs[0]?.tool ?? "",
        } satisfies Result;
      });
      printTable(`medians of ${runs} runs (errors: sum)`, med);
      console.log("ratios of the medians (req/s):");
      for (const line of ratioLines((n) => med.find((m) => m.name === n)?.rps)) console.log(line);
      console.log("median of the per-run ratios:");
      console.log(
        RATIOS.map(([label, a, b]) => {
          const v = median(all.map((r) => (r.get(a)?.rps ?? Number.NaN) / (r.get(b)?.rps ?? Number.NaN)));
          return `  ${label.padEnd(34)} ${fmt(v, 2).padStart(6)}`;
        }).join("\n"),
      );
    }
  }
  if (profile) await profileBoth();
  if (argv.includes("--profile-rest")) {
    await profileLoad(NAMES.aegisRest, (server) =>
      http1(NAMES.aegisRest, `${server.url}/api/v1/evaluate`, REST_BODY),
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
