// Collects the bytes of one request body or message as they arrive, without keeping the chunks.
//
// Why: a client decides how its bytes are cut. HTTP/2 lets it send a body as DATA frames of one
// byte each (10 bytes on the wire per byte of body), and every frame arrives as its own Buffer:
// a view of ~100 bytes of object, kept in an array, onto the socket read it came in. Stored as
// chunks, a 1 MiB body cost ~160 MiB and a few hundred stalled streams took the process to GiBs.
// Here the first chunk is kept as it is (the common case: the whole body in one chunk, no copy),
// and from the second one on the bytes are copied into one buffer that grows by doubling, so
// memory stays within twice the bytes received whatever the framing.

const EMPTY = Buffer.alloc(0);
const MIN_GROWTH = 16 * 1024;

export class Accumulator {
  private buf: Buffer = EMPTY;
  /** Whether `buf` is ours (a copy) rather than the first chunk as it came. */
  private own = false;
  size = 0;

  /** `expected`: the total size if known (a buffer never grows beyond it, nor is made that big up front). */
  constructor(private readonly expected = 0) {}

  push(chunk: Buffer): void {
    const size = this.size + chunk.length;
    if (this.size === 0) {
      this.buf = chunk;
      this.own = false;
      this.size = size;
      return;
    }
    if (!this.own || size > this.buf.length) this.grow(size);
    chunk.copy(this.buf, this.size);
    this.size = size;
  }

  /**
   * Called when the body is incomplete and the stream will wait: a first chunk that is a small view
   * of a large socket read is copied, so a stalled stream does not pin the whole read.
   */
  compact(): void {
    if (this.own || this.size === 0 || this.buf.buffer.byteLength <= this.size * 2 + 4096) return;
    const copy = Buffer.allocUnsafe(this.size);
    this.buf.copy(copy, 0, 0, this.size);
    this.buf = copy;
    this.own = true;
  }

  /** The bytes so far (a view; valid until the next push). */
  bytes(): Buffer {
    return this.size === this.buf.length ? this.buf : this.buf.subarray(0, this.size);
  }

  /** The bytes so far, and forgets them. */
  take(): Buffer {
    const out = this.bytes();
    this.buf = EMPTY;
    this.own = false;
    this.size = 0;
    return out;
  }

  private grow(need: number): void {
    let cap = Math.max(need, this.size * 2, MIN_GROWTH);
    if (this.expected >= need) cap = Math.min(cap, this.expected);
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.size);
    this.buf = next;
    this.own = true;
  }
}
