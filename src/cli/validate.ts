// `aegis validate POLICY`: load a policy file, list its rules (exit 0) or every problem as
// `file:line:col: path: message` (exit 1). A missing or unreadable file is one line, exit 1.
import { ConfigError } from "../config.js";
import { escapeUnsafe } from "../policy/index.js";
import { parseCommandLine } from "./args.js";
import { loadPolicyFile } from "./policy-loader.js";

const USAGE = "Usage: aegis validate POLICY\n";

// Everything printed that came from the policy (or its file name) goes through formatProblem or
// escapeUnsafe (here and in policy-loader.ts): a rule name holding "\n" or ESC must not forge lines or drive the terminal.
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
  const policy = await loadPolicyFile("validate", file, process.stderr);
  if (policy === undefined) return 1;
  const out = [`Policy valid: ${policy.ruleCount} rule(s)`];
  for (const r of policy.view.rules) {
    const what = `${r.name}: ${r.match_type}@${r.match_target ?? "*"}`;
    out.push(`- ${escapeUnsafe(what)} -> ${r.risk_level}/${r.approval}`);
  }
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}
