// API-key authentication (DESIGN §3.1), shared by the REST router and the Connect interceptor so
// every protocol checks the same keys the same way. Keys are compared as SHA-256 digests with
// timingSafeEqual: equal-length inputs, no early exit, so timing reveals nothing about the key.
import { createHash, timingSafeEqual } from "node:crypto";
import { AegisError } from "../errors.js";

/** What a route or RPC needs. */
export type Access = "public" | "api" | "admin";

export interface AuthConfig {
  readonly apiKey?: string | undefined;
  readonly adminKey?: string | undefined;
}

/** Reads a header by lower-case name from either a Fetch `Headers` or Node's header object. */
export type HeaderGetter = (name: string) => string | undefined;

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

export class Authenticator {
  private readonly api: Buffer | undefined;
  private readonly admin: Buffer | undefined;
  /** No keys at all: development mode, everything open. */
  readonly open: boolean;

  constructor(config: AuthConfig) {
    this.api = config.apiKey === undefined ? undefined : digest(config.apiKey);
    // Without an admin key, policy updates fall back to the API key.
    this.admin = config.adminKey === undefined ? this.api : digest(config.adminKey);
    this.open = this.api === undefined && this.admin === undefined;
  }

  /** Throws `unauthenticated` (missing/wrong key) or `permission_denied` (API key on an admin route). */
  check(access: Access, header: HeaderGetter): void {
    if (access === "public" || this.open) return;
    if (access === "api" && this.api === undefined) return; // only an admin key exists: reads stay open
    const presented = presentedKey(header);
    if (presented === undefined) throw new AegisError("unauthenticated", "Missing API key");
    const d = digest(presented);
    const isAdmin = this.admin !== undefined && timingSafeEqual(d, this.admin);
    if (isAdmin) return;
    const isApi = this.api !== undefined && timingSafeEqual(d, this.api);
    if (access === "api") {
      if (isApi) return;
      throw new AegisError("unauthenticated", "Invalid API key");
    }
    if (isApi) throw new AegisError("permission_denied", "This operation needs the admin key");
    throw new AegisError("unauthenticated", "Invalid API key");
  }
}

/** `X-API-Key: <key>` or `Authorization: Bearer <key>`. */
export function presentedKey(header: HeaderGetter): string | undefined {
  const x = header("x-api-key");
  if (x !== undefined && x !== "") return x.trim();
  const auth = header("authorization");
  if (auth !== undefined) {
    const m = /^\s*bearer\s+(.+?)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * What each procedure needs. Liveness (GetHealth: `/health`, `/api/v1/health`) and grpc.health
 * are public, as DESIGN §3.1 says; readiness (`/ready`) reveals component state and needs the API
 * key like everything else; policy updates need the admin key.
 */
export function accessOf(serviceTypeName: string, methodName: string): Access {
  if (serviceTypeName === "grpc.health.v1.Health") return "public";
  if (serviceTypeName === "aegis.v1.GovernanceService") {
    if (methodName === "GetHealth") return "public";
    if (methodName === "UpdatePolicy") return "admin";
  }
  return "api";
}
