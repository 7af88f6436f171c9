// Starts the server in this process (no audit store, silent logs) on a free port, for focused
// tests of the transport layer. The end-to-end suites spawn the real CLI instead.

import type { AuditedExecutePipeline, AuditLog, ExecutePipeline } from "../../src/governance/index.js";
import { GovernanceService, PolicyHolder } from "../../src/governance/index.js";
import { KeyRing } from "../../src/identity/index.js";
import { parsePolicy } from "../../src/policy/index.js";
import type { Policy } from "../../src/policy/types.js";
import { Cors } from "../../src/server/cors.js";
import { HealthState } from "../../src/server/health.js";
import { Listener, type TlsFiles } from "../../src/server/listener.js";
import { createLogger, type Logger } from "../../src/server/logger.js";
import { buildRequestHandler } from "../../src/server/services.js";
import type { TransportLimits } from "../../src/server/transport-config.js";

export const SEED_POLICY = `version: "1"
defaults: {risk_level: medium, approval: approve}
rules:
  - name: read_auto
    match: { type: "read*" }
    risk_level: low
    approval: auto
  - name: write_approve
    match: { type: "write*" }
    risk_level: medium
    approval: approve
  - name: delete_block
    match: { type: "delete*" }
    risk_level: critical
    approval: block
  - name: big_orders
    match: { type: "order" }
    conditions: { param_gt: { total: 500 } }
    risk_level: high
    approval: block
`;

export interface Harness {
  readonly url: string;
  readonly governance: GovernanceService;
  readonly health: HealthState;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly policy?: Policy;
  readonly apiKey?: string;
  readonly adminKey?: string;
  readonly maxBodyBytes?: number;
  readonly maxBatch?: number;
  readonly cors?: readonly string[];
  /** A server pipeline (its store answers audit queries) or a fake that does both. */
  readonly audit?: AuditedExecutePipeline | (ExecutePipeline & AuditLog);
  readonly tls?: TlsFiles;
  readonly maxAuditPageBytes?: number;
  /** Default: silent. */
  readonly logger?: Logger;
  readonly limits?: TransportLimits;
}

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const holder = new PolicyHolder(o.policy ?? parsePolicy(SEED_POLICY), "file");
  const governance = new GovernanceService({
    policy: holder,
    maxBatch: o.maxBatch ?? 1000,
    pipeline: o.audit,
    auditLog: o.audit === undefined ? undefined : "store" in o.audit ? o.audit.store : o.audit,
    maxAuditPageBytes: o.maxAuditPageBytes,
  });
  const health = new HealthState(governance);
  const rh = buildRequestHandler({
    governance,
    health,
    keys: once(new KeyRing({ apiKey: o.apiKey, adminKey: o.adminKey })),
    cors: new Cors(o.cors ?? []),
    logger: o.logger ?? createLogger("silent"),
    maxBodyBytes: o.maxBodyBytes ?? 1024 * 1024,
  });
  const listener = new Listener({ handler: rh.handler, stream: rh.stream, tls: o.tls, limits: o.limits });
  const bound = await listener.listen("127.0.0.1", 0);
  return {
    url: bound.url,
    governance,
    health,
    async close() {
      health.beginShutdown();
      rh.beginShutdown();
      await listener.close(2000);
    },
  };
}

/** POST/PUT JSON (or raw text) and parse the answer. */
export async function call(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown; headers: Headers; text: string }> {
  const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, headers: res.headers, text };
}

function once<T>(value: T): () => T {
  return () => value;
}
