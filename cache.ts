/**
 * The token cache: accounts, access tokens, refresh tokens, ID token claims
 * and server metadata, on Deno KV. One cache file can be shared by any number
 * of processes: every read is validated, writes that depend on a read are
 * atomic, and SQLite's "database is locked" is retried.
 *
 * @example Open a cache file and list its accounts
 * ```ts
 * import { TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * // With no path, TokenCache.open() opens the default file under the user's cache directory.
 * const dir = await Deno.makeTempDir();
 * const cache = await TokenCache.open(`${dir}/cache.db`);
 * console.log(await cache.getAccounts());
 * cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import {
  CacheKeyError,
  importCacheKey,
  isSealed,
  seal,
  type Sealed,
  unseal,
} from "./src/cache/sealing.ts";
import { CacheError } from "./src/errors.ts";
import {
  MemoryStore,
  type Store,
  type StoreAtomic,
  type StoreEntry,
  type StoreKey,
} from "./src/cache/store.ts";
import { defaultCachePath, dirOf } from "./src/paths.ts";
import { cacheProblem, firstLine, isLocked } from "./src/cache/errors.ts";
import { isVisibleAscii } from "./src/untrusted.ts";
import { isSecureUrl, unsafeAddressReason } from "./src/url_policy.ts";
import { type Account, type Endpoints, type Provider, PROVIDERS } from "./src/types.ts";

export { CacheKeyError } from "./src/cache/sealing.ts";

// Bump when an entry's shape changes; older entries are then foreign and skipped.
const NS = ["deviceflow", "v1"] as const;

/** Key helpers: every key the cache writes is made here. */
function accountKey(a: AccountRef): StoreKey {
  return [...NS, "account", a.authority, a.clientId, a.homeAccountId];
}
function accessTokenPrefix(a: AccountRef): StoreKey {
  return [...NS, "access_token", a.authority, a.clientId, a.homeAccountId];
}
function accessTokenKey(a: AccountRef, scopeKey: string): StoreKey {
  return [...accessTokenPrefix(a), scopeKey];
}
function refreshTokenKey(a: AccountRef): StoreKey {
  return [...NS, "refresh_token", a.authority, a.clientId, a.homeAccountId];
}
function familyTokenKey(a: AccountRef, familyId: string): StoreKey {
  return [...NS, "family_refresh_token", a.authority, familyId, a.homeAccountId];
}
function idClaimsKey(a: AccountRef): StoreKey {
  return [...NS, "id_token_claims", a.authority, a.clientId, a.homeAccountId];
}
function metadataKey(authority: string): StoreKey {
  return [...NS, "metadata", authority];
}
function leaseKey(name: string): StoreKey {
  return [...NS, "lease", name];
}
function pendingKey(authority: string, clientId: string, id: string): StoreKey {
  return [...NS, "pending_device_code", authority, clientId, id];
}
function activeKey(authority: string, clientId: string): StoreKey {
  return [...NS, "active", authority, clientId];
}
function keyCheckKey(): StoreKey {
  return [...NS, "encryption"];
}

/** The field that holds the secret, by entry kind: the fields an encrypted cache seals. */
const SECRET_FIELDS: Readonly<Record<string, "secret" | "deviceCode">> = {
  access_token: "secret",
  refresh_token: "secret",
  family_refresh_token: "secret",
  pending_device_code: "deviceCode",
};
/** What the key-check entry seals: a key that opens it opens the cache. */
const KEY_CHECK = "deviceflow cache key";

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

// ---------------------------------------------------------------------------
// Validation: every value is checked when read.

type Validator<T> = (value: unknown, key: StoreKey) => T | undefined;

// Plain objects only: KV also stores Maps, Dates and KvU64s, which are no entry.
function isRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
function isString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}
function isTime(value: unknown): value is number {
  // 8.64e15 ms is the latest time a Date can hold.
  return typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= 8.64e15;
}
function isOptionalString(value: unknown): value is string | undefined {
  return value === undefined || isString(value);
}
/**
 * A token or code as the RFCs define them (VSCHARs), so that what the cache
 * file says cannot add a header, a variable or a protocol line to an output.
 */
function isWireText(value: unknown, spaces = true): value is string {
  return isString(value) && isVisibleAscii(value, spaces);
}
/** A secret: plaintext, or sealed by an encrypted cache (checked when opened). */
function isSecret(value: unknown): value is string | Sealed {
  return isWireText(value) || isSealed(value);
}
function isEndpoint(value: unknown): value is string {
  if (!isString(value)) return false;
  try {
    return isSecureUrl(new URL(value));
  } catch {
    return false;
  }
}
function isAddress(value: unknown): value is string {
  return isString(value) && unsafeAddressReason(value) === undefined;
}
function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((s) => typeof s === "string");
}
const PROVIDER_NAMES: ReadonlySet<string> = new Set(PROVIDERS);

// An account stored under another key than its own could never be removed.
const validAccount: Validator<CachedAccount> = (v, key) =>
  isRecord(v) && isString(v.username) && isString(v.homeAccountId) && isString(v.authority) &&
    isString(v.clientId) && typeof v.provider === "string" && PROVIDER_NAMES.has(v.provider) &&
    isTime(v.signedInAt) && (v.tenantId === undefined || isString(v.tenantId)) &&
    formatKey(key) === formatKey(accountKey(v as unknown as AccountRef))
    ? v as unknown as CachedAccount
    : undefined;

const validAccessToken: Validator<CachedAccessToken> = (v) =>
  isRecord(v) && isSecret(v.secret) && isWireText(v.tokenType, false) && isStrings(v.scopes) &&
    isStrings(v.requestedScopes) && isTime(v.cachedAt) &&
    (v.expiresAt === undefined || isTime(v.expiresAt)) &&
    (v.refreshAt === undefined || isTime(v.refreshAt))
    ? v as unknown as CachedAccessToken
    : undefined;

const validRefreshToken: Validator<CachedRefreshToken> = (v) =>
  isRecord(v) && isSecret(v.secret) && isStrings(v.scopes) && isTime(v.cachedAt) &&
    (v.familyId === undefined || isString(v.familyId))
    ? v as unknown as CachedRefreshToken
    : undefined;

const validClaims: Validator<Record<string, unknown>> = (v) => isRecord(v) ? v : undefined;

const validMetadata: Validator<CachedMetadata> = (v) =>
  isRecord(v) && typeof v.provider === "string" && PROVIDER_NAMES.has(v.provider) &&
    isRecord(v.endpoints) && isEndpoint(v.endpoints.deviceAuthorization) &&
    isEndpoint(v.endpoints.token) &&
    (v.endpoints.revocation === undefined || isEndpoint(v.endpoints.revocation)) &&
    (v.endpoints.userinfo === undefined || isEndpoint(v.endpoints.userinfo)) &&
    isOptionalString(v.endpoints.issuer) &&
    isTime(v.fetchedAt)
    ? v as unknown as CachedMetadata
    : undefined;

const validPending: Validator<PendingDeviceCode> = (v) =>
  isRecord(v) && isString(v.id) && isSecret(v.deviceCode) && isWireText(v.userCode, false) &&
    isAddress(v.verificationUri) &&
    (v.verificationUriComplete === undefined || isAddress(v.verificationUriComplete)) &&
    isTime(v.expiresAt) && isTime(v.interval) &&
    typeof v.message === "string" && isStrings(v.scopes) && isTime(v.createdAt)
    ? v as unknown as PendingDeviceCode
    : undefined;

const VALIDATORS: Record<string, Validator<unknown>> = {
  account: validAccount,
  access_token: validAccessToken,
  refresh_token: validRefreshToken,
  family_refresh_token: validRefreshToken,
  id_token_claims: validClaims,
  metadata: validMetadata,
  pending_device_code: validPending,
  lease: (v) => isRecord(v) && isString(v.holder) && isTime(v.expiresAt) ? v : undefined,
  active: (v) => isRecord(v) && isString(v.homeAccountId) ? v : undefined,
  encryption: (v) => isSealed(v) ? v : undefined,
};

// ---------------------------------------------------------------------------
// Deno KV, with "database is locked" retried.

/**
 * Why a cache file cannot be written, in the system's words (SQLite's are
 * vaguer: "disk I/O error", "unable to open database file"): a probe file
 * beside it, then the file itself opened for writing. `undefined` when both
 * work.
 */
async function whyUnwritable(path: string): Promise<unknown> {
  const probe = `${dirOf(path)}/.deviceflow-probe-${crypto.randomUUID()}`;
  try {
    // One byte: an empty file needs no room, and a full disk is what this looks for.
    await Deno.writeFile(probe, new Uint8Array(1), { createNew: true, mode: 0o600 });
    await Deno.remove(probe);
    (await Deno.open(path, { write: true })).close();
    return undefined;
  } catch (error) {
    await Deno.remove(probe).catch(() => {});
    return error;
  }
}

/**
 * Opens a cache file that cannot be opened for writing, read-only, as
 * SQLite's immutable database; `undefined` when that fails too (or the file
 * is missing).
 */
async function openReadOnly(path: string): Promise<Deno.Kv | undefined> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size === 0) return undefined;
    const uri = `file:${path.replace(/[%?#]/g, (c) => encodeURIComponent(c))}?immutable=1`;
    return await Deno.openKv(uri);
  } catch {
    return undefined;
  }
}

/** How far apart two processes' readings of the clock may be when they compare a lease. */
const LEASE_CLOCK_SLACK_MS = 5000;

/** After this long waiting for a locked file, {@linkcode TokenCacheOptions.onLockWait} is called. */
const LOCK_NOTICE_MS = 2000;
/** The default of {@linkcode TokenCacheOptions.lockTimeout}. */
const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/**
 * How the cache waits for a file another process holds locked. SQLite in
 * Deno KV waits for as long as the lock is held, silently, or fails with
 * "database is locked"; both are bounded here by one deadline per operation.
 */
/**
 * An alarm after `ms` milliseconds, on V8's `Atomics.waitAsync`: unlike a
 * timer, it costs nothing to set up (Deno's first timer of a process costs
 * about 3 ms, most of what a cached `token` takes) and it does not keep a
 * process alive. `fired` resolves `true` when the time came, `false` when
 * cancelled.
 */
function alarm(ms: number): { fired: Promise<boolean>; cancel: () => void } {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const wait = Atomics.waitAsync(cell, 0, 0, Math.max(0, ms));
  return {
    fired: wait.async
      ? wait.value.then((outcome) => outcome === "timed-out")
      : Promise.resolve(true),
    cancel: () => void Atomics.notify(cell, 0),
  };
}

/**
 * How the cache waits for a file another process holds locked. SQLite in
 * Deno KV waits for as long as the lock is held, silently, or fails with
 * "database is locked"; both are bounded here by one deadline per operation.
 */
class LockWait {
  #noticed = false;
  /**
   * Set when an operation was given up on: it is still waiting inside SQLite,
   * and closing the database would wait for it as long as the lock is held.
   */
  abandoned = false;

  constructor(
    readonly location: string,
    readonly retries: number,
    readonly timeoutMs: number,
    readonly onWait: ((location: string) => void) | undefined,
  ) {}

  /** Runs an operation, retrying "locked" errors, until it succeeds or the deadline passes. */
  async run<T>(op: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const deadline = started + this.timeoutMs;
    for (let attempt = 0;; attempt++) {
      try {
        return await this.#before(started, deadline, op());
      } catch (error) {
        if (!isLocked(error) || attempt >= this.retries) throw error;
        // Jitter keeps processes that collided from colliding again.
        const delay = Math.min(5 * 2 ** Math.min(attempt, 6), 250) * (0.5 + Math.random());
        if (Date.now() + delay >= deadline) throw this.#locked(error);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** The operation's result, or the "locked" error when the deadline comes first. */
  #before<T>(started: number, deadline: number, operation: Promise<T>): Promise<T> {
    const notice = !this.#noticed && this.onWait
      ? alarm(started + LOCK_NOTICE_MS - Date.now())
      : undefined;
    notice?.fired.then((fired) => {
      if (!fired || this.#noticed) return;
      this.#noticed = true;
      this.onWait?.(this.location);
    });
    const limit = alarm(deadline - Date.now());
    const late = limit.fired.then((fired) =>
      fired ? Promise.reject(this.#locked()) : new Promise<never>(() => {})
    );
    late.catch(() => {});
    // An operation given up on may still end later; nothing waits for it.
    operation.catch(() => {});
    return Promise.race([operation, late]).finally(() => {
      notice?.cancel();
      limit.cancel();
    });
  }

  #locked(cause?: unknown): CacheError {
    this.abandoned = true;
    return new CacheError(
      `The token cache ${this.location} is locked by another process (waited ${
        Math.round(this.timeoutMs / 1000)
      } s); try again when it has finished`,
      { cause },
    );
  }
}

class KvStore implements Store {
  constructor(readonly kv: Deno.Kv, readonly wait: LockWait) {}

  get<T>(key: StoreKey): Promise<StoreEntry<T>> {
    return this.wait.run(() => this.kv.get<T>(key as Deno.KvKey)) as Promise<
      StoreEntry<T>
    >;
  }

  async *list<T>(prefix: StoreKey): AsyncIterable<StoreEntry<T>> {
    const entries = await this.wait.run(
      () => Array.fromAsync(this.kv.list<T>({ prefix: prefix as Deno.KvKey })),
    );
    yield* entries as StoreEntry<T>[];
  }

  set(key: StoreKey, value: unknown, options?: { expireIn?: number }): Promise<unknown> {
    return this.wait.run(() => this.kv.set(key as Deno.KvKey, value, options));
  }

  delete(key: StoreKey): Promise<void> {
    return this.wait.run(() => this.kv.delete(key as Deno.KvKey));
  }

  atomic(): StoreAtomic {
    const steps: ((op: Deno.AtomicOperation) => void)[] = [];
    const op: StoreAtomic = {
      check: (...entries) => {
        steps.push((a) => a.check(...(entries as Deno.AtomicCheck[])));
        return op;
      },
      set: (key, value, options) => {
        steps.push((a) => a.set(key as Deno.KvKey, value, options));
        return op;
      },
      delete: (key) => {
        steps.push((a) => a.delete(key as Deno.KvKey));
        return op;
      },
      commit: () =>
        this.wait.run(async () => {
          // A retried commit must be built anew: an operation commits once.
          const atomic = this.kv.atomic();
          steps.forEach((step) => step(atomic));
          const result = await atomic.commit();
          return { ok: result.ok };
        }),
    };
    return op;
  }

  close(): void {
    // An operation given up on still holds the database: closing would block
    // until the other process lets go. The handle goes with that operation,
    // or with the process.
    if (!this.wait.abandoned) this.kv.close();
  }
}

/**
 * Whether this Deno has KV enabled (`--unstable-kv`, or `"unstable": ["kv"]` in deno.json).
 *
 * @example Fall back to memory without --unstable-kv
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvAvailable, TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * const dir = await Deno.makeTempDir();
 * const cache = kvAvailable() ? await TokenCache.open(`${dir}/cache.db`) : TokenCache.memory();
 * assert.deepEqual(await cache.getAccounts(), []);
 * cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function kvAvailable(): boolean {
  return typeof (Deno as { openKv?: unknown }).openKv === "function";
}

// ---------------------------------------------------------------------------

/**
 * The token cache. Open it with {@linkcode TokenCache.open}; the client
 * reads and writes it, and most programs need nothing else of it.
 *
 * @example One cache file for a client
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient } from "@deviceflow/deviceflow";
 * import { TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * // TokenCache.open() with no path opens the default file in the user's cache directory.
 * const dir = await Deno.makeTempDir();
 * const cache = await TokenCache.open(`${dir}/cache.db`);
 * const client = new DeviceFlowClient({
 *   authority: "https://login.microsoftonline.com/contoso.onmicrosoft.com",
 *   clientId: "00000000-0000-0000-0000-000000000000",
 *   cache,
 * });
 * assert.deepEqual(await client.getAccounts(), []);
 * cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class TokenCache {
  readonly #store: Store;
  #skipped = new Map<string, SkippedEntry>();
  #key: CryptoKey | undefined;
  #file = false;
  #readOnlyBecause: unknown;
  /** Where the cache lives: a file path, a KV Connect URL, or `:memory:`. */
  readonly location: string;

  private constructor(store: Store, location: string) {
    this.#store = store;
    this.location = location;
  }

  /**
   * Whether the cache could be opened for reading only (a read-only mount, a
   * file or directory it may not write): it serves what it holds, and every
   * write fails with a {@linkcode CacheError} that says so.
   */
  get readOnly(): boolean {
    return this.#readOnlyBecause !== undefined;
  }

  /** Whether secrets are encrypted: the cache was opened with a key. */
  get encrypted(): boolean {
    return this.#key !== undefined;
  }

  /**
   * Opens a cache.
   *
   * @param location A file path, an `http(s)` KV Connect URL (with
   * `DENO_KV_ACCESS_TOKEN` set), `:memory:`, or nothing for the default file
   * under the user's cache directory.
   * @param options Retry settings, and the key of an encrypted cache.
   * @returns The open cache.
   * @throws {CacheError} When the database cannot be opened, with how to reset it.
   * @throws {CacheKeyError} When the cache is encrypted and no key, or another
   * key, was given; nothing is changed.
   * @throws {TypeError} When the encryption key is not 32 bytes or an AES-GCM key.
   *
   * @example A cache that lives only as long as the process
   * ```ts
   * import assert from "node:assert/strict";
   * import { TokenCache } from "@deviceflow/deviceflow/cache";
   *
   * const cache = await TokenCache.open(":memory:");
   * assert.equal((await cache.getAccounts()).length, 0);
   * cache.close();
   * ```
   */
  static async open(location?: string, options: TokenCacheOptions = {}): Promise<TokenCache> {
    const retries = options.lockRetries ?? 40;
    const key = options.encryptionKey === undefined
      ? undefined
      : await importCacheKey(options.encryptionKey);
    const path = location ?? defaultCachePath();
    if (!kvAvailable()) {
      if (path === ":memory:") return TokenCache.memory();
      throw new CacheError(
        "Deno KV is not enabled, so tokens cannot be kept; run with --unstable-kv",
      );
    }
    const remote = /^https?:\/\//i.test(path);
    if (!remote && path !== ":memory:") await prepareFile(path);
    const timeout = options.lockTimeout ?? DEFAULT_LOCK_TIMEOUT_MS;
    if (!(timeout > 0)) throw new TypeError("Cannot open the cache: lockTimeout must be > 0 ms");
    const wait = new LockWait(path, retries, timeout, options.onLockWait);
    let kv: Deno.Kv;
    let readOnly: unknown;
    try {
      // A locked new file blocks openKv for SQLite's 5 s busy timeout on each
      // try, so opening gets a few tries, not the many that quick operations get.
      const opening = new LockWait(path, Math.min(retries, 3), timeout, options.onLockWait);
      kv = await opening.run(() => Deno.openKv(path));
    } catch (error) {
      if (error instanceof CacheError) throw error;
      if (remote) {
        throw new CacheError(
          `Cannot open the remote cache ${path}: ${
            firstLine(error)
          } (is DENO_KV_ACCESS_TOKEN set?)`,
          { cause: error },
        );
      }
      // A file that can be read but not written (a read-only mount, a secret
      // volume) still serves what it holds: SQLite opens it as immutable.
      const opened = path === ":memory:" ? undefined : await openReadOnly(path);
      if (!opened) {
        throw new CacheError(cacheProblem(`Cannot open the token cache ${path}`, path, error), {
          cause: error,
        });
      }
      kv = opened;
      // Why it could not be opened for writing: what a write will be told.
      readOnly = await whyUnwritable(path) ?? error;
    }
    const cache = new TokenCache(new KvStore(kv, wait), path);
    cache.#file = !remote && path !== ":memory:";
    cache.#readOnlyBecause = readOnly;
    try {
      await cache.#useKey(key);
    } catch (error) {
      cache.close();
      throw error;
    }
    return cache;
  }

  /**
   * Checks the key against the cache: an encrypted cache needs its own key. A
   * key used on a cache for the first time is recorded in the key-check entry,
   * and the plaintext secrets already there are sealed with it.
   */
  async #useKey(key: CryptoKey | undefined): Promise<void> {
    const context = formatKey(keyCheckKey());
    for (let attempt = 0;; attempt++) {
      const check = await this.#guard(() => this.#store.get(keyCheckKey()));
      if (check.versionstamp !== null) {
        if (!key) throw new CacheKeyError("missing", this.location);
        const opened = isSealed(check.value) ? await unseal(key, check.value, context) : undefined;
        if (opened !== KEY_CHECK) throw new CacheKeyError("wrong", this.location);
        this.#key = key;
        return;
      }
      if (!key) return;
      const sealed = await this.#sealAll(key, check, await seal(key, KEY_CHECK, context));
      if (sealed !== undefined) {
        this.#key = key;
        if (sealed > 0 && this.#file) await scrubFreePages(this.location);
        return;
      }
      // Another process changed the cache meanwhile: look again.
      if (attempt >= 20) {
        throw new CacheError(
          `The token cache ${this.location} kept changing while being encrypted`,
        );
      }
    }
  }

  /**
   * Seals every plaintext secret and writes the key check, unless a secret is
   * sealed with another key. Entries go in batches within KV's limits on one
   * atomic operation; the key check comes with the last, so that an
   * interrupted run is finished by the next one.
   *
   * @returns How many secrets were sealed, or `undefined` when another process wrote meanwhile.
   */
  async #sealAll(
    key: CryptoKey,
    check: StoreEntry,
    sealedCheck: Sealed,
  ): Promise<number | undefined> {
    const entries = await this.#guard(() => Array.fromAsync(this.#store.list([...NS])));
    const writes: { entry: StoreEntry; value: Record<string, unknown> }[] = [];
    for (const entry of entries) {
      const kind = entry.key[NS.length];
      const field = typeof kind === "string" ? SECRET_FIELDS[kind] : undefined;
      if (!field || !isRecord(entry.value)) continue;
      const secret = entry.value[field];
      const context = secretContext(entry.key, field);
      if (isSealed(secret)) {
        if (await unseal(key, secret, context) === undefined) {
          throw new CacheKeyError("wrong", this.location);
        }
      } else if (isString(secret)) {
        writes.push({
          entry,
          value: { ...entry.value, [field]: await seal(key, secret, context) },
        });
      }
    }
    const BATCH = 40;
    for (let start = 0;; start += BATCH) {
      const batch = writes.slice(start, start + BATCH);
      const last = start + BATCH >= writes.length;
      const atomic = this.#store.atomic();
      for (const { entry, value } of batch) {
        atomic.check(entry).set(entry.key, value, expiryOf(entry.key, value));
      }
      if (last) atomic.check(check).set(keyCheckKey(), sealedCheck);
      if (!(await this.#commit(atomic)).ok) return undefined;
      if (last) return writes.length;
    }
  }

  /**
   * A cache in memory that needs no KV: the default of a client given none.
   *
   * @returns A new, empty cache.
   */
  static memory(): TokenCache {
    return new TokenCache(new MemoryStore(), ":memory:");
  }

  /** Closes the database. */
  close(): void {
    this.#store.close();
  }

  /** Entries skipped as corrupt or foreign since the cache was opened. */
  get skipped(): readonly SkippedEntry[] {
    return [...this.#skipped.values()];
  }

  #validate<T>(entry: StoreEntry<unknown>): T | undefined {
    // Absent is told by the versionstamp: a stored `null` is a corrupt entry.
    if (entry.versionstamp === null) return undefined;
    const kind = entry.key[NS.length];
    const validator = typeof kind === "string" ? VALIDATORS[kind] : undefined;
    const value = validator?.(entry.value, entry.key);
    if (value === undefined) {
      const key = formatKey(entry.key);
      this.#skipped.set(key, {
        key,
        reason: validator ? "the value is not a valid entry" : "unknown entry kind",
      });
    }
    return value as T | undefined;
  }

  /** Validates an entry and opens its sealed secret; what fails either is skipped. */
  async #decode<T>(entry: StoreEntry<unknown>): Promise<T | undefined> {
    const value = this.#validate<Record<string, unknown>>(entry);
    const kind = entry.key[NS.length];
    const field = typeof kind === "string" ? SECRET_FIELDS[kind] : undefined;
    const secret = field ? value?.[field] : undefined;
    if (!field || !isSealed(secret)) return value as T | undefined;
    // Without the key a sealed secret is not corrupt: skipping it would let a
    // write replace it, and it is the only copy.
    if (!this.#key) throw new CacheKeyError("missing", this.location);
    const opened = await unseal(this.#key, secret, secretContext(entry.key, field));
    if (opened === undefined || !isWireText(opened)) {
      const key = formatKey(entry.key);
      this.#skipped.set(key, {
        key,
        reason: "the secret does not decrypt: it was altered, or moved from another entry",
      });
      return undefined;
    }
    return { ...value, [field]: opened } as T;
  }

  /** A secret as this cache stores it: sealed when the cache is encrypted. */
  async #secret(key: StoreKey, field: "secret" | "deviceCode", secret: string) {
    return this.#key ? await seal(this.#key, secret, secretContext(key, field)) : secret;
  }

  async #read<T>(key: StoreKey): Promise<{ value: T | undefined; entry: StoreEntry }> {
    const entry = await this.#guard(() => this.#store.get(key));
    return { value: await this.#decode<T>(entry), entry };
  }

  async #list<T>(prefix: StoreKey): Promise<{ value: T; entry: StoreEntry }[]> {
    const entries = await this.#guard(() => Array.fromAsync(this.#store.list(prefix)));
    const out: { value: T; entry: StoreEntry }[] = [];
    for (const entry of entries) {
      const value = await this.#decode<T>(entry);
      if (value !== undefined) out.push({ value, entry });
    }
    return out;
  }

  async #guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (error instanceof CacheError) throw error;
      // A write to a cache opened read-only fails for the reason it could not
      // be opened for writing (a full disk is not a read-only file); SQLite's
      // vague "disk I/O error" is asked of the file system.
      const why = this.readOnly && /read-?only/i.test(firstLine(error))
        ? this.#readOnlyBecause
        : this.#file && /disk I\/O error|unable to open database file/i.test(firstLine(error))
        ? await whyUnwritable(this.location) ?? error
        : error;
      throw new CacheError(
        cacheProblem(`The token cache ${this.location} failed`, this.location, why),
        { cause: error },
      );
    }
  }

  #commit(atomic: StoreAtomic): Promise<{ ok: boolean }> {
    return this.#guard(() => atomic.commit());
  }

  // ----- accounts

  /**
   * The accounts in the cache, most recently signed in first.
   *
   * @param filter Only those of this authority and/or client.
   * @returns The accounts.
   */
  async getAccounts(filter: { authority?: string; clientId?: string } = {}): Promise<
    CachedAccount[]
  > {
    const prefix: (string | number)[] = [...NS, "account"];
    if (filter.authority !== undefined) {
      prefix.push(filter.authority);
      if (filter.clientId !== undefined) prefix.push(filter.clientId);
    }
    const rows = await this.#list<CachedAccount>(prefix);
    return rows.map((r) => r.value)
      .filter((a) => filter.clientId === undefined || a.clientId === filter.clientId)
      .sort((a, b) => b.signedInAt - a.signedInAt);
  }

  /**
   * Removes an account and every token and claim stored for it.
   *
   * @param account The account.
   * @returns The refresh token that was removed, so that it can be revoked.
   */
  async removeAccount(account: AccountRef): Promise<CachedRefreshToken | undefined> {
    // The refresh token returned (to be revoked) is the one deleted: checked in
    // the same atomic write, so a token another process rotated meanwhile is
    // read again, never revoked stale.
    for (let attempt = 0; attempt < 20; attempt++) {
      const removed = await this.#removeAccountOnce(account);
      if (removed.ok) return removed.refresh;
    }
    throw new CacheError(
      `The token cache ${this.location} kept changing while an account was removed`,
    );
  }

  async #removeAccountOnce(
    account: AccountRef,
  ): Promise<{ ok: boolean; refresh: CachedRefreshToken | undefined }> {
    const own = await this.#read<CachedRefreshToken>(refreshTokenKey(account));
    const refresh = own.value;
    const tokens = await this.#guard(() =>
      Array.fromAsync(this.#store.list(accessTokenPrefix(account)))
    );
    const atomic = this.#store.atomic()
      .check(own.entry)
      .delete(accountKey(account))
      .delete(refreshTokenKey(account))
      .delete(idClaimsKey(account));
    for (const entry of tokens) atomic.delete(entry.key);
    if (refresh?.familyId) atomic.delete(familyTokenKey(account, refresh.familyId));
    // The active account signed out: the most recent other one becomes active, or none.
    const active = await this.#read<{ homeAccountId: string }>(
      activeKey(account.authority, account.clientId),
    );
    if (active.value?.homeAccountId === account.homeAccountId) {
      const next = (await this.getAccounts(account))
        .find((a) => a.homeAccountId !== account.homeAccountId);
      atomic.check(active.entry);
      if (next) {
        atomic.set(activeKey(account.authority, account.clientId), {
          homeAccountId: next.homeAccountId,
        });
      } else atomic.delete(activeKey(account.authority, account.clientId));
    }
    return { ok: (await this.#commit(atomic)).ok, refresh };
  }

  /**
   * The home account ID of the active account of an authority and client:
   * the one `token` uses when several are signed in and none is named.
   *
   * @param authority The authority.
   * @param clientId The client ID.
   * @returns The home account ID, or `undefined` when none is active.
   */
  async getActiveAccount(authority: string, clientId: string): Promise<string | undefined> {
    const { value } = await this.#read<{ homeAccountId: string }>(activeKey(authority, clientId));
    return value?.homeAccountId;
  }

  /**
   * Which of a list of accounts are the active one of their authority and
   * client: marked so, or the only account there. One read per authority
   * and client, whatever the number of accounts.
   *
   * @param accounts Accounts as {@linkcode TokenCache.getAccounts} lists them (all of each client).
   * @returns For each account, `true` when `token` would use it without being told which.
   */
  async activeAmong(accounts: readonly AccountRef[]): Promise<boolean[]> {
    const pairs = new Map<string, { active: string | undefined; count: number }>();
    for (const a of accounts) {
      const id = JSON.stringify([a.authority, a.clientId]);
      const pair = pairs.get(id) ??
        { active: await this.getActiveAccount(a.authority, a.clientId), count: 0 };
      pair.count++;
      pairs.set(id, pair);
    }
    return accounts.map((a) => {
      const { active, count } = pairs.get(JSON.stringify([a.authority, a.clientId]))!;
      return active !== undefined ? active === a.homeAccountId : count === 1;
    });
  }

  /**
   * Makes an account the active one of its authority and client.
   *
   * @param account The account.
   */
  async setActiveAccount(account: AccountRef): Promise<void> {
    await this.#guard(() =>
      this.#store.set(activeKey(account.authority, account.clientId), {
        homeAccountId: account.homeAccountId,
      })
    );
  }

  // ----- what a sign-in or refresh produced

  /**
   * Stores an account, its tokens and its claims in one atomic write.
   *
   * @param entry What to store.
   */
  async save(entry: {
    account: CachedAccount;
    accessToken: CachedAccessToken;
    refreshToken?: CachedRefreshToken | undefined;
    idTokenClaims?: Readonly<Record<string, unknown>> | undefined;
  }): Promise<void> {
    const { account } = entry;
    const tokenKey = accessTokenKey(account, scopeKey(entry.accessToken.scopes));
    const atomic = this.#store.atomic()
      .set(accountKey(account), { ...account })
      .set(tokenKey, {
        ...entry.accessToken,
        secret: await this.#secret(tokenKey, "secret", entry.accessToken.secret),
      });
    const refresh = entry.refreshToken;
    if (refresh) {
      const ownKey = refreshTokenKey(account);
      atomic.set(ownKey, {
        ...refresh,
        secret: await this.#secret(ownKey, "secret", refresh.secret),
      });
      if (refresh.familyId) {
        const familyKey = familyTokenKey(account, refresh.familyId);
        atomic.set(familyKey, {
          ...refresh,
          secret: await this.#secret(familyKey, "secret", refresh.secret),
        });
      }
    }
    if (entry.idTokenClaims) atomic.set(idClaimsKey(account), { ...entry.idTokenClaims });
    await this.#commit(atomic);
  }

  /**
   * The access tokens of an account, newest first; expired ones included.
   *
   * @param account The account.
   * @returns The tokens.
   */
  async getAccessTokens(account: AccountRef): Promise<CachedAccessToken[]> {
    const rows = await this.#list<CachedAccessToken>(accessTokenPrefix(account));
    return rows.map((r) => r.value).sort((a, b) => b.cachedAt - a.cachedAt);
  }

  /**
   * An account's refresh token: its own, else a family refresh token of its
   * family when `familyId` is given.
   *
   * @param account The account.
   * @param familyId A family whose refresh token may serve.
   * @returns The refresh token, or `undefined`.
   */
  async getRefreshToken(
    account: AccountRef,
    familyId?: string,
  ): Promise<CachedRefreshToken | undefined> {
    const own = await this.#read<CachedRefreshToken>(refreshTokenKey(account));
    if (own.value || familyId === undefined) return own.value;
    return (await this.#read<CachedRefreshToken>(familyTokenKey(account, familyId))).value;
  }

  /**
   * Removes a refresh token the server refused, unless another process has
   * already replaced it with a new one.
   *
   * @param account The account.
   * @param secret The refused token.
   * @returns Whether it was removed.
   */
  async removeRefreshToken(account: AccountRef, secret: string): Promise<boolean> {
    const { value, entry } = await this.#read<CachedRefreshToken>(refreshTokenKey(account));
    if (!value || value.secret !== secret) return false;
    const atomic = this.#store.atomic().check(entry).delete(refreshTokenKey(account));
    if (value.familyId) atomic.delete(familyTokenKey(account, value.familyId));
    return (await this.#commit(atomic)).ok;
  }

  /**
   * The ID token claims of an account.
   *
   * @param account The account.
   * @returns The claims, or `undefined`.
   */
  async getIdTokenClaims(account: AccountRef): Promise<Record<string, unknown> | undefined> {
    return (await this.#read<Record<string, unknown>>(idClaimsKey(account))).value;
  }

  // ----- server metadata

  /**
   * The cached metadata of an authority.
   *
   * @param authority The authority.
   * @returns The metadata, or `undefined`.
   */
  async getMetadata(authority: string): Promise<CachedMetadata | undefined> {
    return (await this.#read<CachedMetadata>(metadataKey(authority))).value;
  }

  /**
   * Stores an authority's metadata.
   *
   * @param authority The authority.
   * @param metadata The metadata.
   */
  async setMetadata(authority: string, metadata: CachedMetadata): Promise<void> {
    await this.#guard(() => this.#store.set(metadataKey(authority), { ...metadata }));
  }

  // ----- leases: one refresh for many processes

  /**
   * Takes a short-lived lease, unless another holder has a live one.
   *
   * @param name What the lease guards.
   * @param holder A unique ID of the caller.
   * @param ttlMs How long the lease lives if the holder dies; also the longest a
   * lease of another holder is believed.
   * @param now The current time in milliseconds.
   * @returns Whether the caller now holds the lease.
   */
  async acquireLease(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const { value, entry } = await this.#read<{ holder: string; expiresAt: number }>(
      leaseKey(name),
    );
    // A lease that ends further ahead than a lease can last (a killed holder
    // with a huge TTL, a fast clock on another machine sharing the cache) is
    // stale: it would block every refresh until then. The slack covers
    // processes whose clocks were read a moment apart.
    if (
      value && value.holder !== holder && value.expiresAt > now &&
      value.expiresAt - now <= ttlMs + LEASE_CLOCK_SLACK_MS
    ) return false;
    const atomic = this.#store.atomic().check(entry).set(
      leaseKey(name),
      { holder, expiresAt: now + ttlMs },
      { expireIn: ttlMs },
    );
    return (await this.#commit(atomic)).ok;
  }

  /**
   * Gives a lease back, if the caller still holds it.
   *
   * @param name What the lease guards.
   * @param holder The caller's ID.
   */
  async releaseLease(name: string, holder: string): Promise<void> {
    const { value, entry } = await this.#read<{ holder: string }>(leaseKey(name));
    if (value?.holder !== holder) return;
    await this.#commit(this.#store.atomic().check(entry).delete(leaseKey(name)));
  }

  /**
   * Whether a live lease exists.
   *
   * @param name What the lease guards.
   * @param now The current time in milliseconds.
   * @returns `true` while someone holds it.
   */
  async leaseHeld(name: string, now: number): Promise<boolean> {
    const { value } = await this.#read<{ expiresAt: number }>(leaseKey(name));
    return value !== undefined && value.expiresAt > now;
  }

  // ----- device codes waiting for `login --resume`

  /**
   * Keeps a started device flow so that another process can finish it.
   *
   * @param authority The authority.
   * @param clientId The client ID.
   * @param pending The device code.
   */
  async savePending(
    authority: string,
    clientId: string,
    pending: PendingDeviceCode,
  ): Promise<void> {
    const key = pendingKey(authority, clientId, pending.id);
    const value = {
      ...pending,
      deviceCode: await this.#secret(key, "deviceCode", pending.deviceCode),
    };
    await this.#guard(() => this.#store.set(key, value, expiryOf(key, value)));
  }

  /**
   * The started device flows of a client, newest first, expired ones included.
   *
   * @param authority The authority.
   * @param clientId The client ID.
   * @returns The pending device codes.
   */
  async getPending(authority: string, clientId: string): Promise<PendingDeviceCode[]> {
    return (await this.listPending())
      .filter((p) => p.authority === authority && p.clientId === clientId)
      .map((p) => p.pending);
  }

  /**
   * Every started device flow in the cache, newest first, with the authority
   * and client it belongs to.
   *
   * @returns The pending device codes.
   */
  async listPending(): Promise<
    { authority: string; clientId: string; pending: PendingDeviceCode }[]
  > {
    const rows = await this.#list<PendingDeviceCode>([...NS, "pending_device_code"]);
    const out = [];
    for (const { value, entry } of rows) {
      const [authority, clientId] = entry.key.slice(NS.length + 1);
      if (typeof authority === "string" && typeof clientId === "string") {
        out.push({ authority, clientId, pending: value });
      }
    }
    return out.sort((a, b) => b.pending.createdAt - a.pending.createdAt);
  }

  /**
   * Removes a started device flow.
   *
   * @param authority The authority.
   * @param clientId The client ID.
   * @param id Its ID.
   */
  async removePending(authority: string, clientId: string, id: string): Promise<void> {
    await this.#guard(() => this.#store.delete(pendingKey(authority, clientId, id)));
  }

  // ----- status

  /**
   * What the cache holds, without a single token value, and what was skipped.
   *
   * @returns The status.
   */
  async status(): Promise<CacheStatus> {
    // Read everything once, so that corrupt entries anywhere are reported.
    // What was skipped earlier may have been overwritten since: report what is there now.
    this.#skipped.clear();
    const all = await this.#guard(() => Array.fromAsync(this.#store.list([...NS])));
    for (const entry of all) await this.#decode(entry);
    const accounts = await this.getAccounts();
    const active = await this.activeAmong(accounts);
    const rows = [];
    for (const [i, account] of accounts.entries()) {
      const tokens = await this.getAccessTokens(account);
      rows.push({
        ...account,
        accessTokens: tokens.map((t) => ({
          scopes: t.scopes,
          ...(t.expiresAt !== undefined ? { expiresAt: t.expiresAt } : {}),
        })),
        hasRefreshToken: (await this.getRefreshToken(account)) !== undefined,
        active: active[i]!,
      });
    }
    return { location: this.location, accounts: rows, skipped: this.skipped };
  }
}

/**
 * The key of a scope set: sorted, lower-cased, space-separated.
 *
 * @param scopes The scopes.
 * @returns The key.
 *
 * @example Scope sets that are the same
 * ```ts
 * import assert from "node:assert/strict";
 * import { scopeKey } from "@deviceflow/deviceflow/cache";
 *
 * assert.equal(scopeKey(["User.Read", "openid", "user.read"]), "openid user.read");
 * assert.equal(scopeKey(["b", "a"]), scopeKey(["a", "b"]));
 * ```
 */
export function scopeKey(scopes: readonly string[]): string {
  return [...new Set(scopes.map((s) => s.toLowerCase()))].sort().join(" ");
}

/** A key as text for {@linkcode SkippedEntry}; foreign keys may hold bigints, which JSON refuses. */
function formatKey(key: StoreKey): string {
  return JSON.stringify(key, (_, part) => typeof part === "bigint" ? `${part}n` : part);
}

/** What a sealed secret is bound to: its entry's key and field, so that it opens nowhere else. */
function secretContext(key: StoreKey, field: string): string {
  return `${formatKey(key)}#${field}`;
}

/**
 * The KV expiry an entry is written with. Pending device codes are kept an
 * hour past the code's expiry, so that a late --resume can say "expired".
 */
function expiryOf(key: StoreKey, value: Record<string, unknown>): { expireIn?: number } {
  if (key[NS.length] !== "pending_device_code" || !isTime(value.expiresAt)) return {};
  return { expireIn: Math.max(1000, value.expiresAt - Date.now()) + 3_600_000 };
}

/**
 * Rewrites a cache file without its free pages and empties its write-ahead
 * log: SQLite keeps the old plaintext of secrets just sealed there until the
 * pages are reused. Best effort: a file that cannot be vacuumed now (another
 * process is in the middle of a write, or Deno may not use node:sqlite) keeps
 * them until then.
 */
async function scrubFreePages(path: string): Promise<void> {
  try {
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA busy_timeout = 2000; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);");
    } finally {
      db.close();
    }
  } catch {
    // The entries are sealed either way.
  }
}

/** The files SQLite keeps beside a database: each holds its data too. */
const COMPANIONS = ["-wal", "-shm", "-journal"] as const;

/** The user this process runs as, when Deno may ask (`--allow-sys=uid`); never prompts. */
function currentUid(): number | undefined {
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state !== "granted") {
      return undefined;
    }
    return Deno.uid() ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why a cache file must not be opened, or `undefined` when it is ours and
 * private: a symbolic link (it could point anywhere), a file of another user
 * (planted in a shared directory such as /tmp), or one that others may read
 * or write.
 */
function refusal(path: string, info: Deno.FileInfo, uid: number | undefined): string | undefined {
  if (info.isSymlink) return `${path} is a symbolic link; remove it (rm ${path})`;
  if (!info.isFile) return `${path} is not a regular file`;
  if (uid !== undefined && info.uid !== null && info.uid !== uid) {
    return `${path} belongs to another user (uid ${info.uid}); remove it, or choose another cache file`;
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    return `${path} can be read or written by other users (mode ${
      (info.mode & 0o777).toString(8)
    }); run: chmod 600 ${path}`;
  }
  return undefined;
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Checks a cache file and its SQLite companions before KV opens them, and
 * creates a missing file exclusively with mode 0600 (its directory 0700), so
 * that no other user can plant it first. Windows has no modes to check.
 *
 * @throws {CacheError} When a file is a link, another user's, or open to others.
 */
async function prepareFile(path: string): Promise<void> {
  if (Deno.build.os === "windows") return await createFile(path);
  const uid = currentUid();
  const fail = (why: string) => new CacheError(`Refusing to open the token cache: ${why}`);
  let info = await lstatOrUndefined(path).catch((error) => {
    throw cannotCreate(path, error);
  });
  if (info === undefined) {
    await createFile(path);
    info = await Deno.lstat(path);
  }
  const problem = refusal(path, info, uid);
  if (problem) throw fail(problem);
  for (const suffix of COMPANIONS) {
    const companion = await lstatOrUndefined(path + suffix).catch(() => undefined);
    const why = companion && refusal(path + suffix, companion, uid);
    if (why) throw fail(why);
  }
}

/** Creates the directory (0700) and an empty database file (0600), only if the file is new. */
async function createFile(path: string): Promise<void> {
  try {
    await Deno.mkdir(dirOf(path), { recursive: true, mode: 0o700 });
    // SQLite opens an empty file as an empty database; creating it here,
    // exclusively, is what gives it mode 0600 from the first byte and makes
    // sure nobody else's file is taken for ours.
    const file = await Deno.open(path, { createNew: true, write: true, mode: 0o600 });
    file.close();
  } catch (error) {
    // Another process of ours created it meanwhile: it is checked like any other.
    if (error instanceof Deno.errors.AlreadyExists) return;
    throw cannotCreate(path, error);
  }
}

function cannotCreate(path: string, error: unknown): CacheError {
  return new CacheError(
    `Cannot create the token cache ${path}: ${(error as Error).message.split("\n")[0]}`,
    { cause: error },
  );
}

/**
 * A real exposure of a cache file that passed the checks of
 * {@linkcode TokenCache.open}: its directory can be written by other users
 * and has no sticky bit, so they may delete or replace the files (a private
 * directory, or one like /tmp with the sticky bit, is fine). The CLI warns
 * about it.
 *
 * @param path The cache file.
 * @returns A sentence naming what is exposed, or `undefined` when nothing is.
 *
 * @example Warn about a directory others can write to
 * ```ts
 * import assert from "node:assert/strict";
 * import { exposure } from "@deviceflow/deviceflow/cache";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.chmod(dir, 0o777);
 * const warning = await exposure(`${dir}/cache.db`);
 * if (Deno.build.os !== "windows") assert.match(warning!, /writable by other users .*chmod 700/);
 * await Deno.chmod(dir, 0o700);
 * assert.equal(await exposure(`${dir}/cache.db`), undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function exposure(path: string): Promise<string | undefined> {
  if (Deno.build.os === "windows" || path === ":memory:" || /^https?:/i.test(path)) {
    return undefined;
  }
  const dir = dirOf(path);
  try {
    const mode = (await Deno.stat(dir)).mode;
    if (mode !== null && (mode & 0o022) !== 0 && (mode & 0o1000) === 0) {
      return `the cache directory ${dir} is writable by other users (mode ${
        (mode & 0o777).toString(8)
      }), who could replace the cache; run: chmod 700 ${dir}`;
    }
  } catch {
    // Missing is private enough.
  }
  return undefined;
}
