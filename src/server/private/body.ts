// Reads a request body with a byte limit. An oversized body is still drained (up to a bound) so
// the client reads our 413 instead of a reset connection; far beyond the bound the request is
// destroyed after answering.
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { AegisError } from "../../errors.js";
import { Accumulator } from "./accumulate.js";

const EMPTY = Buffer.alloc(0);

export function tooLarge(max: number): AegisError {
  return new AegisError(
    "resource_exhausted",
    `Request body exceeds the limit of ${max} bytes (AEGIS_MAX_BODY_BYTES)`,
  );
}

export function readBody(req: IncomingMessage | Http2ServerRequest, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers["content-length"];
    // Refuse at once: Node discards the unread rest of the body, keeping the connection usable.
    if (declared !== undefined && Number(declared) > max) {
      reject(tooLarge(max));
      return;
    }
    let over = false;
    // One buffer, not the client's chunks (accumulate.ts: a body in one-byte pieces).
    const expected = declared === undefined ? 0 : Number(declared);
    let body: Accumulator | undefined = new Accumulator(expected);
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (over || size > max) {
        over = true;
        body = undefined;
        if (size > max * 8 + 65536) {
          req.removeAllListeners("data");
          req.pause();
          reject(tooLarge(max));
        }
        return;
      }
      body!.push(chunk);
      if (!(expected > 0 && size >= expected)) body!.compact();
    });
    let ended = false;
    req.on("end", () => {
      ended = true;
      if (over) reject(tooLarge(max));
      else resolve(body === undefined || body.size === 0 ? EMPTY : body.take());
    });
    req.on("error", reject);
    // A client that goes away mid-body: settle instead of leaving the request pending forever.
    // "close" also fires after every complete body: building the error then was ~10% of a REST call.
    req.on("close", () => {
      if (!ended) {
        reject(
          new AegisError("invalid_argument", "Request body incomplete: the client closed the connection"),
        );
      }
    });
  });
}
