/**
 * A `fetch` for tests that answers from per-URL scripts and records every
 * call, so the library can be driven through any sequence of server answers
 * with no network.
 *
 * @example
 * ```ts
 * import { json, ScriptedFetch } from "./scripted_fetch.ts";
 * const server = new ScriptedFetch();
 * server.on("https://id.example.com/token", json(400, { error: "authorization_pending" }));
 * const res = await server.fetch("https://id.example.com/token", { method: "POST", body: "a=1" });
 * console.assert(res.status === 400 && server.calls[0]?.form?.a === "1");
 * ```
 *
 * @module
 */

/** One request the fetch received. */
export interface RecordedCall {
  /** The method, upper-case. */
  readonly method: string;
  /** The whole URL. */
  readonly url: string;
  /** The request headers, as sent. */
  readonly headers: Headers;
  /** The raw request body ("" when there is none). */
  readonly body: string;
  /** The body parsed as a form, when it is `application/x-www-form-urlencoded`. */
  readonly form: Record<string, string> | undefined;
  /** The clock's time when the request was sent (virtual with a fake clock). */
  readonly time: number;
}

/** What a script step may be: a response, an error to throw, or a function that answers. */
export type Step =
  | Response
  | Error
  | ((call: RecordedCall, signal: AbortSignal | undefined) => Response | Promise<Response>);

/** Per-URL scripts of answers; the last step of a script repeats. */
export class ScriptedFetch {
  readonly #scripts = new Map<string, { steps: Step[]; next: number }>();
  readonly #clock: { now(): number };
  readonly #maxCalls: number;
  /** Every call, in order, scripted or not. */
  readonly calls: RecordedCall[] = [];
  /** Calls to URLs without a script; they fail like an unreachable host. */
  readonly unexpected: RecordedCall[] = [];

  /**
   * Starts with no scripts.
   *
   * @param clock Where call times come from (default: the wall clock).
   * @param options `maxCalls`: past this many calls every call fails, so that a
   * polling loop that never stops ends the test instead of hanging it (default 100).
   */
  constructor(
    clock: { now(): number } = { now: () => Date.now() },
    options: { maxCalls?: number } = {},
  ) {
    this.#clock = clock;
    this.#maxCalls = options.maxCalls ?? 100;
  }

  /**
   * Sets the script of a URL, replacing any earlier one.
   *
   * @param url The exact URL, optionally prefixed with a method (`"GET https://…"`).
   * @param steps The answers, in order; the last one repeats.
   * @returns This, for chaining.
   */
  on(url: string, ...steps: Step[]): this {
    if (steps.length === 0) throw new TypeError("A script needs at least one step");
    this.#scripts.set(url, { steps, next: 0 });
    return this;
  }

  /**
   * The calls made to a URL.
   *
   * @param url The exact URL.
   * @param method Only calls with this method.
   * @returns The calls, in order.
   */
  callsTo(url: string, method?: string): RecordedCall[] {
    return this.calls.filter((c) => c.url === url && (method === undefined || c.method === method));
  }

  /** The `fetch` to inject. */
  readonly fetch: typeof fetch = async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const url = request?.url ?? String(input instanceof URL ? input.href : input);
    const method = (init?.method ?? request?.method ?? "GET").toUpperCase();
    const headers = new Headers(init?.headers ?? request?.headers);
    const body = typeof init?.body === "string"
      ? init.body
      : init?.body instanceof URLSearchParams
      ? init.body.toString()
      : "";
    const isForm = headers.get("content-type")?.includes("application/x-www-form-urlencoded") ||
      init?.body instanceof URLSearchParams;
    const call: RecordedCall = {
      method,
      url,
      headers,
      body,
      form: isForm ? Object.fromEntries(new URLSearchParams(body)) : undefined,
      time: this.#clock.now(),
    };
    this.calls.push(call);
    const signal = init?.signal ?? request?.signal ?? undefined;
    signal?.throwIfAborted();

    const script = this.#scripts.get(`${method} ${url}`) ?? this.#scripts.get(url);
    if (this.calls.length > this.#maxCalls) {
      this.unexpected.push(call);
      throw new TypeError(`scripted fetch: more than ${this.#maxCalls} calls`);
    }
    if (!script) {
      this.unexpected.push(call);
      throw new TypeError(`scripted fetch has no script for ${method} ${url}`);
    }
    const step = script.steps[Math.min(script.next, script.steps.length - 1)]!;
    script.next++;
    if (step instanceof Error) throw step;
    if (step instanceof Response) return step.clone();
    const response = await step(call, signal);
    signal?.throwIfAborted();
    return response;
  };
}

/**
 * A JSON response.
 *
 * @param status The HTTP status.
 * @param body The value to send.
 * @param headers Extra headers.
 * @returns The response.
 */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/**
 * A text response (HTML, a plain error page, an empty body).
 *
 * @param status The HTTP status.
 * @param body The text.
 * @param headers Extra headers.
 * @returns The response.
 */
export function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 || status === 304 ? null : body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/**
 * What `fetch` throws when the host cannot be reached.
 *
 * @param message The reason.
 * @returns The error to use as a step.
 */
export function networkError(message = "error sending request: connection refused"): TypeError {
  return new TypeError(message);
}

/**
 * A step that never answers until the request is aborted.
 *
 * @returns The step.
 */
export function hang(): Step {
  return (_call, signal) =>
    new Promise<Response>((_resolve, reject) => {
      if (!signal) return;
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
}

/**
 * The times between consecutive calls, in milliseconds.
 *
 * @param calls The calls, in order.
 * @param start A time to measure the first gap from.
 * @returns The gaps.
 */
export function gaps(calls: readonly RecordedCall[], start?: number): number[] {
  const times = start === undefined
    ? calls.map((c) => c.time)
    : [start, ...calls.map((c) => c.time)];
  return times.slice(1).map((t, i) => t - times[i]!);
}

/**
 * An unsigned JWT with the given claims, as a token endpoint would send an
 * ID token (the library does not verify signatures of ID tokens it fetched).
 *
 * @param claims The payload.
 * @returns The compact JWT.
 */
export function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) =>
    btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

/**
 * Entra's `client_info`: base64url JSON of the home account's uid and utid.
 *
 * @param uid The object ID.
 * @param utid The home tenant ID.
 * @returns The encoded value.
 */
export function clientInfo(uid: string, utid: string): string {
  return btoa(JSON.stringify({ uid, utid })).replace(/=+$/, "").replace(/\+/g, "-").replace(
    /\//g,
    "_",
  );
}

/**
 * Awaits a promise that must reject, and returns what it rejected with.
 *
 * @param promise The promise.
 * @returns The rejection reason.
 */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("Expected the promise to reject, but it resolved");
}
