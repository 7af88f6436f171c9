// Turning policy text or objects into compiled policies, with errors a person can act on.
// The policy engine reports structured problems; this module renders them as one message that
// names the file, line and column, which is what the CLI prints and what a PUT answers with.

import { AegisError } from "../errors.js";
import { compilePolicyObject, PolicyLoadError, parsePolicy } from "../policy/index.js";
import type { CompileOptions, Policy, PolicyProblem } from "../policy/types.js";

/** Renders load problems as one line per problem, prefixed with `file:line:column` when known. */
export function formatProblems(problems: readonly PolicyProblem[], file?: string): string {
  return problems
    .map((p) => {
      const where = [file, p.line, p.line !== undefined ? p.column : undefined]
        .filter((x) => x !== undefined && x !== "")
        .join(":");
      const path = p.path ? `${p.path}: ` : "";
      return `${where ? `${where}: ` : ""}${path}${p.message}`;
    })
    .join("\n");
}

/** Compiles YAML text; a load problem becomes an `invalid_argument` AegisError. */
export function compileText(text: string, opts?: CompileOptions, file?: string): Policy {
  try {
    return parsePolicy(text, opts);
  } catch (err) {
    throw toAegisError(err, file);
  }
}

/** Compiles a policy document given as an object (the JSON form of the YAML). */
export function compileObject(doc: unknown, opts?: CompileOptions): Policy {
  try {
    return compilePolicyObject(doc, opts);
  } catch (err) {
    throw toAegisError(err);
  }
}

function toAegisError(err: unknown, file?: string): unknown {
  if (err instanceof PolicyLoadError) {
    const detail = err.problems.length > 0 ? formatProblems(err.problems, file) : err.message;
    return new AegisError("invalid_argument", `Invalid policy: ${detail}`);
  }
  return err;
}
