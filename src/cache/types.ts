/**
 * The entries of the token cache, as the cache returns them.
 *
 * @module
 */

import type { Account, Endpoints, Provider } from "../types.ts";

/**
 * A cached access token.
 *
 * @example The access tokens of an account
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CachedAccessToken, TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * const cache = TokenCache.memory();
 * const now = Date.now();
 * const account = {
 *   authority: "https://id.example.com",
 *   clientId: "my-app",
 *   homeAccountId: "alice",
 *   username: "alice@example.com",
 *   provider: "oidc" as const,
 *   signedInAt: now,
 * };
 * await cache.save({
 *   account,
 *   accessToken: {
 *     secret: "token-1",
 *     tokenType: "Bearer",
 *     scopes: ["api"],
 *     requestedScopes: ["api"],
 *     expiresAt: now + 3_600_000,
 *     cachedAt: now,
 *   },
 *   refreshToken: { secret: "refresh-1", scopes: ["api"], cachedAt: now },
 * });
 * const [token]: CachedAccessToken[] = await cache.getAccessTokens(account);
 * assert.equal(token?.secret, "token-1");
 * assert.ok(token!.expiresAt! > Date.now());
 * ```
 */
export interface CachedAccessToken {
  /** The access token. Secret. */
  readonly secret: string;
  /** The token type, normally `Bearer`. */
  readonly tokenType: string;
  /** Granted scopes. */
  readonly scopes: readonly string[];
  /** The scopes that were asked for when it was issued. */
  readonly requestedScopes: readonly string[];
  /** Epoch milliseconds; absent when the server gave no lifetime. */
  readonly expiresAt?: number;
  /** Epoch milliseconds: refresh early from then on (Entra's `refresh_in`). */
  readonly refreshAt?: number;
  /** Epoch milliseconds. */
  readonly cachedAt: number;
}

/**
 * A cached refresh token.
 *
 * @example The refresh token of an account
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CachedRefreshToken, TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * const cache = TokenCache.memory();
 * const now = Date.now();
 * const account = {
 *   authority: "https://id.example.com",
 *   clientId: "my-app",
 *   homeAccountId: "alice",
 *   username: "alice@example.com",
 *   provider: "oidc" as const,
 *   signedInAt: now,
 * };
 * await cache.save({
 *   account,
 *   accessToken: {
 *     secret: "token-1",
 *     tokenType: "Bearer",
 *     scopes: ["api"],
 *     requestedScopes: ["api"],
 *     expiresAt: now + 3_600_000,
 *     cachedAt: now,
 *   },
 *   refreshToken: { secret: "refresh-1", scopes: ["api"], cachedAt: now },
 * });
 * const refresh: CachedRefreshToken | undefined = await cache.getRefreshToken(account);
 * assert.deepEqual(refresh?.scopes, ["api"]);
 * ```
 */
export interface CachedRefreshToken {
  /** The refresh token. Secret. */
  readonly secret: string;
  /** The scopes asked for at sign-in, used for refreshes that name none. */
  readonly scopes: readonly string[];
  /** Entra's family ID, when it is a family refresh token. */
  readonly familyId?: string;
  /** Epoch milliseconds. */
  readonly cachedAt: number;
}

/**
 * A cached account, with what the cache knows of how it signed in.
 *
 * @example List the accounts, most recent sign-in first
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CachedAccount, TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * const cache = TokenCache.memory();
 * const now = Date.now();
 * const account = {
 *   authority: "https://id.example.com",
 *   clientId: "my-app",
 *   homeAccountId: "alice",
 *   username: "alice@example.com",
 *   provider: "oidc" as const,
 *   signedInAt: now,
 * };
 * await cache.save({
 *   account,
 *   accessToken: {
 *     secret: "token-1",
 *     tokenType: "Bearer",
 *     scopes: ["api"],
 *     requestedScopes: ["api"],
 *     expiresAt: now + 3_600_000,
 *     cachedAt: now,
 *   },
 *   refreshToken: { secret: "refresh-1", scopes: ["api"], cachedAt: now },
 * });
 * const accounts: CachedAccount[] = await cache.getAccounts({ clientId: "my-app" });
 * assert.equal(accounts[0]?.username, "alice@example.com");
 * assert.equal(accounts[0]?.provider, "oidc");
 * ```
 */
export interface CachedAccount extends Account {
  /** Whose quirks applied at sign-in. */
  readonly provider: Provider;
  /** Epoch milliseconds of the last sign-in. */
  readonly signedInAt: number;
}

/**
 * Cached server metadata.
 *
 * @example Keep discovered endpoints
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CachedMetadata, TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * const cache = TokenCache.memory();
 * const metadata: CachedMetadata = {
 *   provider: "oidc",
 *   endpoints: {
 *     deviceAuthorization: "https://id.example.com/device",
 *     token: "https://id.example.com/token",
 *   },
 *   fetchedAt: Date.now(),
 * };
 * await cache.setMetadata("https://id.example.com", metadata);
 * assert.deepEqual(await cache.getMetadata("https://id.example.com"), metadata);
 * ```
 */
export interface CachedMetadata {
  /** The provider the metadata was resolved for. */
  readonly provider: Provider;
  /** The endpoints. */
  readonly endpoints: Endpoints;
  /** Epoch milliseconds. */
  readonly fetchedAt: number;
}

/**
 * A device code waiting to be finished by `login --resume`.
 *
 * @example Keep a started sign-in for another process to finish
 * ```ts
 * import assert from "node:assert/strict";
 * import { type PendingDeviceCode, TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * const cache = TokenCache.memory();
 * const pending: PendingDeviceCode = {
 *   id: crypto.randomUUID(),
 *   deviceCode: "secret",
 *   userCode: "WDJB-MJHT",
 *   verificationUri: "https://id.example.com/device",
 *   expiresAt: Date.now() + 600_000,
 *   interval: 5,
 *   message: "Open https://id.example.com/device and enter WDJB-MJHT",
 *   scopes: ["api"],
 *   createdAt: Date.now(),
 * };
 * await cache.savePending("https://id.example.com", "my-app", pending);
 * const [found] = await cache.getPending("https://id.example.com", "my-app");
 * assert.equal(found?.userCode, "WDJB-MJHT");
 * await cache.removePending("https://id.example.com", "my-app", pending.id);
 * ```
 */
export interface PendingDeviceCode {
  /** A random ID of the pending flow. */
  readonly id: string;
  /** The device code to poll with. Secret. */
  readonly deviceCode: string;
  /** The code the person enters. */
  readonly userCode: string;
  /** Where the person enters it. */
  readonly verificationUri: string;
  /** The address with the code in it, when the server sent one. */
  readonly verificationUriComplete?: string;
  /** Epoch milliseconds when the code expires. */
  readonly expiresAt: number;
  /** The polling interval in seconds. */
  readonly interval: number;
  /** The message shown to the person. */
  readonly message: string;
  /** The requested scopes. */
  readonly scopes: readonly string[];
  /** Epoch milliseconds when the flow started. */
  readonly createdAt: number;
}

/**
 * An entry that was skipped because it is corrupt or foreign.
 *
 * @example A corrupt entry is skipped and reported
 * ```ts
 * import assert from "node:assert/strict";
 * import { type SkippedEntry, TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * const dir = await Deno.makeTempDir();
 * // Another program wrote something that is no account under the cache's keys.
 * const kv = await Deno.openKv(`${dir}/cache.db`);
 * await kv.set(["deviceflow", "v1", "account", "https://id.example.com", "my-app", "x"], 42);
 * kv.close();
 * // A cache file others may read is refused: this one was made with the umask's mode.
 * if (Deno.build.os !== "windows") await Deno.chmod(`${dir}/cache.db`, 0o600);
 * const cache = await TokenCache.open(`${dir}/cache.db`);
 * assert.deepEqual(await cache.getAccounts(), []);
 * const skipped: readonly SkippedEntry[] = (await cache.status()).skipped;
 * assert.equal(skipped[0]?.reason, "the value is not a valid entry");
 * cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface SkippedEntry {
  /** The entry's key, as text. */
  readonly key: string;
  /** Why it was skipped. */
  readonly reason: string;
}

/**
 * What {@linkcode TokenCache.status} reports; never a token value.
 *
 * @example What is cached, without a token
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CacheStatus, TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * const cache = TokenCache.memory();
 * const now = Date.now();
 * const account = {
 *   authority: "https://id.example.com",
 *   clientId: "my-app",
 *   homeAccountId: "alice",
 *   username: "alice@example.com",
 *   provider: "oidc" as const,
 *   signedInAt: now,
 * };
 * await cache.save({
 *   account,
 *   accessToken: {
 *     secret: "token-1",
 *     tokenType: "Bearer",
 *     scopes: ["api"],
 *     requestedScopes: ["api"],
 *     expiresAt: now + 3_600_000,
 *     cachedAt: now,
 *   },
 *   refreshToken: { secret: "refresh-1", scopes: ["api"], cachedAt: now },
 * });
 * const status: CacheStatus = await cache.status();
 * assert.equal(status.location, ":memory:");
 * assert.equal(status.accounts[0]?.hasRefreshToken, true);
 * assert.ok(!JSON.stringify(status).includes("token-1"));
 * ```
 */
export interface CacheStatus {
  /** Where the cache lives. */
  readonly location: string;
  /** The accounts, with the scopes and expiry of their access tokens. */
  readonly accounts: readonly (CachedAccount & {
    readonly accessTokens: readonly {
      scopes: readonly string[];
      expiresAt?: number;
    }[];
    readonly hasRefreshToken: boolean;
    /** Whether it is the active account of its authority and client. */
    readonly active: boolean;
  })[];
  /** Entries skipped as corrupt or foreign. */
  readonly skipped: readonly SkippedEntry[];
}

/**
 * The options of {@linkcode TokenCache.open}.
 *
 * @example Retry a busy database less
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenCache, type TokenCacheOptions } from "@deviceflow/deviceflow/cache";
 *
 * const dir = await Deno.makeTempDir();
 * const options: TokenCacheOptions = { lockRetries: 5 };
 * const cache = await TokenCache.open(`${dir}/cache.db`, options);
 * assert.equal(cache.location, `${dir}/cache.db`);
 * cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface TokenCacheOptions {
  /** How many times to retry an operation that found the database locked (default 40). */
  readonly lockRetries?: number;
  /**
   * How long to wait, in milliseconds, for a file another process holds
   * locked before failing with a {@linkcode CacheError} that says so
   * (default 10000).
   */
  readonly lockTimeout?: number;
  /**
   * Called once when an operation has waited 2 s for the file (another
   * process holds it locked), so that a program can say
   * what it is waiting for; the library itself prints nothing.
   */
  readonly onLockWait?: (location: string) => void;
  /**
   * Encrypts the secrets (access tokens, refresh tokens, pending device
   * codes) with AES-256-GCM: 32 bytes, or an AES-GCM `CryptoKey`. A cache
   * encrypted once needs the key from then on; its plaintext secrets are
   * sealed when a key is first used on it.
   */
  readonly encryptionKey?: CryptoKey | Uint8Array;
}

/**
 * What identifies an account's entries.
 *
 * @example Remove an account by its reference
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AccountRef, TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * const cache = TokenCache.memory();
 * const now = Date.now();
 * const account = {
 *   authority: "https://id.example.com",
 *   clientId: "my-app",
 *   homeAccountId: "alice",
 *   username: "alice@example.com",
 *   provider: "oidc" as const,
 *   signedInAt: now,
 * };
 * await cache.save({
 *   account,
 *   accessToken: {
 *     secret: "token-1",
 *     tokenType: "Bearer",
 *     scopes: ["api"],
 *     requestedScopes: ["api"],
 *     expiresAt: now + 3_600_000,
 *     cachedAt: now,
 *   },
 *   refreshToken: { secret: "refresh-1", scopes: ["api"], cachedAt: now },
 * });
 * const ref: AccountRef = {
 *   authority: "https://id.example.com",
 *   clientId: "my-app",
 *   homeAccountId: "alice",
 * };
 * const removed = await cache.removeAccount(ref);
 * assert.equal(removed?.secret, "refresh-1"); // returned so that it can be revoked
 * assert.deepEqual(await cache.getAccounts(), []);
 * ```
 */
export type AccountRef = Pick<Account, "authority" | "clientId" | "homeAccountId">;
