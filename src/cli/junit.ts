// JUnit XML, the report format CI systems (GitHub Actions, GitLab, Jenkins) read test results from.
export interface JUnitCase {
  readonly name: string;
  readonly classname: string;
  readonly seconds: number;
  /** Failure lines; empty when the case passed. */
  readonly failures: readonly string[];
}

// XML 1.0 cannot carry most control characters even escaped: they are replaced, not dropped, so a
// reader can see that something was there.
const INVALID_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlEscape(text: string): string {
  return text
    .replace(INVALID_XML, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

export function junitXml(suite: string, cases: readonly JUnitCase[]): string {
  const failed = cases.filter((c) => c.failures.length > 0).length;
  const total = cases.reduce((s, c) => s + c.seconds, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlEscape(suite)}" tests="${cases.length}" failures="${failed}" errors="0" time="${total.toFixed(6)}">`,
    `  <testsuite name="${xmlEscape(suite)}" tests="${cases.length}" failures="${failed}" errors="0" skipped="0" time="${total.toFixed(6)}">`,
  ];
  for (const c of cases) {
    const open = `    <testcase name="${xmlEscape(c.name)}" classname="${xmlEscape(c.classname)}" time="${c.seconds.toFixed(6)}"`;
    if (c.failures.length === 0) {
      lines.push(`${open}/>`);
      continue;
    }
    lines.push(`${open}>`);
    lines.push(
      `      <failure message="${xmlEscape(c.failures[0] ?? "")}" type="PolicyTestFailure">${xmlEscape(c.failures.join("\n"))}</failure>`,
    );
    lines.push("    </testcase>");
  }
  lines.push("  </testsuite>", "</testsuites>", "");
  return lines.join("\n");
}
