// The Docker image without a Docker engine: this test reads the Dockerfile's runtime stage and
// repeats it on a copy of the project, then runs the result the way `docker run --read-only
// --tmpfs /tmp` would, using Debian's bubblewrap and setpriv:
//   - COPY from the context copies from this repository; COPY --from=build copies from this
//     repository's dist/ (the build stage is `npm ci`, which builds through `prepare`, exactly what
//     produced dist/ here); RUN runs each command as root in a sandbox whose only writable places
//     are /app (the image's new content) and the RUN's cache mount (bound to the host's npm cache);
//   - the server starts from ENTRYPOINT + CMD with the image's ENV, as the USER's uid/gid with no
//     capabilities and no-new-privs, in its own network namespace (so port 8000 is free), with a
//     read-only root filesystem made of the host's directories (standing in for the Debian base
//     image), the built /app read-only (so the baked policy is read-only), a tmpfs at /tmp and a
//     writable /app/data (the VOLUME);
//   - the HEALTHCHECK command runs the same way inside that network namespace and must succeed.
// Not repeated: the base image itself (the host's Debian and this test's Node stand in for
// node:24-slim; CI runs the suite under Node 24 too) and the build stage's own `npm ci`.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { parse as parseYaml } from "yaml";
import { repoRoot } from "../support/paths.js";
import { createTestDatabase, postgresUrl } from "../support/postgres.js";

interface Instruction {
  readonly line: number;
  readonly keyword: string;
  readonly flags: Readonly<Record<string, string>>;
  readonly args: string;
  readonly exec: readonly string[] | null;
}
interface Stage {
  readonly image: string;
  readonly name: string | null;
  readonly instructions: readonly Instruction[];
}
interface DockerfileLib {
  parseDockerfile(text: string): { stages: readonly Stage[] };
  parseEnvArgs(args: string): Array<[string, string]>;
}

const lib = (await import(
  pathToFileURL(join(repoRoot, "scripts", "check-dockerfile.mjs")).href
)) as DockerfileLib;
const dockerfile = lib.parseDockerfile(readFileSync(join(repoRoot, "Dockerfile"), "utf8"));

/** Where the sandbox finds `node`: the Node running this test, bound at /node/bin/node. */
const SANDBOX_NODE_DIR = "/node/bin";
/** node:24-slim's PATH, with the sandbox's node first. */
const BASE_PATH = `${SANDBOX_NODE_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

function tool(name: string): string {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const path = r.stdout.trim();
  if (r.status !== 0 || path === "") {
    throw new Error(`${name} is not installed: apt-get install bubblewrap util-linux (.ci/run does)`);
  }
  return path;
}

/** Expands $VAR and ${VAR} the way Dockerfile ENV does. */
function expand(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a, b) => {
    return env[(a ?? b) as string] ?? "";
  });
}

/** The runtime image, rebuilt under `root` (its /app is `root/app`). */
interface Image {
  readonly appDir: string;
  /** The host directory mounted at the VOLUME /app/data (the image's own, as a fresh volume is). */
  readonly dataDir: string;
  readonly env: Record<string, string>;
  readonly user: { uid: number; gid: number };
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly healthcheck: {
    readonly command: readonly string[];
    readonly flags: Readonly<Record<string, string>>;
  };
  readonly volumes: readonly string[];
  readonly exposed: readonly string[];
  readonly runs: readonly Instruction[];
}

/**
 * bwrap arguments for a root filesystem made of the host's top-level directories (read-only),
 * with `/app` bound from `appDir` (read-write only while building), `/tmp` a fresh tmpfs and
 * this test's node binary at /node/bin/node. The root itself is remounted read-only.
 */
function sandboxArgs(appDir: string, opts: { build: boolean; extraBinds?: string[] }): string[] {
  const args: string[] = ["--die-with-parent", "--unshare-pid", "--proc", "/proc", "--dev", "/dev"];
  for (const name of readdirSync("/").sort()) {
    if (["app", "proc", "dev", "tmp", "sys", "node"].includes(name)) continue;
    const path = `/${name}`;
    const st = lstatSync(path);
    if (st.isSymbolicLink()) args.push("--symlink", readlinkSync(path), path);
    else if (st.isDirectory()) args.push("--ro-bind", path, path);
  }
  args.push("--tmpfs", "/tmp");
  args.push("--ro-bind", process.execPath, `${SANDBOX_NODE_DIR}/node`);
  args.push(opts.build ? "--bind" : "--ro-bind", appDir, "/app");
  args.push(...(opts.extraBinds ?? []));
  args.push("--remount-ro", "/");
  return args;
}

/** Repeats the Dockerfile's final stage under `root`; returns what `docker inspect` would show. */
function buildImage(root: string): Image {
  const stages = dockerfile.stages;
  const final = stages[stages.length - 1];
  assert.ok(final, "the Dockerfile has no stage");
  const buildStage = stages.find((s) => s.name !== null && s !== final);
  assert.ok(buildStage, "the Dockerfile has no named build stage");
  // The build stage must be what produced this repository's dist/: the sources plus `npm ci`.
  const buildWorkdir = buildStage.instructions.find((i) => i.keyword === "WORKDIR")?.args ?? "";
  assert.ok(buildWorkdir.startsWith("/"), "the build stage sets an absolute WORKDIR");
  assert.ok(
    buildStage.instructions.some((i) => i.keyword === "RUN" && /(^|\s)npm ci(\s|$)/.test(i.args)),
    "the build stage runs npm ci (which builds through prepare)",
  );
  assert.ok(existsSync(join(repoRoot, "dist", "src", "cli", "main.js")), "dist/ is built (npm run build)");

  const appDir = join(root, "app");
  mkdirSync(appDir);
  const env: Record<string, string> = { PATH: BASE_PATH };
  let workdir = "/";
  let user: { uid: number; gid: number } = { uid: 0, gid: 0 };
  let entrypoint: readonly string[] = [];
  let cmd: readonly string[] = [];
  let healthcheck: Image["healthcheck"] | undefined;
  const volumes: string[] = [];
  const exposed: string[] = [];
  const runs: Instruction[] = [];
  /** /app/... -> the host path under root. */
  const hostPath = (p: string): string => {
    const abs = posix.resolve(workdir, p);
    assert.ok(abs === "/app" || abs.startsWith("/app/"), `the runtime stage writes outside /app: ${abs}`);
    return join(appDir, abs.slice("/app".length));
  };
  const npmCache = execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();

  for (const ins of final.instructions) {
    const where = `Dockerfile:${ins.line} ${ins.keyword}`;
    switch (ins.keyword) {
      case "ENV":
        for (const [k, v] of lib.parseEnvArgs(ins.args)) env[k] = expand(v, env);
        break;
      case "WORKDIR":
        workdir = posix.resolve(workdir, expand(ins.args, env));
        mkdirSync(hostPath("."), { recursive: true });
        break;
      case "COPY": {
        const parts = ins.exec ?? ins.args.split(/\s+/);
        const dest = parts[parts.length - 1] as string;
        for (const src of parts.slice(0, -1)) {
          let from: string;
          if (ins.flags["from"] !== undefined) {
            assert.equal(ins.flags["from"], buildStage.name, `${where}: --from names the build stage`);
            const rel = posix.relative(buildWorkdir, src);
            assert.ok(!rel.startsWith(".."), `${where}: ${src} is outside the build stage's ${buildWorkdir}`);
            from = join(repoRoot, rel);
          } else {
            from = join(repoRoot, src);
          }
          assert.ok(existsSync(from), `${where}: ${from} does not exist`);
          const target =
            dest.endsWith("/") || parts.length > 2
              ? join(hostPath(dest), posix.basename(src))
              : hostPath(dest);
          mkdirSync(dirname(target), { recursive: true });
          cpSync(from, target, { recursive: true });
        }
        break;
      }
      case "RUN": {
        runs.push(ins);
        const binds: string[] = [];
        for (const [k, v] of Object.entries(ins.flags)) {
          assert.equal(k, "mount", `${where}: RUN --${k} is not repeated by this test`);
          const mount = Object.fromEntries(v.split(",").map((kv) => kv.split("=") as [string, string]));
          assert.equal(mount["type"], "cache", `${where}: only cache mounts are repeated`);
          assert.ok(mount["target"], `${where}: cache mount without target`);
          // A cache mount is a persistent, writable directory: the host's npm cache plays it.
          binds.push("--bind", npmCache, mount["target"] as string);
        }
        const argv = ins.exec ?? ["/bin/sh", "-c", ins.args];
        const runEnv = {
          ...env,
          HOME: "/root",
          // Prefer the npm cache over revalidating with the registry (the cache mount's purpose).
          npm_config_prefer_offline: "true",
          npm_config_update_notifier: "false",
        };
        const r = spawnSync(
          tool("bwrap"),
          [...sandboxArgs(appDir, { build: true, extraBinds: binds }), "--chdir", workdir, "--", ...argv],
          { env: runEnv, encoding: "utf8", timeout: 240_000 },
        );
        assert.equal(r.status, 0, `${where} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
        break;
      }
      case "USER": {
        const m = /^(\d+)(?::(\d+))?$/.exec(ins.args.trim());
        assert.ok(m, `${where}: use a numeric uid[:gid] (this test does not read the image's /etc/passwd)`);
        user = { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
        break;
      }
      case "ENTRYPOINT":
        assert.ok(ins.exec, `${where}: exec form`);
        entrypoint = ins.exec;
        break;
      case "CMD":
        assert.ok(ins.exec, `${where}: exec form`);
        cmd = ins.exec;
        break;
      case "HEALTHCHECK":
        assert.ok(ins.exec, `${where}: exec form`);
        healthcheck = { command: ins.exec, flags: ins.flags };
        break;
      case "VOLUME":
        volumes.push(...(ins.exec ?? ins.args.split(/\s+/)));
        break;
      case "EXPOSE":
        exposed.push(...ins.args.split(/\s+/));
        break;
      case "LABEL":
      case "ARG":
      case "STOPSIGNAL":
        break;
      default:
        assert.fail(`${where}: not repeated by this test; teach it`);
    }
  }
  assert.ok(healthcheck, "the image has a HEALTHCHECK");
  return {
    appDir,
    dataDir: join(appDir, "data"),
    env,
    user,
    entrypoint,
    cmd,
    healthcheck,
    volumes,
    exposed,
    runs,
  };
}

/** bwrap + setpriv argv that runs `command` in the image as its USER, like `docker run --read-only`. */
function runArgs(
  image: Image,
  command: readonly string[],
  netnsOf?: number,
  binds: readonly string[] = [],
): string[] {
  const bwrap = [
    tool("bwrap"),
    ...sandboxArgs(image.appDir, {
      build: false,
      extraBinds: ["--bind", image.dataDir, "/app/data", ...binds],
    }),
    // The command is PID 1, as an exec-form ENTRYPOINT is in a container: SIGTERM reaches it only
    // when it handles the signal.
    "--as-pid-1",
    ...(netnsOf === undefined ? ["--unshare-net"] : []),
    "--chdir",
    "/app",
    "--",
    tool("setpriv"),
    `--reuid=${image.user.uid}`,
    `--regid=${image.user.gid}`,
    "--clear-groups",
    "--no-new-privs",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--",
    ...command,
  ];
  // Another process joins the server's network namespace, as `docker exec` (the health check) does.
  return netnsOf === undefined ? bwrap : [tool("nsenter"), `--net=/proc/${netnsOf}/ns/net`, "--", ...bwrap];
}

function runEnv(image: Image): NodeJS.ProcessEnv {
  // Docker sets HOME from the user's passwd entry (/home/node: read-only here, it does not exist).
  return { ...image.env, HOME: "/home/node", HOSTNAME: "aegis-test" };
}

interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a one-shot command in the image (in the server's network namespace when `netnsOf` is set).
 * Asynchronous, so that the server's output keeps flowing into this process meanwhile.
 */
function runOnce(
  image: Image,
  command: readonly string[],
  netnsOf?: number,
  timeoutMs = 30_000,
  binds: readonly string[] = [],
): Promise<RunResult> {
  const argv = runArgs(image, command, netnsOf, binds);
  return new Promise((resolve) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: runEnv(image),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function walkFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (lstatSync(p).isDirectory()) out.push(...walkFiles(p));
    else out.push(p);
  }
  return out;
}

const running = new Set<number>();
process.on("exit", () => {
  for (const pid of running) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
});

/** `docker run -e AEGIS_LOG_LEVEL=INFO IMAGE` (ENTRYPOINT + CMD) in the background, in its own network namespace. */
class Container {
  output = "";
  private constructor(
    readonly child: ChildProcess,
    /** The sandboxed server's pid as the host sees it (PID 1 of the sandbox's pid namespace). */
    readonly pid: number,
    readonly exited: Promise<number | null>,
  ) {}

  static async start(
    image: Image,
    opts: { command?: readonly string[]; env?: NodeJS.ProcessEnv; binds?: readonly string[] } = {},
  ): Promise<Container> {
    const argv = runArgs(image, opts.command ?? [...image.entrypoint, ...image.cmd], undefined, opts.binds);
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: opts.env ?? { ...runEnv(image), AEGIS_LOG_LEVEL: "INFO" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const chunks: string[] = [];
    let container: Container | undefined;
    const collect = (s: string): void => {
      if (container) container.output += s;
      else chunks.push(s);
    };
    child.stdout?.setEncoding("utf8").on("data", collect);
    child.stderr?.setEncoding("utf8").on("data", collect);
    // bwrap itself stays in the host's namespaces; its child is the sandboxed server.
    const deadline = Date.now() + 10_000;
    for (;;) {
      let kids = "";
      try {
        kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim();
      } catch {
        // bwrap not there (yet, or any more)
      }
      const pid = Number(kids.split(" ")[0]);
      if (pid > 0) {
        running.add(pid);
        container = new Container(child, pid, exited);
        container.output = chunks.join("");
        void exited.then(() => running.delete(pid));
        return container;
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the sandbox did not start:\n${chunks.join("")}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL to PID 1 ends the whole pid namespace (bwrap's --die-with-parent does not reach it). */
  async kill(): Promise<void> {
    if (!this.alive()) return;
    try {
      process.kill(this.pid, "SIGKILL");
    } catch {
      // gone
    }
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** `docker stop`: SIGTERM to PID 1, then the exit code (or "timeout" after `graceMs`). */
  async stop(graceMs: number): Promise<number | null | "timeout"> {
    process.kill(this.pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs `node -e <script>` (an ES module) in the container's network namespace; parses its JSON output. */
async function probe(
  image: Image,
  container: Container,
  script: string,
  binds: readonly string[] = [],
): Promise<Record<string, unknown>> {
  const r = await runOnce(image, ["node", "--input-type=module", "-e", script], container.pid, 30_000, binds);
  assert.equal(r.status, 0, `probe failed:\n${r.stdout}\n${r.stderr}\n${container.output}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Waits until the HEALTHCHECK command passes, as Docker retries it during the start period. */
/** Docker duration ("30s", "1m30s", "500ms") in milliseconds. */
function durationMs(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h)/g)) {
    ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  }
  return ms;
}

interface HealthTiming {
  readonly "start-period"?: string | undefined;
  readonly interval?: string | undefined;
  readonly retries?: string | undefined;
}

/**
 * Waits until the health check passes. Docker calls a container unhealthy only after the start
 * period plus `retries` failed checks `interval` apart; this polls faster and gives up then.
 */
async function waitHealthy(
  image: Image,
  container: Container,
  command: readonly string[] = image.healthcheck.command,
  binds: readonly string[] = [],
  timing: HealthTiming = image.healthcheck.flags,
): Promise<void> {
  const limit =
    durationMs(timing["start-period"], 0) +
    Number(timing.retries ?? "3") * durationMs(timing.interval, 30_000);
  const deadline = Date.now() + limit;
  for (;;) {
    assert.ok(container.alive(), `the server exited:\n${container.output}`);
    const r = await runOnce(image, command, container.pid, 10_000, binds);
    if (r.status === 0) return;
    assert.ok(
      Date.now() < deadline,
      `the health check still failed after ${limit} ms; last exit ${r.status}: ${r.stdout}${r.stderr}\n${container.output}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const SESSION = "docker-image-test";

describe("Docker image (the Dockerfile repeated with bubblewrap, no Docker engine)", () => {
  let root: string;
  let image: Image;
  const containers: Container[] = [];

  before(() => {
    root = mkdtempSync(join(tmpdir(), "aegis-docker-"));
    image = buildImage(root);
  });

  after(async () => {
    for (const c of containers) await c.kill();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test("the image is node:24 slim, multi-stage, and installs production dependencies only", () => {
    const stages = dockerfile.stages;
    assert.ok(stages.length >= 2, "multi-stage");
    for (const s of stages)
      assert.match(s.image, /^node:24(\.\d+)*-slim$/, "node:24 slim base, pinned to a tag");
    const install = image.runs.find((r) => /(^|\s)npm ci(\s|$)/.test(r.args));
    assert.ok(install, "the runtime stage runs npm ci");
    assert.match(install.args, /--omit=dev/);
    assert.match(install.args, /--ignore-scripts/);
    const modules = join(image.appDir, "node_modules");
    for (const prod of ["pg", "yaml", "pino", "@connectrpc/connect-node", "@electric-sql/pglite"]) {
      assert.ok(existsSync(join(modules, prod, "package.json")), `production dependency ${prod} installed`);
    }
    for (const dev of ["typescript", "@biomejs/biome", "@bufbuild/buf", "@grpc/grpc-js", "fast-check"]) {
      assert.ok(!existsSync(join(modules, dev)), `dev dependency ${dev} must not be in the image`);
    }
    assert.ok(!existsSync(join(image.appDir, "dist", "test")), "no compiled tests in the image");
    assert.ok(!existsSync(join(image.appDir, "src")), "no TypeScript sources in the image");
  });

  test("the image's metadata: non-root user, port 8000, /app/data volume, audit db on it", () => {
    assert.notEqual(image.user.uid, 0, "USER is not root");
    assert.deepEqual(image.exposed, ["8000"]);
    assert.deepEqual(image.volumes, ["/app/data"]);
    assert.equal(image.env["AEGIS_AUDIT_DB"], "/app/data/audit");
    assert.deepEqual(image.entrypoint, ["aegis"]);
    assert.deepEqual(image.cmd, ["serve", "/app/policy.yaml", "--host", "0.0.0.0", "--port", "8000"]);
    assert.equal(
      readFileSync(join(image.appDir, "policy.yaml"), "utf8"),
      readFileSync(join(repoRoot, "examples", "policy.yaml"), "utf8"),
      "the seed's default policy is baked in at /app/policy.yaml",
    );
    assert.equal(statSync(image.dataDir).uid, image.user.uid, "/app/data belongs to the image's user");
    assert.ok(!image.healthcheck.command.some((a) => /curl|wget/.test(a)), "the health check needs no curl");
    for (const f of walkFiles(image.appDir)) {
      const st = lstatSync(f);
      if (f.startsWith(image.dataDir) || st.isSymbolicLink()) continue;
      assert.equal(st.mode & 0o002, 0, `${f} is world-writable`);
    }
  });

  test("`docker run IMAGE validate ...` works: the entrypoint takes other sub-commands", async () => {
    const r = await runOnce(image, [...image.entrypoint, "validate", "/app/policy.yaml"]);
    assert.equal(r.status, 0, `aegis validate failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout + r.stderr, /read_auto/);
  });

  test("it serves read-only as a non-root user with a tmpfs /tmp; the HEALTHCHECK passes; SIGTERM stops it", async (t) => {
    const c = await Container.start(image);
    containers.push(c);
    t.after(() => c.kill());
    await waitHealthy(image, c);
    assert.match(c.output, /"msg":"listening"/);
    assert.match(c.output, /0\.0\.0\.0:8000/, "bound to 0.0.0.0:8000 as CMD says");

    // Ready (policy loaded, the embedded audit store on the volume answers); execute writes an audit
    // row although the root filesystem is read-only; the row comes back; writing elsewhere fails.
    const out = await probe(
      image,
      c,
      `const base = "http://127.0.0.1:8000";
      const ready = await fetch(base + "/ready");
      const exec = await fetch(base + "/api/v1/execute", { method: "POST",
        body: JSON.stringify({ action_type: "read", target: "crm", session_id: "${SESSION}" }) });
      const audit = await fetch(base + "/api/v1/audit?session_id=${SESSION}");
      let rootWritable = true;
      try { (await import("node:fs")).writeFileSync("/app/x", ""); } catch { rootWritable = false; }
      console.log(JSON.stringify({ ready: ready.status, readyBody: await ready.text(), exec: exec.status,
        execBody: await exec.json(), audit: await audit.json(), uid: process.getuid(), rootWritable }));`,
    );
    assert.equal(out["ready"], 200, `/ready: ${String(out["readyBody"])}`);
    assert.equal(out["exec"], 200, JSON.stringify(out["execBody"]));
    assert.equal((out["execBody"] as Record<string, unknown>)["status"], "success");
    const rows = out["audit"] as Array<Record<string, unknown>>;
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]?.["action_type"], "read");
    assert.equal(out["uid"], image.user.uid);
    assert.equal(out["rootWritable"], false, "/app is read-only");
    assert.ok(walkFiles(image.dataDir).length > 0, "the embedded audit store wrote to the /app/data volume");

    // `docker stop` (compose: stop_grace_period 30s): SIGTERM to PID 1, a clean exit.
    assert.equal(await c.stop(25_000), 0, `exit after SIGTERM:\n${c.output}`);
  });

  test("the /app/data volume keeps the audit trail across a restart", async (t) => {
    const c = await Container.start(image);
    containers.push(c);
    t.after(() => c.kill());
    await waitHealthy(image, c);
    const out = await probe(
      image,
      c,
      `const r = await fetch("http://127.0.0.1:8000/api/v1/audit?session_id=${SESSION}");
      console.log(JSON.stringify({ rows: await r.json() }));`,
    );
    assert.equal(
      (out["rows"] as unknown[]).length,
      1,
      `audit after restart: ${JSON.stringify(out)}\n${c.output}`,
    );
    assert.equal(await c.stop(25_000), 0, `exit after SIGTERM:\n${c.output}`);
  });
  test("docker-compose.yaml's aegis service runs: its command, env, read-only policy directory and PostgreSQL", async (t) => {
    interface ComposeService {
      command: string[];
      environment: Record<string, string | null>;
      volumes: string[];
      healthcheck: { test: string[]; start_period?: string; interval?: string; retries?: number };
      read_only: boolean;
      tmpfs: string[];
      cap_drop: string[];
      security_opt: string[];
      stop_grace_period: string;
    }
    const compose = parseYaml(readFileSync(join(repoRoot, "docker-compose.yaml"), "utf8")) as {
      services: { aegis: ComposeService };
    };
    const svc = compose.services.aegis;
    // What the sandbox gives every container run here; the compose file must ask for no more.
    assert.equal(svc.read_only, true);
    assert.deepEqual(svc.tmpfs, ["/tmp"]);
    assert.deepEqual(svc.cap_drop, ["ALL"]);
    assert.ok(svc.security_opt.some((o) => o.startsWith("no-new-privileges")));

    // compose's DATABASE_URL names its postgres service; here the same kind of database is this
    // machine's PostgreSQL (a fresh database), reached over its Unix socket: the sandbox has no network.
    const admin = await postgresUrl();
    assert.ok(admin, "PostgreSQL must be reachable (DATABASE_URL, or 127.0.0.1:5432): .ci/run starts it");
    const db = await createTestDatabase(admin);
    t.after(() => db.drop());
    const u = new URL(db.url);
    const socketDir = "/var/run/postgresql";
    assert.ok(
      existsSync(`${socketDir}/.s.PGSQL.${u.port || "5432"}`),
      `no PostgreSQL socket in ${socketDir}`,
    );
    const auth = u.password ? `${u.username}:${u.password}` : u.username;
    const databaseUrl = `postgres://${auth}@localhost${u.pathname}?host=${socketDir}&port=${u.port || "5432"}`;
    assert.match(String(svc.environment["DATABASE_URL"]), /^postgres:\/\/.*@postgres:5432\//);

    const env: NodeJS.ProcessEnv = { ...runEnv(image) };
    for (const [k, v] of Object.entries(svc.environment)) {
      if (v !== null && v !== "") env[k] = String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1");
    }
    env["DATABASE_URL"] = databaseUrl;
    // Volumes: `./dir:/path:ro` bind mounts; Docker creates the mount point, so the copy gets one.
    const binds: string[] = [];
    for (const v of svc.volumes) {
      const [src, dest, mode] = v.split(":") as [string, string, string | undefined];
      assert.ok(src.startsWith("./"), `only host-directory volumes are repeated: ${v}`);
      assert.equal(mode, "ro", `${v} is mounted read-only`);
      assert.ok(dest.startsWith("/app/"), `${v}: mount point inside /app`);
      mkdirSync(join(image.appDir, dest.slice("/app/".length)), { recursive: true });
      binds.push("--ro-bind", join(repoRoot, src), dest);
    }
    const policyFile = String(env["AEGIS_POLICY_PATH"]);
    const c = await Container.start(image, { command: [...image.entrypoint, ...svc.command], env, binds });
    containers.push(c);
    t.after(() => c.kill());
    assert.equal(svc.healthcheck.test[0], "CMD");
    const hc = svc.healthcheck;
    await waitHealthy(image, c, hc.test.slice(1), binds, {
      "start-period": hc.start_period,
      interval: hc.interval,
      retries: String(hc.retries),
    });
    assert.match(c.output, /0\.0\.0\.0:8000/);

    const out = await probe(
      image,
      c,
      `const base = "http://127.0.0.1:8000";
      const ready = await fetch(base + "/ready");
      const policy = await (await fetch(base + "/api/v1/policy")).json();
      const exec = await (await fetch(base + "/api/v1/execute", { method: "POST",
        body: JSON.stringify({ action_type: "delete", target: "crm", session_id: "compose" }) })).json();
      console.log(JSON.stringify({ ready: ready.status, readyBody: await ready.text(), policy, exec }));`,
      binds,
    );
    assert.equal(out["ready"], 200, String(out["readyBody"]));
    const policy = out["policy"] as { source: string; rules: Array<{ name: string }> };
    assert.equal(policy.source, "file");
    const expectedRules = [
      ...readFileSync(join(repoRoot, "examples", policyFile.slice("/app/policies/".length)), "utf8").matchAll(
        /- name: (\S+)/g,
      ),
    ].map((m) => m[1]);
    assert.deepEqual(
      policy.rules.map((r) => r.name),
      expectedRules,
      `the policy of AEGIS_POLICY_PATH=${policyFile}`,
    );
    assert.equal((out["exec"] as Record<string, unknown>)["status"], "blocked");

    // The row is in PostgreSQL (not in the embedded store on the data volume).
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const rows = await client.query(
        "SELECT action_type, result_status FROM audit_log WHERE session_id = 'compose'",
      );
      assert.deepEqual(rows.rows, [{ action_type: "delete", result_status: "blocked" }]);
    } finally {
      await client.end();
    }
    const grace = Number.parseInt(svc.stop_grace_period, 10);
    assert.equal(await c.stop(grace * 1000), 0, `exit after SIGTERM:\n${c.output}`);
  });
});
