/**
 * One HTTP exchange with an authorization server: timeouts, cancellation, a
 * size limit on bodies, and turning transport failures into typed errors.
 *
 * @module
 */

import { CancelledError, InvalidResponseError, NetworkError } from "./errors.ts";

/** Bodies larger than this are refused without being read whole. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** How long one request may take, headers and body, unless configured otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** What every request needs from the client. */
export interface HttpContext {
  readonly fetch: typeof fetch;
  readonly userAgent: string;
  /** The limit for one whole request, in milliseconds. */
  readonly requestTimeout: number;
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
}

/**
 * Sends a form-encoded POST and reads the answer.
 *
 * @param ctx The client's HTTP settings.
 * @param url The endpoint.
 * @param form The parameters.
 * @param signal Cancels the request.
 * @returns The status, headers and parsed body.
 */
export function postForm(
  ctx: HttpContext,
  url: string,
  form: Record<string, string>,
  signal?: AbortSignal,
): Promise<HttpResult> {
  return send(ctx, url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
    // A redirected POST becomes a GET and loses its body; better to say so.
    redirect: "manual",
  }, signal);
}

/**
 * Sends a GET and reads the answer, following redirects.
 *
 * @param ctx The client's HTTP settings.
 * @param url The address.
 * @param signal Cancels the request.
 * @param headers Extra request headers.
 * @returns The status, headers and parsed body.
 */
export function getJson(
  ctx: HttpContext,
  url: string,
  signal?: AbortSignal,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return send(ctx, url, { method: "GET", headers }, signal);
}

async function send(
  ctx: HttpContext,
  url: string,
  init: RequestInit & { headers: Record<string, string> },
  signal?: AbortSignal,
): Promise<HttpResult> {
  signal?.throwIfAborted?.();
  const host = new URL(url).host;
  const timeout = AbortSignal.timeout(ctx.requestTimeout);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  const headers = {
    accept: "application/json",
    "user-agent": ctx.userAgent,
    ...init.headers,
  };
  try {
    const response = await ctx.fetch(url, { ...init, headers, signal: combined });
    if (response.status >= 300 && response.status < 400 && response.headers.has("location")) {
      await response.body?.cancel();
      throw new InvalidResponseError(
        `${host} redirected the request to ${
          response.headers.get("location")
        }; check the endpoint address`,
      );
    }
    const bytes = await readLimited(response, host);
    return parseBody(url, response, bytes);
  } catch (error) {
    if (signal?.aborted) throw new CancelledError(undefined, { cause: signal.reason });
    if (timeout.aborted) {
      throw new NetworkError(
        `${host} did not answer within ${ctx.requestTimeout / 1000} s`,
        { cause: error },
      );
    }
    if (error instanceof InvalidResponseError || error instanceof NetworkError) throw error;
    throw new NetworkError(`Cannot reach ${host}: ${describeFetchError(error)}`, { cause: error });
  }
}

function describeFetchError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // Deno prefixes transport errors with the request; keep the reason only.
  const reason = message.replace(/^error sending request(?: for url \([^)]*\))?:\s*/i, "");
  return (reason.split("\n")[0] ?? reason).trim() || "connection failed";
}

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
