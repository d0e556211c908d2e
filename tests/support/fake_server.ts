/**
 * A scriptable HTTP/1.1 server for tests, built on raw TCP so it can misbehave
 * in ways a real authorization server (or `Deno.serve`) cannot: drop the
 * connection, cut a body short, never answer, or trickle a body slowly.
 *
 * @example
 * ```ts
 * import { discoveryDocument, json, startFakeServer } from "./fake_server.ts";
 *
 * const server = await startFakeServer();
 * try {
 *   server.route("GET", "/.well-known/openid-configuration", json(200, discoveryDocument(server.url)));
 *   server.route("POST", "/token", [
 *     json(400, { error: "authorization_pending" }),
 *     json(200, { access_token: "at", token_type: "Bearer" }),
 *   ]);
 *   const res = await fetch(`${server.url}/token`, { method: "POST" });
 *   await res.body?.cancel();
 * } finally {
 *   await server.close();
 * }
 * ```
 *
 * @module
 */

/** One request as the fake server received it. */
export interface FakeRequest {
  /** Request method, as sent (e.g. `"POST"`). */
  method: string;
  /** Pathname plus query string, e.g. `"/token?x=1"`. */
  path: string;
  /** Request headers, as sent. */
  headers: Headers;
  /** Request body decoded as UTF-8 (empty when there is none). */
  body: string;
  /** The body parsed as a form when it is `application/x-www-form-urlencoded`, else empty. */
  form: URLSearchParams;
  /** `performance.now()` when the full request (head and body) had arrived. */
  time: number;
  /** Which TCP connection carried the request, counting from 1; shows keep-alive reuse. */
  connectionId: number;
}

/** An ordinary response. `json` sets `content-type: application/json` and wins over `body`. */
export interface FakeResponse {
  /** Defaults to 200. */
  status?: number;
  /** Sent as given; they override the defaults (`content-type`, `connection`). */
  headers?: Record<string, string>;
  /** Value to send as JSON; `undefined` means none. */
  json?: unknown;
  /** Body to send when there is no `json`; text defaults to `text/plain`, bytes to `application/octet-stream`. */
  body?: string | Uint8Array;
}

/** Close the socket after reading the request, without answering. */
export interface FakeCloseFault {
  /** Which fault. */
  fault: "close";
}

/**
 * Send the head with a `Content-Length` for all of `body`, send only its first
 * half, then close the socket: reading the response body fails.
 */
export interface FakeResetMidBodyFault {
  /** Which fault. */
  fault: "reset-mid-body";
  /** Defaults to 200. */
  status?: number;
  /** Sent as given, over a default `content-type: application/json`. */
  headers?: Record<string, string>;
  /** The whole body the head announces; only its first half is sent. */
  body: string;
}

/** Never answer; the connection stays open until the client gives up or the server closes. */
export interface FakeHangFault {
  /** Which fault. */
  fault: "hang";
}

/**
 * Send the head at once, then the body in `chunkSize`-byte pieces (default 1),
 * waiting `chunkDelayMs` before each piece: the body takes about
 * `ceil(length / chunkSize) * chunkDelayMs` to arrive.
 */
export interface FakeSlowBodyFault {
  /** Which fault. */
  fault: "slow-body";
  /** Defaults to 200. */
  status?: number;
  /** Sent as given; they override the default `content-type`. */
  headers?: Record<string, string>;
  /** Value to send as JSON; wins over `body`. */
  json?: unknown;
  /** Text to send when there is no `json`. */
  body?: string;
  /** Wait before each chunk, in milliseconds. */
  chunkDelayMs: number;
  /** Bytes per chunk; defaults to 1. */
  chunkSize?: number;
}

/** Wait `delayMs` before acting on `reply` (nothing is sent meanwhile). */
export interface FakeDelayedReply {
  /** Milliseconds to wait. */
  delayMs: number;
  /** What to do after waiting. */
  reply: FakeReply;
}

/** What the fake server does with one request. */
export type FakeReply =
  | FakeResponse
  | FakeCloseFault
  | FakeResetMidBodyFault
  | FakeHangFault
  | FakeSlowBodyFault
  | FakeDelayedReply;

/** Computes the reply to a request; may be async. A throw becomes a 500 JSON response. */
export type FakeHandler = (req: FakeRequest, server: FakeServer) => FakeReply | Promise<FakeReply>;

/** A running fake server. */
export interface FakeServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request received, in order of arrival, routed or not. */
  readonly requests: FakeRequest[];
  /**
   * Answer requests for `method` and `path` (pathname only; the query is
   * ignored). An array is a script: its i-th reply answers the i-th matching
   * request and the last one repeats. Routing the same method and path again
   * replaces the route and restarts its script.
   */
  route(method: string, path: string, handler: FakeHandler | FakeReply | FakeReply[]): void;
  /** The requests whose pathname is `path`, in order of arrival. */
  requestsTo(path: string): FakeRequest[];
  /** Stops listening and closes every connection; resolves when nothing is left running. */
  close(): Promise<void>;
}

/**
 * A JSON response.
 *
 * @param status HTTP status code.
 * @param body Value to serialise as the response body.
 * @param headers Extra response headers.
 * @returns A reply for {@linkcode FakeServer.route}.
 */
export function json(status: number, body: unknown, headers?: Record<string, string>): FakeReply {
  return headers === undefined ? { status, json: body } : { status, json: body, headers };
}

/**
 * The OpenID Connect discovery document of a fake issuer at `url`, with the
 * device authorization, token, revocation and userinfo endpoints at `/device`,
 * `/token`, `/revoke` and `/userinfo`.
 *
 * @param url The issuer, normally {@linkcode FakeServer.url}.
 * @param overrides Merged over the defaults; a value of `undefined` removes the field.
 * @returns The document, ready for {@linkcode json}.
 */
export function discoveryDocument(
  url: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const issuer = url.replace(/\/+$/, "");
  const document: Record<string, unknown> = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    device_authorization_endpoint: `${issuer}/device`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/revoke`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ["code"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"],
    grant_types_supported: [
      "urn:ietf:params:oauth:grant-type:device_code",
      "refresh_token",
      "authorization_code",
    ],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    token_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete document[key];
    else document[key] = value;
  }
  return document;
}

/**
 * Starts a fake server on `127.0.0.1` at a free port.
 *
 * @returns The running server; call {@linkcode FakeServer.close} when done.
 */
export function startFakeServer(): Promise<FakeServer> {
  // Through `then` so that a failure to listen rejects rather than throws.
  return Promise.resolve().then(() =>
    new _FakeServer(Deno.listen({ hostname: "127.0.0.1", port: 0 }))
  );
}

interface _Route {
  handler: FakeHandler | FakeReply | FakeReply[];
  /** How many requests this route has answered, to step through a script. */
  calls: number;
}

const _SHUTDOWN = Symbol("shutdown");
const _encoder = new TextEncoder();
const _decoder = new TextDecoder();
/** The end of an HTTP head. */
export const _HEAD_END = _encoder.encode("\r\n\r\n");

const _REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

class _FakeServer implements FakeServer {
  readonly url: string;
  readonly requests: FakeRequest[] = [];
  readonly #listener: Deno.TcpListener;
  readonly #routes = new Map<string, _Route>();
  /** Open connections; whoever removes one from the set closes it. */
  readonly #connections = new Set<Deno.TcpConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();
  readonly #untilShutdown: Promise<typeof _SHUTDOWN>;
  readonly #acceptLoop: Promise<void>;
  #closing: Promise<void> | undefined;
  #nextConnectionId = 1;

  constructor(listener: Deno.TcpListener) {
    this.#listener = listener;
    this.url = `http://127.0.0.1:${listener.addr.port}`;
    this.#untilShutdown = new Promise((resolve) => {
      this.#shutdown.signal.addEventListener("abort", () => resolve(_SHUTDOWN), { once: true });
    });
    this.#acceptLoop = this.#accept();
  }

  route(method: string, path: string, handler: FakeHandler | FakeReply | FakeReply[]): void {
    if (Array.isArray(handler) && handler.length === 0) {
      throw new TypeError("Cannot route an empty script: give at least one reply");
    }
    this.#routes.set(_routeKey(method, path), { handler, calls: 0 });
  }

  requestsTo(path: string): FakeRequest[] {
    return this.requests.filter((req) => _pathname(req.path) === path);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#shutdown.abort();
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const conn of this.#connections) this.#closeConnection(conn);
    await this.#acceptLoop;
    await Promise.all(this.#tasks);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#shutdown.signal.aborted) {
          conn.close();
          continue;
        }
        this.#connections.add(conn);
        const task = this.#serve(conn, this.#nextConnectionId++);
        this.#tasks.add(task);
        task.finally(() => this.#tasks.delete(task));
      }
    } catch {
      // The listener was closed under the loop.
    }
  }

  #closeConnection(conn: Deno.TcpConn): void {
    if (!this.#connections.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Already closed by the other side.
    }
  }

  /** Reads requests off one connection and answers them in turn until either side stops. */
  async #serve(conn: Deno.TcpConn, connectionId: number): Promise<void> {
    const reader = new _ConnReader(conn);
    try {
      while (!this.#shutdown.signal.aborted) {
        const head = await reader.readHead();
        if (head === null) return;
        const parsed = _parseHead(head);
        if (typeof parsed === "string") {
          await _writeAll(conn, _encodeResponse(400, {}, _encoder.encode(parsed), false));
          return;
        }
        if (parsed.headers.get("transfer-encoding") !== null) {
          const message = "The fake server does not read chunked request bodies";
          await _writeAll(conn, _encodeResponse(501, {}, _encoder.encode(message), false));
          return;
        }
        const body = await reader.readExactly(parsed.contentLength);
        if (body === null) return;
        const req = _makeRequest(parsed, _decoder.decode(body), connectionId);
        this.requests.push(req);
        const keepAlive = parsed.headers.get("connection")?.toLowerCase() !== "close";
        const reply = await this.#replyTo(req);
        if (reply === _SHUTDOWN) return;
        if (!(await this.#send(conn, reader, reply, keepAlive))) return;
      }
    } catch {
      // The peer went away or the server closed the socket: nothing left to answer.
    } finally {
      this.#closeConnection(conn);
    }
  }

  async #replyTo(req: FakeRequest): Promise<FakeReply | typeof _SHUTDOWN> {
    const route = this.#routes.get(_routeKey(req.method, _pathname(req.path)));
    if (route === undefined) return json(404, { error: "not_found" });
    const { handler } = route;
    const call = route.calls++;
    if (Array.isArray(handler)) return handler[Math.min(call, handler.length - 1)]!;
    if (typeof handler !== "function") return handler;
    try {
      return await Promise.race([handler(req, this), this.#untilShutdown]);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return json(500, { error: "fake_server_handler_error", error_description: message });
    }
  }

  /** Acts on `reply`; resolves to whether the connection may carry another request. */
  async #send(
    conn: Deno.TcpConn,
    reader: _ConnReader,
    reply: FakeReply,
    keepAlive: boolean,
  ): Promise<boolean> {
    while ("delayMs" in reply) {
      await _sleep(reply.delayMs, this.#shutdown.signal);
      reply = reply.reply;
    }
    if (!("fault" in reply)) {
      const [defaults, body] = _responseBody(reply.json, reply.body);
      const headers = { ...defaults, ...reply.headers };
      await _writeAll(conn, _encodeResponse(reply.status ?? 200, headers, body, keepAlive));
      return keepAlive && headers["connection"]?.toLowerCase() !== "close";
    }
    switch (reply.fault) {
      case "close":
        return false;
      case "hang":
        // Keep reading so a client that gives up (closes) ends this task at once.
        await reader.drain();
        return false;
      case "reset-mid-body": {
        const body = _encoder.encode(reply.body);
        const sent = body.subarray(0, Math.floor(body.length / 2));
        const head = _encodeHead(reply.status ?? 200, {
          "content-type": "application/json",
          ...reply.headers,
          "content-length": String(Math.max(body.length, sent.length + 1)),
        }, keepAlive);
        await _writeAll(conn, _concat(head, sent));
        return false;
      }
      case "slow-body": {
        const [defaults, body] = _responseBody(reply.json, reply.body);
        const head = _encodeHead(reply.status ?? 200, {
          ...defaults,
          ...reply.headers,
          "content-length": String(body.length),
        }, keepAlive);
        await _writeAll(conn, head);
        const chunkSize = Math.max(1, reply.chunkSize ?? 1);
        for (let offset = 0; offset < body.length; offset += chunkSize) {
          await _sleep(reply.chunkDelayMs, this.#shutdown.signal);
          await _writeAll(conn, body.subarray(offset, offset + chunkSize));
        }
        return keepAlive;
      }
    }
  }
}

/** Buffers bytes from a connection so requests can be split off it one by one. */
class _ConnReader {
  #conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** The request head without its blank line, or `null` if the peer closed first. */
  async readHead(): Promise<Uint8Array | null> {
    let end: number;
    while ((end = _indexOf(this.#buffer, _HEAD_END)) < 0) {
      if (!(await this.#fill())) return null;
    }
    return this.#take(end + _HEAD_END.length).subarray(0, end);
  }

  /** Exactly `length` bytes, or `null` if the peer closed first. */
  async readExactly(length: number): Promise<Uint8Array | null> {
    while (this.#buffer.length < length) {
      if (!(await this.#fill())) return null;
    }
    return this.#take(length);
  }

  /** Reads and discards until the peer closes or the socket is closed. */
  async drain(): Promise<void> {
    while (await this.#fill()) this.#buffer = new Uint8Array(0);
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) return false;
    this.#buffer = _concat(this.#buffer, chunk.subarray(0, n));
    return true;
  }

  #take(length: number): Uint8Array {
    const taken = this.#buffer.slice(0, length);
    this.#buffer = this.#buffer.slice(length);
    return taken;
  }
}

interface _ParsedHead {
  method: string;
  target: string;
  headers: Headers;
  contentLength: number;
}

/** Parses a request head, or returns why it is malformed. */
function _parseHead(head: Uint8Array): _ParsedHead | string {
  const [requestLine = "", ...lines] = _decoder.decode(head).split("\r\n");
  const match = /^([A-Za-z]+) (\S+) HTTP\/1\.[01]$/.exec(requestLine);
  if (match === null) return `Cannot parse request line: ${JSON.stringify(requestLine)}`;
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return `Cannot parse header line: ${JSON.stringify(line)}`;
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      return `Cannot parse header line: ${JSON.stringify(line)}`;
    }
  }
  const lengthHeader = headers.get("content-length") ?? "0";
  if (!/^\d+$/.test(lengthHeader)) {
    return `Cannot parse content-length: ${JSON.stringify(lengthHeader)}`;
  }
  return {
    method: match[1]!,
    target: match[2]!,
    headers,
    contentLength: Number(lengthHeader),
  };
}

function _makeRequest(head: _ParsedHead, body: string, connectionId: number): FakeRequest {
  const url = new URL(head.target, "http://fake.invalid");
  const type = head.headers.get("content-type") ?? "";
  const isForm = type.toLowerCase().startsWith("application/x-www-form-urlencoded");
  return {
    method: head.method,
    path: url.pathname + url.search,
    headers: head.headers,
    body,
    form: isForm ? new URLSearchParams(body) : new URLSearchParams(),
    time: performance.now(),
    connectionId,
  };
}

/** Default headers and encoded bytes for a body given as JSON, text or bytes. */
function _responseBody(
  jsonValue: unknown,
  body: string | Uint8Array | undefined,
): [Record<string, string>, Uint8Array] {
  if (jsonValue !== undefined) {
    return [{ "content-type": "application/json" }, _encoder.encode(JSON.stringify(jsonValue))];
  }
  if (typeof body === "string") {
    return [{ "content-type": "text/plain; charset=utf-8" }, _encoder.encode(body)];
  }
  if (body !== undefined) return [{ "content-type": "application/octet-stream" }, body];
  return [{}, new Uint8Array(0)];
}

function _encodeHead(status: number, headers: Record<string, string>, keepAlive: boolean) {
  const lines = [`HTTP/1.1 ${status} ${_REASONS[status] ?? "Status"}`];
  const all: Record<string, string> = { connection: keepAlive ? "keep-alive" : "close" };
  for (const [name, value] of Object.entries(headers)) all[name.toLowerCase()] = value;
  for (const [name, value] of Object.entries(all)) lines.push(`${name}: ${value}`);
  return _encoder.encode(lines.join("\r\n") + "\r\n\r\n");
}

function _encodeResponse(
  status: number,
  headers: Record<string, string>,
  body: Uint8Array,
  keepAlive: boolean,
): Uint8Array {
  // 1xx, 204 and 304 responses carry no body and no content-length.
  const bodiless = status < 200 || status === 204 || status === 304;
  const withLength = bodiless ? headers : { ...headers, "content-length": String(body.length) };
  const head = _encodeHead(status, withLength, keepAlive);
  return bodiless ? head : _concat(head, body);
}

/** Writes all of `data` to a connection (shared with the fault proxy). */
export async function _writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length;) offset += await conn.write(data.subarray(offset));
}

/** Waits `ms`, or rejects as soon as `signal` aborts, leaving no timer behind. */
function _sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function _routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

function _pathname(path: string): string {
  const query = path.indexOf("?");
  return query < 0 ? path : path.slice(0, query);
}

/** Two byte arrays, one after the other (shared with the fault proxy). */
export function _concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Where `needle` starts in `haystack`, or -1 (shared with the fault proxy). */
export function _indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}
