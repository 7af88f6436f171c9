// One way for every command to read a policy file (`validate`, `test`, `diff`), so a missing file
// or an invalid policy prints the same lines whichever command found it:
// `file:line:col: path: message` per problem, then `file: invalid policy (N problems)`.
import { readFile } from "node:fs/promises";
import { describeFsError } from "../fs-errors.js";
import {
  type CompileOptions,
  escapeUnsafe,
  formatProblem,
  PolicyLoadError,
  parsePolicy,
} from "../policy/index.js";
import type { Policy } from "../policy/types.js";

export interface Output {
  write(text: string): unknown;
}

/** Reads a file for `command`; undefined (with one line on `err`) when it cannot be read. */
export async function readInput(command: string, file: string, err: Output): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    err.write(`aegis ${command}: cannot read ${escapeUnsafe(file)}: ${escapeUnsafe(describeFsError(e))}\n`);
    return undefined;
  }
}

/**
 * Loads and compiles the policy in `file`; undefined when it cannot (every problem printed on
 * `err`). Warnings are printed too, and do not fail the load.
 */
export async function loadPolicyFile(
  command: string,
  file: string,
  err: Output,
  options?: CompileOptions,
): Promise<Policy | undefined> {
  const text = await readInput(command, file, err);
  if (text === undefined) return undefined;
  try {
    const policy = parsePolicy(text, { ...options, sourceName: file });
    for (const w of policy.warnings) err.write(`${formatProblem(w, { file, kind: "warning" })}\n`);
    return policy;
  } catch (e) {
    if (!(e instanceof PolicyLoadError)) throw e;
    for (const p of e.problems) err.write(`${formatProblem(p, { file })}\n`);
    const n = e.problems.length;
    err.write(`${escapeUnsafe(file)}: invalid policy (${n === 1 ? "1 problem" : `${n} problems`})\n`);
    return undefined;
  }
}
