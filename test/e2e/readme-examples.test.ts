// The README's examples, run against a live server: every ```sh block runs (in README order, on one
// server, in a scratch copy of the checkout), except the ones listed in NOT_RUN with the reason.
// A ```json block right after a shell block is its expected output (one or more JSON values,
// compared as data; values that change from run to run, such as timestamps and hashes, are not
// compared); a ```text block is its exact expected output. The ```ts programmatic example is
// compiled and run too, and must print the lines of the ```text block after it.
// `localhost:8000` in the examples becomes the test server's address; `aegis` is the built CLI.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import ts from "typescript";
import { cliPath, repoRoot } from "../support/paths.js";
import { defaultPolicyPath, type ServerProcess, startServer } from "../support/server-process.js";

/** Shell blocks this test does not run, each found by a piece of its text, and why. */
const NOT_RUN: ReadonlyArray<{ readonly contains: string; readonly why: string }> = [
  {
    contains: "npm ci && npm start",
    why: "installs and then serves on port 8000 in the foreground; this test starts the same `aegis serve examples/policy.yaml` itself, on a free port",
  },
  { contains: "npm test", why: "the test suite itself" },
  {
    contains: "docker build -t aegis-server .",
    why: "no Docker engine here; test/e2e/docker-image.test.ts repeats the image with bubblewrap",
  },
  {
    contains: "docker run --rm -v",
    why: "no Docker engine here; docker-image.test.ts runs `validate` and the default command in the rebuilt image",
  },
  {
    contains: "docker compose up -d",
    why: "no Docker engine here; CI checks the file with `docker-compose config` and scripts/check-dockerfile.mjs",
  },
  {
    contains: "aegis serve policy.yaml",
    why: "serves random keys in the foreground; the key examples after it run against a server started with the keys they name",
  },
  {
    contains: "examples/run-clients.sh",
    why: "CI runs it as a step of its own (.ci/run), building the Go and Java clients once",
  },
];

/** Keys whose values change from run to run (or release to release). */
const VOLATILE = new Set([
  "timestamp",
  "loaded_at",
  "version",
  "policy_hash",
  "policy_version",
  "policyVersion",
  "hash",
  "policyHash",
  "registered_at",
  "last_heartbeat",
  "uptime_seconds",
  "suspended_at",
  "created_at",
  "read_seconds",
  "evaluate_seconds",
]);

interface Block {
  readonly lang: string;
  readonly code: string;
  readonly line: number;
}

function readBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i] ?? "");
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ""); i++) body.push(lines[i] ?? "");
    blocks.push({ lang: open[1] ?? "", code: body.join("\n"), line: start + 1 });
  }
  return blocks;
}

/** The block right after `index` when only blank lines separate them. */
function expectationOf(markdown: string, blocks: readonly Block[], index: number): Block | undefined {
  const next = blocks[index + 1];
  const cur = blocks[index];
  if (!next || !cur) return undefined;
  const lines = markdown.split("\n");
  // 0-based: the opening fence is at cur.line - 1, the closing one right after the code.
  const closing = cur.line + cur.code.split("\n").length;
  const between = lines.slice(closing + 1, next.line - 1);
  return between.every((l) => l.trim() === "") && ["json", "text"].includes(next.lang) ? next : undefined;
}

/** Parses whitespace-separated JSON values. */
function jsonValues(text: string): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] ?? "")) i++;
    if (i >= text.length) break;
    // Find the shortest prefix that parses as a complete value.
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < text.length; j++) {
      const c = text[j];
      if (inString) {
        if (c === "\\") j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") depth--;
      else if (depth === 0 && /\s/.test(c ?? "")) break;
      if (depth === 0 && !inString && (c === "}" || c === "]" || c === '"')) {
        j++;
        break;
      }
    }
    const piece = text.slice(i, j);
    try {
      out.push(JSON.parse(piece));
    } catch {
      throw new Error(`not JSON at offset ${i}: ${text.slice(i, i + 200)}`);
    }
    i = j;
  }
  return out;
}

function scrub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrub);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        VOLATILE.has(k) ? "<varies>" : scrub(v),
      ]),
    );
  }
  return value;
}

interface RunResult {
  readonly status: number | null;
  readonly output: string;
}

function run(
  command: string,
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      output += s;
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      output += s;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
const blocks = readBlocks(readme);

describe("README examples", () => {
  let server: ServerProcess;
  let authServer: ServerProcess;
  let scratch: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    [server, authServer] = await Promise.all([
      startServer(),
      startServer({ env: { AEGIS_API_KEY: "agent-key", AEGIS_ADMIN_KEY: "admin-key" } }),
    ]);
    // A scratch checkout: the examples write files (generated clients, a bad policy) there.
    scratch = mkdtempSync(join(tmpdir(), "aegis-readme-"));
    for (const p of ["examples", "proto", "buf.yaml", "package.json"]) {
      cpSync(join(repoRoot, p), join(scratch, p), { recursive: true });
    }
    for (const p of ["node_modules", "dist"]) symlinkSync(join(repoRoot, p), join(scratch, p));
    const bin = join(scratch, ".bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "aegis"), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
    chmodSync(join(bin, "aegis"), 0o755);
    env = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (k.startsWith("AEGIS_") || k === "DATABASE_URL" || k.startsWith("npm_") || k === "NODE_OPTIONS")
        continue;
      env[k] = v;
    }
    // Debian's python3-grpcio imports only under /usr/bin/python3.
    env["PATH"] = [
      bin,
      join(repoRoot, "node_modules", ".bin"),
      "/usr/bin",
      "/bin",
      process.env["PATH"] ?? "",
    ].join(":");
  });

  after(async () => {
    await Promise.all([server?.kill(), authServer?.kill()]);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test("every shell block is either run here or listed in NOT_RUN, and every NOT_RUN entry names one", () => {
    const withAnswers = blocks.filter(
      (b, i) => b.lang === "sh" && expectationOf(readme, blocks, i) !== undefined,
    );
    assert.ok(withAnswers.length >= 15, `only ${withAnswers.length} shell blocks show their output`);
    const shell = blocks.filter((b) => b.lang === "sh");
    assert.ok(shell.length >= 20, `only ${shell.length} shell blocks found`);
    for (const entry of NOT_RUN) {
      const hits = shell.filter((b) => b.code.includes(entry.contains));
      assert.equal(
        hits.length,
        1,
        `NOT_RUN "${entry.contains}" must name exactly one block, names ${hits.length}`,
      );
    }
    for (const b of blocks) {
      assert.ok(
        ["sh", "json", "text", "yaml", "ts", "nginx"].includes(b.lang),
        `README.md:${b.line}: code block language "${b.lang}" (this test knows sh, json, text, yaml, ts, nginx)`,
      );
    }
  });

  test("every #anchor link names a heading", () => {
    const outside = readme.replace(/^```[\s\S]*?^```/gm, "");
    const slugs = new Set(
      [...outside.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
        (m[1] ?? "")
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, "")
          .replace(/ /g, "-"),
      ),
    );
    const links = [...outside.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1] ?? "");
    assert.ok(links.length > 5);
    for (const link of links)
      assert.ok(slugs.has(link), `#${link} names no heading (${[...slugs].join(", ")})`);
    const files = [...outside.matchAll(/\]\(([^)#:]+)\)/g)].map((m) => m[1] ?? "");
    assert.ok(files.length > 5);
    for (const f of files)
      assert.ok(existsSync(join(repoRoot, f)), `the README links to ${f}, which does not exist`);
  });

  // One test per block, in README order (they share the server, like a reader following along).
  blocks.forEach((block, index) => {
    if (block.lang !== "sh") return;
    const skip = NOT_RUN.find((e) => block.code.includes(e.contains));
    if (skip) return;
    const first = block.code.split("\n").find((l) => l.trim() !== "" && !l.startsWith("#")) ?? "";
    test(`README.md:${block.line}: ${first.slice(0, 70)}`, async () => {
      const target = block.code.includes("agent-key") ? authServer : server;
      const code = block.code
        .replaceAll("localhost:8000", target.authority)
        .replaceAll("127.0.0.1:8000", target.authority);
      const r = await run("bash", ["-euo", "pipefail", "-c", code], {
        cwd: scratch,
        env,
        timeoutMs: 120_000,
      });
      // A PUT changed the policy: put the file's back for the examples that follow.
      if (/-X PUT/.test(code)) {
        const res = await fetch(`${target.url}/api/v1/policy`, {
          method: "PUT",
          headers: { "content-type": "application/json", "x-api-key": "admin-key" },
          body: JSON.stringify({ yaml: readFileSync(defaultPolicyPath, "utf8") }),
        });
        assert.equal(res.status, 200, "restoring the default policy");
      }
      assert.equal(r.status, 0, `exit ${r.status}; output:\n${r.output}`);
      const expected = expectationOf(readme, blocks, index);
      if (!expected) return;
      if (expected.lang === "json") {
        assert.deepEqual(
          scrub(jsonValues(r.output)),
          scrub(jsonValues(expected.code)),
          `README.md:${expected.line} shows another answer; the server said:\n${r.output}`,
        );
      } else {
        const norm = (s: string) =>
          s
            .trim()
            .split("\n")
            .map((l) => l.trimEnd());
        assert.deepEqual(
          norm(r.output),
          norm(expected.code),
          `README.md:${expected.line}; got:\n${r.output}`,
        );
      }
    });
  });

  test("the programmatic example (```ts) compiles, runs and prints what the README shows", async () => {
    const index = blocks.findIndex((b) => b.lang === "ts" && b.code.includes("createServer"));
    const block = blocks[index];
    assert.ok(block, "the README has a ```ts block with createServer");
    const expected = expectationOf(readme, blocks, index);
    assert.ok(expected?.lang === "text", "a ```text block follows it");
    const js = ts.transpileModule(block.code, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
    }).outputText;
    // Inside the package, so that `import ... from "aegis-server"` resolves to this checkout.
    const file = join(repoRoot, "dist", `readme-example-${process.pid}.mjs`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, js);
    try {
      const r = await run(process.execPath, [file], { cwd: repoRoot, env, timeoutMs: 60_000 });
      assert.equal(r.status, 0, r.output);
      let at = 0;
      for (const line of expected.code.split("\n").filter((l) => l.trim() !== "")) {
        const found = r.output.indexOf(line.trim(), at);
        assert.ok(
          found >= 0,
          `README.md:${expected.line}: "${line}" not printed (in order); output:\n${r.output}`,
        );
        at = found + line.trim().length;
      }
    } finally {
      rmSync(file, { force: true });
    }
  });
});
