// `aegis validate-keys FILE`: check a keys file (AEGIS_KEYS_FILE) and list its principals (exit 0),
// or print every problem as `file:line:col: message` (exit 1). Plain keys are warned about: the file
// should hold their SHA-256. Keys themselves are never printed.
import { readFile } from "node:fs/promises";
import { ConfigError } from "../config.js";
import { describeFsError } from "../fs-errors.js";
import { KeysFileError, parseKeysFile } from "../identity/index.js";
import { escapeUnsafe, formatProblem } from "../policy/index.js";
import { parseCommandLine } from "./args.js";

const USAGE = "Usage: aegis validate-keys FILE\n";

export async function run(args: string[]): Promise<number> {
  let file: string;
  try {
    const { values, positionals } = parseCommandLine(
      args,
      {},
      { min: 1, max: 1, what: "exactly one keys file" },
    );
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    file = positionals[0] as string;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`aegis validate-keys: ${err.message}\n${USAGE}`);
    return 1;
  }
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    process.stderr.write(`aegis validate-keys: cannot read ${escapeUnsafe(file)}: ${describeFsError(err)}\n`);
    return 1;
  }
  try {
    const keys = parseKeysFile(text, file);
    const out = [`Keys file valid: ${keys.entries.length} principal(s)`];
    for (const { principal } of keys.entries) {
      const binding = principal.agentBinding ? ` (agent_id ${principal.agentBinding.pattern})` : "";
      out.push(`- ${escapeUnsafe(principal.name)}: ${principal.role}${escapeUnsafe(binding)}`);
    }
    process.stdout.write(`${out.join("\n")}\n`);
    for (const w of keys.warnings) process.stderr.write(`${formatProblem(w, { file, kind: "warning" })}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof KeysFileError)) throw err;
    for (const p of err.problems) process.stderr.write(`${formatProblem(p, { file })}\n`);
    const n = err.problems.length;
    process.stderr.write(
      `${escapeUnsafe(file)}: invalid keys file (${n === 1 ? "1 problem" : `${n} problems`})\n`,
    );
    return 1;
  }
}
