// A duplex over a socket whose first bytes were already read (to sniff the HTTP/2 preface).
// Node's http2 reads from the socket's native handle, so bytes put back with unshift() would be
// lost; given a plain Duplex instead, http2 wraps it in a JS stream and sees every byte.
import type { Socket } from "node:net";
import { Duplex } from "node:stream";

export class PrefixedSocket extends Duplex {
  constructor(
    private readonly socket: Socket,
    head: Buffer,
  ) {
    super({ allowHalfOpen: true });
    this.push(head);
    socket.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on("end", () => this.push(null));
    socket.on("error", (err) => this.destroy(err));
    socket.on("close", () => this.destroy());
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }

  setTimeout(ms: number, cb?: () => void): this {
    this.socket.setTimeout(ms, cb);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, encoding, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
