// The two errors the policy engine throws.
import { escapeUnsafe } from "./private/quote.js";
import type { PolicyProblem } from "./types.js";

/**
 * The one rendering of a problem, for the CLI, logs and API errors alike:
 * `file:line:col: kind: path: message`, leaving out the parts that are unknown. Paths and messages
 * quote user text already; escaping again here keeps one line per problem whatever a problem was
 * built from.
 */
export function formatProblem(p: PolicyProblem, options: { file?: string; kind?: string } = {}): string {
  const file = options.file === undefined || options.file === "" ? undefined : escapeUnsafe(options.file);
  const pos = p.line !== undefined ? `${p.line}:${p.column ?? 1}` : undefined;
  const where = [file, pos].filter((x) => x !== undefined).join(":");
  const kind = options.kind ? `${options.kind}: ` : "";
  const path = p.path !== "" ? `${escapeUnsafe(p.path)}: ` : "";
  return `${where ? `${where}: ` : ""}${kind}${path}${escapeUnsafe(p.message)}`;
}

/** Several problems, one line each. */
export function formatProblems(problems: readonly PolicyProblem[], file?: string): string {
  return problems.map((p) => formatProblem(p, { file })).join("\n");
}

/** A policy could not be loaded. `problems` lists every problem found, in document order. */
export class PolicyLoadError extends Error {
  override readonly name = "PolicyLoadError";
  readonly problems: PolicyProblem[];
  constructor(problems: readonly PolicyProblem[], sourceName?: string) {
    const lead = sourceName ? `${escapeUnsafe(sourceName)}: ` : "";
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(`invalid policy (${count}):\n${problems.map((p) => `  ${lead}${formatProblem(p)}`).join("\n")}`);
    this.problems = [...problems];
  }
}

/**
 * An action's param does not have a type its operator can use (say a string where a number is
 * compared). Never silently false: the request is refused (REST 400, gRPC invalid_argument).
 */
export class PolicyEvaluationError extends Error {
  override readonly name = "PolicyEvaluationError";
  /** The error code transports map to (400 / invalid_argument). */
  readonly code = "invalid_argument" as const;
  constructor(
    readonly rule: string,
    readonly operator: string,
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}
