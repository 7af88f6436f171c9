// Python's fnmatch.fnmatchcase as a batch oracle: one python process answers many cases.
import { spawnSync } from "node:child_process";

const SCRIPT = `
import sys, json, fnmatch
out = []
for pat, text in json.load(sys.stdin):
    try:
        out.append(fnmatch.fnmatchcase(text, pat))
    except Exception as e:
        out.append("error: " + str(e))
json.dump(out, sys.stdout)
`;

export function fnmatchcase(
  cases: readonly (readonly [pattern: string, text: string])[],
): (boolean | string)[] {
  const r = spawnSync("/usr/bin/python3", ["-c", SCRIPT], {
    input: JSON.stringify(cases),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as (boolean | string)[];
}
