// A small fetch wrapper for REST end-to-end tests: sends exactly the bytes given and returns the
// status, headers, raw text and (when the body is JSON) the parsed value.
export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed body, or undefined when it is empty or not JSON. */
  readonly json: unknown;
}

export interface RequestOptions {
  /** A string or bytes is sent verbatim; anything else is JSON-encoded (content-type application/json). */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export async function request(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Uint8Array | undefined;
  if (options.body === undefined) body = undefined;
  else if (typeof options.body === "string" || options.body instanceof Uint8Array) body = options.body;
  else {
    body = JSON.stringify(options.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
      headers["content-type"] = "application/json";
    }
  }
  const res = await fetch(new URL(path, baseUrl), { method, headers, body });
  const text = await res.text();
  let json: unknown;
  if (text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const get = (base: string, path: string, headers?: Record<string, string>) =>
  request(base, "GET", path, headers ? { headers } : {});
export const post = (base: string, path: string, body: unknown, headers?: Record<string, string>) =>
  request(base, "POST", path, headers ? { body, headers } : { body });
export const put = (base: string, path: string, body: unknown, headers?: Record<string, string>) =>
  request(base, "PUT", path, headers ? { body, headers } : { body });

/** A JSON text of exactly `size` bytes: `prefix` (an object literal without its closing brace) padded. */
export function jsonOfSize(size: number, fields = '"action_type":"read","target":"crm"'): string {
  const head = `{${fields},"pad":"`;
  const tail = '"}';
  const padLength = size - Buffer.byteLength(head) - Buffer.byteLength(tail);
  if (padLength < 0) throw new Error(`cannot build ${size} bytes of JSON`);
  const text = head + "x".repeat(padLength) + tail;
  if (Buffer.byteLength(text) !== size) throw new Error("jsonOfSize: size mismatch");
  return text;
}
