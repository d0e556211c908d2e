/**
 * A small forward proxy on loopback for tests: `CONNECT host:port` tunnels
 * (how clients reach HTTPS through `HTTPS_PROXY`) and absolute-form plain
 * HTTP requests (`GET http://host:port/path`, how clients use `HTTP_PROXY`).
 * It records what went through, and it only ever connects to loopback
 * addresses, so a test cannot send traffic anywhere else.
 *
 * @example
 * ```ts ignore
 * import { startConnectProxy } from "./connect_proxy.ts";
 * const proxy = await startConnectProxy();
 * // ... run a process with HTTPS_PROXY=proxy.url ...
 * console.log(proxy.requests.map((r) => `${r.kind} ${r.target}`));
 * await proxy.close();
 * ```
 *
 * @module
 */

import { isLoopback } from "../../src/url_policy.ts";

/** One request the proxy received. */
export interface ProxiedRequest {
  /** `connect` for a tunnel, `http` for a forwarded plain HTTP request. */
  readonly kind: "connect" | "http";
  /** `host:port` of a tunnel, or the absolute URL of a plain request. */
  readonly target: string;
  /** The request method (`CONNECT`, `GET`, `POST`, ...). */
  readonly method: string;
  /** Whether the proxy reached the target and passed the traffic on. */
  readonly forwarded: boolean;
  /**
   * With `record`: the bytes of a plain HTTP exchange as they passed, the
   * request (head rewritten to origin form) and the response.
   */
  readonly recorded?: { readonly request: Uint8Array[]; readonly response: Uint8Array[] };
}

/** Options of {@linkcode startConnectProxy}. */
export interface ConnectProxyOptions {
  /** Keep the bytes of plain HTTP exchanges (tunnels carry TLS, which stays opaque). */
  readonly record?: boolean;
}

/** A running proxy. */
export interface ConnectProxy {
  /** `http://127.0.0.1:PORT`, for `HTTP_PROXY` and `HTTPS_PROXY`. */
  readonly url: string;
  /** Every request, in order of arrival. */
  readonly requests: ProxiedRequest[];
  /** Bytes passed from targets back to clients, over all connections. */
  readonly bytesFromTargets: () => number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const HEAD_LIMIT = 64 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Starts the proxy on `127.0.0.1` at a free port.
 *
 * @returns The running proxy.
 */
export function startConnectProxy(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: ProxiedRequest[] = [];
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let fromTargets = 0;

  const track = (conn: Deno.Conn) => {
    conns.add(conn);
    return conn;
  };
  const closeConn = (conn: Deno.Conn) => {
    if (!conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Already closed by the other side.
    }
  };

  async function pipe(
    from: Deno.Conn,
    to: Deno.Conn,
    count: boolean,
    record?: Uint8Array[],
  ): Promise<void> {
    const buffer = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        if (count) fromTargets += n;
        record?.push(buffer.slice(0, n));
        await writeAll(to, buffer.subarray(0, n));
      }
    } catch {
      // A reset on either side ends the tunnel.
    }
    // Half-close would be kinder, but a full close is what ends the other pipe too.
    closeConn(from);
    closeConn(to);
  }

  async function handle(client: Deno.Conn): Promise<void> {
    const first = await readHead(client);
    if (!first) return closeConn(client);
    const [requestLine = "", ...headerLines] = decoder.decode(first.head).split("\r\n");
    const [method = "", target = ""] = requestLine.split(" ");
    if (method === "CONNECT") {
      const [hostname, port] = splitHostPort(target);
      const allowed = hostname !== undefined && isLoopback(hostname) && port !== undefined;
      let upstream: Deno.Conn | undefined;
      if (allowed) {
        try {
          upstream = track(await Deno.connect({ hostname: unbracket(hostname), port }));
        } catch {
          upstream = undefined;
        }
      }
      requests.push({ kind: "connect", target, method, forwarded: upstream !== undefined });
      if (!upstream) {
        await writeAll(client, encoder.encode(refusal(allowed ? 502 : 403))).catch(() => {});
        return closeConn(client);
      }
      await writeAll(client, encoder.encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
      if (first.rest.length) await writeAll(upstream, first.rest);
      await Promise.all([pipe(client, upstream, false), pipe(upstream, client, true)]);
      return;
    }
    let url: URL | undefined;
    try {
      url = new URL(target);
    } catch {
      url = undefined;
    }
    const allowed = url?.protocol === "http:" && isLoopback(url.hostname);
    let upstream: Deno.Conn | undefined;
    if (allowed && url) {
      try {
        upstream = track(
          await Deno.connect({ hostname: unbracket(url.hostname), port: Number(url.port || 80) }),
        );
      } catch {
        upstream = undefined;
      }
    }
    const recorded = options.record
      ? { request: [] as Uint8Array[], response: [] as Uint8Array[] }
      : undefined;
    requests.push({
      kind: "http",
      target,
      method,
      forwarded: upstream !== undefined,
      ...(recorded ? { recorded } : {}),
    });
    if (!upstream || !url) {
      await writeAll(client, encoder.encode(refusal(allowed ? 502 : 403))).catch(() => {});
      return closeConn(client);
    }
    // One request per connection: the target closes after answering, so a
    // second request on this connection can never bypass the rewriting below.
    const headers = headerLines
      .filter((line) => line && !/^(proxy-connection|connection|keep-alive):/i.test(line));
    const rewritten =
      [`${method} ${url.pathname}${url.search} HTTP/1.1`, ...headers, "connection: close"]
        .join("\r\n") + "\r\n\r\n";
    const head = encoder.encode(rewritten);
    recorded?.request.push(head);
    await writeAll(upstream, head);
    if (first.rest.length) {
      recorded?.request.push(first.rest.slice());
      await writeAll(upstream, first.rest);
    }
    await Promise.all([
      pipe(client, upstream, false, recorded?.request),
      pipe(upstream, client, true, recorded?.response),
    ]);
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        track(conn);
        const task = handle(conn).catch(() => closeConn(conn));
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // The listener was closed.
    }
  })();

  const { port } = listener.addr as Deno.NetAddr;
  return Promise.resolve({
    url: `http://127.0.0.1:${port}`,
    requests,
    bytesFromTargets: () => fromTargets,
    close: async () => {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of [...conns]) closeConn(conn);
      await accepting;
      await Promise.allSettled([...tasks]);
    },
  });
}

/**
 * The recorded bytes of an exchange as text.
 *
 * @param request A request recorded with `record`.
 * @returns The request and the response, each decoded as UTF-8.
 */
export function exchangeText(request: ProxiedRequest): { request: string; response: string } {
  const text = (chunks: readonly Uint8Array[] | undefined) =>
    new TextDecoder().decode(concat(chunks ?? []));
  return { request: text(request.recorded?.request), response: text(request.recorded?.response) };
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function refusal(status: 403 | 502): string {
  const text = status === 403 ? "Forbidden: only loopback targets" : "Bad Gateway";
  return `HTTP/1.1 ${status} ${text}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`;
}

/** Reads up to the blank line that ends a request head; returns the head and what came after. */
async function readHead(
  conn: Deno.Conn,
): Promise<{ head: Uint8Array; rest: Uint8Array } | undefined> {
  let data = new Uint8Array(0);
  const buffer = new Uint8Array(4096);
  while (data.length < HEAD_LIMIT) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      return undefined;
    }
    if (n === null) return undefined;
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(buffer.subarray(0, n), data.length);
    data = next;
    const end = indexOfBlankLine(data);
    if (end >= 0) return { head: data.subarray(0, end), rest: data.subarray(end + 4) };
  }
  return undefined;
}

function indexOfBlankLine(data: Uint8Array): number {
  for (let i = 0; i + 3 < data.length; i++) {
    if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) return i;
  }
  return -1;
}

function splitHostPort(target: string): [string | undefined, number | undefined] {
  const match = target.match(/^(\[[^\]]+\]|[^:]+):(\d+)$/);
  if (!match) return [undefined, undefined];
  return [match[1], Number(match[2])];
}

function unbracket(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, "$1");
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}
