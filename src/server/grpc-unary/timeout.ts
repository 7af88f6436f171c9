// The `grpc-timeout` header (gRPC over HTTP/2): 1 to 8 digits and a unit.
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
const SYNTAX = /^(\d{1,8})([HMSmun])$/;

/** Milliseconds, or undefined when the value is not a valid grpc-timeout. */
export function parseGrpcTimeout(value: string): number | undefined {
  const m = SYNTAX.exec(value);
  if (m === null) return undefined;
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}
