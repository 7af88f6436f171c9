// A raw HTTP/2 client on a plain socket, for tests that must send what no well-behaved client
// sends: streams that never end, bodies cut into one-byte DATA frames, half prefaces, bad frames.
// It writes frames as asked (respecting the server's flow-control windows for DATA), answers
// SETTINGS and PING, and records what comes back by frame type; it does not decode HPACK (the
// response headers of interest are checked with node:http2 elsewhere).
import { readFileSync } from "node:fs";
import net from "node:net";

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const GROUP = 4096;

export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK "literal header field without indexing, new name", no Huffman; names and values < 127 bytes. */
export function hpack(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    if (name.length > 126 || value.length > 126) throw new Error("hpack(): keep names and values short");
    parts.push(Buffer.from([0, name.length]), Buffer.from(name, "latin1"));
    parts.push(Buffer.from([value.length]), Buffer.from(value, "latin1"));
  }
  return Buffer.concat(parts);
}

export function requestHeaders(
  path: string,
  contentType: string,
  extra: ReadonlyArray<readonly [string, string]> = [],
  method = "POST",
): Buffer {
  return hpack([
    [":method", method],
    [":scheme", "http"],
    [":path", path],
    [":authority", "127.0.0.1"],
    ["content-type", contentType],
    ["te", "trailers"],
    ...extra,
  ]);
}

/** A gRPC envelope header announcing `length` bytes (flag 0 unless given). */
export function envelopeHeader(length: number, flag = 0): Buffer {
  const b = Buffer.alloc(5);
  b[0] = flag;
  b.writeUInt32BE(length, 1);
  return b;
}

export interface ReceivedFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export class RawH2 {
  readonly frames: ReceivedFrame[] = [];
  private connWindow = 65_535;
  private initialWindow = 65_535;
  private readonly windows = new Map<number, number>();
  /** DATA frames built in advance, in groups of at most GROUP bytes of payload (flow control). */
  private readonly queued: Array<{ id: number; wire: Buffer; bytes: number }> = [];
  private inbuf: Buffer = Buffer.alloc(0);
  private nextId = 1;
  closed = false;
  readonly done: Promise<void>;
  /** The first SETTINGS frame of the server, once it came. */
  readonly settings: Promise<Map<number, number>>;

  private constructor(readonly socket: net.Socket) {
    let gotSettings: (s: Map<number, number>) => void = () => {};
    this.settings = new Promise((r) => {
      gotSettings = r;
    });
    this.done = new Promise((resolve) => {
      socket.on("close", () => {
        this.closed = true;
        resolve();
      });
    });
    socket.on("error", () => {});
    socket.on("data", (d: Buffer) => {
      this.inbuf = this.inbuf.length === 0 ? d : Buffer.concat([this.inbuf, d]);
      while (this.inbuf.length >= 9) {
        const len = this.inbuf.readUIntBE(0, 3);
        if (this.inbuf.length < 9 + len) break;
        const f: ReceivedFrame = {
          type: this.inbuf[3]!,
          flags: this.inbuf[4]!,
          streamId: this.inbuf.readUInt32BE(5) & 0x7fffffff,
          payload: Buffer.from(this.inbuf.subarray(9, 9 + len)),
        };
        this.inbuf = this.inbuf.subarray(9 + len);
        if (f.type !== FrameType.DATA) this.frames.push(f);
        this.onFrame(f, gotSettings);
      }
      this.pump();
    });
  }

  /** Connects and sends the preface, an empty SETTINGS frame and a big connection window. */
  static async connect(port: number, host = "127.0.0.1"): Promise<RawH2> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const c = new RawH2(socket);
    socket.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0), windowUpdate(0, 0x3fff0000)]));
    return c;
  }

  private onFrame(f: ReceivedFrame, gotSettings: (s: Map<number, number>) => void): void {
    if (f.type === FrameType.SETTINGS && !(f.flags & FLAG_ACK)) {
      const s = new Map<number, number>();
      for (let o = 0; o + 6 <= f.payload.length; o += 6) {
        const id = f.payload.readUInt16BE(o);
        const v = f.payload.readUInt32BE(o + 2);
        s.set(id, v);
        if (id === 4) {
          for (const [k, w] of this.windows) this.windows.set(k, w + v - this.initialWindow);
          this.initialWindow = v;
        }
      }
      this.write(frame(FrameType.SETTINGS, FLAG_ACK, 0));
      gotSettings(s);
    } else if (f.type === FrameType.PING && !(f.flags & FLAG_ACK)) {
      this.write(frame(FrameType.PING, FLAG_ACK, 0, f.payload));
    } else if (f.type === FrameType.WINDOW_UPDATE) {
      const inc = f.payload.readUInt32BE(0) & 0x7fffffff;
      if (f.streamId === 0) this.connWindow += inc;
      else this.windows.set(f.streamId, (this.windows.get(f.streamId) ?? this.initialWindow) + inc);
    } else if (f.type === FrameType.DATA && f.payload.length > 0) {
      // Give the server its window back, so answers are never stuck behind us.
      this.write(
        Buffer.concat([windowUpdate(0, f.payload.length), windowUpdate(f.streamId, f.payload.length)]),
      );
    }
  }

  write(bytes: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(bytes);
  }

  /** Opens a stream with these headers (no END_STREAM unless `end`); returns its id. */
  open(headerBlock: Buffer, end = false): number {
    const id = this.nextId;
    this.nextId += 2;
    this.windows.set(id, this.initialWindow);
    this.write(frame(FrameType.HEADERS, FLAG_END_HEADERS | (end ? FLAG_END_STREAM : 0), id, headerBlock));
    return id;
  }

  /**
   * Queues `data` on stream `id` as DATA frames of at most `frameSize` bytes, sent as the flow-control
   * windows allow; `end` sets END_STREAM on the last one.
   */
  send(id: number, data: Buffer, frameSize = 16_384, end = false): void {
    const group = Math.max(frameSize, GROUP);
    for (let g = 0; g < data.length || (g === 0 && end); g += group) {
      const part = data.subarray(g, g + group);
      const lastGroup = g + group >= data.length;
      const frames: Buffer[] = [];
      for (let o = 0; o < part.length || (o === 0 && part.length === 0); o += frameSize) {
        const last = lastGroup && o + frameSize >= part.length;
        frames.push(
          frame(FrameType.DATA, end && last ? FLAG_END_STREAM : 0, id, part.subarray(o, o + frameSize)),
        );
        if (part.length === 0) break;
      }
      this.queued.push({ id, wire: Buffer.concat(frames), bytes: part.length });
      if (data.length === 0) break;
    }
    this.pump();
  }

  /** Payload bytes still waiting for window. */
  get pending(): number {
    let n = 0;
    for (const q of this.queued) n += q.bytes;
    return n;
  }

  private pumping = false;
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const out: Buffer[] = [];
      let wire = 0;
      let i = 0;
      for (; i < this.queued.length; i++) {
        const q = this.queued[i]!;
        const w = this.windows.get(q.id) ?? this.initialWindow;
        if (q.bytes > w || q.bytes > this.connWindow) break;
        this.windows.set(q.id, w - q.bytes);
        this.connWindow -= q.bytes;
        out.push(q.wire);
        wire += q.wire.length;
        if (wire > 1 << 20) {
          i++;
          break;
        }
      }
      this.queued.splice(0, i);
      if (out.length > 0) {
        const ok = this.write(Buffer.concat(out));
        if (this.queued.length > 0) {
          if (ok) setImmediate(() => this.pump());
          else this.socket.once("drain", () => this.pump());
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** RST_STREAM frames received: stream id -> error code. */
  resets(): Map<number, number> {
    const m = new Map<number, number>();
    for (const f of this.frames)
      if (f.type === FrameType.RST_STREAM) m.set(f.streamId, f.payload.readUInt32BE(0));
    return m;
  }

  goaway(): { lastStreamId: number; code: number } | undefined {
    const f = this.frames.find((x) => x.type === FrameType.GOAWAY);
    return f && { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) };
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function windowUpdate(streamId: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, p);
}

/** Resident set size of a process, from /proc/<pid>/status (Linux). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}
