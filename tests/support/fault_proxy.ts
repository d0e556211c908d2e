/**
 * A fault-injecting HTTP/1.1 reverse proxy on raw TCP, for tests: it forwards
 * every request to an upstream server (node-oidc-provider) unchanged, except
 * the ones a test picked, which get a fault instead: a connection closed
 * before or in the middle of the answer, no answer at all, a body trickled
 * slowly, an HTTP error status with or without `Retry-After`, or a redirect
 * to itself. Taking the proxy down refuses connections on its port until it
 * comes up again.
 *
 * Each connection carries one request: the proxy asks the upstream for
 * `Connection: close` and passes that on, and rewrites no other header.
 *
 * @example
 * ```ts ignore
 * import { startFaultyDevServer } from "./fault_proxy.ts";
 *
 * const { proxy, server, close } = await startFaultyDevServer({ interval: 1 });
 * // The issuer is the proxy's address, so every request of a client goes through it.
 * proxy.inject({ path: "/token", grantType: "refresh_token" }, { fault: "status", status: 503 });
 * console.log(server.issuer === proxy.url);
 * await close();
 * ```
 *
 * @module
 */

import { type DevServer, type DevServerOptions, startDevServer } from "./dev_server.ts";
import { _concat, _HEAD_END, _indexOf, _writeAll } from "./fake_server.ts";

/** Which requests a fault applies to; every given field must match. */
export interface FaultMatch {
  /** The method, e.g. `"POST"`. */
  readonly method?: string;
  /** The path without the query, e.g. `"/token"`. */
  readonly path?: string;
  /** The `grant_type` of a form body, e.g. `"refresh_token"`. */
  readonly grantType?: string;
}

/** Close the connection without answering (a server that crashed). */
export interface CloseFault {
  /** Which fault. */
  readonly fault: "close";
}

/**
 * Send the head and half the body, then close the connection. By default the
 * answer is made up and the upstream never sees the request; with `forward`,
 * the upstream answers (and acts: a refresh token rotates) and its answer is
 * the one cut short.
 */
export interface ResetFault {
  /** Which fault. */
  readonly fault: "reset";
  /** Cut the upstream's own answer, after it acted on the request. */
  readonly forward?: boolean;
}

/** Accept the request and never answer; the connection stays open until the client gives up. */
export interface HangFault {
  /** Which fault. */
  readonly fault: "hang";
}

/**
 * Forward the request, send the upstream's head at once, then its body
 * `chunkSize` bytes (default 1) at a time, `chunkDelayMs` apart.
 */
export interface SlowBodyFault {
  /** Which fault. */
  readonly fault: "slow-body";
  /** The wait before each chunk, in milliseconds. */
  readonly chunkDelayMs: number;
  /** Bytes per chunk (default 1). */
  readonly chunkSize?: number;
}

/** Answer with an HTTP status instead of forwarding, the way a gateway or a busy server does. */
export interface StatusFault {
  /** Which fault. */
  readonly fault: "status";
  /** The status, e.g. 503. */
  readonly status: number;
  /** The `Retry-After` header, when one is sent (seconds or an HTTP date). */
  readonly retryAfter?: string;
  /** The body (default: a small HTML page, as gateways send). */
  readonly body?: string;
}

/** Answer `302 Found` with a `Location` of the request's own address. */
export interface RedirectLoopFault {
  /** Which fault. */
  readonly fault: "redirect-loop";
}

/** What the proxy can do to a request instead of forwarding it. */
export type Fault =
  | CloseFault
  | ResetFault
  | HangFault
  | SlowBodyFault
  | StatusFault
  | RedirectLoopFault;

/** One request the proxy received. */
export interface ProxiedRequest {
  /** The method. */
  readonly method: string;
  /** The path without the query. */
  readonly path: string;
  /** The `grant_type` of a form body, when there is one. */
  readonly grantType?: string;
  /** `performance.now()` when the whole request had arrived. */
  readonly time: number;
  /** The fault it got, or `undefined` when it was forwarded unharmed. */
  readonly fault?: Fault["fault"];
  /** The status line's code that was sent (0 when none was). */
  status: number;
}

/** A running fault proxy. */
export interface FaultProxy {
  /** Its address, e.g. `http://127.0.0.1:41234`: the issuer clients use. */
  readonly url: string;
  /** Every request received, in order of arrival. */
  readonly requests: readonly ProxiedRequest[];
  /** Where requests are forwarded; set it before the first request. */
  upstream: string | undefined;
  /**
   * Gives the next `times` (default 1; `Infinity` for all) requests that
   * match this fault instead of forwarding them. Earlier injections are used
   * up first.
   */
  inject(match: FaultMatch, fault: Fault, options?: { times?: number }): void;
  /** Forgets the faults not used up yet: every request is forwarded again. */
  clear(): void;
  /** The requests that match, in order of arrival. */
  requestsTo(match: FaultMatch): ProxiedRequest[];
  /** Stops listening: connections to its port are refused until {@linkcode FaultProxy.up}. */
  down(): void;
  /** Listens on the same port again. */
  up(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts a fault proxy on `127.0.0.1` at a free port.
 *
 * @param upstream Where to forward requests (settable later, through `upstream`).
 * @returns The running proxy.
 */
export function startFaultProxy(upstream?: string): Promise<FaultProxy> {
  return Promise.resolve().then(() => new _FaultProxy(upstream));
}

/** A dev server behind a fault proxy, whose issuer is the proxy's address. */
export interface FaultyDevServer {
  /** The proxy, the address clients use. */
  readonly proxy: FaultProxy;
  /** The dev server; `issuer` is the proxy's address, `url` its own. */
  readonly server: DevServer;
  /** Closes both. */
  close(): Promise<void>;
}

/**
 * Starts node-oidc-provider behind a fault proxy: the issuer, and so every
 * address in its metadata and its pages, is the proxy's.
 *
 * @param options The dev server's options (`issuer` is set here).
 * @returns The proxy and the server.
 */
export async function startFaultyDevServer(
  options: Omit<DevServerOptions, "issuer"> = {},
): Promise<FaultyDevServer> {
  const proxy = await startFaultProxy();
  let server: DevServer;
  try {
    server = await startDevServer({ ...options, issuer: proxy.url });
  } catch (error) {
    await proxy.close();
    throw error;
  }
  proxy.upstream = server.url;
  return {
    proxy,
    server,
    close: async () => {
      await proxy.close();
      await server.close();
    },
  };
}

interface _Rule {
  match: FaultMatch;
  fault: Fault;
  left: number;
}

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();
const _REASONS: Record<number, string> = {
  302: "Found",
  400: "Bad Request",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

class _FaultProxy implements FaultProxy {
  readonly url: string;
  readonly requests: ProxiedRequest[] = [];
  upstream: string | undefined;
  readonly #port: number;
  #listener: Deno.TcpListener | undefined;
  readonly #rules: _Rule[] = [];
  readonly #connections = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  #closed = false;

  constructor(upstream: string | undefined) {
    this.upstream = upstream;
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#port = listener.addr.port;
    this.url = `http://127.0.0.1:${this.#port}`;
    this.#serve(listener);
  }

  inject(match: FaultMatch, fault: Fault, options: { times?: number } = {}): void {
    const times = options.times ?? 1;
    if (!(times > 0)) throw new RangeError("Cannot inject a fault: times must be positive");
    this.#rules.push({ match, fault, left: times });
  }

  clear(): void {
    this.#rules.length = 0;
  }

  requestsTo(match: FaultMatch): ProxiedRequest[] {
    return this.requests.filter((r) => _matches(match, r));
  }

  down(): void {
    this.#listener?.close();
    this.#listener = undefined;
  }

  up(): void {
    if (this.#listener || this.#closed) return;
    this.#serve(Deno.listen({ hostname: "127.0.0.1", port: this.#port }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.down();
    for (const conn of this.#connections) _close(conn);
    this.#connections.clear();
    await Promise.all(this.#tasks);
  }

  #serve(listener: Deno.TcpListener): void {
    this.#listener = listener;
    this.#track((async () => {
      try {
        for await (const conn of listener) {
          this.#connections.add(conn);
          this.#track(
            this.#handle(conn).finally(() => {
              this.#connections.delete(conn);
              _close(conn);
            }),
          );
        }
      } catch {
        // The listener was closed under the loop.
      }
    })());
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    try {
      const request = await _readRequest(conn);
      if (!request) return;
      const record: ProxiedRequest = {
        method: request.method,
        path: request.path,
        ...(request.grantType ? { grantType: request.grantType } : {}),
        time: performance.now(),
        status: 0,
      };
      const rule = this.#rules.find((r) => r.left > 0 && _matches(r.match, record));
      if (!rule) {
        this.requests.push(record);
        const answer = await this.#forward(request);
        record.status = _status(answer);
        await _writeAll(conn, answer);
        return;
      }
      rule.left--;
      const faulty = { ...record, fault: rule.fault.fault };
      this.requests.push(faulty);
      await this.#fault(conn, request, rule.fault, faulty);
    } catch {
      // The client went away, or the proxy closed: nothing left to answer.
    }
  }

  async #fault(
    conn: Deno.Conn,
    request: _Request,
    fault: Fault,
    record: ProxiedRequest,
  ): Promise<void> {
    switch (fault.fault) {
      case "close":
        return;
      case "hang":
        // Read until the client gives up (or the proxy closes), answering nothing.
        while ((await conn.read(new Uint8Array(1024))) !== null) { /* discard */ }
        return;
      case "reset": {
        const answer = fault.forward ? await this.#forward(request) : _response(
          200,
          { "content-type": "application/json" },
          '{"access_token":"never-complete","token_type":"Bearer","expires_in":3600}',
        );
        const [head, body] = _split(answer);
        record.status = _status(answer);
        // Announce the whole body, send half of it, and hang up.
        await _writeAll(conn, _concat(head, body.subarray(0, Math.floor(body.length / 2))));
        return;
      }
      case "slow-body": {
        const answer = await this.#forward(request);
        const [head, body] = _split(answer);
        record.status = _status(answer);
        await _writeAll(conn, head);
        const size = Math.max(1, fault.chunkSize ?? 1);
        for (let offset = 0; offset < body.length && !this.#closed; offset += size) {
          await new Promise((resolve) => setTimeout(resolve, fault.chunkDelayMs));
          await _writeAll(conn, body.subarray(offset, offset + size));
        }
        return;
      }
      case "status": {
        const reason = _REASONS[fault.status] ?? "Error";
        const headers: Record<string, string> = { "content-type": "text/html" };
        if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
        record.status = fault.status;
        await _writeAll(
          conn,
          _response(
            fault.status,
            headers,
            fault.body ?? `<html><body><h1>${fault.status} ${reason}</h1></body></html>`,
          ),
        );
        return;
      }
      case "redirect-loop":
        record.status = 302;
        await _writeAll(
          conn,
          _response(302, { location: `${this.url}${request.target}` }, ""),
        );
        return;
    }
  }

  /** The upstream's whole answer to the request, as bytes. */
  async #forward(request: _Request): Promise<Uint8Array> {
    if (!this.upstream) throw new Error("Cannot forward: the fault proxy has no upstream");
    const { hostname, port } = new URL(this.upstream);
    const upstream = await Deno.connect({ hostname, port: Number(port) });
    this.#connections.add(upstream);
    try {
      await _writeAll(upstream, _concat(_encoder.encode(request.head), request.body));
      const chunks: Uint8Array[] = [];
      const buffer = new Uint8Array(16 * 1024);
      for (;;) {
        const n = await upstream.read(buffer);
        if (n === null) break;
        chunks.push(buffer.slice(0, n));
      }
      return chunks.reduce((all, chunk) => _concat(all, chunk), new Uint8Array());
    } finally {
      this.#connections.delete(upstream);
      _close(upstream);
    }
  }
}

interface _Request {
  method: string;
  target: string;
  path: string;
  grantType?: string;
  /** The head to forward: as received, but asking for `Connection: close`. */
  head: string;
  body: Uint8Array;
}

/** Reads one request; `undefined` when the client closed first. */
async function _readRequest(conn: Deno.Conn): Promise<_Request | undefined> {
  let buffer: Uint8Array = new Uint8Array();
  let end: number;
  const chunk = new Uint8Array(16 * 1024);
  while ((end = _indexOf(buffer, _HEAD_END)) < 0) {
    const n = await conn.read(chunk);
    if (n === null) return undefined;
    buffer = _concat(buffer, chunk.subarray(0, n));
  }
  const [requestLine = "", ...lines] = _decoder.decode(buffer.subarray(0, end)).split("\r\n");
  const [method = "", target = "/"] = requestLine.split(" ");
  const kept = lines.filter((line) => !/^(connection|keep-alive)\s*:/i.test(line));
  const length = Number(
    lines.find((line) => /^content-length\s*:/i.test(line))?.split(":")[1]?.trim() ?? "0",
  );
  let body = buffer.subarray(end + _HEAD_END.length);
  while (body.length < length) {
    const n = await conn.read(chunk);
    if (n === null) return undefined;
    body = _concat(body, chunk.subarray(0, n));
  }
  const type = lines.find((line) => /^content-type\s*:/i.test(line)) ?? "";
  const grantType = /application\/x-www-form-urlencoded/i.test(type)
    ? new URLSearchParams(_decoder.decode(body)).get("grant_type") ?? undefined
    : undefined;
  return {
    method,
    target,
    path: new URL(target, "http://proxy.invalid").pathname,
    ...(grantType ? { grantType } : {}),
    head: [requestLine, ...kept, "connection: close"].join("\r\n") + "\r\n\r\n",
    body,
  };
}

function _matches(match: FaultMatch, request: Pick<ProxiedRequest, keyof FaultMatch>): boolean {
  return (match.method === undefined || match.method === request.method) &&
    (match.path === undefined || match.path === request.path) &&
    (match.grantType === undefined || match.grantType === request.grantType);
}

function _response(status: number, headers: Record<string, string>, body: string): Uint8Array {
  const bytes = _encoder.encode(body);
  const lines = [`HTTP/1.1 ${status} ${_REASONS[status] ?? "Status"}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push(`content-length: ${bytes.length}`, "connection: close");
  return _concat(_encoder.encode(lines.join("\r\n") + "\r\n\r\n"), bytes);
}

/** An answer's head (with its blank line) and body. */
function _split(answer: Uint8Array): [Uint8Array, Uint8Array] {
  const end = _indexOf(answer, _HEAD_END);
  if (end < 0) return [answer, new Uint8Array()];
  const cut = end + _HEAD_END.length;
  return [answer.subarray(0, cut), answer.subarray(cut)];
}

function _status(answer: Uint8Array): number {
  const line = _decoder.decode(answer.subarray(0, 32));
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(line)?.[1] ?? 0);
}

function _close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
