import { readFileSync } from "node:fs";

let cached: string | undefined;

/** The package version from package.json, read once. */
export function readVersion(): string {
  if (cached === undefined) {
    // dist/src/version.js -> ../../package.json; same relative depth from src/ under tsc's rootDir.
    const url = new URL("../../package.json", import.meta.url);
    cached = (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
  }
  return cached;
}
