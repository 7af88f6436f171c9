// The policy engine's public surface. Pure: no file or network I/O, the clock only through
// CompileOptions.now. Load a policy from YAML text (parsePolicy) or from a plain object, the
// PUT body form (compilePolicyObject); both validate everything and throw PolicyLoadError listing
// every problem, or return an immutable compiled Policy whose evaluate() is the hot path.
import { compileSpec } from "./compile.js";
import { PolicyLoadError } from "./errors.js";
import type { CompileOptions, Policy } from "./types.js";
import { validatePolicy } from "./validate.js";
import { readYaml } from "./yaml-source.js";

export { formatProblem, formatProblems, PolicyEvaluationError, PolicyLoadError } from "./errors.js";
export type { Glob } from "./glob.js";
export { compileGlob } from "./glob.js";
export { MAX_POLICY_DEPTH } from "./plain-data.js";
export { escapeUnsafe } from "./private/quote.js";
export type * from "./types.js";
export { APPROVALS, DEFAULT_RULE_NAME, RISK_LEVELS } from "./validate.js";
/** YAML text with the position of every key and value (the keys file is read the same way). */
export { type Locator, readYaml, type YamlSource } from "./yaml-source.js";

export interface ParseOptions extends CompileOptions {
  /** Named in the PolicyLoadError message (e.g. the file path). */
  readonly sourceName?: string;
}

/** Loads a policy from YAML text. An empty document is a valid empty policy (MEDIUM / block). */
export function parsePolicy(text: string, options?: ParseOptions): Policy {
  const source = readYaml(text);
  if (source.problems.length > 0) throw new PolicyLoadError(source.problems, options?.sourceName);
  const result = validatePolicy(source.value, source.locate);
  if (!result.spec) throw new PolicyLoadError(result.problems, options?.sourceName);
  return compileSpec(result.spec, result.warnings, options, result.regexes);
}

/** Loads a policy from a plain object (the PUT /api/v1/policy body form). */
export function compilePolicyObject(doc: unknown, options?: CompileOptions): Policy {
  const result = validatePolicy(doc);
  if (!result.spec) throw new PolicyLoadError(result.problems);
  return compileSpec(result.spec, result.warnings, options, result.regexes);
}
export { diffPolicies, type FieldChange, formatDiff, type PolicyDiff, type RuleChange } from "./diff.js";
