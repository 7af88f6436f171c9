// `aegis init [-o FILE]`: write a commented starter policy (default ./policy.yaml; `-o -` prints
// it). Never overwrites an existing file.
import { writeFile } from "node:fs/promises";
import { ConfigError } from "../config.js";
import { parseCommandLine } from "./args.js";

const USAGE = "Usage: aegis init [-o FILE]   (default FILE: policy.yaml; -o - prints to stdout)\n";

export const STARTER_POLICY = `# Aegis policy: which actions an agent may take, and how much oversight each one needs.
# Check it with: aegis validate policy.yaml
#
# Rules are tried top to bottom; the first rule that matches decides. Patterns are globs:
# * matches anything (also / and .), ? one character, [abc] / [a-z] / [!abc] one character.
# risk_level: low | medium | high | critical      approval: auto | approve | block
version: "1"

# Anything no rule matches is blocked (fail closed).
defaults:
  risk_level: high
  approval: block

rules:
  # Reading is harmless: allow it without asking.
  - name: read_auto
    match: { type: "read*" }
    risk_level: low
    approval: auto
  - name: get_auto
    match: { type: "get*" }
    risk_level: low
    approval: auto
  - name: list_auto
    match: { type: "list*" }
    risk_level: low
    approval: auto

  # Writing changes state: a human approves each one.
  - name: write_approve
    match: { type: "write*" }
    risk_level: medium
    approval: approve

  # Deleting and running commands are never allowed.
  - name: delete_block
    match: { type: "delete*" }
    risk_level: critical
    approval: block
  - name: exec_block
    match: { type: "exec*" }
    risk_level: critical
    approval: block

  # Example with conditions (all must hold, else the next rule is tried):
  # - name: small_payments
  #   match: { type: "pay*", target: "*", agent: "billing-*" }
  #   conditions:
  #     param_lte: { amount: 100 }        # also param_eq, param_gt, param_lt, param_gte,
  #     time_after: "08:00"               # param_contains, param_matches (regex)
  #     time_before: "18:00"
  #     weekdays: [1, 2, 3, 4, 5]         # ISO: 1 = Monday
  #     timezone: "Europe/Paris"          # UTC unless set
  #   risk_level: medium
  #   approval: approve
`;

export async function run(args: string[]): Promise<number> {
  let output: string;
  try {
    const { values } = parseCommandLine<{ output?: string }>(
      args,
      { output: { type: "string", short: "o", valueName: "file name" } },
      { min: 0, max: 0, what: "no arguments" },
    );
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    output = values.output ?? "policy.yaml";
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`aegis init: ${err.message}\n${USAGE}`);
    return 1;
  }
  if (output === "-") {
    process.stdout.write(STARTER_POLICY);
    return 0;
  }
  if (output === "") {
    process.stderr.write(`aegis init: the output file name is empty\n`);
    return 1;
  }
  try {
    await writeFile(output, STARTER_POLICY, { flag: "wx" });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      process.stderr.write(
        `aegis init: ${output} already exists; not overwriting it (choose another file with -o)\n`,
      );
    } else {
      const why = code === "ENOENT" ? "no such directory" : err instanceof Error ? err.message : String(err);
      process.stderr.write(`aegis init: cannot write ${output}: ${why}\n`);
    }
    return 1;
  }
  process.stdout.write(`Wrote a starter policy to ${output}\nCheck it with: aegis validate ${output}\n`);
  return 0;
}
