/**
 * The client: device code sign-in, silent acquisition from the cache and by
 * refresh, accounts and revocation.
 *
 * This module is longer than 400 lines because it is the public façade, and
 * each public method carries its documented example; the silent lookup,
 * identity, options and API fetch are in their own modules.
 *
 * @module
 */

import { TokenCache } from "../cache/token_cache.ts";
import type { CachedAccessToken, CachedAccount } from "../cache/types.ts";
import { OIDC_SCOPES, resourceScopes, scopeKey, splitScopes } from "../scopes.ts";
import {
  cachedToken,
  DEFAULT_MIN_TTL_SECONDS,
  findAccount,
  isFresh,
  publicAccount,
  resultFromCache,
} from "./silent.ts";

export { accountMatches, DEFAULT_MIN_TTL_SECONDS } from "./silent.ts";
export { OIDC_SCOPES } from "../scopes.ts";
import { type ApiFetchInit, fetchWithToken, requestInit, type TokenSource } from "./api_fetch.ts";
import { systemClock } from "../clock.ts";
import { discoverEndpoints } from "../protocol/discovery.ts";
import { presetEndpoints } from "../protocol/presets.ts";
import { DeviceFlowError, InteractionRequiredError, NetworkError, ServerError } from "../errors.ts";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type HttpContext,
  type HttpResult,
  MAX_RETRY_AFTER_MS,
  postForm,
} from "../http.ts";
import { pollForToken } from "../protocol/poll.ts";
import { parseTokenResponse } from "../protocol/responses.ts";
import { registerSecret } from "../redact.ts";
import { buildTokenResult } from "../protocol/token_result.ts";
import type { Account, Clock, DeviceCode, Endpoints, Provider, TokenResult } from "../types.ts";
import { VERSION } from "../version.ts";
import { clientIdentity } from "./options.ts";
import { withLease } from "./refresh_lease.ts";
import { storeResult } from "./store_result.ts";
import { requestDeviceCode } from "../protocol/device_code.ts";
import { type ClientCredentials, tokenExtras } from "../protocol/exchange.ts";
import { fetchProfile } from "../protocol/profile.ts";
import { needsInteraction, refreshGrant } from "../protocol/refresh.ts";
import { revokeRefreshToken } from "../protocol/revocation.ts";
import { type Locale, parseLocale } from "../i18n/locale.ts";
import type {
  AcquireOptions,
  DeviceFlowClientOptions,
  InitiateOptions,
  PollOptions,
  SilentOptions,
} from "./requests.ts";

export type * from "./requests.ts";

const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/** Cached metadata is used for this long before it is fetched again. */
const METADATA_TTL_MS = 24 * 60 * 60 * 1000;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A client of one authorization server, for one application.
 *
 * @example Sign in with a device code, then get tokens silently
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, TokenCache } from "@deviceflow/deviceflow";
 *
 * // A stand-in for the authorization server, so that the example runs anywhere;
 * // a real program passes no fetch and names its server's authority.
 * const server: typeof fetch = (input) =>
 *   Promise.resolve(Response.json(
 *     String(input).endsWith("/device")
 *       ? {
 *         device_code: "d",
 *         user_code: "WDJB-MJHT",
 *         verification_uri: "https://id.example.com/device",
 *         expires_in: 600,
 *       }
 *       : { access_token: "token-1", token_type: "Bearer", expires_in: 3600, refresh_token: "r" },
 *   ));
 * const dir = await Deno.makeTempDir();
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: {
 *     deviceAuthorization: "https://id.example.com/device",
 *     token: "https://id.example.com/token",
 *   },
 *   cache: await TokenCache.open(`${dir}/cache.db`),
 *   fetch: server,
 *   clock: { now: () => Date.now(), sleep: () => Promise.resolve() },
 * });
 * const result = await client.acquireToken({
 *   scopes: ["api"],
 *   onDeviceCode: (code) => console.error(code.message),
 * });
 * // Later, from the cache: no prompt and no request.
 * const again = await client.acquireTokenSilent({ scopes: ["api"] });
 * assert.equal(again.accessToken, result.accessToken);
 * client.cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DeviceFlowClient {
  /** The client ID. */
  readonly clientId: string;
  /** The provider whose quirks apply. */
  readonly provider: Provider;
  /** The authority, normalised: the key of this client's accounts in the cache. */
  readonly authority: string;
  /** The token cache. */
  readonly cache: TokenCache;
  readonly #clientSecret: string | undefined;
  readonly #authorityUrl: URL | undefined;
  readonly #explicitEndpoints: DeviceFlowClientOptions["endpoints"];
  readonly #defaultScopes: boolean;
  readonly #locale: Locale | undefined;
  readonly #clock: Clock;
  readonly #http: HttpContext;
  readonly #leaseTtl: number;
  #endpoints: Promise<Endpoints> | undefined;
  readonly #inflight = new Map<string, Promise<unknown>>();

  /**
   * Creates a client. Nothing is fetched until the first request.
   *
   * @param options What to connect to and how.
   * @throws {TypeError} When an option is missing or malformed; the message names it.
   */
  constructor(options: DeviceFlowClientOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Cannot create a DeviceFlowClient: options must be an object");
    }
    const { clientId } = options;
    if (typeof clientId !== "string" || !clientId.trim()) {
      throw new TypeError("Cannot create a DeviceFlowClient: clientId must be a non-empty string");
    }
    this.clientId = clientId;
    const identity = clientIdentity(options);
    this.#authorityUrl = identity.authorityUrl;
    this.provider = identity.provider;
    this.authority = identity.authority;
    this.#explicitEndpoints = options.endpoints;
    if (options.clientSecret !== undefined && typeof options.clientSecret !== "string") {
      throw new TypeError("Cannot create a DeviceFlowClient: clientSecret must be a string");
    }
    this.#clientSecret = options.clientSecret || undefined;
    registerSecret(this.#clientSecret);
    this.#defaultScopes = options.defaultScopes ?? true;
    if (options.locale !== undefined && typeof options.locale !== "string") {
      throw new TypeError("Cannot create a DeviceFlowClient: locale must be a string");
    }
    this.#locale = options.locale === undefined ? undefined : parseLocale(options.locale) ?? "en";
    this.#clock = options.clock ?? systemClock;
    if (options.fetch !== undefined && typeof options.fetch !== "function") {
      throw new TypeError("Cannot create a DeviceFlowClient: fetch must be a function");
    }
    const requestTimeout = options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const connectTimeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
    for (const [name, value] of Object.entries({ requestTimeout, connectTimeout })) {
      if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
        throw new TypeError(
          `Cannot create a DeviceFlowClient: ${name} must be a positive number of milliseconds`,
        );
      }
    }
    const clock = this.#clock;
    this.#http = {
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      userAgent: options.userAgent ?? defaultUserAgent(),
      requestTimeout,
      connectTimeout,
      sleep: (ms, signal) => clock.sleep(ms, signal),
    };
    // The holder may send a refresh, wait for a Retry-After, and send it again.
    this.#leaseTtl = options.leaseTtl ?? 2 * requestTimeout + MAX_RETRY_AFTER_MS + 5000;
    if (options.cache !== undefined && !(options.cache instanceof TokenCache)) {
      throw new TypeError("Cannot create a DeviceFlowClient: cache must be a TokenCache");
    }
    this.cache = options.cache ?? TokenCache.memory();
  }

  // ------------------------------------------------------------------ endpoints

  /**
   * The server's endpoints: explicit ones, a preset, the cache's copy of the
   * metadata, or discovery, in that order. Resolved once per client.
   *
   * @param signal Cancels discovery.
   * @returns The endpoints.
   */
  resolveEndpoints(signal?: AbortSignal): Promise<Endpoints> {
    this.#endpoints ??= this.#resolve(signal).catch((error) => {
      this.#endpoints = undefined;
      throw error;
    });
    return this.#endpoints;
  }

  async #resolve(signal?: AbortSignal): Promise<Endpoints> {
    const explicit = this.#explicitEndpoints;
    const preset = this.#authorityUrl
      ? presetEndpoints(this.provider, this.#authorityUrl)
      : undefined;
    // Endpoints given for this client are used for its requests only: they
    // never replace what the cache knows of the authority, so that one run with
    // a hostile --revocation-endpoint cannot redirect a later logout.
    let base: Endpoints | undefined = preset;
    if (!preset) {
      const cached = await this.cache.getMetadata(this.authority);
      if (explicit) {
        // A server known only by its endpoints has no metadata but these: the
        // first ones it was used with are kept, and never replaced.
        if (!this.#authorityUrl && !cached) await this.#saveMetadata(explicit as Endpoints);
        return { ...explicit } as Endpoints;
      }
      if (
        cached && cached.provider === this.provider &&
        this.#clock.now() - cached.fetchedAt < METADATA_TTL_MS
      ) {
        return cached.endpoints;
      }
      base = await discoverEndpoints(this.#http, this.provider, this.#authorityUrl!, signal);
    }
    await this.#saveMetadata(base!);
    return { ...base, ...explicit } as Endpoints;
  }

  async #saveMetadata(endpoints: Endpoints): Promise<void> {
    await this.cache.setMetadata(this.authority, {
      provider: this.provider,
      endpoints,
      fetchedAt: this.#clock.now(),
    });
  }

  // ------------------------------------------------------------------ device flow

  /**
   * Starts a device code sign-in (RFC 8628 section 3.1).
   *
   * @param options The scopes and a cancellation signal.
   * @returns The code to show the person, and the secret device code to poll with.
   * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.1
   */
  async initiateDeviceFlow(options: InitiateOptions = {}): Promise<DeviceCode> {
    const scopes = this.#requestScopes(options.scopes);
    const endpoints = await this.resolveEndpoints(options.signal);
    return await requestDeviceCode(this.#http, this.#credentials(), endpoints, {
      scopes,
      claims: options.claims,
      locale: this.#locale,
      now: this.#clock.now(),
      signal: options.signal,
    });
  }

  /**
   * Polls the token endpoint until the person has signed in (RFC 8628
   * section 3.4 and 3.5), then stores the tokens in the cache. Calls for the
   * same device code share one loop, so there is never more than one poll in
   * flight.
   *
   * @param deviceCode What {@linkcode DeviceFlowClient.initiateDeviceFlow} returned.
   * @param options Cancellation, a time limit and progress reports.
   * @returns The tokens and the account.
   * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
   */
  acquireTokenByDeviceFlow(
    deviceCode: DeviceCode,
    options: PollOptions = {},
  ): Promise<TokenResult> {
    if (
      !deviceCode || typeof deviceCode.deviceCode !== "string" ||
      !(deviceCode.expiresAt instanceof Date)
    ) {
      return Promise.reject(new TypeError("Cannot poll: deviceCode must be a DeviceCode"));
    }
    if (options.timeout !== undefined && !(options.timeout > 0)) {
      return Promise.reject(
        new TypeError("Cannot poll: timeout must be a positive number of seconds"),
      );
    }
    return this.#once(`poll:${deviceCode.deviceCode}`, async () => {
      registerSecret(deviceCode.deviceCode);
      const endpoints = await this.resolveEndpoints(options.signal);
      const form: Record<string, string> = {
        grant_type: DEVICE_CODE_GRANT,
        device_code: deviceCode.deviceCode,
        client_id: this.clientId,
        ...tokenExtras(this.#credentials()),
      };
      const result = await pollForToken(deviceCode, {
        clock: this.#clock,
        poll: (signal) => postForm(this.#http, endpoints.token, form, signal),
        signal: options.signal,
        timeout: options.timeout,
        pollNow: options.pollNow,
        onPending: options.onPending,
      });
      const token = await this.#tokenResult(result, deviceCode.scopes, endpoints, options.signal);
      await storeResult(this.cache, token, {
        provider: this.provider,
        now: this.#clock.now(),
        requestedScopes: deviceCode.scopes,
        signInScopes: deviceCode.scopes,
      });
      // The account just signed in is the one used from now on, as with `gh auth login`.
      await this.cache.setActiveAccount(token.account);
      return token;
    });
  }

  // ------------------------------------------------------------------ silent

  /**
   * The accounts in the cache for this client and authority, most recent first.
   *
   * @returns The accounts.
   */
  async getAccounts(): Promise<Account[]> {
    const accounts = await this.cache.getAccounts({
      authority: this.authority,
      clientId: this.clientId,
    });
    return accounts.map(publicAccount);
  }

  /**
   * The active account: the one used when several are cached and none is
   * named. A sign-in makes its account active; {@linkcode DeviceFlowClient.setActiveAccount}
   * changes it; removing it makes the most recent other one active.
   *
   * @returns The account, or `undefined` when none is cached.
   */
  async getActiveAccount(): Promise<Account | undefined> {
    const accounts = await this.getAccounts();
    const active = await this.cache.getActiveAccount(this.authority, this.clientId);
    return accounts.find((a) => a.homeAccountId === active) ??
      (accounts.length === 1 ? accounts[0] : undefined);
  }

  /**
   * Makes a cached account the active one.
   *
   * @param account The account, or its username or home account ID.
   * @returns The account made active.
   * @throws {InteractionRequiredError} When no cached account matches.
   */
  async setActiveAccount(account: Account | string): Promise<Account> {
    const found = await findAccount(this.cache, this, account);
    await this.cache.setActiveAccount(found);
    return publicAccount(found);
  }

  /**
   * Removes an account's tokens from the cache and, where the server has a
   * revocation endpoint (RFC 7009), revokes its refresh token there. A failed
   * revocation does not fail the removal.
   *
   * @param account The account.
   * @param options Cancellation.
   * @returns Whether a refresh token was revoked at the server, and if not, why:
   * `none` (no refresh token was cached), `unsupported` (the server has no
   * revocation endpoint), `refused` (it answered with an error; `status` says
   * which) or `failed` (it could not be reached). In every case but
   * `revoked` and `none`, the refresh token stays valid at the server until it expires.
   */
  async removeAccount(account: Account, options: { signal?: AbortSignal } = {}): Promise<{
    revoked: boolean;
    revocation: "revoked" | "none" | "unsupported" | "refused" | "failed";
    status?: number;
  }> {
    const removed = await this.cache.removeAccount(account);
    if (!removed) return { revoked: false, revocation: "none" };
    let endpoints: Endpoints;
    try {
      endpoints = await this.resolveEndpoints(options.signal);
    } catch (error) {
      if (error instanceof DeviceFlowError && error.code === "cancelled") throw error;
      return { revoked: false, revocation: "failed" };
    }
    if (!endpoints.revocation) return { revoked: false, revocation: "unsupported" };
    return await revokeRefreshToken(
      this.#http,
      this.#credentials(),
      endpoints.revocation,
      removed.secret,
      options.signal,
    );
  }

  /**
   * A token without asking the person: the cached access token when it
   * covers the scopes and lives long enough, else a refresh with the cached
   * refresh token. When several processes need the same refresh, one of them
   * does it and the others use its result.
   *
   * @param options Scopes, account and freshness.
   * @returns The token.
   * @throws {InteractionRequiredError} When the person must sign in again.
   */
  async acquireTokenSilent(options: SilentOptions = {}): Promise<TokenResult> {
    const minTtl = options.minTtl ?? DEFAULT_MIN_TTL_SECONDS;
    if (!(minTtl >= 0)) throw new TypeError("Cannot acquire a token: minTtl must be >= 0 seconds");
    const account = await findAccount(this.cache, this, options.account);
    const wanted = resourceScopes(splitScopes(options.scopes));
    const startedAt = this.#clock.now();
    const fresh = (token: CachedAccessToken | undefined, after?: number) =>
      isFresh(token, minTtl * 1000, this.#clock.now(), after);

    if (!options.forceRefresh && !options.claims) {
      const cached = await cachedToken(this.cache, account, wanted);
      if (fresh(cached)) return resultFromCache(this.cache, account, cached!);
    }
    const key = `refresh:${account.homeAccountId}:${scopeKey(wanted)}:${options.claims ?? ""}`;
    return this.#once(
      key,
      () =>
        this.#refreshUnderLease(
          account,
          wanted,
          options,
          (t) => fresh(t, options.forceRefresh || options.claims ? startedAt : undefined),
        ),
    );
  }

  /**
   * A token, silently when possible, else by a device code sign-in: the
   * whole pattern of a device code client in one call.
   *
   * @param options Scopes, account, how to show the code, and polling limits.
   * @returns The token.
   */
  async acquireToken(options: AcquireOptions): Promise<TokenResult> {
    if (typeof options?.onDeviceCode !== "function") {
      throw new TypeError("Cannot acquire a token: onDeviceCode must be a function");
    }
    try {
      return await this.acquireTokenSilent(options);
    } catch (error) {
      if (!(error instanceof InteractionRequiredError)) throw error;
    }
    const initiate: InitiateOptions = {};
    if (options.scopes) initiate.scopes = options.scopes;
    if (options.signal) initiate.signal = options.signal;
    if (options.claims) initiate.claims = options.claims;
    const code = await this.initiateDeviceFlow(initiate);
    await options.onDeviceCode(code);
    return this.acquireTokenByDeviceFlow(code, options);
  }

  /**
   * Calls a web API with an access token, as `fetch` does. The token comes
   * from {@linkcode DeviceFlowClient.acquireTokenSilent} (or, with
   * `onDeviceCode`, from {@linkcode DeviceFlowClient.acquireToken}). When the
   * API answers 401 with `error="invalid_token"`, the token is refreshed and
   * the request sent once more; on a claims challenge (`insufficient_claims`
   * with `claims=`), a token with those claims is acquired and the request
   * sent once more. Redirects are followed only within the URL's origin; a
   * redirect elsewhere is returned as it is, so the token never leaves the
   * origin. Nothing is printed.
   *
   * @param input The API's address (https, or http on a loopback address), or a `Request`.
   * @param init The request, plus the scopes, account and freshness of the token.
   * @returns The response to the request, or to its one retry.
   * @throws {TypeError} When the URL is not https (or http on a loopback address).
   * @throws {InteractionRequiredError} When a token cannot be had without signing in.
   *
   * @example Call Microsoft Graph
   * ```ts ignore
   * const response = await client.fetch("https://graph.microsoft.com/v1.0/me", {
   *   scopes: ["User.Read"],
   * });
   * console.log(await response.json());
   * ```
   */
  fetch(input: RequestInfo | URL, init: ApiFetchInit = {}): Promise<Response> {
    return fetchWithToken(input, requestInit(init), {
      token: clientTokenSource(this, init),
      fetch: this.#http.fetch,
    });
  }

  // ------------------------------------------------------------------ internals

  #refreshUnderLease(
    account: CachedAccount,
    wanted: string[],
    options: SilentOptions,
    fresh: (token: CachedAccessToken | undefined) => boolean,
  ): Promise<TokenResult> {
    // One lease per account: refreshes of other scopes must wait too, or
    // they spend the same refresh token twice.
    const lease = `${this.authority} ${this.clientId} ${account.homeAccountId}`;
    let cached: CachedAccessToken | undefined;
    return withLease(
      this.cache,
      lease,
      { ttlMs: this.#leaseTtl, clock: this.#clock, signal: options.signal },
      // Another process may have refreshed while this one waited.
      async () => {
        cached = await cachedToken(this.cache, account, wanted);
        return fresh(cached) ? await resultFromCache(this.cache, account, cached!) : undefined;
      },
      () => this.#refresh(account, wanted, cached, options),
    );
  }

  async #refresh(
    account: CachedAccount,
    wanted: string[],
    cached: CachedAccessToken | undefined,
    options: SilentOptions,
  ): Promise<TokenResult> {
    const refresh = await this.cache.getRefreshToken(account, "1");
    if (!refresh) {
      throw new InteractionRequiredError(
        `No refresh token is cached for ${account.username}; sign in again`,
      );
    }
    registerSecret(refresh.secret);
    // A fresh process has not seen the cached access token yet; a server may echo it back.
    registerSecret(cached?.secret);
    const scopes = wanted.length ? this.#requestScopes(wanted) : [...refresh.scopes];
    let result: HttpResult;
    let endpoints: Endpoints;
    try {
      endpoints = await this.resolveEndpoints(options.signal);
      result = await refreshGrant(this.#http, this.#credentials(), endpoints.token, {
        refreshToken: refresh.secret,
        scopes,
        claims: options.claims,
        signal: options.signal,
      });
    } catch (error) {
      const stillValid = cached && !options.claims &&
        (cached.expiresAt === undefined || cached.expiresAt > this.#clock.now());
      if (stillValid && (error instanceof NetworkError || isUnavailable(error))) {
        return resultFromCache(this.cache, account, cached);
      }
      if (error instanceof ServerError && needsInteraction(error)) {
        await this.cache.removeRefreshToken(account, refresh.secret);
        throw new InteractionRequiredError(
          `The server refused the cached sign-in of ${account.username} (${error.error}); sign in again`,
          error,
        );
      }
      throw error;
    }
    const token = await this.#tokenResult(result, scopes, endpoints, options.signal, account);
    // No refresh token in the answer means the old one stays valid.
    const stored: TokenResult = token.refreshToken
      ? token
      : { ...token, refreshToken: refresh.secret };
    // The refresh token keeps the scopes of the sign-in, whatever this refresh asked for.
    await storeResult(this.cache, stored, {
      provider: this.provider,
      now: this.#clock.now(),
      requestedScopes: scopes,
      signInScopes: refresh.scopes,
      signedInAt: account.signedInAt,
    });
    return token;
  }

  async #tokenResult(
    result: HttpResult,
    requestedScopes: readonly string[],
    endpoints: Endpoints,
    signal?: AbortSignal,
    previous?: Account,
  ): Promise<TokenResult> {
    const parsed = parseTokenResponse(result);
    const source = {
      provider: this.provider,
      authority: this.authority,
      clientId: this.clientId,
      issuer: this.provider === "entra" ? undefined : endpoints.issuer,
    };
    const profile = parsed.idToken || previous
      ? undefined
      : await fetchProfile(this.#http, this.provider, parsed.accessToken, endpoints, signal);
    return buildTokenResult(parsed, source, requestedScopes, this.#clock.now(), profile, previous);
  }

  #once<T>(key: string, run: () => Promise<T>): Promise<T> {
    const existing = this.#inflight.get(key);
    if (existing) return existing as Promise<T>;
    const promise = run().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, promise);
    return promise;
  }

  #requestScopes(scopes: readonly string[] | undefined): string[] {
    const out = splitScopes(scopes);
    if (this.#defaultScopes && (this.provider === "oidc" || this.provider === "entra")) {
      for (const scope of OIDC_SCOPES) if (!out.includes(scope)) out.push(scope);
    }
    return out;
  }

  /** Who this client is, for the protocol's requests. */
  #credentials(): ClientCredentials {
    return { clientId: this.clientId, clientSecret: this.#clientSecret, provider: this.provider };
  }
}

function isUnavailable(error: unknown): boolean {
  return error instanceof ServerError && (error.status >= 500 || error.status === 429);
}

function defaultUserAgent(): string {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno?.version?.deno;
  return `deviceflow/${VERSION}${deno ? ` Deno/${deno}` : ""}`;
}

/**
 * The token getter for {@linkcode DeviceFlowClient.fetch}: silent, and by a
 * device code sign-in only when the caller passed `onDeviceCode`.
 *
 * @param client The client.
 * @param init The caller's options.
 * @returns The token source.
 */
function clientTokenSource(
  client: {
    acquireTokenSilent(options: SilentOptions): Promise<TokenResult>;
    acquireToken(options: AcquireOptions): Promise<TokenResult>;
  },
  init: ApiFetchInit,
): TokenSource {
  return (request) => {
    const options: SilentOptions = {
      forceRefresh: request.reason === "invalid_token",
    };
    if (init.scopes) options.scopes = init.scopes;
    if (init.account !== undefined) options.account = init.account;
    if (init.minTtl !== undefined) options.minTtl = init.minTtl;
    if (request.claims) options.claims = request.claims;
    if (init.signal) options.signal = init.signal;
    return init.onDeviceCode
      ? client.acquireToken({ ...options, onDeviceCode: init.onDeviceCode })
      : client.acquireTokenSilent(options);
  };
}
