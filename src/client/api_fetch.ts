/**
 * Calling a web API with an access token: the `Authorization` header, one
 * retry with a refreshed token when the API says the token is invalid, one
 * retry with a new token on a claims challenge, and redirects followed only
 * within the API's origin, so that the token never leaves it.
 *
 * @module
 */

import { secureUrl } from "../url_policy.ts";
import { decodeBase64Url } from "../jwt.ts";
import type { Account, DeviceCode, TokenResult } from "../types.ts";

/**
 * The `init` of {@linkcode DeviceFlowClient.fetch}: a `RequestInit` plus which token to send.
 *
 * @example Call an API with a token, signing in when none can be had silently
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ApiFetchInit, DeviceFlowClient } from "@deviceflow/deviceflow";
 *
 * // A stand-in for the authorization server and the API, so that the example runs anywhere.
 * const server: typeof fetch = (input, init) => {
 *   const url = String(input instanceof Request ? input.url : input);
 *   if (url.endsWith("/device")) {
 *     return Promise.resolve(Response.json({
 *       device_code: "d",
 *       user_code: "WDJB-MJHT",
 *       verification_uri: "https://id.example.com/device",
 *       expires_in: 600,
 *     }));
 *   }
 *   if (url.endsWith("/token")) {
 *     return Promise.resolve(
 *       Response.json({ access_token: "token-1", token_type: "Bearer", expires_in: 3600 }),
 *     );
 *   }
 *   return Promise.resolve(Response.json({ authorization: new Headers(init?.headers).get("authorization") }));
 * };
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: {
 *     deviceAuthorization: "https://id.example.com/device",
 *     token: "https://id.example.com/token",
 *   },
 *   fetch: server,
 *   clock: { now: () => Date.now(), sleep: () => Promise.resolve() },
 * });
 * const init: ApiFetchInit = {
 *   scopes: ["api"],
 *   headers: { accept: "application/json" },
 *   // Without onDeviceCode, fetch never signs in: it throws InteractionRequiredError.
 *   onDeviceCode: (code) => console.error(code.message),
 * };
 * const response = await client.fetch("https://api.example.com/me", init);
 * assert.deepEqual(await response.json(), { authorization: "Bearer token-1" });
 * ```
 */
export interface ApiFetchInit extends RequestInit {
  /** The scopes the token must cover; none means "what the last sign-in asked for". */
  scopes?: readonly string[];
  /** The account; needed only when the cache holds several for this client. */
  account?: Account | string;
  /** The access token must live at least this many more seconds (default 300). */
  minTtl?: number;
  /**
   * Called with the code to show when a device code sign-in is needed. Without
   * it the call never signs in: it throws `InteractionRequiredError` instead.
   */
  onDeviceCode?: (code: DeviceCode) => void | Promise<void>;
}

/** Why a token is needed. */
export interface TokenRequest {
  /**
   * `initial` for the first attempt, `invalid_token` after the API refused the
   * token (the token must be refreshed), `claims` after a claims challenge.
   */
  readonly reason: "initial" | "invalid_token" | "claims";
  /** The claims the API asked for, as JSON, when `reason` is `claims`. */
  readonly claims?: string;
}

/** Gets the token to send; {@linkcode fetchWithToken} calls it at most twice. */
export type TokenSource = (
  request: TokenRequest,
) => Promise<Pick<TokenResult, "accessToken" | "tokenType">>;

/** The options of {@linkcode fetchWithToken}. */
export interface FetchWithTokenOptions {
  /** Where the tokens come from. */
  token: TokenSource;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
}

/**
 * One challenge of a `WWW-Authenticate` header (RFC 9110 section 11.6.1).
 *
 * @example The challenges of a 401
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AuthChallenge, parseWwwAuthenticate } from "@deviceflow/deviceflow";
 *
 * const challenges: AuthChallenge[] = parseWwwAuthenticate(
 *   'Bearer realm="api", error="invalid_token", Basic realm="legacy"',
 * );
 * assert.deepEqual(challenges.map((c) => c.scheme), ["Bearer", "Basic"]);
 * assert.equal(challenges[0]?.params.error, "invalid_token");
 * ```
 */
export interface AuthChallenge {
  /** The scheme, as sent (compare it case-insensitively). */
  readonly scheme: string;
  /** The parameters, by lower-case name, with quoted strings unquoted. */
  readonly params: Readonly<Record<string, string>>;
  /** The token68 form of credentials, for schemes that use it instead of parameters. */
  readonly token68?: string;
}

/** The most redirects followed within the origin, as browsers allow. */
const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Sends a request with an access token, and retries it once when the API
 * answers 401 with `error="invalid_token"` (after a forced refresh) or with a
 * claims challenge (`error="insufficient_claims"` and `claims=`, after getting
 * a token with those claims). Any other answer, and the answer to the retry,
 * is returned as it is.
 *
 * Redirects within the origin of the URL are followed with the token;
 * a redirect to another origin is not followed: the 3xx response is returned,
 * so the token is never sent anywhere else. With `redirect: "manual"` no
 * redirect is followed; with `redirect: "error"` any redirect throws.
 *
 * @param input The API's address (https, or http on a loopback address), or a `Request`.
 * @param init The request, as for `fetch`. Its body is read once and sent again on a retry.
 * @param options Where tokens come from, and the `fetch` to use.
 * @returns The response.
 * @throws {TypeError} When the URL is not https (or http on loopback), or a
 * redirect happens under `redirect: "error"`.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export async function fetchWithToken(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  options: FetchWithTokenOptions,
): Promise<Response> {
  const request = new Request(input, init);
  const url = secureUrl(request.url, "the API URL");
  const fetchImpl = options.fetch ?? ((i: RequestInfo | URL, o?: RequestInit) => fetch(i, o));
  const redirect = init?.redirect ?? (input instanceof Request ? input.redirect : "follow");
  // Read once, so that a retry can send the same bytes.
  const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
  const extra = passThrough(init);
  const send = async (token: Pick<TokenResult, "accessToken" | "tokenType">) => {
    const headers = new Headers(request.headers);
    headers.set("authorization", `${authScheme(token.tokenType)} ${token.accessToken}`);
    return await sendWithinOrigin(fetchImpl, url, {
      ...extra,
      method: request.method,
      headers,
      body: body ?? null,
      signal: request.signal,
    }, redirect);
  };

  const response = await send(await options.token({ reason: "initial" }));
  const retry = retryReason(response);
  if (!retry) return response;
  await response.body?.cancel();
  return await send(await options.token(retry));
}

/**
 * Parses a `WWW-Authenticate` header: one or more challenges, each a scheme
 * with parameters (quoted strings with backslash escapes, or tokens) or a
 * token68. Several headers joined with commas parse as one.
 *
 * @param header The header's value.
 * @returns The challenges, in order; malformed parts are skipped.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1
 *
 * @example A claims challenge
 * ```ts
 * import { parseWwwAuthenticate } from "./api_fetch.ts";
 * const [bearer] = parseWwwAuthenticate(
 *   'Bearer realm="", error="insufficient_claims", claims="eyJ9"',
 * );
 * console.assert(bearer?.params.error === "insufficient_claims");
 * ```
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let pos = 0;
  const skip = (pattern: RegExp) => {
    while (pos < header.length && pattern.test(header[pos]!)) pos++;
  };
  const match = (pattern: RegExp) => {
    pattern.lastIndex = pos;
    const found = pattern.exec(header);
    if (found) pos = pattern.lastIndex;
    return found;
  };
  const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
  const TOKEN68 = /[A-Za-z0-9._~+/-]+=*(?=[ \t]*(,|$))/y;
  const PARAM_START = /[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]*=/y;
  while (pos < header.length) {
    skip(/[ \t,]/);
    const scheme = match(TOKEN)?.[0];
    if (!scheme) {
      // Not a challenge: skip to the next comma.
      while (pos < header.length && header[pos] !== ",") pos++;
      continue;
    }
    const params: Record<string, string> = {};
    let token68: string | undefined;
    skip(/[ \t]/);
    const token68Match = match(TOKEN68);
    if (token68Match) token68 = token68Match[0];
    else {
      for (;;) {
        const start = pos;
        skip(/[ \t,]/);
        PARAM_START.lastIndex = pos;
        if (!PARAM_START.test(header)) {
          // What follows is the next challenge's scheme, or the end.
          pos = start;
          break;
        }
        const name = match(TOKEN)![0].toLowerCase();
        skip(/[ \t]/);
        pos++; // "="
        skip(/[ \t]/);
        let value: string;
        if (header[pos] === '"') {
          value = "";
          pos++;
          while (pos < header.length && header[pos] !== '"') {
            if (header[pos] === "\\" && pos + 1 < header.length) pos++;
            value += header[pos++];
          }
          pos++; // closing quote
        } else {
          value = match(TOKEN)?.[0] ?? "";
        }
        // The first occurrence counts, as RFC 6750 allows each parameter only once.
        if (!(name in params)) params[name] = value;
        skip(/[ \t]/);
      }
    }
    challenges.push(token68 === undefined ? { scheme, params } : { scheme, params, token68 });
  }
  return challenges;
}

/**
 * Decodes the `claims` of a claims challenge: base64 (standard or URL-safe
 * alphabet) of a JSON object, or, from lenient servers, the JSON itself.
 *
 * @param value The `claims` parameter.
 * @returns The JSON text, or `undefined` when it is not a JSON object.
 *
 * @example The claims an API asks for
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeClaimsChallenge, parseWwwAuthenticate } from "@deviceflow/deviceflow";
 *
 * const claims = btoa('{"access_token":{"acrs":{"essential":true,"value":"c1"}}}');
 * const [bearer] = parseWwwAuthenticate(`Bearer error="insufficient_claims", claims="${claims}"`);
 * const json = decodeClaimsChallenge(bearer!.params.claims!);
 * assert.deepEqual(JSON.parse(json!), { access_token: { acrs: { essential: true, value: "c1" } } });
 * assert.equal(decodeClaimsChallenge("not base64 JSON"), undefined);
 * ```
 */
export function decodeClaimsChallenge(value: string): string | undefined {
  const text = value.trim().startsWith("{") ? value.trim() : decodeBase64Url(value.trim());
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
      ? text
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Bearer challenge that explains a 401, if any: the claims challenge
 * when there is one, else the first Bearer challenge with an error.
 *
 * @param response The response.
 * @returns The challenge's parameters, or `undefined`.
 */
export function bearerError(response: Response): Readonly<Record<string, string>> | undefined {
  const header = response.headers.get("www-authenticate");
  if (!header) return undefined;
  const bearer = parseWwwAuthenticate(header)
    .filter((c) => c.scheme.toLowerCase() === "bearer" && c.params.error !== undefined);
  return (bearer.find((c) => c.params.error === "insufficient_claims" && c.params.claims) ??
    bearer[0])?.params;
}

/**
 * Splits {@linkcode ApiFetchInit} into what picks the token and the plain `RequestInit`.
 *
 * @param init The caller's init.
 * @returns The request part.
 */
export function requestInit(init: ApiFetchInit): RequestInit {
  const { scopes: _s, account: _a, minTtl: _m, onDeviceCode: _o, ...rest } = init;
  return rest;
}

function retryReason(response: Response): TokenRequest | undefined {
  if (response.status !== 401) return undefined;
  const params = bearerError(response);
  if (params?.error === "insufficient_claims" && params.claims) {
    const claims = decodeClaimsChallenge(params.claims);
    return claims ? { reason: "claims", claims } : undefined;
  }
  return params?.error === "invalid_token" ? { reason: "invalid_token" } : undefined;
}

/** What else the caller put in `init` (Deno's `client`, `keepalive`, ...), passed on as is. */
function passThrough(init: RequestInit | undefined): RequestInit {
  if (!init) return {};
  const { method: _m, headers: _h, body: _b, signal: _s, redirect: _r, ...rest } = init;
  return rest;
}

function authScheme(tokenType: string): string {
  // Servers spell it "bearer" too (GitHub); resource servers expect "Bearer".
  return !tokenType || tokenType.toLowerCase() === "bearer" ? "Bearer" : tokenType;
}

async function sendWithinOrigin(
  fetchImpl: typeof fetch,
  start: URL,
  init: RequestInit,
  redirect: RequestRedirect,
): Promise<Response> {
  let url = start;
  let method = init.method ?? "GET";
  let body = init.body ?? null;
  const headers = new Headers(init.headers);
  for (let hops = 0;; hops++) {
    const response = await fetchImpl(url, {
      ...init,
      method,
      headers,
      body,
      redirect: "manual",
    });
    const location = response.headers.get("location");
    if (!REDIRECT_STATUSES.has(response.status) || location === null || redirect === "manual") {
      return response;
    }
    if (redirect === "error") {
      await response.body?.cancel();
      throw new TypeError(`Cannot fetch ${start.href}: the server redirected it`);
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      return response;
    }
    // Another origin never gets the token: the caller sees the redirect instead.
    if (next.origin !== start.origin || hops >= MAX_REDIRECTS) return response;
    await response.body?.cancel();
    // As fetch does: 303, and 301 or 302 after a POST, continue as a GET without the body.
    if (
      (response.status === 303 && method !== "HEAD") ||
      ((response.status === 301 || response.status === 302) && method === "POST")
    ) {
      method = "GET";
      body = null;
      for (const name of ["content-type", "content-length", "content-encoding"]) {
        headers.delete(name);
      }
    }
    url = next;
  }
}
