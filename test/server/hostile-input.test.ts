// Hostile input through every transport: values the policy could misjudge or the audit trail
// could not store as the policy saw them are refused before any rule is tried, the same way on
// REST, Connect (JSON and binary), gRPC and gRPC-Web; big audit rows come back in bounded pages.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { GovernanceService } from "../../gen/aegis/v1/governance_service_pb.js";
import { createEmbeddedStore } from "../../src/audit/open-audit-store.js";
import { type AuditedExecutePipeline, createExecutePipeline } from "../../src/governance/execute-pipeline.js";
import type { AuditRecord } from "../../src/governance/types.js";
import { MEMORY_LOCATION } from "../../src/storage/index.js";
import { call, type Harness, startHarness } from "./harness.js";

let h: Harness;
let audit: AuditedExecutePipeline;
const PAGE_BYTES = 64 * 1024;

before(async () => {
  audit = createExecutePipeline({ store: await createEmbeddedStore({ location: MEMORY_LOCATION }) });
  h = await startHarness({ audit, maxAuditPageBytes: PAGE_BYTES });
});
after(async () => {
  await h.close();
  await audit.close();
});

function binaryTransports(baseUrl: string): Record<string, Transport> {
  return {
    "grpc h2c": createGrpcTransport({ baseUrl }),
    "grpc-web binary": createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
    "connect binary": createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  };
}

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  assert.fail("expected the call to fail");
}

async function auditRows(query = ""): Promise<AuditRecord[]> {
  const res = await call(`${h.url}/api/v1/audit?limit=10000${query}`, "GET");
  assert.equal(res.status, 200);
  return res.json as AuditRecord[];
}

describe("non-finite numbers never decide", () => {
  for (const name of ["grpc h2c", "grpc-web binary", "connect binary"]) {
    test(`${name}: NaN and Infinity in params are invalid_argument naming the param`, async () => {
      const transport = binaryTransports(h.url)[name];
      assert.ok(transport);
      const client = createClient(GovernanceService, transport);
      const before = (await auditRows()).length;
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        // order with total > 500 is blocked; a NaN total would otherwise skip that rule.
        const action = { actionType: "order", params: { total: bad } };
        const e1 = await failure(client.evaluate({ action }));
        assert.equal(e1.code, Code.InvalidArgument);
        assert.match(e1.rawMessage, /params\.total is (NaN|Infinity|-Infinity): numbers must be finite/);
        const e2 = await failure(client.execute({ action }));
        assert.equal(e2.code, Code.InvalidArgument);
        const e3 = await failure(client.executeBatch({ actions: [{ actionType: "read" }, action] }));
        assert.equal(e3.code, Code.InvalidArgument);
        assert.match(e3.rawMessage, /^actions\[1\]: params\.total/);
      }
      assert.equal((await auditRows()).length, before, "nothing was recorded");
    });
  }
});

describe("transports agree on validation", () => {
  test("chain_depth -5 is refused over REST and gRPC alike", async () => {
    const rest = await call(`${h.url}/api/v1/evaluate`, "POST", { action_type: "read", chain_depth: -5 });
    assert.equal(rest.status, 400);
    const grpc = createClient(GovernanceService, createGrpcTransport({ baseUrl: h.url }));
    const e = await failure(grpc.evaluate({ action: { actionType: "read", chainDepth: -5 } }));
    assert.equal(e.code, Code.InvalidArgument);
    assert.equal(e.rawMessage, (rest.json as { error: string }).error);
  });

  test("REST: NUL characters and unpaired surrogates are 400 naming the field", async () => {
    for (const [body, field] of [
      ['{"action_type":"read","params":{"note":"a\\u0000b"}}', "params.note"],
      ['{"action_type":"read","params":{"note":"\\ud800"}}', "params.note"],
      ['{"action_type":"read","description":"x\\u0000"}', "description"],
      ['{"action_type":"read","agent_id":"\\udfff"}', "agent_id"],
    ] as const) {
      const res = await call(`${h.url}/api/v1/execute`, "POST", body);
      assert.equal(res.status, 400, body);
      assert.ok(
        (res.json as { error: string }).error.startsWith(field),
        (res.json as { error: string }).error,
      );
    }
  });

  test("REST: a chain_depth beyond the int range is a 400, not a database error", async () => {
    const res = await call(`${h.url}/api/v1/execute`, "POST", { action_type: "read", chain_depth: 2 ** 40 });
    assert.equal(res.status, 400);
    assert.match((res.json as { error: string }).error, /^chain_depth must be an integer from 0/);
  });

  test("QueryAudit timestamps out of range are invalid_argument; REST impossible dates are 400", async () => {
    const client = createClient(GovernanceService, createGrpcTransport({ baseUrl: h.url }));
    const e = await failure(client.queryAudit({ since: { seconds: 10n ** 15n, nanos: 0 } }));
    assert.equal(e.code, Code.InvalidArgument);
    assert.match(e.rawMessage, /^since is out of range/);
    const e2 = await failure(client.queryAudit({ until: { seconds: 0n, nanos: -1 } }));
    assert.equal(e2.code, Code.InvalidArgument);
    for (const bad of [
      "2026-02-30T00:00:00Z",
      "2025-02-29T00:00:00Z",
      "2026-01-01T24:00:00Z",
      "2026-04-31T00:00:00Z",
    ]) {
      const res = await call(`${h.url}/api/v1/audit?since=${bad}`, "GET");
      assert.equal(res.status, 400, bad);
      assert.match((res.json as { error: string }).error, /does not exist/);
    }
    assert.equal((await call(`${h.url}/api/v1/audit?since=2024-02-29T00:00:00Z&limit=1`, "GET")).status, 200);
  });
});

describe("what the policy saw is what the audit records", () => {
  test("__proto__, constructor and prototype keys reach the audit row", async () => {
    const body =
      '{"action_type":"read","target":"proto-keys","params":{"__proto__":{"amount":1},"constructor":"c","prototype":[1]}}';
    const res = await call(`${h.url}/api/v1/execute`, "POST", body);
    assert.equal(res.status, 200);
    const [row] = await auditRows("&order=desc&limit=1");
    assert.ok(row);
    assert.equal(row.action_target, "proto-keys");
    // The REST body is parsed again here: JSON.parse keeps __proto__ as an own key.
    assert.ok(Object.hasOwn(row.action_params, "__proto__"));
    // jsonb keeps its own key order; the keys themselves must all be there.
    assert.deepEqual(Object.keys(row.action_params).sort(), ["__proto__", "constructor", "prototype"]);
    assert.deepEqual((row.action_params as Record<string, unknown>)["prototype"], [1]);
  });

  test("chain_depth is 0 when the request sends none", async () => {
    await call(`${h.url}/api/v1/execute`, "POST", { action_type: "read", target: "no-depth" });
    const rows = await auditRows("&order=desc&limit=5");
    assert.equal(rows.find((r) => r.action_target === "no-depth")?.chain_depth, 0);
  });
});

describe("big data stays bounded", () => {
  test("audit pages stop at the byte budget and say where to continue", async () => {
    const big = "x".repeat(20 * 1024);
    for (let i = 0; i < 12; i++) {
      const res = await call(`${h.url}/api/v1/execute`, "POST", {
        action_type: "read",
        target: `big-${i}`,
        params: { blob: big },
      });
      assert.equal(res.status, 200);
    }
    const seen: string[] = [];
    let url = `${h.url}/api/v1/audit?session_id=&action_type=read&limit=1000`;
    let pages = 0;
    for (;;) {
      const res = await call(url, "GET");
      assert.equal(res.status, 200);
      const rows = res.json as AuditRecord[];
      pages++;
      assert.ok(res.text.length < PAGE_BYTES + 25 * 1024, `page of ${res.text.length} bytes`);
      for (const r of rows) if (r.action_target.startsWith("big-")) seen.push(r.action_target);
      const link = res.headers.get("link");
      if (link === null) break;
      assert.equal(res.headers.get("x-page-truncated"), "bytes");
      const next = /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
      assert.ok(next);
      assert.equal(new URL(next, h.url).searchParams.get("after_id"), res.headers.get("x-next-after-id"));
      url = new URL(next, h.url).toString();
      assert.ok(pages < 20);
    }
    assert.ok(pages >= 4, `expected several pages, got ${pages}`);
    assert.deepEqual(
      seen,
      Array.from({ length: 12 }, (_, i) => `big-${i}`),
    );
  });

  test("QueryAudit over gRPC gives a next_page_token for a page the budget cut", async () => {
    const client = createClient(GovernanceService, createGrpcTransport({ baseUrl: h.url }));
    const first = await client.queryAudit({ actionType: "read", limit: 1000 });
    assert.ok(first.records.length < 12);
    assert.notEqual(first.nextPageToken, "");
    const second = await client.queryAudit({
      actionType: "read",
      limit: 1000,
      pageToken: first.nextPageToken,
    });
    assert.ok(second.records.length > 0);
    assert.ok(second.records[0]!.id > first.records.at(-1)!.id);
  });
});
