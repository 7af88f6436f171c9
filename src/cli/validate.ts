// `aegis validate POLICY`: load a policy file, list its rules (exit 0) or every problem as
// `file:line:col: path: message` (exit 1). A missing or unreadable file is one line, exit 1.
import { readFile } from "node:fs/promises";
import {
  escapeUnsafe,
  formatProblem,
  PolicyLoadError,
  type PolicyProblem,
  parsePolicy,
} from "../policy/index.js";

const USAGE = "Usage: aegis validate POLICY\n";

// Everything printed that came from the policy (or its file name) goes through escapeUnsafe or
// formatProblem: a rule name holding "\n" or ESC must not forge lines or drive the terminal.
function located(file: string, p: PolicyProblem, kind?: string): string {
  const name = escapeUnsafe(file);
  const where = p.line !== undefined ? `${name}:${p.line}:${p.column ?? 1}` : name;
  const body = formatProblem({ path: p.path, message: p.message });
  return `${where}: ${kind ? `${kind}: ` : ""}${body}`;
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const files = args.filter((a) => a !== "--");
  if (files.length !== 1 || files[0]!.startsWith("-")) {
    process.stderr.write(`aegis validate: expected exactly one policy file\n${USAGE}`);
    return 1;
  }
  const file = files[0]!;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "permission denied"
            : err instanceof Error
              ? err.message
              : String(err);
    process.stderr.write(`aegis validate: cannot read ${escapeUnsafe(file)}: ${escapeUnsafe(why)}\n`);
    return 1;
  }
  try {
    const policy = parsePolicy(text, { sourceName: file });
    const out = [`Policy valid: ${policy.ruleCount} rule(s)`];
    for (const r of policy.view.rules) {
      const what = `${r.name}: ${r.match_type}@${r.match_target ?? "*"}`;
      out.push(`- ${escapeUnsafe(what)} -> ${r.risk_level}/${r.approval}`);
    }
    process.stdout.write(`${out.join("\n")}\n`);
    for (const w of policy.warnings) process.stderr.write(`${located(file, w, "warning")}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof PolicyLoadError)) throw err;
    for (const p of err.problems) process.stderr.write(`${located(file, p)}\n`);
    const n = err.problems.length;
    process.stderr.write(
      `${escapeUnsafe(file)}: invalid policy (${n === 1 ? "1 problem" : `${n} problems`})\n`,
    );
    return 1;
  }
}
