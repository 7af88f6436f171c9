// The one source of session ids: the process's own (audit rows of requests that send none carry
// it) and any other the server makes.
import { randomBytes } from "node:crypto";

/** A random 12-hex-character session id. */
export function newSessionId(): string {
  return randomBytes(6).toString("hex");
}
