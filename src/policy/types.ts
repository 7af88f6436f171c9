// The public vocabulary of the policy engine. Other concerns (governance, server, audit, cli)
// depend only on these types and on the functions exported from ./index.ts.

export type RiskLevel = "LOW" | "MEDIUM" | "HIGH" | "CRITICAL";
export type Approval = "auto" | "approve" | "block";

/** What an agent wants to do. `params` is the decoded JSON object (numbers are doubles). */
export interface Action {
  readonly actionType: string;
  readonly target: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** Matched against a rule's `match.agent`; absent means only `*`/`**` agent patterns match. */
  readonly agentId?: string | undefined;
}

export interface Decision {
  readonly riskLevel: RiskLevel;
  readonly approval: Approval;
  /** `approval !== "block"` */
  readonly isAllowed: boolean;
  /** The rule's name, or `"<default>"` when no rule matched. */
  readonly matchedRule: string;
}

/** The shape `GET /api/v1/policy` shows for one rule (snake_case is the REST contract). */
export interface RuleView {
  readonly name: string;
  readonly match_type: string;
  /** `null` when the rule has no target pattern. */
  readonly match_target: string | null;
  readonly match_agent: string | null;
  readonly risk_level: RiskLevel;
  readonly approval: Approval;
  /** The conditions as written (normalised), `null` when the rule has none. */
  readonly conditions: Readonly<Record<string, unknown>> | null;
}

export interface PolicyView {
  readonly default_risk_level: RiskLevel;
  readonly default_approval: Approval;
  readonly rules: readonly RuleView[];
}

/** A validated, compiled, immutable policy. Evaluation is pure and allocation-light. */
export interface Policy {
  /** First matching rule wins; throws PolicyEvaluationError when a param's type does not fit. */
  evaluate(action: Action): Decision;
  readonly ruleCount: number;
  /** Hex SHA-256 of the normalised policy; stored with every audit row. */
  readonly hash: string;
  readonly view: PolicyView;
  /** Non-fatal findings, e.g. an empty time window that can never match. */
  readonly warnings: readonly PolicyProblem[];
}

/** One problem found while loading a policy. */
export interface PolicyProblem {
  /** Where in the document, e.g. `rules[2].conditions.param_gt`. Empty for the document itself. */
  readonly path: string;
  readonly message: string;
  /** 1-based line and column in the YAML source, when the policy came from text. */
  readonly line?: number | undefined;
  readonly column?: number | undefined;
}

export interface CompileOptions {
  /** Clock for time conditions (time_after, time_before, weekdays). Defaults to `() => new Date()`. */
  readonly now?: () => Date;
  /**
   * Rule lookup strategy: `auto` (default) indexes policies with more than a dozen rules by the
   * literal prefix/suffix of their type patterns; `always` / `never` force it (tests, benchmarks).
   * The decisions are identical either way.
   */
  readonly index?: "auto" | "always" | "never";
}
