#!/usr/bin/env node
// A Dockerfile parser and lint of our own (no Docker engine, no extra npm package), plus checks of
// .dockerignore and docker-compose.yaml that `docker-compose config` does not make.
// Usage: node scripts/check-dockerfile.mjs [DIR]  (exit 1 and one line per problem when any)
// test/e2e/docker-image.test.ts imports parseDockerfile() and dockerignoreExcludes() from here.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const INSTRUCTIONS = new Set([
  "ADD",
  "ARG",
  "CMD",
  "COPY",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "FROM",
  "HEALTHCHECK",
  "LABEL",
  "MAINTAINER",
  "ONBUILD",
  "RUN",
  "SHELL",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
]);

/**
 * Parses a Dockerfile into stages of instructions.
 * Each instruction: { line, keyword, flags: {name: value}, args: string, exec: string[] | null }.
 * `exec` is the JSON array of exec-form ENTRYPOINT/CMD/RUN/SHELL/VOLUME (and of HEALTHCHECK CMD).
 */
export function parseDockerfile(text) {
  const lines = text.split(/\r?\n/);
  const directives = {};
  const instructions = [];
  let i = 0;
  // Parser directives: `# name=value` lines at the very top.
  while (i < lines.length) {
    const m = /^#\s*([a-z]+)\s*=\s*(\S+)\s*$/i.exec(lines[i] ?? "");
    if (!m) break;
    directives[m[1].toLowerCase()] = m[2];
    i++;
  }
  while (i < lines.length) {
    const startLine = i + 1;
    let raw = lines[i++] ?? "";
    if (/^\s*(#|$)/.test(raw)) continue;
    // Line continuations; comment lines inside a continued instruction are dropped (as Docker does).
    while (/\\\s*$/.test(raw) && i < lines.length) {
      raw = raw.replace(/\\\s*$/, " ");
      const next = lines[i++] ?? "";
      if (/^\s*#/.test(next)) {
        raw += "\\";
        continue;
      }
      raw += next.trim();
    }
    const m = /^\s*(\S+)\s*(.*)$/.exec(raw);
    if (!m) continue;
    const keyword = m[1].toUpperCase();
    let rest = m[2].trim();
    const flags = {};
    while (/^--[a-z-]+(=\S*)?(\s|$)/i.test(rest)) {
      const f = /^--([a-z-]+)(?:=(\S*))?\s*/i.exec(rest);
      flags[f[1]] = f[2] ?? "true";
      rest = rest.slice(f[0].length);
    }
    let exec = null;
    let execError = null;
    let jsonText = rest;
    if (keyword === "HEALTHCHECK" && /^CMD\s/i.test(rest)) jsonText = rest.replace(/^CMD\s+/i, "");
    if (jsonText.startsWith("[")) {
      try {
        const parsed = JSON.parse(jsonText);
        if (Array.isArray(parsed) && parsed.every((s) => typeof s === "string")) exec = parsed;
        else execError = "exec form must be a JSON array of strings";
      } catch (err) {
        execError = `exec form is not valid JSON: ${err.message}`;
      }
    }
    instructions.push({ line: startLine, keyword, flags, args: rest, exec, execError });
  }
  const stages = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(ins.args);
      stages.push({ line: ins.line, image: m?.[1] ?? ins.args, name: m?.[2] ?? null, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { directives, instructions, stages };
}

/** `ENV a=b c="d e"` -> [["a","b"],["c","d e"]]; `${X}`/`$X` references are left as written. */
export function parseEnvArgs(args) {
  const out = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of args.matchAll(re)) {
    let v = m[2];
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1], v]);
  }
  return out;
}

function globToRegExp(pattern) {
  let re = "";
  for (let k = 0; k < pattern.length; k++) {
    const c = pattern[k];
    if (c === "*" && pattern[k + 1] === "*") {
      re += ".*";
      k++;
      if (pattern[k + 1] === "/") k++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Reads .dockerignore into [{negate, regex}] in file order. */
export function readDockerignore(dir) {
  const path = join(dir, ".dockerignore");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const p = (negate ? l.slice(1) : l).replace(/^\/+/, "").replace(/\/+$/, "");
      return { negate, regex: globToRegExp(p), pattern: l };
    });
}

/** Docker's rule: the last pattern that matches the path or one of its parent directories wins. */
export function dockerignoreExcludes(rules, relPath) {
  const parts = relPath.split("/");
  const candidates = parts.map((_, k) => parts.slice(0, k + 1).join("/"));
  let excluded = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.regex.test(c))) excluded = !rule.negate;
  }
  return excluded;
}

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** Lints the Dockerfile in `dir`; returns a list of "Dockerfile:LINE: problem" strings. */
export function lintDockerfile(dir) {
  const problems = [];
  const text = readFileSync(join(dir, "Dockerfile"), "utf8");
  const { stages, instructions } = parseDockerfile(text);
  const at = (ins, msg) => problems.push(`Dockerfile:${ins.line}: ${msg}`);
  const ignore = readDockerignore(dir);
  if (ignore.length === 0) problems.push(".dockerignore: missing or empty");

  for (const ins of instructions) {
    if (!INSTRUCTIONS.has(ins.keyword)) at(ins, `unknown instruction ${ins.keyword}`);
    if (ins.execError) at(ins, `${ins.keyword}: ${ins.execError}`);
    if (ins.keyword === "MAINTAINER") at(ins, "MAINTAINER is deprecated; use a LABEL");
  }
  if (stages.length === 0) return [...problems, "Dockerfile: no FROM"];
  if (instructions[0]?.keyword !== "FROM" && instructions[0]?.keyword !== "ARG") {
    problems.push("Dockerfile: the first instruction must be FROM (or ARG)");
  }

  const names = new Set();
  for (const stage of stages) {
    const fromIns = { line: stage.line };
    if (names.has(stage.image)) {
      // FROM an earlier stage.
    } else if (
      !/^[^:@\s]+(:[^\s@]+|@sha256:[0-9a-f]{64})$/.test(stage.image.replace(/^[^/]+\.[^/]+\//, ""))
    ) {
      at(fromIns, `FROM ${stage.image}: pin the image with a tag or digest`);
    } else if (/:latest$/.test(stage.image)) {
      at(fromIns, `FROM ${stage.image}: "latest" is not a pin`);
    }
    if (stage.name) names.add(stage.name);
    const seen = {};
    for (const ins of stage.instructions) {
      seen[ins.keyword] = (seen[ins.keyword] ?? 0) + 1;
      if (ins.keyword === "WORKDIR" && !ins.args.startsWith("/")) at(ins, "WORKDIR must be absolute");
      if (ins.keyword === "ENV" && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(ins.args)) {
        at(ins, "ENV: use the KEY=value form");
      }
      if (ins.keyword === "ADD") at(ins, "ADD: use COPY (ADD fetches URLs and unpacks archives)");
      if (ins.keyword === "RUN") {
        if (/\bnpm (install|i)\b/.test(ins.args))
          at(ins, "RUN: use `npm ci` (the lockfile), not npm install");
        if (/\bsudo\b/.test(ins.args)) at(ins, "RUN: no sudo in a Dockerfile");
        if (/\b(curl|wget)\b[^|]*\|\s*(ba)?sh\b/.test(ins.args))
          at(ins, "RUN: piping a download into a shell");
        if (/\bapt-get install\b/.test(ins.args) && !/--no-install-recommends/.test(ins.args)) {
          at(ins, "RUN: apt-get install without --no-install-recommends");
        }
      }
      if (ins.keyword === "COPY") {
        const from = ins.flags.from;
        if (from !== undefined && !names.has(from) && !/[:/]/.test(from)) {
          at(ins, `COPY --from=${from}: no earlier stage of that name`);
        }
        if (from === undefined) {
          const parts = ins.exec ?? ins.args.split(/\s+/);
          for (const src of parts.slice(0, -1)) {
            const rel = src.replace(/^\.\//, "").replace(/\/+$/, "");
            const abs = resolve(dir, rel);
            if (!existsSync(abs)) {
              at(ins, `COPY ${src}: not in the build context`);
              continue;
            }
            const files = statSync(abs).isDirectory() ? walk(abs) : [abs];
            const dropped = files.filter((f) => dockerignoreExcludes(ignore, relative(dir, f)));
            if (dropped.length > 0) {
              at(ins, `COPY ${src}: .dockerignore excludes ${relative(dir, dropped[0])}`);
            }
          }
        }
      }
    }
    for (const k of ["CMD", "ENTRYPOINT", "HEALTHCHECK"]) {
      if ((seen[k] ?? 0) > 1)
        problems.push(`Dockerfile: stage ${stage.name ?? stage.image} has ${seen[k]} ${k}`);
    }
  }

  const final = stages[stages.length - 1];
  const find = (k) => final.instructions.filter((ins) => ins.keyword === k);
  const users = find("USER");
  const user = users[users.length - 1];
  if (!user) problems.push("Dockerfile: the final stage sets no USER (it would run as root)");
  else if (/^(root|0)(:|$)/.test(user.args)) at(user, "USER: the final stage must not run as root");
  for (const k of ["ENTRYPOINT", "CMD"]) {
    const ins = find(k).pop();
    if (!ins) problems.push(`Dockerfile: the final stage has no ${k}`);
    else if (!ins.exec) at(ins, `${k}: use the exec (JSON array) form so signals reach the server`);
  }
  const hc = find("HEALTHCHECK").pop();
  if (!hc) problems.push("Dockerfile: the final stage has no HEALTHCHECK");
  else if (!hc.exec) at(hc, "HEALTHCHECK: use CMD with the exec (JSON array) form");
  else if (hc.exec.some((a) => /\b(curl|wget)\b/.test(a)))
    at(hc, "HEALTHCHECK: the image has no curl or wget");
  if (find("EXPOSE").length === 0) problems.push("Dockerfile: the final stage has no EXPOSE");

  // The context must not ship local state.
  for (const p of ["node_modules/x", "dist/x", ".git/x", ".aegis/x", ".env"]) {
    if (!dockerignoreExcludes(ignore, p))
      problems.push(`.dockerignore: does not exclude ${p.replace("/x", "/")}`);
  }
  return problems;
}

/** Checks of docker-compose.yaml that `docker-compose config` does not make. */
export async function lintCompose(dir) {
  const problems = [];
  const { parse } = await import("yaml");
  const doc = parse(readFileSync(join(dir, "docker-compose.yaml"), "utf8"));
  const say = (msg) => problems.push(`docker-compose.yaml: ${msg}`);
  const services = doc?.services ?? {};
  const aegis = services.aegis;
  const db = services.postgres;
  if (!aegis) return ["docker-compose.yaml: no aegis service"];
  if (!db) say("no postgres service");
  else {
    if (!/^postgres:\d+/.test(String(db.image))) say("postgres: pin the image to a major version");
    if (!db.healthcheck) say("postgres: no healthcheck");
    if (!(db.volumes ?? []).some((v) => String(v).split(":")[0] in (doc.volumes ?? {}))) {
      say("postgres: its data is not on a named volume");
    }
  }
  if (!aegis.healthcheck) say("aegis: no healthcheck");
  if (aegis.depends_on?.postgres?.condition !== "service_healthy") {
    say("aegis: must depend on postgres with condition service_healthy");
  }
  const env = aegis.environment ?? {};
  if (!String(env.DATABASE_URL ?? "").startsWith("postgres://")) say("aegis: no DATABASE_URL");
  const policyPath = String(env.AEGIS_POLICY_PATH ?? "");
  const policyMount = (aegis.volumes ?? [])
    .map((v) => String(v).split(":"))
    .find(([, target, mode]) => policyPath.startsWith(`${target}/`) && mode === "ro");
  if (!policyMount) say("aegis: AEGIS_POLICY_PATH must point into a directory mounted read-only");
  else if (!existsSync(join(dir, policyMount[0], policyPath.slice(policyMount[1].length + 1)))) {
    say(`aegis: ${policyPath} is not in ${policyMount[0]}`);
  }
  if (aegis.read_only !== true) say("aegis: read_only: true");
  if (!(aegis.tmpfs ?? []).includes("/tmp")) say("aegis: tmpfs /tmp");
  if (!(aegis.cap_drop ?? []).includes("ALL")) say("aegis: cap_drop ALL");
  if (!(aegis.security_opt ?? []).some((o) => String(o).startsWith("no-new-privileges"))) {
    say("aegis: security_opt no-new-privileges");
  }
  const grace = /^(\d+)s$/.exec(String(aegis.stop_grace_period ?? ""));
  if (!grace || Number(grace[1]) < 15) say("aegis: stop_grace_period of at least 15s for the drain");
  return problems;
}

async function main() {
  const dir = resolve(process.argv[2] ?? join(fileURLToPath(import.meta.url), "..", ".."));
  const problems = [...lintDockerfile(dir), ...(await lintCompose(dir))];
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`${problems.length} problem(s)`);
    process.exit(1);
  }
  console.log("Dockerfile, .dockerignore and docker-compose.yaml: no problems");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
