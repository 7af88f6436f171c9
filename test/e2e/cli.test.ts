// The `aegis` command as a process: --version, startup errors (one clear message, exit 1),
// graceful shutdown on SIGTERM/SIGINT, and policy reload on SIGHUP and on file changes.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer as createNetServer, type Server } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { get, post, put } from "../support/http.js";
import { repoRoot } from "../support/paths.js";
import {
  type CliResult,
  defaultPolicyPath,
  makeTempDir,
  poll,
  runCli,
  startServer,
  writeTempPolicy,
} from "../support/server-process.js";

const version = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string })
  .version;

const policyWithRule = (name: string, approval = "auto") =>
  `version: "1"\nrules:\n  - name: ${name}\n    match: {type: "read*"}\n    risk_level: low\n    approval: ${approval}\n`;

/** Exit 1 with one `aegis: ...` line first on stderr, no stack trace. Returns that line. */
function assertStartupError(r: CliResult): string {
  assert.equal(r.code, 1, `exit code ${r.code} signal ${r.signal}\nstdout:${r.stdout}\nstderr:${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l.trim().length > 0);
  assert.ok(lines.length >= 1, `no message on stderr; stdout was:\n${r.stdout}`);
  const first = lines[0]!;
  assert.match(first, /^aegis: \S/);
  assert.ok(!/^\s+at /m.test(r.stderr), `stack trace on stderr:\n${r.stderr}`);
  assert.ok(!/^\s+at /m.test(r.stdout), `stack trace on stdout:\n${r.stdout}`);
  return first;
}

async function matchedRule(base: string): Promise<string> {
  const r = await post(base, "/api/v1/evaluate", { action_type: "read", target: "crm" });
  assert.equal(r.status, 200, r.text);
  return String((r.json as Record<string, unknown>)["matched_rule"]);
}

const serveArgs = (policy: string, port = "0") => ["serve", policy, "--host", "127.0.0.1", "--port", port];

describe("aegis CLI", () => {
  test("aegis --version prints the package version", async () => {
    const r = await runCli(["--version"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  });

  test("missing policy file: one line naming the file, exit 1", async () => {
    const missing = "/nonexistent/dir/policy.yaml";
    const first = assertStartupError(await runCli(serveArgs(missing)));
    assert.ok(first.includes(missing), first);
  });

  test("no argument, no AEGIS_POLICY_PATH and no ./policy.yaml: exit 1 naming policy.yaml", async () => {
    const dir = makeTempDir();
    try {
      const first = assertStartupError(
        await runCli(["serve", "--host", "127.0.0.1", "--port", "0"], { cwd: dir.path }),
      );
      assert.match(first, /policy\.yaml/);
    } finally {
      dir.cleanup();
    }
  });

  test("invalid policy: exit 1 with the line number of the problem", async () => {
    const { dir, path } = writeTempPolicy(
      'version: "1"\nrules:\n  - name: ok\n    match: {type: "read*"}\n    approval: auto\n  - name: bad\n    match: {type: "x"}\n    approval: sometimes\n',
    );
    try {
      const r = await runCli(serveArgs(path));
      assertStartupError(r);
      assert.match(r.stderr, /\b8\b/, `line 8 not named:\n${r.stderr}`);
      assert.match(r.stderr, /approval|sometimes/);
    } finally {
      dir.cleanup();
    }
  });

  test("invalid YAML syntax: exit 1 with a line number", async () => {
    const { dir, path } = writeTempPolicy('version: "1"\nrules:\n  - name: a\n    match: {type: "x"\n');
    try {
      const r = await runCli(serveArgs(path));
      assertStartupError(r);
      assert.match(r.stderr, /line|:\d+/i);
    } finally {
      dir.cleanup();
    }
  });

  test("port in use: exit 1 naming the port", async () => {
    const blocker: Server = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const first = assertStartupError(await runCli(serveArgs(defaultPolicyPath, String(port))));
      assert.ok(first.includes(String(port)) || /in use|EADDRINUSE/i.test(first), first);
    } finally {
      blocker.close();
    }
  });

  for (const [name, value] of [
    ["AEGIS_PORT", "abc"],
    ["AEGIS_PORT", "70000"],
    ["AEGIS_MAX_BATCH", "-3"],
    ["AEGIS_MAX_BODY_BYTES", "lots"],
    ["AEGIS_LOG_LEVEL", "LOUD"],
  ] as const) {
    test(`bad environment ${name}=${value}: one line naming the variable, exit 1`, async () => {
      const args = name === "AEGIS_PORT" ? ["serve", defaultPolicyPath] : serveArgs(defaultPolicyPath);
      const first = assertStartupError(await runCli(args, { env: { [name]: value }, timeoutMs: 20_000 }));
      assert.ok(first.includes(name), first);
    });
  }

  test("bad --port flag: exit 1", async () => {
    assertStartupError(await runCli(["serve", defaultPolicyPath, "--port", "eighty"], { timeoutMs: 20_000 }));
  });

  test("AEGIS_POLICY_PATH is used when no argument is given; AEGIS_LOG_LEVEL takes the seed's names", async () => {
    const { dir, path } = writeTempPolicy(policyWithRule("from_env"));
    const server = await startServer({
      policy: null,
      env: { AEGIS_POLICY_PATH: path, AEGIS_LOG_LEVEL: "WARNING" },
    });
    try {
      assert.equal(await matchedRule(server.url), "from_env");
    } finally {
      await server.kill();
      dir.cleanup();
    }
  });

  test("binding beyond loopback without keys logs a loud warning", async () => {
    const server = await startServer({ host: "0.0.0.0" });
    try {
      const warnings = server.logs.filter((l) => l.level === "warn" || l.level === 40 || l.level === "error");
      assert.ok(
        warnings.some(
          (l) =>
            /key|auth/i.test(JSON.stringify(l)) &&
            /0\.0\.0\.0|loopback|expos|network/i.test(JSON.stringify(l)),
        ),
        `no warning about an open non-loopback bind:\n${server.stdout}`,
      );
    } finally {
      await server.kill();
    }
  });
});

describe("shutdown", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} -> exit 0`, async () => {
      const server = await startServer();
      assert.equal((await get(server.url, "/health")).status, 200);
      const exit = await server.stop(signal);
      assert.equal(exit.code, 0, server.describe());
    });
  }

  test("SIGTERM: an in-flight request finishes, new connections are refused, exit 0", async () => {
    const server = await startServer();
    const body = '{"action_type": "read", "target": "crm"}';
    const half = Math.floor(body.length / 2);
    let finishInFlight: () => void = () => {};
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        `${server.url}/api/v1/evaluate`,
        {
          method: "POST",
          headers: { "content-type": "application/json", "content-length": String(body.length) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            text += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.write(body.slice(0, half));
      // The rest is sent once the listener has closed (below).
      finishInFlight = () => req.end(body.slice(half));
    });
    // The request's headers have reached the server once it has a connection; wait for the
    // server to accept it by asking over another connection first (ordering only, no timing).
    assert.equal((await get(server.url, "/health")).status, 200);
    await new Promise((r) => setTimeout(r, 200));
    server.child.kill("SIGTERM");
    await poll(
      async () => {
        try {
          await fetch(`${server.url}/health`, { headers: { connection: "close" } });
          return undefined;
        } catch {
          return true;
        }
      },
      { timeoutMs: 10_000, what: "new connections refused after SIGTERM" },
    );
    finishInFlight();
    const r = await response;
    assert.equal(r.status, 200, r.text);
    assert.equal((JSON.parse(r.text) as Record<string, unknown>)["matched_rule"], "read_auto");
    const exit = await server.exited;
    assert.equal(exit.code, 0, server.describe());
  });
});

describe("policy reload", () => {
  test("SIGHUP reloads the file (and replaces a policy set over the API)", async () => {
    const { dir, path } = writeTempPolicy(policyWithRule("first"));
    const server = await startServer({ policy: path });
    try {
      assert.equal(await matchedRule(server.url), "first");
      const r = await put(server.url, "/api/v1/policy", { yaml: policyWithRule("from_api") });
      assert.equal(r.status, 200);
      assert.equal(await matchedRule(server.url), "from_api");
      server.child.kill("SIGHUP");
      await poll(async () => ((await matchedRule(server.url)) === "first" ? true : undefined), {
        what: "SIGHUP to reload the unchanged file",
      });
      const p = await get(server.url, "/api/v1/policy");
      assert.equal((p.json as Record<string, unknown>)["source"], "file");
      assert.equal(server.exitInfo, undefined, "SIGHUP must not stop the server");
    } finally {
      await server.kill();
      dir.cleanup();
    }
  });

  test("the file is watched: in-place write, rename-save, invalid content ignored", async () => {
    const { dir, path } = writeTempPolicy(policyWithRule("v1"));
    const server = await startServer({ policy: path });
    try {
      assert.equal(await matchedRule(server.url), "v1");

      writeFileSync(path, policyWithRule("v2"));
      await poll(async () => ((await matchedRule(server.url)) === "v2" ? true : undefined), {
        what: "an in-place write to be picked up",
      });

      const tmp = join(dir.path, ".policy.yaml.swp");
      writeFileSync(tmp, policyWithRule("v3"));
      renameSync(tmp, path);
      await poll(async () => ((await matchedRule(server.url)) === "v3" ? true : undefined), {
        what: "a rename-save to be picked up",
      });

      const logCount = server.logs.length;
      writeFileSync(path, "rules:\n  - name: broken\n    approval: sometimes\n");
      await server.waitForNewLog(
        logCount,
        (l) => l.level === "error" || l.level === "warn" || l.level === 50 || l.level === 40,
        15_000,
        "a log line about the invalid policy file",
      );
      assert.equal(await matchedRule(server.url), "v3");
      assert.equal((await get(server.url, "/health")).status, 200);

      writeFileSync(path, policyWithRule("v4"));
      await poll(async () => ((await matchedRule(server.url)) === "v4" ? true : undefined), {
        what: "a valid write after an invalid one",
      });
    } finally {
      await server.kill();
      dir.cleanup();
    }
  });

  test("a Kubernetes ConfigMap-style symlink swap is seen", async () => {
    const dir = makeTempDir("aegis-cm-");
    try {
      mkdirSync(join(dir.path, "..2026_01"));
      writeFileSync(join(dir.path, "..2026_01", "policy.yaml"), policyWithRule("cm1"));
      symlinkSync("..2026_01", join(dir.path, "..data"));
      symlinkSync(join("..data", "policy.yaml"), join(dir.path, "policy.yaml"));
      const server = await startServer({ policy: join(dir.path, "policy.yaml") });
      try {
        assert.equal(await matchedRule(server.url), "cm1");
        mkdirSync(join(dir.path, "..2026_02"));
        writeFileSync(join(dir.path, "..2026_02", "policy.yaml"), policyWithRule("cm2"));
        symlinkSync("..2026_02", join(dir.path, "..data_tmp"));
        renameSync(join(dir.path, "..data_tmp"), join(dir.path, "..data"));
        await poll(async () => ((await matchedRule(server.url)) === "cm2" ? true : undefined), {
          what: "the ConfigMap swap to be picked up",
        });
      } finally {
        await server.kill();
      }
    } finally {
      dir.cleanup();
    }
  });
});
