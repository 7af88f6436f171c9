// Regexes for `param_matches`: ECMAScript syntax, checked at load.
// (First version: syntax and Python-only constructs; the linear-time matcher follows.)

const MAX_REGEX_LENGTH = 1000;

const PYTHON_ONLY: readonly [RegExp, string][] = [
  [/\(\?P</, "named groups are written (?<name>...) in ECMAScript, not (?P<name>...)"],
  [/\(\?P=/, "named backreferences are written \\k<name> in ECMAScript, not (?P=name)"],
  [/\(\?#/, "ECMAScript regexes have no (?#...) comments"],
  [/\(\?[aiLmsux-]+\)/, "ECMAScript regexes have no inline flags such as (?i); use a character class"],
  [/\\A/, "\\A is Python syntax; use ^"],
  [/\\Z/, "\\Z is Python syntax; use $"],
];

/** Returns a problem message, or undefined when the regex is acceptable. */
export function checkRegex(source: string): string | undefined {
  if (source.length > MAX_REGEX_LENGTH) {
    return `regex is ${source.length} characters long; at most ${MAX_REGEX_LENGTH} are allowed`;
  }
  for (const [probe, hint] of PYTHON_ONLY) {
    if (probe.test(source)) return `invalid regex ${JSON.stringify(source)}: ${hint}`;
  }
  try {
    new RegExp(source, "u");
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^Invalid regular expression: /, "") : String(err);
    return `invalid regex (ECMAScript syntax): ${why}`;
  }
  return undefined;
}

/** A compiled search: true when the regex matches somewhere in the text (like Python's re.search). */
export function compileRegexSearch(source: string): (text: string) => boolean {
  const re = new RegExp(source, "u");
  return (text) => re.test(text);
}
