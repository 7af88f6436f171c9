// Reads a request body with a byte limit. An oversized body is still drained (up to a bound) so
// the client reads our 413 instead of a reset connection; far beyond the bound the request is
// destroyed after answering.
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { AegisError } from "../../errors.js";

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
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (over || size > max) {
        over = true;
        chunks.length = 0;
        if (size > max * 8 + 65536) {
          req.removeAllListeners("data");
          req.pause();
          reject(tooLarge(max));
        }
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    req.on("end", () => {
      ended = true;
      if (over) reject(tooLarge(max));
      else
        resolve(chunks.length === 1 ? chunks[0]! : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, size));
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
