// Through the packed package, as a user gets it: `npm pack`, unpacked into a temporary project's
// node_modules and imported by name. A custom executor that throws gives `failed` with its message
// in the audit row; a denying approval handler gives `denied` with human_decision "denied".
// Dependencies are linked from this checkout's node_modules (no registry access in tests).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { repoRoot } from "../support/paths.js";

const project = mkdtempSync(join(tmpdir(), "aegis-pack-"));
after(() => rmSync(project, { recursive: true, force: true }));

test("packed package: createServer with a throwing executor and a denying approval handler", () => {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const out = execFileSync(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", project], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  const [info] = JSON.parse(out) as { filename: string; name: string }[];
  assert.ok(info, "npm pack printed its result");
  const pkgDir = join(project, "node_modules", info.name);
  mkdirSync(pkgDir, { recursive: true });
  execFileSync("tar", ["xzf", join(project, info.filename), "-C", pkgDir, "--strip-components=1"]);
  const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  for (const dep of Object.keys(manifest.dependencies)) {
    const link = join(project, "node_modules", dep);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(repoRoot, "node_modules", dep), link, "dir");
  }
  writeFileSync(
    join(project, "policy.yaml"),
    [
      'version: "1"',
      "rules:",
      '  - { name: reads, match: { type: "read*" }, approval: auto, risk_level: low }',
      '  - { name: writes, match: { type: "write*" }, approval: approve }',
    ].join("\n"),
  );
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", type: "module", private: true }),
  );
  writeFileSync(
    join(project, "main.js"),
    `
import { createServer } from ${JSON.stringify(info.name)};
const executor = { async execute(action) { throw new Error("executor exploded on " + action.target); } };
const approvalHandler = { async approve() { return { approved: false, reason: "nobody home" }; } };
const server = await createServer({ policyPath: "policy.yaml", auditDb: "memory:", executor, approvalHandler,
  config: { logLevel: "error" } });
const { url } = await server.listen({ host: "127.0.0.1", port: 0 });
const post = async (body) => (await fetch(url + "/api/v1/execute", { method: "POST", body: JSON.stringify(body) })).json();
const failed = await post({ action_type: "read_file", target: "a.txt" });
const denied = await post({ action_type: "write_file", target: "b.txt" });
const audit = await (await fetch(url + "/api/v1/audit")).json();
await server.close();
console.log("RESULT " + JSON.stringify({ failed, denied, audit }));
`,
  );
  const run = spawnSync(process.execPath, ["main.js"], { cwd: project, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  const line = run.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  assert.ok(line, run.stdout);
  const { failed, denied, audit } = JSON.parse(line.slice(7)) as {
    failed: Record<string, unknown>;
    denied: Record<string, unknown>;
    audit: Record<string, unknown>[];
  };
  assert.equal(failed["status"], "failed");
  assert.equal(failed["error"], "executor exploded on a.txt");
  assert.equal(denied["status"], "denied");
  assert.match(String(denied["error"]), /nobody home/);
  assert.equal(audit.length, 2);
  const [a, b] = audit;
  assert.equal(a?.["result_status"], "failed");
  assert.equal(a?.["result_error"], "executor exploded on a.txt");
  assert.equal(a?.["human_decision"], null);
  assert.equal(b?.["result_status"], "denied");
  assert.equal(b?.["human_decision"], "denied");
  assert.equal(typeof a?.["id"], "number");
});
