// Turning policy text or objects into compiled policies, with errors a person can act on: the
// engine's problems rendered (formatProblems) into one `invalid_argument` message naming the file,
// line and column, which is what a PUT answers with.

import { AegisError } from "../errors.js";
import { compilePolicyObject, formatProblems, PolicyLoadError, parsePolicy } from "../policy/index.js";
import type { CompileOptions, Policy } from "../policy/types.js";

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
