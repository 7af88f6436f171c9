// `aegis diff A.yaml B.yaml`: what changes from policy A to policy B, in the lines the API's
// `POST /api/v1/policy:diff` describes (rules added, removed, changed field by field, defaults).
// Exit 0, or 1 when a policy cannot be loaded; with --exit-code (as git diff), 1 also when they differ.
import { ConfigError } from "../config.js";
import { diffPolicies, formatDiff } from "../policy/index.js";
import { parseCommandLine } from "./args.js";
import { loadPolicyFile } from "./policy-loader.js";

const USAGE = "Usage: aegis diff FROM.yaml TO.yaml [--exit-code]\n";

export async function run(args: string[]): Promise<number> {
  let files: string[];
  let exitCode = false;
  try {
    const { values, positionals } = parseCommandLine<{ "exit-code"?: boolean }>(
      args,
      { "exit-code": { type: "boolean" } },
      { min: 2, max: 2, what: "two policy files (from, to)" },
    );
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    files = positionals;
    exitCode = values["exit-code"] === true;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`aegis diff: ${err.message}\n${USAGE}`);
    return 1;
  }
  const from = await loadPolicyFile("diff", files[0] as string, process.stderr);
  const to = await loadPolicyFile("diff", files[1] as string, process.stderr);
  if (from === undefined || to === undefined) return 1;
  const lines = formatDiff(diffPolicies(from.view, to.view));
  if (lines.length === 0) {
    process.stdout.write(
      from.hash === to.hash ? "no changes\n" : "no rule or default changes (formatting or comments only)\n",
    );
    return 0;
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  return exitCode ? 1 : 0;
}
