// Policy as shared, versioned state, with real `aegis serve` processes: three servers on one
// PostgreSQL (a PUT on one is served by all, convergence measured; history, diff, rollback,
// simulate over thousands of recorded actions; restarts keep the PUT, a changed file wins), the
// file-only mode, and one process on the embedded store giving the same results.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { request } from "../support/http.js";
import { createTestDatabase, loudNotRun, postgresUrl } from "../support/postgres.js";
import {
  defaultPolicyPath,
  makeTempDir,
  type ServerProcess,
  startServer,
  type TempDir,
} from "../support/server-process.js";

type Json = Record<string, unknown>;

const SEED = readFileSync(defaultPolicyPath, "utf8");
// The seed policy with writes blocked (a tightening an operator would preview).
const NO_WRITES = SEED.replace(
  /- name: write_approve\n(\s+)match: \{ type: "write\*" \}\n\s+risk_level: medium\n\s+approval: approve/,
  '- name: write_block\n$1match: { type: "write*" }\n$1risk_level: high\n$1approval: block',
);
const BLOCK_ALL = `rules:\n  - name: block_all\n    match: {type: "*"}\n    approval: block\n`;

async function rest(s: ServerProcess, method: string, path: string, body?: unknown) {
  const r = await request(s.url, method, path, body === undefined ? {} : { body });
  return { status: r.status, json: (r.json ?? {}) as Json };
}

async function decision(s: ServerProcess, action: Json = { action_type: "read", target: "crm" }) {
  const r = await rest(s, "POST", "/api/v1/evaluate", action);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** The scenarios every backend runs; `servers` share one database. */
function versionedPolicyScenarios(ctx: {
  servers: () => ServerProcess[];
  restartAll: (policyText?: string) => Promise<void>;
}) {
  test("every decision, /ready and GET /api/v1/policy report the active version and hash", async () => {
    for (const s of ctx.servers()) {
      const d = await decision(s);
      const ready = await rest(s, "GET", "/ready");
      const policy = await rest(s, "GET", "/api/v1/policy");
      assert.ok(Number.isSafeInteger(d["policy_version"]), JSON.stringify(d));
      assert.equal(ready.json["policy_version"], d["policy_version"]);
      assert.equal(ready.json["policy_hash"], d["policy_hash"]);
      assert.equal(policy.json["version"], d["policy_version"]);
      assert.equal(policy.json["hash"], d["policy_hash"]);
    }
  });

  test("a PUT on one server is served by every server, in order, within a second", async (t) => {
    const servers = ctx.servers();
    const times: number[] = [];
    for (let round = 0; round < 5; round++) {
      const via = servers[round % servers.length] as ServerProcess;
      const text = round % 2 === 0 ? BLOCK_ALL : SEED;
      const put = await rest(via, "PUT", "/api/v1/policy", { yaml: text, message: `round ${round}` });
      assert.equal(put.status, 200, JSON.stringify(put.json));
      const version = put.json["version"] as number;
      assert.ok(Number.isSafeInteger(version));
      const start = performance.now();
      const seen = new Map<ServerProcess, number[]>(servers.map((s) => [s, []]));
      for (;;) {
        const ds = await Promise.all(servers.map((s) => decision(s)));
        for (const [i, d] of ds.entries()) {
          seen.get(servers[i] as ServerProcess)?.push(d["policy_version"] as number);
        }
        if (ds.every((d) => d["policy_version"] === version)) {
          assert.ok(ds.every((d) => d["policy_hash"] === put.json["hash"]));
          break;
        }
        assert.ok(performance.now() - start < 1000, `not converged after 1 s: ${JSON.stringify(ds)}`);
      }
      times.push(performance.now() - start);
      // No replica ever went back to an older version than one it served.
      for (const versions of seen.values()) {
        for (let i = 1; i < versions.length; i++) {
          assert.ok((versions[i] as number) >= (versions[i - 1] as number), `went back: ${versions}`);
        }
      }
    }
    t.diagnostic(
      `convergence over ${servers.length} server(s): median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms`,
    );
  });

  test("history newest first; one version with its text; unknown ids 404", async () => {
    const s = ctx.servers()[0] as ServerProcess;
    const list = await rest(s, "GET", "/api/v1/policy/versions?limit=3");
    assert.equal(list.status, 200);
    const versions = list.json["versions"] as Json[];
    assert.equal(versions.length, 3);
    const ids = versions.map((v) => v["id"] as number);
    assert.deepEqual(
      [...ids].sort((a, b) => b - a),
      ids,
      "newest first",
    );
    for (const v of versions) {
      for (const k of [
        "id",
        "hash",
        "source",
        "principal",
        "message",
        "created_at",
        "rule_count",
        "active",
      ]) {
        assert.ok(k in v, `${k} in ${JSON.stringify(v)}`);
      }
    }
    assert.equal(versions[0]?.["active"], true);
    assert.equal(versions[0]?.["source"], "api");
    assert.equal(versions[0]?.["message"], "round 4");
    const older = await rest(s, "GET", `/api/v1/policy/versions?limit=2&after_id=${ids[2]}`);
    assert.ok((older.json["versions"] as Json[]).every((v) => (v["id"] as number) < (ids[2] as number)));

    const one = await rest(s, "GET", `/api/v1/policy/versions/${ids[1]}`);
    assert.equal(one.status, 200);
    assert.equal(one.json["text"], SEED, "round 3 put the seed policy back");
    assert.equal(one.json["active"], false);
    assert.equal((await rest(s, "GET", "/api/v1/policy/versions/987654")).status, 404);
    assert.equal((await rest(s, "POST", "/api/v1/policy/versions/987654:activate", {})).status, 404);
  });

  test("diff: versions, active and candidates; invalid candidates are 400 with line and column", async () => {
    const s = ctx.servers()[0] as ServerProcess;
    const d = await rest(s, "POST", "/api/v1/policy:diff", { from: { yaml: SEED }, to: { yaml: NO_WRITES } });
    assert.equal(d.status, 200, JSON.stringify(d.json));
    assert.deepEqual(
      (d.json["added"] as Json[]).map((r) => r["name"]),
      ["write_block"],
    );
    assert.deepEqual(
      (d.json["removed"] as Json[]).map((r) => r["name"]),
      ["write_approve"],
    );
    assert.equal(d.json["identical"], false);
    // The active policy (round 4 put BLOCK_ALL), named or implied.
    const same = await rest(s, "POST", "/api/v1/policy:diff", { from: "active", to: { yaml: BLOCK_ALL } });
    assert.equal(same.json["identical"], true);

    // A rule changed field by field, and defaults.
    const tweaked = SEED.replace("approval: block", "approval: approve").replace(
      "risk_level: medium\n  approval: approve",
      "risk_level: high\n  approval: block",
    );
    const c = await rest(s, "POST", "/api/v1/policy:diff", { from: { yaml: SEED }, to: { yaml: tweaked } });
    assert.equal(c.status, 200, JSON.stringify(c.json));
    const changed = c.json["changed"] as Json[];
    assert.deepEqual(
      changed.map((r) => [r["name"], (r["fields"] as Json[]).map((f) => [f["field"], f["from"], f["to"]])]),
      [["delete_block", [["approval", "block", "approve"]]]],
    );
    assert.deepEqual(
      (c.json["defaults"] as Json[]).map((f) => [f["field"], f["from"], f["to"]]),
      [
        ["default_risk_level", "MEDIUM", "HIGH"],
        ["default_approval", "approve", "block"],
      ],
    );

    const list = (await rest(s, "GET", "/api/v1/policy/versions?limit=2")).json["versions"] as Json[];
    const byId = await rest(s, "POST", "/api/v1/policy:diff", {
      from: String(list[1]?.["id"]),
      to: String(list[0]?.["id"]),
    });
    assert.equal(byId.status, 200);
    assert.equal(byId.json["identical"], false);

    const bad = await rest(s, "POST", "/api/v1/policy:diff", {
      to: { yaml: "rules:\n  - name: x\n    approval: maybe\n" },
    });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json["error"]), /3:\d+: rules\[0\]\.approval/);
    assert.equal((await rest(s, "POST", "/api/v1/policy:diff", { from: "987654" })).status, 404);
    assert.equal((await rest(s, "POST", "/api/v1/policy:diff", { from: "yesterday" })).status, 400);
  });

  test("the same service over Connect: history, diff and a rollback's codes", async () => {
    const s = ctx.servers()[0] as ServerProcess;
    const connect = (method: string, body: unknown) =>
      request(s.url, "POST", `/aegis.v1.PolicyService/${method}`, {
        body,
        headers: { "content-type": "application/json", "connect-protocol-version": "1" },
      });
    const list = await connect("ListPolicyVersions", { limit: 1 });
    assert.equal(list.status, 200, list.text);
    const versions = (list.json as Json)["versions"] as Json[];
    assert.equal(versions.length, 1);
    // Connect's JSON is proto3 JSON: int64 as a string, camelCase names.
    assert.equal(typeof versions[0]?.["id"], "string");
    assert.equal((list.json as Json)["activeId"], versions[0]?.["id"]);
    const diff = await connect("DiffPolicies", { from: { yaml: SEED }, to: { yaml: NO_WRITES } });
    assert.equal(diff.status, 200, diff.text);
    // proto3 JSON leaves out a false `identical`.
    assert.equal((diff.json as Json)["identical"], undefined);
    assert.deepEqual(
      ((diff.json as Json)["added"] as Json[]).map((r) => r["name"]),
      ["write_block"],
    );
    const missing = await connect("ActivatePolicyVersion", { id: "987654" });
    assert.equal(missing.status, 404);
    assert.equal((missing.json as Json)["code"], "not_found");
  });

  test("an invalid PUT is 400 with line and column and stores nothing", async () => {
    const s = ctx.servers()[0] as ServerProcess;
    const before = (await rest(s, "GET", "/api/v1/policy/versions?limit=1")).json["active_id"];
    const bad = await rest(s, "PUT", "/api/v1/policy", {
      yaml: "rules:\n  - name: x\n    approval: maybe\n",
    });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json["error"]), /3:\d+/);
    const afterPut = await rest(s, "GET", "/api/v1/policy/versions?limit=1");
    assert.equal(afterPut.json["active_id"], before);
    assert.equal((afterPut.json["versions"] as Json[])[0]?.["id"], before);
  });

  test("rollback makes an old version active everywhere as a new `rollback` version; the active one is a no-op", async () => {
    const servers = ctx.servers();
    const s = servers[servers.length - 1] as ServerProcess;
    const list = (await rest(s, "GET", "/api/v1/policy/versions?limit=2")).json["versions"] as Json[];
    const [active, previous] = list as [Json, Json];
    const r = await rest(s, "POST", `/api/v1/policy/versions/${previous["id"]}:activate`, {
      message: "undo round 4",
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json["changed"], true);
    const made = r.json["version"] as Json;
    assert.equal(made["source"], "rollback");
    assert.equal(made["rollback_of"], previous["id"]);
    assert.equal(made["hash"], previous["hash"]);
    assert.equal(made["message"], "undo round 4");
    assert.ok((made["id"] as number) > (active["id"] as number));
    const start = performance.now();
    for (;;) {
      const ds = await Promise.all(servers.map((x) => decision(x)));
      if (ds.every((d) => d["policy_version"] === made["id"])) break;
      assert.ok(performance.now() - start < 1000, "the rollback did not converge within 1 s");
    }
    const again = await rest(s, "POST", `/api/v1/policy/versions/${made["id"]}:activate`, {});
    assert.equal(again.status, 200);
    assert.equal(again.json["changed"], false);
    assert.equal((again.json["version"] as Json)["id"], made["id"]);
  });

  test("simulate replays thousands of recorded actions through the active policy and a candidate", async (t) => {
    const servers = ctx.servers();
    const s = servers[0] as ServerProcess;
    // Back to the seed policy, then record a known mix through every server.
    assert.equal((await rest(s, "PUT", "/api/v1/policy", { yaml: SEED })).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    const kinds = ["read_file", "write_db", "delete_user", "send_mail"];
    const batches = 30;
    const perBatch = 100;
    for (let b = 0; b < batches; b++) {
      const actions = Array.from({ length: perBatch }, (_, i) => ({
        action_type: kinds[i % kinds.length],
        target: `t${b}`,
        agent_id: "sim-bot",
        params: { n: i },
      }));
      const via = servers[b % servers.length] as ServerProcess;
      const r = await rest(via, "POST", "/api/v1/execute:batch", { actions });
      assert.equal(r.status, 200, JSON.stringify(r.json).slice(0, 300));
    }
    const total = batches * perBatch;
    const sim = await rest(s, "POST", "/api/v1/policy:simulate", {
      candidate: { yaml: NO_WRITES },
      limit: total,
      agent_id: "sim-bot",
      examples: 3,
    });
    assert.equal(sim.status, 200, JSON.stringify(sim.json));
    assert.equal(sim.json["replayed"], total);
    const transitions = Object.fromEntries(
      (sim.json["transitions"] as Json[]).map((x) => [x["transition"], x]),
    );
    assert.equal(
      (transitions["approve -> block"] as Json)["count"],
      total / 4,
      "the writes and nothing else",
    );
    assert.equal((transitions["auto -> auto"] as Json)["count"], total / 4);
    assert.equal((transitions["block -> block"] as Json)["count"], total / 4);
    // send_mail falls to the default on both sides.
    assert.equal((transitions["approve -> approve"] as Json)["count"], total / 4);
    assert.equal(sim.json["changed"], total / 4);
    const examples = (transitions["approve -> block"] as Json)["examples"] as Json[];
    assert.equal(examples.length, 3);
    for (const e of examples) {
      assert.equal(e["action_type"], "write_db");
      assert.equal(e["from_rule"], "write_approve");
      assert.equal(e["to_rule"], "write_block");
      assert.ok(Number.isSafeInteger(e["audit_id"]));
    }
    t.diagnostic(
      `simulated ${total} actions: read ${(sim.json["read_seconds"] as number).toFixed(3)} s, evaluate ${(sim.json["evaluate_seconds"] as number).toFixed(3)} s`,
    );
    // Filters narrow the sample; the limit is capped, not refused.
    const writes = await rest(s, "POST", "/api/v1/policy:simulate", {
      candidate: { yaml: NO_WRITES },
      action_type: "write_db",
      limit: 10_000_000,
    });
    assert.equal(writes.status, 200);
    assert.equal(writes.json["limit"], 100_000);
    assert.equal(writes.json["replayed"], total / 4);
    // Read-only: the active version did not change.
    const ready = await rest(s, "GET", "/ready");
    assert.equal(ready.json["policy_hash"], (await decision(s))["policy_hash"]);
    const bad = await rest(s, "POST", "/api/v1/policy:simulate", { candidate: { yaml: "rules: [" } });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json["error"]), /\d+:\d+/);
    assert.equal((await rest(s, "POST", "/api/v1/policy:simulate", {})).status, 400);
  });

  test("restarts keep the PUT; an unchanged file does not undo it; a changed file at startup wins", async () => {
    const s = ctx.servers()[0] as ServerProcess;
    const put = await rest(s, "PUT", "/api/v1/policy", { yaml: BLOCK_ALL });
    assert.equal(put.status, 200);
    await ctx.restartAll();
    for (const x of ctx.servers()) {
      const d = await decision(x);
      assert.equal(d["policy_version"], put.json["version"], "the PUT survived the restart");
      assert.equal(d["matched_rule"], "block_all");
    }
    await ctx.restartAll(NO_WRITES);
    for (const x of ctx.servers()) {
      const d = await decision(x, { action_type: "write", target: "crm" });
      assert.equal(d["matched_rule"], "write_block", "the changed file is a deploy");
      assert.ok((d["policy_version"] as number) > (put.json["version"] as number));
    }
    const now = ctx.servers()[0] as ServerProcess;
    const head = ((await rest(now, "GET", "/api/v1/policy/versions?limit=1")).json["versions"] as Json[])[0];
    assert.equal(head?.["source"], "file");
    // Exactly one version for the deploy, however many replicas read the changed file.
    const list = (await rest(now, "GET", "/api/v1/policy/versions?limit=5")).json["versions"] as Json[];
    assert.equal(list[1]?.["id"], put.json["version"]);
  });
}

describe("policy versions: three servers on one PostgreSQL", async () => {
  const admin = await postgresUrl();
  if (admin === null) {
    loudNotRun("policy versions across three servers on PostgreSQL");
    test("PostgreSQL not reachable: the three-server policy version tests did not run", () => {});
    return;
  }
  let dir: TempDir;
  let drop: () => Promise<void>;
  let env: Record<string, string>;
  let policy: string;
  let servers: ServerProcess[] = [];
  const startAll = async () => {
    servers = await Promise.all([0, 1, 2].map(() => startServer({ policy, env })));
  };
  before(async () => {
    dir = makeTempDir("aegis-versions-");
    const db = await createTestDatabase(admin);
    drop = db.drop;
    env = { AEGIS_AUDIT_DB: db.url };
    policy = dir.file("policy.yaml", SEED);
    await startAll();
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await drop();
    dir.cleanup();
  });

  versionedPolicyScenarios({
    servers: () => servers,
    restartAll: async (text) => {
      await Promise.all(servers.map((s) => s.stop()));
      if (text !== undefined) writeFileSync(policy, text);
      await startAll();
    },
  });

  test("AEGIS_POLICY_SOURCE=file: PUT and rollback are 409 saying why; the file is what serves", async () => {
    const db = await createTestDatabase(admin);
    const fdir = makeTempDir("aegis-file-only-");
    const s = await startServer({
      policy: fdir.file("policy.yaml", SEED),
      env: { AEGIS_AUDIT_DB: db.url, AEGIS_POLICY_SOURCE: "file" },
    });
    try {
      const put = await rest(s, "PUT", "/api/v1/policy", { yaml: BLOCK_ALL });
      assert.equal(put.status, 409);
      assert.match(String(put.json["error"]), /AEGIS_POLICY_SOURCE=file/);
      const rb = await rest(s, "POST", "/api/v1/policy/versions/1:activate", {});
      assert.equal(rb.status, 409);
      assert.equal((await decision(s))["matched_rule"], "read_auto");
      // Reading stays open: history and diff work.
      assert.equal((await rest(s, "GET", "/api/v1/policy/versions")).status, 200);
    } finally {
      await s.stop();
      await db.drop();
      fdir.cleanup();
    }
  });
});

describe("policy versions: one process on the embedded store", () => {
  let dir: TempDir;
  let policy: string;
  let server: ServerProcess;
  const start = async () => {
    server = await startServer({ policy, env: { AEGIS_AUDIT_DB: join(dir.path, "data") } });
  };
  before(async () => {
    dir = makeTempDir("aegis-versions-embedded-");
    policy = dir.file("policy.yaml", SEED);
    await start();
  });
  after(async () => {
    await server.stop();
    dir.cleanup();
  });

  versionedPolicyScenarios({
    servers: () => [server],
    restartAll: async (text) => {
      await server.stop();
      if (text !== undefined) writeFileSync(policy, text);
      await start();
    },
  });
});
