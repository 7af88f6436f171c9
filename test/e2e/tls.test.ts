// TLS on the one port: a self-signed certificate made by openssl at test time; gRPC (grpc-js,
// python3-grpcio), Connect/gRPC-Web (HTTP/1.1 and HTTP/2) and REST (node:https) all on it, by ALPN.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import {
  EvaluateRequestSchema,
  EvaluateResponseSchema,
  GovernanceService,
} from "../../gen/aegis/v1/governance_service_pb.js";
import { RiskLevel } from "../../gen/aegis/v1/types_pb.js";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
} from "../../gen/grpc/health/v1/health_pb.js";
import { connectTransports } from "../support/connect.js";
import { exec } from "../support/exec.js";
import { grpc, grpcClient, methodPath, unary } from "../support/grpc.js";
import { okBytes, runPython } from "../support/python.js";
import { makeTempDir, type ServerProcess, startServer, type TempDir } from "../support/server-process.js";

function httpsCall(
  url: string,
  method: string,
  ca: string,
  body?: string,
): Promise<{ status: number; text: string; alpn: string | false | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method, ca, headers: body ? { "content-type": "application/json" } : {} },
      (res) => {
        let text = "";
        const alpn = (res.socket as { alpnProtocol?: string | false } | null)?.alpnProtocol;
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            text,
            alpn,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function alpnOf(port: number, ca: string, protocols: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: "127.0.0.1", port, ca, ALPNProtocols: protocols, servername: "localhost" },
      () => {
        const p = socket.alpnProtocol ?? false;
        socket.end();
        resolve(p);
      },
    );
    socket.on("error", reject);
  });
}

describe("TLS with AEGIS_TLS_CERT / AEGIS_TLS_KEY", () => {
  let dir: TempDir;
  let ca: string;
  let certPath: string;
  let server: ServerProcess;
  let client: grpc.Client | undefined;
  before(async () => {
    dir = makeTempDir("aegis-tls-");
    certPath = join(dir.path, "cert.pem");
    const keyPath = join(dir.path, "key.pem");
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
    server = await startServer({ env: { AEGIS_TLS_CERT: certPath, AEGIS_TLS_KEY: keyPath } });
  });
  after(async () => {
    client?.close();
    await server?.kill();
    dir?.cleanup();
  });

  test("the logged address is https://", () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  test("ALPN offers h2 and http/1.1 on the same port", async () => {
    assert.equal(await alpnOf(server.port, ca, ["h2", "http/1.1"]), "h2");
    assert.equal(await alpnOf(server.port, ca, ["http/1.1"]), "http/1.1");
  });

  test("REST over HTTPS/1.1 (node:https with the cert as CA)", async () => {
    const base = `https://127.0.0.1:${server.port}`;
    const health = await httpsCall(`${base}/health`, "GET", ca);
    assert.equal(health.status, 200, health.text);
    // node:https offers no ALPN at all: the server must still answer HTTP/1.1.
    assert.equal(health.alpn, false);
    assert.equal((JSON.parse(health.text) as { status: string }).status, "ok");
    const r = await httpsCall(`${base}/api/v1/evaluate`, "POST", ca, '{"action_type":"read","target":"crm"}');
    assert.equal(r.status, 200, r.text);
    assert.equal((JSON.parse(r.text) as { matched_rule: string }).matched_rule, "read_auto");
    const bad = await httpsCall(`${base}/api/v1/evaluate`, "POST", ca, "{");
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.text), { error: "Invalid JSON" });
  });

  test("gRPC over TLS with @grpc/grpc-js (cert as root)", async () => {
    client = grpcClient(server.authority, grpc.credentials.createSsl(Buffer.from(ca)), {
      "grpc.ssl_target_name_override": "localhost",
    });
    const res = await unary(
      client,
      GovernanceService.method.evaluate,
      create(EvaluateRequestSchema, { action: { actionType: "delete", target: "x" } }),
    );
    assert.equal(res.decision?.riskLevel, RiskLevel.CRITICAL);
    const health = await unary(
      client,
      Health.method.check,
      create(HealthCheckRequestSchema, { service: "" }),
    );
    assert.equal(health.status, HealthCheckResponse_ServingStatus.SERVING);
  });

  test("Connect (HTTP/1.1 and HTTP/2), gRPC-Web and gRPC transports over TLS", async () => {
    for (const { name, transport } of connectTransports(server.url, { nodeOptions: { ca } })) {
      const c = createClient(GovernanceService, transport);
      const res = await c.evaluate({ action: { actionType: "write", target: "db" } });
      assert.equal(res.decision?.matchedRule, "write_approve", name);
    }
  });

  test("python3-grpcio over TLS", async () => {
    const results = await runPython(
      server.authority,
      [
        {
          path: methodPath(GovernanceService.method.evaluate),
          request: toBinary(
            EvaluateRequestSchema,
            create(EvaluateRequestSchema, { action: { actionType: "read" } }),
          ),
        },
      ],
      certPath,
    );
    const d = fromBinary(EvaluateResponseSchema, okBytes(results[0])).decision;
    assert.equal(d?.matchedRule, "read_auto");
  });
});
