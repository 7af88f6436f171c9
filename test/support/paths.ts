// Locations the tests need, valid both from test/ sources and from the compiled dist/test/ files.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRepoRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`package.json not found above ${start}`);
    dir = parent;
  }
  return dir;
}

export const repoRoot = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
/** The compiled CLI; tests spawn it with `process.execPath` so Node 20 and Node 24 runs differ only there. */
export const cliPath = join(repoRoot, "dist", "src", "cli", "main.js");
export const examplesDir = join(repoRoot, "examples");
export const fixturesDir = join(repoRoot, "test", "fixtures");
