/**
 * The public data types: what a sign-in produces and what the client is
 * configured with.
 *
 * @module
 */

/**
 * The providers whose quirks the client knows. `oidc` is any standards-compliant server.
 *
 * @example Sign in at GitHub, whose endpoints are built in
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, type Provider } from "@deviceflow/deviceflow";
 *
 * const provider: Provider = "github";
 * const client = new DeviceFlowClient({ provider, clientId: "Iv1.0123456789abcdef" });
 * assert.equal(client.provider, "github");
 * ```
 */
export type Provider = "entra" | "github" | "google" | "oidc";

/** Every provider, in one list that the parsers, the cache and the completions use. */
export const PROVIDERS: readonly Provider[] = ["entra", "github", "google", "oidc"];

/**
 * The endpoints of an authorization server that the client calls.
 *
 * @example A server without discovery: name its endpoints
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, type Endpoints } from "@deviceflow/deviceflow";
 *
 * const endpoints: Endpoints = {
 *   deviceAuthorization: "https://auth.example.com/oauth/device/code",
 *   token: "https://auth.example.com/oauth/token",
 *   revocation: "https://auth.example.com/oauth/revoke",
 * };
 * const client = new DeviceFlowClient({ clientId: "my-app", endpoints });
 * assert.equal(client.authority, "https://auth.example.com");
 * ```
 */
export interface Endpoints {
  /** The device authorization endpoint (RFC 8628 section 3.1). */
  readonly deviceAuthorization: string;
  /** The token endpoint (RFC 6749 section 3.2). */
  readonly token: string;
  /** The revocation endpoint (RFC 7009), when the server has one. */
  readonly revocation?: string;
  /** The OpenID Connect userinfo endpoint, when the server has one. */
  readonly userinfo?: string;
  /** The issuer the metadata named, when discovery was used; ID tokens must carry it. */
  readonly issuer?: string;
  /**
   * The languages the server's pages come in (OpenID Connect Discovery's
   * `ui_locales_supported`), for `ui_locales`.
   */
  readonly uiLocalesSupported?: readonly string[];
}

/**
 * What the device authorization endpoint answered: the code the person
 * enters, where to enter it, and the secret device code the client polls
 * with. Plain data, so it can be stored and resumed by another process.
 *
 * @example Show the code, then wait for the sign-in
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, type DeviceCode } from "@deviceflow/deviceflow";
 *
 * // A stand-in for the authorization server, so that the example runs anywhere.
 * const server: typeof fetch = (input) =>
 *   Promise.resolve(Response.json(
 *     String(input).endsWith("/device")
 *       ? {
 *         device_code: "secret",
 *         user_code: "WDJB-MJHT",
 *         verification_uri: "https://id.example.com/device",
 *         expires_in: 600,
 *       }
 *       : { access_token: "token-1", token_type: "Bearer", expires_in: 3600, scope: "api" },
 *   ));
 * const endpoints = {
 *   deviceAuthorization: "https://id.example.com/device",
 *   token: "https://id.example.com/token",
 * };
 *
 * const client = new DeviceFlowClient({ clientId: "my-app", endpoints, fetch: server });
 * const code: DeviceCode = await client.initiateDeviceFlow({ scopes: ["api"] });
 * console.log(`Open ${code.verificationUri} and enter ${code.userCode}`);
 * assert.ok(code.expiresAt > new Date() && code.interval === 5);
 * ```
 */
export interface DeviceCode {
  /** The secret code the client polls with. Never show it. */
  readonly deviceCode: string;
  /** The short code the person types at {@linkcode DeviceCode.verificationUri}. */
  readonly userCode: string;
  /** Where the person enters the code. */
  readonly verificationUri: string;
  /** The address with the code already in it, when the server sends one (Entra and GitHub do not). */
  readonly verificationUriComplete?: string;
  /** When the device code stops working. */
  readonly expiresAt: Date;
  /** The minimum number of seconds between polls, as the server asked (5 when it did not say). */
  readonly interval: number;
  /** A sentence to show the person: the server's own, or one composed from the address and the code. */
  readonly message: string;
  /** The scopes that were requested. */
  readonly scopes: readonly string[];
}

/**
 * A signed-in identity, as the cache knows it.
 *
 * @example Say who is signed in
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Account, DeviceFlowClient } from "@deviceflow/deviceflow";
 *
 * // A stand-in for the authorization server, so that the example runs anywhere.
 * const server: typeof fetch = (input) =>
 *   Promise.resolve(Response.json(
 *     String(input).endsWith("/device")
 *       ? {
 *         device_code: "secret",
 *         user_code: "WDJB-MJHT",
 *         verification_uri: "https://id.example.com/device",
 *         expires_in: 600,
 *       }
 *       : { access_token: "token-1", token_type: "Bearer", expires_in: 3600, scope: "api" },
 *   ));
 * const endpoints = {
 *   deviceAuthorization: "https://id.example.com/device",
 *   token: "https://id.example.com/token",
 * };
 *
 * const client = new DeviceFlowClient({ clientId: "my-app", endpoints, fetch: server });
 * const accounts: Account[] = await client.getAccounts();
 * assert.equal(accounts.length, 0); // nobody has signed in with this client yet
 * ```
 */
export interface Account {
  /** What the person signs in as: `preferred_username`, email or login. */
  readonly username: string;
  /** A stable identifier of the person across sign-ins (Entra: `uid.utid`; OIDC: `sub`). */
  readonly homeAccountId: string;
  /** The directory (tenant) the person signed in to, when the server says. */
  readonly tenantId?: string;
  /** The authority (issuer or base URL) the account signed in at. */
  readonly authority: string;
  /** The client ID that signed in. */
  readonly clientId: string;
}

/**
 * The tokens a sign-in or a refresh produced.
 *
 * @example Use what a sign-in returns
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, type TokenResult } from "@deviceflow/deviceflow";
 *
 * // A stand-in for the authorization server, so that the example runs anywhere.
 * const server: typeof fetch = (input) =>
 *   Promise.resolve(Response.json(
 *     String(input).endsWith("/device")
 *       ? {
 *         device_code: "secret",
 *         user_code: "WDJB-MJHT",
 *         verification_uri: "https://id.example.com/device",
 *         expires_in: 600,
 *       }
 *       : { access_token: "token-1", token_type: "Bearer", expires_in: 3600, scope: "api" },
 *   ));
 * const endpoints = {
 *   deviceAuthorization: "https://id.example.com/device",
 *   token: "https://id.example.com/token",
 * };
 *
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints,
 *   fetch: server,
 *   // No real waiting between polls in this example.
 *   clock: { now: () => Date.now(), sleep: () => Promise.resolve() },
 * });
 * const result: TokenResult = await client.acquireToken({
 *   scopes: ["api"],
 *   onDeviceCode: (code) => console.log(code.message),
 * });
 * const headers = { authorization: `${result.tokenType} ${result.accessToken}` };
 * assert.equal(headers.authorization, "Bearer token-1");
 * assert.ok(result.expiresAt !== undefined && result.scopes.includes("api"));
 * ```
 */
export interface TokenResult {
  /** The access token. Secret. */
  readonly accessToken: string;
  /** The token type, normally `Bearer`. */
  readonly tokenType: string;
  /** When the access token expires; absent when the server gave no lifetime (GitHub OAuth app tokens). */
  readonly expiresAt?: Date;
  /** When to refresh early, from Entra's `refresh_in`. */
  readonly refreshAt?: Date;
  /** The granted scopes (the requested ones when the server did not say). */
  readonly scopes: readonly string[];
  /** The refresh token, when the server issued one. Secret. */
  readonly refreshToken?: string;
  /** The raw ID token, when the server issued one. Secret. */
  readonly idToken?: string;
  /** The ID token's claims (decoded; the signature is not verified, the token came straight from the token endpoint over TLS). */
  readonly idTokenClaims?: Readonly<Record<string, unknown>>;
  /** Entra's family ID (`foci`), when the refresh token is a family refresh token. */
  readonly familyId?: string;
  /** The account the tokens belong to. */
  readonly account: Account;
}

/**
 * Time, injectable so that tests need no real waiting.
 *
 * @example A clock that never really waits, for tests
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Clock, DeviceFlowClient } from "@deviceflow/deviceflow";
 *
 * // A stand-in for the authorization server, so that the example runs anywhere.
 * const server: typeof fetch = (input) =>
 *   Promise.resolve(Response.json(
 *     String(input).endsWith("/device")
 *       ? {
 *         device_code: "secret",
 *         user_code: "WDJB-MJHT",
 *         verification_uri: "https://id.example.com/device",
 *         expires_in: 600,
 *       }
 *       : { access_token: "token-1", token_type: "Bearer", expires_in: 3600, scope: "api" },
 *   ));
 * const endpoints = {
 *   deviceAuthorization: "https://id.example.com/device",
 *   token: "https://id.example.com/token",
 * };
 *
 * let now = Date.parse("2030-01-01T00:00:00Z");
 * const clock: Clock = {
 *   now: () => now,
 *   sleep: (ms) => {
 *     now += ms;
 *     return Promise.resolve();
 *   },
 * };
 * const client = new DeviceFlowClient({ clientId: "my-app", endpoints, fetch: server, clock });
 * const code = await client.initiateDeviceFlow({ scopes: ["api"] });
 * await client.acquireTokenByDeviceFlow(code);
 * assert.equal(now, Date.parse("2030-01-01T00:00:05Z")); // one poll, after the 5 s interval
 * ```
 */
export interface Clock {
  /** The current time in milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * What {@linkcode DeviceFlowClient.acquireTokenByDeviceFlow} reports between polls.
 *
 * @example Report progress while polling
 * ```ts
 * import { DeviceFlowClient, type PollEvent } from "@deviceflow/deviceflow";
 *
 * // A stand-in for the authorization server, so that the example runs anywhere.
 * const server: typeof fetch = (input) =>
 *   Promise.resolve(Response.json(
 *     String(input).endsWith("/device")
 *       ? {
 *         device_code: "secret",
 *         user_code: "WDJB-MJHT",
 *         verification_uri: "https://id.example.com/device",
 *         expires_in: 600,
 *       }
 *       : { access_token: "token-1", token_type: "Bearer", expires_in: 3600, scope: "api" },
 *   ));
 * const endpoints = {
 *   deviceAuthorization: "https://id.example.com/device",
 *   token: "https://id.example.com/token",
 * };
 *
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints,
 *   fetch: server,
 *   clock: { now: () => Date.now(), sleep: () => Promise.resolve() },
 * });
 * const onPending = (event: PollEvent) => {
 *   if (event.type === "slow_down") console.error(`slowing down: every ${event.interval} s`);
 *   if (event.type === "retry") console.error(`${event.reason}; retrying in ${event.delay} s`);
 * };
 * const code = await client.initiateDeviceFlow({ scopes: ["api"] });
 * await client.acquireTokenByDeviceFlow(code, { onPending, timeout: 900 });
 * ```
 */
export type PollEvent =
  | { readonly type: "pending"; readonly interval: number; readonly expiresAt: Date }
  | { readonly type: "slow_down"; readonly interval: number; readonly expiresAt: Date }
  | {
    readonly type: "retry";
    readonly reason: string;
    readonly delay: number;
    readonly expiresAt: Date;
  };
