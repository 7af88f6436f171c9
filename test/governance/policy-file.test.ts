// The policy file as a source: plain writes, rename-saves, Kubernetes ConfigMap symlink swaps,
// a forced reload (what SIGHUP does, see test/e2e/cli.test.ts), invalid files (ignored), and
// last-writer-wins against API updates.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { AegisError } from "../../src/errors.js";
import { loadPolicyFile, PolicyFileSource, PolicyHolder } from "../../src/governance/index.js";
import { parsePolicy } from "../../src/policy/index.js";

const A = `rules:\n  - name: a\n    match: {type: "read"}\n    approval: auto\n`;
const B = `rules:\n  - name: b\n    match: {type: "read"}\n    approval: block\n  - name: b2\n    match: {type: "x"}\n`;
const C = `rules:\n  - name: c\n    match: {type: "read"}\n`;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanups.splice(0)) f();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "aegis-holder-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Watched {
  readonly holder: PolicyHolder;
  readonly file: PolicyFileSource;
}

async function watched(path: string, errors: string[] = []): Promise<Watched> {
  const loaded = await loadPolicyFile(path);
  const holder = new PolicyHolder(loaded.policy, "file");
  const file = new PolicyFileSource(path, PolicyFileSource.holderSink(holder), loaded.hash, {
    debounceMs: 20,
    logger: { warn() {}, error: (o) => errors.push(JSON.stringify(o)) },
  });
  file.watch();
  cleanups.push(() => file.close());
  return { holder, file };
}

function ruleName(w: Watched): string | undefined {
  return w.holder.current.policy.view.rules[0]?.name;
}

describe("PolicyFileSource", () => {
  test("a missing file or an invalid policy is a clear error with the file and line", async () => {
    const dir = tempDir();
    await assert.rejects(loadPolicyFile(join(dir, "none.yaml")), (e: unknown) => {
      assert.ok(e instanceof AegisError);
      assert.match(e.message, /none\.yaml: no such file/);
      return true;
    });
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "rules:\n  - name: x\n    approval: maybe\n");
    await assert.rejects(loadPolicyFile(bad), (e: unknown) => {
      assert.ok(e instanceof AegisError);
      assert.match(e.message, /bad\.yaml:3:\d+/);
      return true;
    });
  });

  test("reloads when the file is rewritten in place", async () => {
    const dir = tempDir();
    const path = join(dir, "policy.yaml");
    writeFileSync(path, A);
    const h = await watched(path);
    assert.equal(ruleName(h), "a");
    writeFileSync(path, B);
    await until(() => ruleName(h) === "b", "in-place reload");
    assert.equal(h.holder.current.source, "file");
  });

  test("reloads after an editor's rename-save", async () => {
    const dir = tempDir();
    const path = join(dir, "policy.yaml");
    writeFileSync(path, A);
    const h = await watched(path);
    writeFileSync(join(dir, ".policy.yaml.swp"), B);
    renameSync(join(dir, ".policy.yaml.swp"), path);
    await until(() => ruleName(h) === "b", "rename-save reload");
  });

  test("reloads after a Kubernetes ConfigMap ..data symlink swap", async () => {
    const dir = tempDir();
    const v1 = join(dir, "..2025_01_01_v1");
    const v2 = join(dir, "..2025_01_01_v2");
    mkdirSync(v1);
    mkdirSync(v2);
    writeFileSync(join(v1, "policy.yaml"), A);
    writeFileSync(join(v2, "policy.yaml"), B);
    symlinkSync("..2025_01_01_v1", join(dir, "..data"));
    symlinkSync("..data/policy.yaml", join(dir, "policy.yaml"));
    const h = await watched(join(dir, "policy.yaml"));
    assert.equal(ruleName(h), "a");
    symlinkSync("..2025_01_01_v2", join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    await until(() => ruleName(h) === "b", "ConfigMap swap reload");
  });

  test("an invalid file is logged and ignored; a later valid one loads", async () => {
    const dir = tempDir();
    const path = join(dir, "policy.yaml");
    writeFileSync(path, A);
    const errors: string[] = [];
    const h = await watched(path, errors);
    writeFileSync(path, "rules: [{approval: maybe}]\n");
    await until(() => errors.length > 0, "the error log");
    assert.equal(ruleName(h), "a");
    writeFileSync(path, C);
    await until(() => ruleName(h) === "c", "recovery");
  });

  test("last writer wins: PUT, then a changed file, then a forced reload after another PUT", async () => {
    const dir = tempDir();
    const path = join(dir, "policy.yaml");
    writeFileSync(path, A);
    const h = await watched(path);
    h.holder.replace(parsePolicy(C), "api");
    assert.equal(h.holder.current.source, "api");
    writeFileSync(path, B);
    await until(() => ruleName(h) === "b", "file after PUT");
    assert.equal(h.holder.current.source, "file");

    h.holder.replace(parsePolicy(C), "api");
    const before = h.holder.current.loadedAt;
    // Unchanged bytes: an event-driven reload keeps the PUT, a forced one (SIGHUP) brings the file back.
    assert.equal(await h.file.reload(false, "file changed"), false);
    assert.equal(h.holder.current.source, "api");
    assert.equal(await h.file.reload(true, "SIGHUP"), true);
    assert.equal(h.holder.current.source, "file");
    assert.equal(ruleName(h), "b");
    assert.ok(h.holder.current.loadedAt >= before);
  });

  test("a deleted file keeps the active policy", async () => {
    const dir = tempDir();
    const path = join(dir, "policy.yaml");
    writeFileSync(path, A);
    const h = await watched(path);
    unlinkSync(path);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(ruleName(h), "a");
  });

  test("an empty file (a truncate before the write) is never activated", async () => {
    const dir = tempDir();
    const path = join(dir, "policy.yaml");
    writeFileSync(path, A);
    const h = await watched(path);
    writeFileSync(path, "");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ruleName(h), "a", "an empty file (a valid empty policy!) must not replace the active one");
    writeFileSync(path, C);
    await until(() => ruleName(h) === "c", "the write after the truncate");
    // Loaded directly (startup), an empty file is its own error, not an empty policy.
    await assert.rejects(loadPolicyFile(join(dir, "none.yaml")));
    writeFileSync(join(dir, "empty.yaml"), "");
    await assert.rejects(loadPolicyFile(join(dir, "empty.yaml")), /empty/);
  });

  test("truncate-then-write never exposes the shorter valid policy a half-written file is", async () => {
    const dir = tempDir();
    const path = join(dir, "policy.yaml");
    writeFileSync(path, B);
    const h = await watched(path);
    const served: number[] = [];
    const sample = setInterval(() => served.push(h.holder.current.policy.ruleCount), 1);
    cleanups.push(() => clearInterval(sample));
    // The first half of FULL is itself a valid policy with one rule; an editor that truncates
    // and writes in two chunks shows it for a moment.
    const FULL = `${A}  - name: a2\n    match: {type: "write"}\n    approval: block\n  - name: a3\n    match: {type: "x"}\n`;
    for (let i = 0; i < 3; i++) {
      writeFileSync(path, "");
      writeFileSync(path, A);
      await new Promise((r) => setTimeout(r, 5));
      writeFileSync(path, FULL);
      await until(() => h.holder.current.policy.ruleCount === 3, "the whole file");
      writeFileSync(path, B);
      await until(() => h.holder.current.policy.ruleCount === 2, "back to B");
    }
    clearInterval(sample);
    assert.ok(served.length > 10);
    assert.ok(!served.includes(1), `the one-rule half was served: ${served.join(",")}`);
    assert.ok(!served.includes(0), "an empty policy was served");
  });

  test("a file that keeps changing while being read is not loaded until two reads agree", async () => {
    const dir = tempDir();
    const path = join(dir, "policy.yaml");
    writeFileSync(path, A);
    // Every 10 ms a different valid policy: no two reads 50 ms apart agree.
    let n = 0;
    const churn = setInterval(() => writeFileSync(path, `${C}# ${n++}\n`), 10);
    cleanups.push(() => clearInterval(churn));
    await assert.rejects(loadPolicyFile(path), (e: unknown) => {
      assert.ok(e instanceof AegisError);
      assert.equal(e.code, "unavailable");
      assert.match(e.message, /kept changing/);
      return true;
    });
    clearInterval(churn);
    const loaded = await loadPolicyFile(path);
    assert.equal(loaded.policy.view.rules[0]?.name, "c");
  });
});
