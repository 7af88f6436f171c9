// Reading settings from the environment, for every concern's config section: one error type and
// one wording, so every bad value stops startup with a one-line message naming the variable.

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export type Env = NodeJS.ProcessEnv;

/** The variable's value, or undefined when it is unset or blank. */
export function text(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v;
}

/** An integer from `min` to `max`; `name` names it in the error (a variable or a flag). */
export function integer(raw: string, name: string, min: number, max: number): number {
  const t = raw.trim();
  const n = /^\d+$/.test(t) ? Number(t) : Number.NaN;
  if (!(n >= min && n <= max))
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  return n;
}

/** An integer variable, or `fallback` when unset. */
export function integerVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  return raw === undefined ? fallback : integer(raw, name, min, max);
}

/** A positive number of seconds (fractions allowed), in milliseconds; `fallback` (ms) when unset. */
export function secondsVar(env: Env, name: string, fallbackMs: number, maxSeconds = 86_400): number {
  const raw = text(env, name);
  if (raw === undefined) return fallbackMs;
  const s = /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!(s * 1000 >= 1) || s > maxSeconds) {
    throw new ConfigError(
      `${name} must be a positive number of seconds (at most ${maxSeconds}), got "${raw}"`,
    );
  }
  return Math.round(s * 1000);
}

/** One of `choices` (case-insensitive), or `fallback` when unset. */
export function choiceVar<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const v = raw.trim().toLowerCase() as T;
  if (!choices.includes(v))
    throw new ConfigError(`${name} must be one of ${choices.join(", ")}, got "${raw}"`);
  return v;
}

/** `true`/`false` (also 1/0, yes/no, on/off), or `fallback` when unset. */
export function booleanVar(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const v = raw.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}
