// `aegis validate POLICY`: load a policy file, list its rules (exit 0) or every problem as
// `file:line:col: path: message` (exit 1). A missing or unreadable file is one line, exit 1.
import { readFile } from "node:fs/promises";
import { ConfigError } from "../config.js";
import { describeFsError } from "../fs-errors.js";
import { escapeUnsafe, formatProblem, PolicyLoadError, parsePolicy } from "../policy/index.js";
import { parseCommandLine } from "./args.js";

const USAGE = "Usage: aegis validate POLICY\n";

// Everything printed that came from the policy (or its file name) goes through formatProblem or
// escapeUnsafe: a rule name holding "\n" or ESC must not forge lines or drive the terminal.
export async function run(args: string[]): Promise<number> {
  let file: string;
  try {
    const { values, positionals } = parseCommandLine(
      args,
      {},
      { min: 1, max: 1, what: "exactly one policy file" },
    );
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    file = positionals[0] as string;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`aegis validate: ${err.message}\n${USAGE}`);
    return 1;
  }
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const why = describeFsError(err);
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
    for (const w of policy.warnings) process.stderr.write(`${formatProblem(w, { file, kind: "warning" })}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof PolicyLoadError)) throw err;
    for (const p of err.problems) process.stderr.write(`${formatProblem(p, { file })}\n`);
    const n = err.problems.length;
    process.stderr.write(
      `${escapeUnsafe(file)}: invalid policy (${n === 1 ? "1 problem" : `${n} problems`})\n`,
    );
    return 1;
  }
}
