// Debian's python3-grpcio as a foreign gRPC client (test/fixtures/e2e/grpc_raw_client.py): raw unary
// calls with identity serializers; the bytes are made and checked with the generated TS messages.
import assert from "node:assert/strict";
import { join } from "node:path";
import { exec, requireFile } from "./exec.js";
import { fixturesDir } from "./paths.js";

export const PYTHON = "/usr/bin/python3";
export const pythonClient = join(fixturesDir, "e2e", "grpc_raw_client.py");

export interface PyCall {
  readonly path: string;
  readonly request: Uint8Array;
  readonly metadata?: ReadonlyArray<readonly [string, string]>;
}
export type PyResult = { ok: true; response_hex: string } | { ok: false; code: string; details: string };

/** Runs the raw grpcio client against `authority`; `tlsCa` switches it to TLS with that root. */
export async function runPython(
  authority: string,
  calls: readonly PyCall[],
  tlsCa?: string,
): Promise<PyResult[]> {
  requireFile(PYTHON, "Debian python3 is needed (apt-get install -y python3-grpcio)");
  const args = [pythonClient, authority, ...(tlsCa ? ["tls", tlsCa] : [])];
  const input = JSON.stringify(
    calls.map((c) => ({
      path: c.path,
      request_hex: Buffer.from(c.request).toString("hex"),
      metadata: c.metadata ?? [],
    })),
  );
  const r = await exec(PYTHON, args, { input, timeoutMs: 60_000 });
  if (/No module named 'grpc'/.test(r.stderr)) {
    throw new Error("python3-grpcio is not installed: apt-get install -y python3-grpcio (.ci/run does this)");
  }
  assert.equal(r.code, 0, `python client failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as PyResult[];
}

export function okBytes(r: PyResult | undefined): Uint8Array {
  assert.ok(r?.ok, `call failed: ${JSON.stringify(r)}`);
  return Buffer.from(r.response_hex, "hex");
}
