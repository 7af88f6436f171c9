// Startup and shutdown: createServer's graceful close with a request in flight, TLS with ALPN on
// one port, and the CLI's one-line startup errors and SIGTERM exit.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import https from "node:https";
import net from "node:net";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import type { AuditLog, ExecutePipeline } from "../../src/governance/index.js";
import { createServer, GovernanceService } from "../../src/index.js";
import { cliPath, examplesDir } from "../support/paths.js";
import { makeTempDir, runCli, serverEnv, startServer } from "../support/server-process.js";
import { call, startHarness } from "./harness.js";

const policyPath = join(examplesDir, "policy.yaml");
const tmp = makeTempDir("aegis-lifecycle-");
after(() => tmp.cleanup());

/** The same object as the execute pipeline and the audit log of a server. */
function backend(b: ExecutePipeline & AuditLog): { pipeline: ExecutePipeline; auditLog: AuditLog } {
  return { pipeline: b, auditLog: b };
}

function slowBackend(ms: number): ExecutePipeline & AuditLog {
  return {
    async execute(items) {
      await new Promise((r) => setTimeout(r, ms));
      return items.map((it, i) => ({
        actionType: it.action.actionType,
        target: it.action.target,
        status: "success" as const,
        data: { executed: true },
        error: null,
        decision: it.decision,
        auditId: i + 1,
      }));
    },
    async query() {
      return { records: [], truncated: false };
    },
    async health() {
      return { ok: true };
    },
    async close() {},
  };
}

describe("createServer", () => {
  test("close() lets an in-flight request finish, then refuses connections", async () => {
    const server = await createServer({
      policyPath,
      ...backend(slowBackend(400)),
      watchPolicy: false,
      config: { logLevel: "silent" },
    });
    const { url, port } = await server.listen({ host: "127.0.0.1", port: 0 });
    const inflight = call(`${url}/api/v1/execute`, "POST", { action_type: "read", target: "crm" });
    await new Promise((r) => setTimeout(r, 100));
    const closing = server.close();
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.deepEqual((r.json as Record<string, unknown>)["data"], { executed: true });
    await closing;
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = net.connect(port, "127.0.0.1", () => resolve(s));
        s.on("error", reject);
      }),
    );
  });

  test("returns synchronously: listen() waits for startup, the handler serves once ready", async () => {
    const server = createServer({
      policyPath,
      pipeline: false,
      watchPolicy: false,
      config: { logLevel: "silent" },
    });
    assert.equal(typeof server.listen, "function");
    assert.equal(typeof server.handler, "function");
    assert.throws(() => server.governance, /still starting/);
    try {
      const { url } = await server.listen({ host: "127.0.0.1", port: 0 });
      await server.ready;
      assert.equal(
        server.governance.evaluate({ actionType: "read", target: "crm", params: {} }).matchedRule,
        "read_auto",
      );
      const r = await call(`${url}/api/v1/evaluate`, "POST", { action_type: "write", target: "db" });
      assert.equal((r.json as Record<string, unknown>)["matched_rule"], "write_approve");
    } finally {
      await server.close();
    }
  });

  test("a startup failure rejects listen() and ready, and the embedded handler answers 503", async () => {
    const missing = join(tmp.path, "no-such-policy.yaml");
    const server = createServer({ policyPath: missing, pipeline: false, config: { logLevel: "silent" } });
    await assert.rejects(server.listen({ host: "127.0.0.1", port: 0 }), /no-such-policy\.yaml/);
    await assert.rejects(server.ready, /no-such-policy\.yaml/);
    const { createServer: createHttpServer } = await import("node:http");
    const outer = createHttpServer(server.handler as Parameters<typeof createHttpServer>[1]);
    await new Promise<void>((r) => outer.listen(0, "127.0.0.1", r));
    try {
      const { port } = outer.address() as net.AddressInfo;
      const r = await call(`http://127.0.0.1:${port}/api/v1/evaluate`, "POST", { action_type: "read" });
      assert.equal(r.status, 503);
      assert.match(String((r.json as Record<string, unknown>)["error"]), /failed to start/);
    } finally {
      outer.close();
      await server.close();
    }
  });

  test("a TS caller gets a typed client from the package alone", async () => {
    const server = await createServer({
      policyPath,
      pipeline: false,
      watchPolicy: false,
      config: { logLevel: "silent" },
    });
    try {
      const { url } = await server.listen({ host: "127.0.0.1", port: 0 });
      const client = createClient(
        GovernanceService,
        createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
      );
      const r = await client.evaluate({ action: { actionType: "delete", target: "crm" } });
      assert.equal(r.decision?.isAllowed, false);
      assert.equal(r.decision?.matchedRule, "delete_block");
    } finally {
      await server.close();
    }
  });
});

describe("TLS", () => {
  test("REST over HTTPS/1.1 and gRPC over h2 on one TLS port (ALPN)", async () => {
    const key = join(tmp.path, "key.pem");
    const cert = join(tmp.path, "cert.pem");
    // openssl is a CI dependency (.ci/run installs it): without it this test fails, never skips.
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"],
        ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
      ],
      { stdio: "ignore" },
    );
    const ca = readFileSync(cert);
    const h = await startHarness({ tls: { cert: ca, key: readFileSync(key) } });
    try {
      assert.match(h.url, /^https:\/\//);
      const rest = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request(
          `${h.url}/api/v1/evaluate`,
          { method: "POST", ca, headers: { "content-type": "application/json" } },
          (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => {
              body += c;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on("error", reject);
        req.end(JSON.stringify({ action_type: "read", target: "crm" }));
      });
      assert.equal(rest.status, 200);
      assert.equal(JSON.parse(rest.body).matched_rule, "read_auto");
      const grpc = createClient(
        GovernanceService,
        createGrpcTransport({ baseUrl: h.url, nodeOptions: { ca } }),
      );
      const r = await grpc.evaluate({ action: { actionType: "read" } });
      assert.equal(r.decision?.matchedRule, "read_auto");
    } finally {
      await h.close();
    }
  });
});

describe("aegis serve", () => {
  const none = { AEGIS_AUDIT_DB: "memory:" };

  test("missing policy file: one line, exit 1", async () => {
    const r = await runCli(["serve", join(tmp.path, "missing.yaml"), "--port", "0"], { env: none });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^aegis: cannot read policy file .*missing\.yaml: no such file\n$/);
  });

  test("invalid policy: exit 1 with the line number", async () => {
    const bad = tmp.file("bad.yaml", "rules:\n  - name: x\n    approval: maybe\n");
    const r = await runCli(["serve", bad, "--port", "0"], { env: none });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^aegis: Invalid policy: .*bad\.yaml:3:\d+: /);
  });

  test("bad variable and bad flag: one line, exit 1", async () => {
    const r = await runCli(["serve", policyPath], { env: { ...none, AEGIS_PORT: "eighty" } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^aegis: AEGIS_PORT must be an integer between 0 and 65535, got "eighty"\n$/);
    const f = await runCli(["serve", policyPath, "--colour"], { env: none });
    assert.equal(f.code, 1);
    assert.match(f.stderr, /^aegis: unknown option --colour\n$/);
  });

  test("the policy defaults to AEGIS_POLICY_PATH", async () => {
    const r = await runCli(["serve", "--port", "0"], {
      env: { ...none, AEGIS_POLICY_PATH: join(tmp.path, "from-env.yaml") },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /from-env\.yaml: no such file/);
  });

  test("port in use: one line, exit 1", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await runCli(["serve", policyPath, "--host", "127.0.0.1", "--port", String(port)], {
        env: none,
      });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^aegis: port ${port} on 127\\.0\\.0\\.1 is already in use\\n$`));
    } finally {
      blocker.close();
    }
  });

  test("SIGTERM during startup is handled, not fatal (PID 1 in a container)", async () => {
    // The policy is a FIFO: startup blocks reading it, and our open() for writing returns exactly
    // when the server has opened it, so the signal provably lands while the server is starting.
    const fifo = join(tmp.path, "policy-fifo.yaml");
    execFileSync("mkfifo", [fifo]);
    const child = spawn(process.execPath, [cliPath, "serve", fifo, "--port", "0"], {
      env: serverEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on("exit", (code, signal) => r({ code, signal })),
    );
    const writer = await open(fifo, "w");
    child.kill("SIGTERM");
    // Let startup continue: the pending signal is handled whether it is seen before or after the
    // policy arrives; either way the process must shut down cleanly, not die of the signal.
    await writer.writeFile(readFileSync(policyPath));
    await writer.close();
    const { code, signal } = await exited;
    assert.equal(signal, null, "the process handled SIGTERM instead of being killed by it");
    assert.equal(code, 0);
    assert.match(stdout, /"msg":"shutting down"/);
    assert.match(stdout, /"msg":"stopped"/);
  });

  test("logs the listening line, serves, and exits 0 on SIGTERM", async () => {
    const s = await startServer({ policy: policyPath });
    const line = s.logs.find((l) => l.msg === "listening");
    assert.ok(line);
    assert.equal(line["address"], s.url);
    assert.equal(line["level"], "warn");
    const r = await call(`${s.url}/api/v1/evaluate`, "POST", { action_type: "read" });
    assert.equal(r.status, 200);
    const exit = await s.stop("SIGTERM");
    assert.equal(exit.code, 0);
  });
});
