/**
 * The options of the client and of each of its requests.
 *
 * @module
 */

import type { TokenCache } from "../cache/token_cache.ts";
import type { Account, Clock, DeviceCode, Endpoints, PollEvent, Provider } from "../types.ts";

/**
 * The options of {@linkcode DeviceFlowClient}.
 *
 * @example Options for Entra ID, with a cache file
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   DeviceFlowClient,
 *   type DeviceFlowClientOptions,
 *   TokenCache,
 * } from "@deviceflow/deviceflow";
 *
 * const dir = await Deno.makeTempDir();
 * const options: DeviceFlowClientOptions = {
 *   authority: "https://login.microsoftonline.com/contoso.onmicrosoft.com",
 *   clientId: "00000000-0000-0000-0000-000000000000",
 *   cache: await TokenCache.open(`${dir}/cache.db`),
 *   requestTimeout: 10_000,
 * };
 * const client = new DeviceFlowClient(options);
 * assert.equal(client.provider, "entra"); // guessed from the host
 * client.cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface DeviceFlowClientOptions {
  /** The application (client) ID registered with the server. */
  clientId: string;
  /**
   * The issuer URL (discovery is used), an Entra authority such as
   * `https://login.microsoftonline.com/contoso.onmicrosoft.com`, or a GitHub
   * (Enterprise Server) base URL. Optional with `endpoints` or with the
   * `github` and `google` providers.
   */
  authority?: string;
  /** Endpoints for servers without discovery; they take precedence over discovered ones. */
  endpoints?: Partial<Endpoints> & Pick<Endpoints, "deviceAuthorization" | "token">;
  /** The client secret, for servers that require one (Google). */
  clientSecret?: string;
  /** Whose quirks apply; guessed from the authority's host when absent. */
  provider?: Provider;
  /** Add `openid profile offline_access` for OIDC and Entra servers (default `true`). */
  defaultScopes?: boolean;
  /** The token cache (default: a new one in memory). */
  cache?: TokenCache;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** The clock (default: the system clock). */
  clock?: Clock;
  /** The `User-Agent` header. */
  userAgent?: string;
  /** The limit for one HTTP request, headers and body, in milliseconds (default 30000). */
  requestTimeout?: number;
  /**
   * The language of the sign-in: `en`, `de`, `zh`, `fr`, `ja` or `es` (a
   * region or encoding suffix is accepted: `de_AT.UTF-8`; anything else is
   * English). It writes {@linkcode DeviceCode.message} when the server sends
   * none, and asks the server for its own text in it: Entra's `mkt`, and
   * OpenID Connect's `ui_locales` where discovery lists the language.
   */
  locale?: string;
  /**
   * The limit until an HTTP response's headers arrive (connecting, TLS and the
   * server's answer), in milliseconds (default 10000).
   */
  connectTimeout?: number;
  /**
   * How long a refresh lease lives if its holder dies, in milliseconds
   * (default: twice the request timeout, plus 15 s: a refresh and its one retry).
   */
  leaseTtl?: number;
}

/**
 * The options of {@linkcode DeviceFlowClient.initiateDeviceFlow}.
 *
 * @example Ask for a code for some scopes
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, type InitiateOptions } from "@deviceflow/deviceflow";
 *
 * const requests: string[] = [];
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: {
 *     deviceAuthorization: "https://id.example.com/device",
 *     token: "https://id.example.com/token",
 *   },
 *   defaultScopes: false,
 *   // A stand-in server that records the form it was sent.
 *   fetch: async (_input, init) => {
 *     requests.push(String(init?.body));
 *     return Response.json({
 *       device_code: "d",
 *       user_code: "WDJB-MJHT",
 *       verification_uri: "https://id.example.com/device",
 *       expires_in: 600,
 *     });
 *   },
 * });
 * const options: InitiateOptions = { scopes: ["read:org", "repo"], signal: AbortSignal.timeout(30_000) };
 * const code = await client.initiateDeviceFlow(options);
 * assert.equal(code.userCode, "WDJB-MJHT");
 * assert.match(requests[0]!, /scope=read%3Aorg\+repo/);
 * ```
 */
export interface InitiateOptions {
  /** The scopes to request. Items may hold several space-separated scopes. */
  scopes?: readonly string[];
  /** Claims to request (an Entra claims challenge), as JSON. */
  claims?: string;
  /** Cancels the request. */
  signal?: AbortSignal;
}

/**
 * The options of {@linkcode DeviceFlowClient.acquireTokenByDeviceFlow}.
 *
 * @example Poll with a time limit and progress
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, type PollOptions } from "@deviceflow/deviceflow";
 *
 * let polls = 0;
 * // A stand-in server: pending at the first poll, approved at the second.
 * const server: typeof fetch = (input) => {
 *   if (String(input).endsWith("/device")) {
 *     return Promise.resolve(Response.json({
 *       device_code: "d",
 *       user_code: "U",
 *       verification_uri: "https://id.example.com/d",
 *       expires_in: 600,
 *     }));
 *   }
 *   return Promise.resolve(
 *     ++polls === 1
 *       ? Response.json({ error: "authorization_pending" }, { status: 400 })
 *       : Response.json({ access_token: "t", token_type: "Bearer", expires_in: 3600 }),
 *   );
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
 * const events: string[] = [];
 * const options: PollOptions = { timeout: 900, onPending: (event) => events.push(event.type) };
 * const code = await client.initiateDeviceFlow({ scopes: ["api"] });
 * const result = await client.acquireTokenByDeviceFlow(code, options);
 * assert.equal(result.accessToken, "t");
 * assert.deepEqual(events, ["pending"]);
 * ```
 */
export interface PollOptions {
  /** Cancels polling at once, even mid-wait. */
  signal?: AbortSignal;
  /**
   * A limit in seconds, on top of the code's own lifetime. The last poll is
   * made at the limit, so an approval in its last second is not lost.
   */
  timeout?: number;
  /**
   * Poll at once, not after the first interval: for a code started earlier,
   * by this or another process, whose interval has passed.
   */
  pollNow?: boolean;
  /** Called after every pending answer, slow-down and retry. */
  onPending?: (event: PollEvent) => void;
}

/**
 * The options of {@linkcode DeviceFlowClient.acquireTokenSilent}.
 *
 * @example A token that lives at least ten more minutes, or an error
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   DeviceFlowClient,
 *   InteractionRequiredError,
 *   type SilentOptions,
 * } from "@deviceflow/deviceflow";
 *
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: {
 *     deviceAuthorization: "https://id.example.com/device",
 *     token: "https://id.example.com/token",
 *   },
 * });
 * const options: SilentOptions = { scopes: ["api"], minTtl: 600 };
 * // Never prompts: with nothing cached, it says a sign-in is needed.
 * await assert.rejects(client.acquireTokenSilent(options), InteractionRequiredError);
 * ```
 */
export interface SilentOptions {
  /** The scopes the token must cover; none means "what the last sign-in asked for". */
  scopes?: readonly string[];
  /** The account; needed only when the cache holds several for this client. */
  account?: Account | string;
  /** The access token must live at least this many more seconds (default 300). */
  minTtl?: number;
  /** Refresh even when the cached token is good. */
  forceRefresh?: boolean;
  /** Extra claims to request (an Entra claims challenge), as JSON. */
  claims?: string;
  /** Cancels the refresh. */
  signal?: AbortSignal;
}

/**
 * The options of {@linkcode DeviceFlowClient.acquireToken}.
 *
 * @example Silently when possible, else with a device code
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AcquireOptions, DeviceFlowClient } from "@deviceflow/deviceflow";
 *
 * // A stand-in for the authorization server, so that the example runs anywhere.
 * const server: typeof fetch = (input) =>
 *   Promise.resolve(Response.json(
 *     String(input).endsWith("/device")
 *       ? {
 *         device_code: "d",
 *         user_code: "WDJB-MJHT",
 *         verification_uri: "https://id.example.com/device",
 *         expires_in: 600,
 *       }
 *       : { access_token: "token-1", token_type: "Bearer", expires_in: 3600 },
 *   ));
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: {
 *     deviceAuthorization: "https://id.example.com/device",
 *     token: "https://id.example.com/token",
 *   },
 *   fetch: server,
 *   clock: { now: () => Date.now(), sleep: () => Promise.resolve() },
 * });
 * const shown: string[] = [];
 * const options: AcquireOptions = {
 *   scopes: ["api"],
 *   onDeviceCode: (code) => {
 *     shown.push(code.userCode); // a program shows code.message on stderr
 *   },
 * };
 * assert.equal((await client.acquireToken(options)).accessToken, "token-1");
 * // The second time comes from the cache: no new code is shown.
 * assert.equal((await client.acquireToken(options)).accessToken, "token-1");
 * assert.deepEqual(shown, ["WDJB-MJHT"]);
 * ```
 */
export interface AcquireOptions extends SilentOptions, PollOptions {
  /** Called with the code to show when a device code sign-in is needed. */
  onDeviceCode: (code: DeviceCode) => void | Promise<void>;
}
