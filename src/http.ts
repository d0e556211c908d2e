/**
 * One HTTP exchange with an authorization server: timeouts, cancellation, a
 * size limit on bodies, redirects, the one retry some requests get, and
 * turning transport failures into typed errors whose one line names the host.
 *
 * This module is longer than 400 lines because one exchange is one state
 * machine: the limits, timeouts, retries, Retry-After and redirect rules read
 * the same response and must stay together.
 *
 * @module
 */

import { CancelledError, InvalidResponseError, NetworkError, ServerError } from "./errors.ts";
import { systemClock } from "./clock.ts";
import { secureUrl } from "./url_policy.ts";

/** Bodies larger than this are refused without being read whole. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** How long one request may take, headers and body, unless configured otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/**
 * How long the response headers may take to arrive (connecting, TLS, and the
 * server's answer), unless configured otherwise. `fetch` exposes no separate
 * TCP connect, so this is the closest honest "connect timeout".
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** The wait before a retry when the server names none (`Retry-After`). */
export const RETRY_DELAY_MS = 1_000;
/** A `Retry-After` longer than this is not waited for: the request fails at once. */
export const MAX_RETRY_AFTER_MS = 10_000;
/** The most redirects a GET follows. */
export const MAX_REDIRECTS = 5;

/** What every request needs from the client. */
export interface HttpContext {
  readonly fetch: typeof fetch;
  readonly userAgent: string;
  /** The limit for one whole request, headers and body, in milliseconds. */
  readonly requestTimeout: number;
  /** The limit until the response headers arrive, in milliseconds (default 10000). */
  readonly connectTimeout?: number;
  /** Waits before a retry (default: a timer); rejects when the signal aborts. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A response whose body was read and, when it is JSON or a form, parsed. */
export interface HttpResult {
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  /** The parsed body: a JSON value, a form as an object, or `undefined` when it was neither. */
  readonly body: unknown;
  /** The start of the raw body, for error messages. */
  readonly snippet: string;
  /** When this answers a retry: how long the client waited before it, in milliseconds. */
  readonly retriedAfter?: number;
}

/**
 * When a request is sent once more (never more than once):
 * - `"none"`: never. Polls follow their own policy; revocation is best effort.
 * - `"unprocessed"`: after HTTP 503 or 429, answers that say the server did
 *   not act on the request, so that even a refresh (whose token rotates) may
 *   be sent again.
 * - `"idempotent"`: also after a connection that failed (refused, closed,
 *   reset) and after any other 5xx; for requests that change nothing (GET).
 *
 * Timeouts and untrusted certificates are never retried, and neither is a
 * `Retry-After` longer than {@linkcode MAX_RETRY_AFTER_MS}.
 */
export type RetryPolicy = "none" | "unprocessed" | "idempotent";

/**
 * Sends a form-encoded POST and reads the answer. Redirects are refused.
 *
 * @param ctx The client's HTTP settings.
 * @param url The endpoint.
 * @param form The parameters.
 * @param signal Cancels the request.
 * @param retry When to send it once more.
 * @returns The status, headers and parsed body.
 */
export function postForm(
  ctx: HttpContext,
  url: string,
  form: Record<string, string>,
  signal?: AbortSignal,
  retry: RetryPolicy = "none",
): Promise<HttpResult> {
  return sendWithRetry(
    ctx,
    url,
    {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
      // A redirected POST becomes a GET and loses its body; better to say so.
      redirect: "manual",
    },
    signal,
    retry,
  );
}

/**
 * Sends a GET and reads the answer, following up to {@linkcode MAX_REDIRECTS}
 * redirects to https (or loopback) addresses; a loop is an error that says so.
 * Credentials in `headers` (`authorization`) are not sent to another origin.
 *
 * @param ctx The client's HTTP settings.
 * @param url The address.
 * @param signal Cancels the request.
 * @param headers Extra request headers.
 * @param retry When to send it once more.
 * @returns The status, headers and parsed body.
 */
export async function getJson(
  ctx: HttpContext,
  url: string,
  signal?: AbortSignal,
  headers: Record<string, string> = {},
  retry: RetryPolicy = "none",
): Promise<HttpResult> {
  const visited = [url];
  let current = url;
  let sent = headers;
  for (;;) {
    const result = await sendWithRetry(
      ctx,
      current,
      { method: "GET", headers: sent, redirect: "manual" },
      signal,
      retry,
      true,
    );
    const location = isRedirect(result.status) ? result.headers.get("location") : null;
    if (location === null) return result;
    const host = new URL(current).host;
    let next: string;
    try {
      next = secureUrl(new URL(location, current).href, "the redirect").href;
    } catch (error) {
      throw new InvalidResponseError(
        `${host} redirected ${current} to ${location}, which is refused: ${
          (error as Error).message
        }`,
      );
    }
    if (visited.includes(next)) {
      const chain = [...visited.slice(visited.indexOf(next)), next];
      throw new InvalidResponseError(
        `${host} redirects in a loop (${chain.join(" -> ")}); check the address`,
      );
    }
    if (visited.length > MAX_REDIRECTS) {
      throw new InvalidResponseError(
        `${host} redirected ${url} more than ${MAX_REDIRECTS} times; check the address`,
      );
    }
    if (new URL(next).origin !== new URL(current).origin) {
      sent = Object.fromEntries(
        Object.entries(sent).filter(([name]) => name.toLowerCase() !== "authorization"),
      );
    }
    visited.push(next);
    current = next;
  }
}

/**
 * The error for an answer that says the server is unavailable (5xx, 429)
 * without an OAuth error of its own: one line naming the host and the status.
 *
 * @param result The answer.
 * @returns A `ServerError` with `temporarily_unavailable` and the status.
 */
export function unavailable(result: HttpResult): ServerError {
  const host = new URL(result.url).host;
  const reason = REASONS[result.status];
  const again = result.retriedAfter === undefined
    ? ""
    : `, also when asked again ${formatSeconds(result.retriedAfter)} later`;
  return new ServerError({
    error: "temporarily_unavailable",
    errorDescription: `${host} answered HTTP ${result.status}${reason ? ` ${reason}` : ""}${again}`,
    status: result.status,
  });
}

/** What {@linkcode withTimeouts} enforces, in milliseconds. */
export interface Timeouts {
  /** Until the response headers arrive. */
  readonly connectTimeout: number;
  /** The whole request, headers and body; `Infinity` for none. */
  readonly requestTimeout: number;
}

/**
 * Wraps `fetch` with a connect timeout (until the response headers arrive)
 * and a total timeout (until the body has been read). A timeout rejects the
 * response, or errors its body, with a {@linkcode NetworkError} that names
 * the host and the timeout; the caller's own signal still cancels as before.
 *
 * @param base The `fetch` to wrap.
 * @param timeouts The limits, in milliseconds.
 * @returns A `fetch` with the limits.
 *
 * @example
 * ```ts
 * import { withTimeouts } from "./http.ts";
 * const timedFetch = withTimeouts(fetch, { connectTimeout: 10_000, requestTimeout: 30_000 });
 * console.assert(typeof timedFetch === "function");
 * ```
 */
export function withTimeouts(base: typeof fetch, timeouts: Timeouts): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const caller = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    // One controller for the caller's signal and both timers, so that which
    // of them ended the request is known.
    const controller = new AbortController();
    let expired: NetworkError | undefined;
    let phase: "head" | "body" = "head";
    const expire = (limit: number, which: "connect" | "request") => {
      expired = timeoutError(url.host, limit, which, phase);
      controller.abort(expired);
    };
    const onAbort = () => controller.abort(caller?.reason);
    if (caller?.aborted) onAbort();
    else caller?.addEventListener("abort", onAbort, { once: true });
    const connectTimer = startTimer(
      timeouts.connectTimeout,
      () => expire(timeouts.connectTimeout, "connect"),
    );
    const totalTimer = startTimer(
      timeouts.requestTimeout,
      () => expire(timeouts.requestTimeout, "request"),
    );
    const done = () => {
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
      caller?.removeEventListener("abort", onAbort);
    };
    let response: Response;
    try {
      response = await base(input, { ...init, signal: controller.signal });
    } catch (error) {
      done();
      throw expired ?? error;
    }
    clearTimeout(connectTimer);
    phase = "body";
    if (!response.body || NULL_BODY.has(response.status)) {
      done();
      return response;
    }
    // Deno aborts a body only while its Response lives: keep it referenced.
    const source = { response, reader: response.body.getReader() };
    const body = new ReadableStream<Uint8Array>({
      async pull(stream) {
        try {
          const { done: end, value } = await source.reader.read();
          if (end) {
            done();
            stream.close();
          } else {
            stream.enqueue(value);
          }
        } catch (error) {
          done();
          stream.error(expired ?? error);
        }
      },
      cancel(reason) {
        done();
        return source.reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);
// Timeouts and untrusted certificates: waiting and asking again cannot help.
const NOT_RETRIED = new WeakSet<Error>();

function startTimer(ms: number, run: () => void): ReturnType<typeof setTimeout> | undefined {
  // setTimeout overflows past 2^31 - 1 ms and fires at once.
  if (!Number.isFinite(ms) || ms > 2 ** 31 - 1) return undefined;
  return setTimeout(run, Math.max(0, ms));
}

function timeoutError(
  host: string,
  limit: number,
  which: "connect" | "request",
  phase: "head" | "body",
): NetworkError {
  const what = phase === "head" ? "did not answer" : "did not finish its answer";
  const error = new NetworkError(
    `${host} ${what} within ${formatSeconds(limit)} (the ${which} timeout)`,
  );
  NOT_RETRIED.add(error);
  return error;
}

async function sendWithRetry(
  ctx: HttpContext,
  url: string,
  init: RequestInit & { headers: Record<string, string> },
  signal: AbortSignal | undefined,
  retry: RetryPolicy,
  allowRedirects = false,
): Promise<HttpResult> {
  let wait: number;
  try {
    const result = await send(ctx, url, init, signal, allowRedirects);
    const delay = retry === "none" ? undefined : retryDelay(result, retry);
    if (delay === undefined) return result;
    wait = delay;
  } catch (error) {
    const again = retry === "idempotent" && error instanceof NetworkError &&
      !NOT_RETRIED.has(error);
    if (!again) throw error;
    wait = RETRY_DELAY_MS;
  }
  try {
    await (ctx.sleep ?? systemClock.sleep)(wait, signal);
  } catch (error) {
    throw new CancelledError(undefined, { cause: signal?.reason ?? error });
  }
  return { ...await send(ctx, url, init, signal, allowRedirects), retriedAfter: wait };
}

/** How long to wait before retrying an answer, or `undefined` when it is not retried. */
function retryDelay(result: HttpResult, retry: RetryPolicy): number | undefined {
  const { status } = result;
  const unprocessed = status === 503 || status === 429;
  if (!unprocessed && !(retry === "idempotent" && status >= 500)) return undefined;
  const hint = retryAfter(result.headers, Date.now());
  if (hint !== undefined && hint > MAX_RETRY_AFTER_MS) return undefined;
  return hint ?? RETRY_DELAY_MS;
}

async function send(
  ctx: HttpContext,
  url: string,
  init: RequestInit & { headers: Record<string, string> },
  signal: AbortSignal | undefined,
  allowRedirects: boolean,
): Promise<HttpResult> {
  if (signal?.aborted) throw new CancelledError(undefined, { cause: signal.reason });
  const host = new URL(url).host;
  const headers = {
    accept: "application/json",
    "user-agent": ctx.userAgent,
    ...init.headers,
  };
  const timed = withTimeouts(ctx.fetch, {
    connectTimeout: ctx.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
    requestTimeout: ctx.requestTimeout,
  });
  let phase: "head" | "body" = "head";
  try {
    const response = await timed(url, { ...init, headers, ...(signal ? { signal } : {}) });
    if (
      !allowRedirects && isRedirect(response.status) && response.headers.has("location")
    ) {
      await response.body?.cancel();
      throw new InvalidResponseError(
        `${host} redirected the request to ${
          response.headers.get("location")
        }; check the endpoint address`,
      );
    }
    phase = "body";
    const bytes = await readLimited(response, host);
    return parseBody(url, response, bytes);
  } catch (error) {
    if (signal?.aborted) throw new CancelledError(undefined, { cause: signal.reason });
    if (error instanceof InvalidResponseError || error instanceof NetworkError) throw error;
    // A missing --allow-net is no network failure: retrying cannot help.
    if (error instanceof Deno.errors.NotCapable) throw error;
    const reason = describeFetchError(error);
    const failure = phase === "head"
      ? new NetworkError(`Cannot reach ${host}: ${reason.text}`, { cause: error })
      : new NetworkError(`The answer of ${host} was cut short: ${reason.text}`, { cause: error });
    if (reason.final) NOT_RETRIED.add(failure);
    throw failure;
  }
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/**
 * Why a `fetch` failed, in a few words ("connection refused", "its TLS
 * certificate is not trusted (UnknownIssuer); to trust a private CA, set
 * DENO_CERT=..."): Deno's own message is "fetch failed", with the reason deep
 * in the cause chain.
 *
 * @param error What `fetch`, or reading its body, threw.
 * @returns The reason, for a message that names the host.
 *
 * @example
 * ```ts
 * import { transportReason } from "./http.ts";
 * const error = new TypeError("fetch failed", {
 *   cause: new Error("client error (Connect): tcp connect error: Connection refused (os error 111)"),
 * });
 * console.assert(transportReason(error) === "connection refused");
 * ```
 */
export function transportReason(error: unknown): string {
  return describeFetchError(error).text;
}

/**
 * What went wrong under `fetch`, in words: Deno says "fetch failed" and keeps
 * the reason in the cause chain, after the request it was sending.
 */
function describeFetchError(error: unknown): { text: string; final: boolean } {
  const messages: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    messages.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  const all = messages.join("\n");
  const certificate = /invalid peer certificate: (?:Other\(OtherError\()?(\w+)/.exec(all)?.[1];
  if (certificate === "UnknownIssuer") {
    return {
      text:
        "its TLS certificate is not trusted (UnknownIssuer); to trust a private CA, set DENO_CERT=/path/to/ca.pem",
      final: true,
    };
  }
  if (certificate) {
    return { text: `its TLS certificate is not valid (${certificate})`, final: true };
  }
  if (/connection refused/i.test(all)) return { text: "connection refused", final: false };
  if (/connection reset/i.test(all)) return { text: "the connection was reset", final: false };
  if (/connection closed before message completed/i.test(all)) {
    return { text: "the connection was closed before an answer", final: false };
  }
  if (/error reading a body from connection|unexpected end of file|IncompleteBody/i.test(all)) {
    return { text: "the connection was closed in the middle of the answer", final: false };
  }
  if (/dns error|failed to lookup address|name or service not known/i.test(all)) {
    return { text: "the host name cannot be resolved", final: false };
  }
  // Otherwise the innermost reason, without the request Deno puts before it.
  const inner = messages[messages.length - 1] ?? "";
  const reason = inner
    .replace(/^error sending request[^:]*(?:\([^)]*\))?:\s*/i, "")
    .replace(/^client error \(\w+\):\s*/i, "");
  return { text: (reason.split("\n")[0] ?? reason).trim() || "connection failed", final: false };
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

const REASONS: Readonly<Record<number, string>> = {
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

async function readLimited(response: Response, host: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    await response.body?.cancel();
    throw tooLarge(host);
  }
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel();
      throw tooLarge(host);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function tooLarge(host: string): InvalidResponseError {
  return new InvalidResponseError(
    `The response from ${host} is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB; refused`,
  );
}

function parseBody(url: string, response: Response, bytes: Uint8Array): HttpResult {
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  const type = response.headers.get("content-type") ?? "";
  let body: unknown = undefined;
  if (text !== undefined) {
    if (type.includes("application/x-www-form-urlencoded")) {
      // GitHub answers in this form when a client forgets to ask for JSON.
      body = Object.fromEntries(new URLSearchParams(text));
    } else if (text.trim().startsWith("{") || text.trim().startsWith("[")) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
  }
  const snippet = text === undefined
    ? "(not UTF-8)"
    : text.replace(/\s+/g, " ").trim().slice(0, 120) || "(empty)";
  return { url, status: response.status, headers: response.headers, body, snippet };
}

/**
 * Reads a `Retry-After` header (delay in seconds, or an HTTP date).
 *
 * @param headers The response headers.
 * @param now The current time in milliseconds.
 * @returns The delay in milliseconds, or `undefined` when absent or unreadable.
 */
export function retryAfter(headers: Headers, now: number): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
