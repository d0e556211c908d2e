/**
 * The token cache's domain operations over a store: accounts, tokens,
 * claims, metadata, leases and pending sign-ins, each validated when read,
 * sealed when the cache is encrypted, and written atomically where a write
 * depends on a read.
 *
 * This module is longer than 400 lines because the domain operations share the
 * class's private validation, sealing and error translation; the keys,
 * validators, KV store and file checks are in their own modules.
 *
 * @module
 */

import { CacheKeyError, isSealed, type Sealed } from "./_sealed.ts";

// What the cache's public entry (cache.ts) offers besides the class, from this directory's private modules.
export { kvAvailable } from "./_kv.ts";
export { exposure } from "./_fs.ts";
export { CacheKeyError } from "./_sealed.ts";

/** The cipher, loaded only for an encrypted cache. */
type Sealing = typeof import("./sealing.ts");
import { CacheError } from "../errors.ts";
import {
  MemoryStore,
  type Store,
  type StoreAtomic,
  type StoreEntry,
  type StoreKey,
} from "./store.ts";
import { defaultCachePath } from "../paths.ts";
import { cacheProblem } from "./errors.ts";
import { firstLine } from "../untrusted.ts";
import { scopeKey } from "../scopes.ts";
import {
  accessTokenKey,
  accessTokenPrefix,
  accountKey,
  accountNameKey,
  accountNamePrefix,
  accountPrefix,
  activeKey,
  familyTokenKey,
  formatKey,
  idClaimsKey,
  KEY_CHECK,
  keyCheckKey,
  leaseKey,
  metadataKey,
  NS,
  pendingKey,
  refreshTokenKey,
  SECRET_FIELDS,
  secretContext,
} from "./_keys.ts";
import { expiryOf, isRecord, isString, isWireText, VALIDATORS } from "./_records.ts";
import {
  DEFAULT_LOCK_TIMEOUT_MS,
  kvAvailable,
  KvStore,
  LockWait,
  openReadOnly,
  whyUnwritable,
} from "./_kv.ts";

/** How far apart two processes' readings of the clock may be when they compare a lease. */
const LEASE_CLOCK_SLACK_MS = 5000;

import { prepareFile, scrubFreePages } from "./_fs.ts";
import type {
  AccountRef,
  CachedAccessToken,
  CachedAccount,
  CachedMetadata,
  CachedRefreshToken,
  CacheStatus,
  PendingDeviceCode,
  SkippedEntry,
  TokenCacheOptions,
} from "./types.ts";

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
  #sealing: Sealing | undefined;
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
      : await (await import("./sealing.ts")).importCacheKey(options.encryptionKey);
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
    if (key) this.#sealing = await import("./sealing.ts");
    const context = formatKey(keyCheckKey());
    for (let attempt = 0;; attempt++) {
      const check = await this.#guard(() => this.#store.get(keyCheckKey()));
      if (check.versionstamp !== null) {
        if (!key) throw new CacheKeyError("missing", this.location);
        const opened = isSealed(check.value)
          ? await this.#sealing!.unseal(key, check.value, context)
          : undefined;
        if (opened !== KEY_CHECK) throw new CacheKeyError("wrong", this.location);
        this.#key = key;
        return;
      }
      if (!key) return;
      const sealed = await this.#sealAll(
        key,
        check,
        await this.#sealing!.seal(key, KEY_CHECK, context),
      );
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
        if (await this.#sealing!.unseal(key, secret, context) === undefined) {
          throw new CacheKeyError("wrong", this.location);
        }
      } else if (isString(secret)) {
        writes.push({
          entry,
          value: { ...entry.value, [field]: await this.#sealing!.seal(key, secret, context) },
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
    const opened = await this.#sealing!.unseal(this.#key, secret, secretContext(entry.key, field));
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
    return this.#key
      ? await this.#sealing!.seal(this.#key, secret, secretContext(key, field))
      : secret;
  }

  async #read<T>(key: StoreKey): Promise<{ value: T | undefined; entry: StoreEntry }> {
    const entry = await this.#guard(() => this.#store.get(key));
    return { value: await this.#decode<T>(entry), entry };
  }

  async #list<T>(prefix: StoreKey, limit?: number): Promise<{ value: T; entry: StoreEntry }[]> {
    const entries = await this.#guard(() =>
      Array.fromAsync(this.#store.list(prefix, limit === undefined ? {} : { limit }))
    );
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
    const stored = await this.#read<CachedAccount>(accountKey(account));
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
    if (stored.value) atomic.delete(accountNameKey(stored.value));
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
   * One account, read by its key.
   *
   * @param account What identifies it.
   * @returns The account, or `undefined` when it is not cached.
   */
  async getAccount(account: AccountRef): Promise<CachedAccount | undefined> {
    return (await this.#read<CachedAccount>(accountKey(account))).value;
  }

  /**
   * The accounts of an authority and client with a username (compared
   * without case), from the username index: the cost does not grow with
   * the number of accounts. Accounts cached before the index existed are
   * not found here; {@linkcode TokenCache.getAccounts} lists every one.
   *
   * @param authority The authority.
   * @param clientId The client ID.
   * @param username The username.
   * @returns The accounts with that username.
   */
  async accountsNamed(
    authority: string,
    clientId: string,
    username: string,
  ): Promise<CachedAccount[]> {
    const rows = await this.#list<{ homeAccountId: string }>(
      accountNamePrefix(authority, clientId, username),
      10,
    );
    const out: CachedAccount[] = [];
    for (const { value } of rows) {
      const account = await this.getAccount({
        authority,
        clientId,
        homeAccountId: value.homeAccountId,
      });
      // An index entry that outlived a change of username names nobody.
      if (account && account.username.toLowerCase() === username.toLowerCase()) out.push(account);
    }
    return out;
  }

  /**
   * The first accounts of an authority and client in key order, at most
   * `limit`: enough to tell none, one and several apart without listing all.
   *
   * @param authority The authority.
   * @param clientId The client ID.
   * @param limit How many at most.
   * @returns Up to `limit` accounts, or `undefined` when one of the entries
   * read was skipped as corrupt (then only a full list tells how many there are).
   */
  async someAccounts(
    authority: string,
    clientId: string,
    limit: number,
  ): Promise<CachedAccount[] | undefined> {
    const entries = await this.#guard(() =>
      Array.fromAsync(this.#store.list(accountPrefix(authority, clientId), { limit }))
    );
    const out: CachedAccount[] = [];
    for (const entry of entries) {
      const value = await this.#decode<CachedAccount>(entry);
      if (value === undefined) return undefined;
      out.push(value);
    }
    return out;
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
      .set(accountNameKey(account), { homeAccountId: account.homeAccountId })
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
