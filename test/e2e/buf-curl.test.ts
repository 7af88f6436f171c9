// `buf curl` (the @bufbuild/buf binary) knows nothing about Aegis but what server reflection tells it:
// it lists the services and calls Evaluate over gRPC, Connect and gRPC-Web (h2c).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { bufBin, exec, requireFile } from "../support/exec.js";
import { type ServerProcess, startServer } from "../support/server-process.js";

const KEY = "buf-curl-key";

function bufCurl(args: readonly string[]) {
  requireFile(bufBin, "the @bufbuild/buf dev dependency ships it (npm ci)");
  return exec(bufBin, ["curl", "--http2-prior-knowledge", ...args], { timeoutMs: 60_000 });
}

describe("buf curl through reflection alone", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ env: { AEGIS_API_KEY: KEY } });
  });
  after(async () => {
    await server?.kill();
  });

  for (const reflect of ["grpc-v1", "grpc-v1alpha"]) {
    test(`--list-services over reflection ${reflect}`, async () => {
      const r = await bufCurl([
        "--protocol",
        "grpc",
        "--reflect-protocol",
        reflect,
        "--reflect-header",
        `x-api-key: ${KEY}`,
        "--list-services",
        server.url,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const services = r.stdout.split("\n").map((s) => s.trim());
      for (const s of ["aegis.v1.GovernanceService", "grpc.health.v1.Health"]) {
        assert.ok(services.includes(s), `${s} not listed:\n${r.stdout}`);
      }
    });
  }

  test("--list-methods shows Evaluate and EvaluateBatch", async () => {
    const r = await bufCurl([
      "--protocol",
      "grpc",
      "--reflect-header",
      `x-api-key: ${KEY}`,
      "--list-methods",
      server.url,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /aegis\.v1\.GovernanceService\/Evaluate\b/);
    assert.match(r.stdout, /aegis\.v1\.GovernanceService\/EvaluateBatch\b/);
  });

  for (const protocol of ["grpc", "connect", "grpcweb"]) {
    test(`Evaluate over ${protocol} with the schema from reflection`, async () => {
      const r = await bufCurl([
        "--protocol",
        protocol,
        "--reflect-header",
        `x-api-key: ${KEY}`,
        "-H",
        `x-api-key: ${KEY}`,
        "-d",
        '{"action": {"actionType": "delete", "target": "storage", "params": {"force": true}}}',
        `${server.url}/aegis.v1.GovernanceService/Evaluate`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout) as { decision: Record<string, unknown> };
      assert.equal(body.decision["riskLevel"], "RISK_LEVEL_CRITICAL");
      assert.equal(body.decision["approval"], "APPROVAL_BLOCK");
      assert.equal(body.decision["matchedRule"], "delete_block");
    });
  }

  test("reflection and calls need the API key like every other RPC", async () => {
    const r = await bufCurl(["--protocol", "grpc", "--list-services", server.url]);
    assert.notEqual(r.code, 0, `listing without a key succeeded:\n${r.stdout}`);
    assert.match(r.stderr, /unauthenticated|not authenticated/i);
  });

  test("grpc.health.v1 Check through reflection needs no key for the call", async () => {
    const r = await bufCurl([
      "--protocol",
      "grpc",
      "--reflect-header",
      `x-api-key: ${KEY}`,
      "-d",
      '{"service": ""}',
      `${server.url}/grpc.health.v1.Health/Check`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { status: string }).status, "SERVING");
  });
});
