// The request body as Connect-Node reads it, regrouped: complete enveloped messages (gRPC,
// gRPC-Web, Connect streaming) or, for Connect unary, the whole body, instead of the client's
// chunks. Connect keeps pending chunks in an array and sums their lengths on every new chunk
// (EnvelopeDecoder.byteLength), so a message sent as one-byte DATA frames cost ~160 bytes of
// memory per byte and quadratic time; here the bytes are held in one buffer (accumulate.ts) and
// Connect gets one chunk per group of whole messages. A single chunk that already holds whole
// messages (the common case) passes through as it is.
//
// It also answers one client mistake at its source: a message with the compressed flag although
// the request names no encoding is INVALID_ARGUMENT (Connect says INTERNAL, with the same words).
// Where Connect would refuse a message for its size, the bytes are handed on at once so Connect
// answers as it always has.
import { Code, ConnectError } from "@connectrpc/connect";
import { Accumulator } from "./accumulate.js";

const HEADER_BYTES = 5;
const COMPRESSED = 0x01;
export const COMPRESSED_WITHOUT_ENCODING = "received compressed envelope, but do not know how to decompress";

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Whole enveloped messages from `source`. `compressedAllowed`: the request named an encoding (then
 * Connect decompresses, or refuses an encoding it does not know).
 */
export async function* wholeEnvelopes(
  source: AsyncIterable<Uint8Array>,
  readMaxBytes: number,
  compressedAllowed: boolean,
): AsyncIterable<Uint8Array> {
  let acc = new Accumulator();
  let passThrough = false;
  for await (const raw of source) {
    const chunk = asBuffer(raw);
    if (passThrough) {
      yield chunk;
      continue;
    }
    let data = chunk;
    if (acc.size > 0) {
      acc.push(chunk);
      data = acc.bytes();
    }
    // The end of the last whole message in `data`.
    let end = 0;
    while (data.length - end >= HEADER_BYTES) {
      const length = data.readUInt32BE(end + 1);
      if (length > readMaxBytes) {
        passThrough = true; // Connect's resource_exhausted, with its words
        break;
      }
      if (data[end]! & COMPRESSED && !compressedAllowed) {
        throw new ConnectError(COMPRESSED_WITHOUT_ENCODING, Code.InvalidArgument);
      }
      if (data.length - end - HEADER_BYTES < length) break;
      end += HEADER_BYTES + length;
    }
    if (passThrough) {
      acc = new Accumulator();
      yield data;
      continue;
    }
    if (end === data.length) {
      if (acc.size > 0) acc = new Accumulator();
      yield data;
      continue;
    }
    if (end === 0) {
      // Nothing whole yet: wait for more (a first chunk is kept as a compact copy).
      if (acc.size === 0) {
        acc.push(chunk);
        acc.compact();
      }
      continue;
    }
    // Part of a message is left: keep it (copied, so it pins neither the chunk nor the old buffer).
    const rest = Buffer.from(data.subarray(end));
    acc = new Accumulator();
    acc.push(rest);
    yield data.subarray(0, end);
  }
  if (acc.size > 0) yield acc.take();
}

/** The whole body as one chunk (Connect unary reads it all anyway); past readMaxBytes, handed on. */
export async function* wholeBody(
  source: AsyncIterable<Uint8Array>,
  readMaxBytes: number,
): AsyncIterable<Uint8Array> {
  const acc = new Accumulator();
  let over = false;
  for await (const raw of source) {
    const chunk = asBuffer(raw);
    if (over) {
      yield chunk;
      continue;
    }
    acc.push(chunk);
    if (acc.size > readMaxBytes) {
      over = true; // Connect refuses it at once, with its words
      yield acc.take();
    } else acc.compact();
  }
  if (acc.size > 0) yield acc.take();
}
