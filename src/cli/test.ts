// `aegis test POLICY TESTS.yaml [--junit FILE]`: runs a suite of policy test cases
// (policy-tests.ts) and prints each failure as `TESTS.yaml:line: case "name": what`. Exit 0 when
// every case passes, 1 on a failure or when the policy or the suite cannot be loaded (the policy's
// problems print as `aegis validate` prints them).
import { writeFile } from "node:fs/promises";
import { ConfigError } from "../config.js";
import { describeFsError } from "../fs-errors.js";
import { escapeUnsafe, formatProblem } from "../policy/index.js";
import { parseCommandLine } from "./args.js";
import { junitXml } from "./junit.js";
import { loadPolicyFile, readInput } from "./policy-loader.js";
import { parseSuite, runSuite } from "./policy-tests.js";

const USAGE = "Usage: aegis test POLICY TESTS.yaml [--junit FILE]\n";

export async function run(args: string[]): Promise<number> {
  let policyFile: string;
  let suiteFile: string;
  let junit: string | undefined;
  try {
    const { values, positionals } = parseCommandLine<{ junit?: string }>(
      args,
      { junit: { type: "string", valueName: "file name" } },
      { min: 2, max: 2, what: "a policy file and a test suite" },
    );
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    [policyFile, suiteFile] = positionals as [string, string];
    junit = values.junit;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`aegis test: ${err.message}\n${USAGE}`);
    return 1;
  }
  const clock = { now: new Date() };
  const policy = await loadPolicyFile("test", policyFile, process.stderr, { now: () => clock.now });
  if (policy === undefined) return 1;
  const text = await readInput("test", suiteFile, process.stderr);
  if (text === undefined) return 1;
  const suite = parseSuite(text);
  if (suite.problems.length > 0) {
    for (const p of suite.problems) process.stderr.write(`${formatProblem(p, { file: suiteFile })}\n`);
    process.stderr.write(`${escapeUnsafe(suiteFile)}: invalid test suite\n`);
    return 1;
  }
  const outcomes = runSuite(policy, clock, suite.cases);
  const failed = outcomes.filter((o) => o.failures.length > 0);
  for (const o of failed) {
    for (const f of o.failures) {
      process.stdout.write(
        `${escapeUnsafe(suiteFile)}:${o.testCase.line}: case ${escapeUnsafe(JSON.stringify(o.testCase.name))}: ${escapeUnsafe(f)}\n`,
      );
    }
  }
  const n = outcomes.length;
  process.stdout.write(
    failed.length === 0 ? `${n} test(s) passed\n` : `${failed.length} of ${n} test(s) failed\n`,
  );
  if (junit !== undefined) {
    const xml = junitXml(
      suiteFile,
      outcomes.map((o) => ({
        name: o.testCase.name,
        classname: policyFile,
        seconds: o.seconds,
        failures: o.failures.map((f) => `${suiteFile}:${o.testCase.line}: ${f}`),
      })),
    );
    try {
      await writeFile(junit, xml);
    } catch (err) {
      process.stderr.write(
        `aegis test: cannot write ${escapeUnsafe(junit)}: ${escapeUnsafe(describeFsError(err))}\n`,
      );
      return 1;
    }
  }
  return failed.length === 0 ? 0 : 1;
}
