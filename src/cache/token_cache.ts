/**
 * The token cache's domain operations over a store: accounts, tokens,
 * claims, metadata, leases and pending sign-ins, each validated when read,
 * sealed when the cache is encrypted, and written atomically where a write
 * depends on a read.
 *
 * This module is longer than 400 lines because every public method of
 * TokenCache carries its documented example; the entries (validation,
 * sealing, errors), keys, validators, KV store, file checks, leases and
 * pending sign-ins are in their own modules.
 *
 * @module
 */

// What the cache's public entry (cache.ts) offers besides the class, from this directory's private modules.
export { kvAvailable } from "./_kv.ts";
export { exposure } from "./_fs.ts";
export { CacheKeyError } from "./_sealed.ts";

/** The cipher, loaded only for an encrypted cache. */
type Sealing = typeof import("./sealing.ts");
import { CacheError } from "../errors.ts";
import { MemoryStore, type Store } from "./store.ts";
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
  idClaimsKey,
  metadataKey,
  NS,
  refreshTokenKey,
} from "./_keys.ts";
import {
  DEFAULT_LOCK_TIMEOUT_MS,
  kvAvailable,
  KvStore,
  LockWait,
  openReadOnly,
  whyUnwritable,
} from "./_kv.ts";

import { prepareFile } from "./_fs.ts";
import { Entries } from "./_entries.ts";
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
  readonly #e: Entries;
  /** Where the cache lives: a file path, a KV Connect URL, or `:memory:`. */
  readonly location: string;

  private constructor(store: Store, location: string) {
    this.#e = new Entries(store, location);
    this.location = location;
  }

  /**
   * Whether the cache could be opened for reading only (a read-only mount, a
   * file or directory it may not write): it serves what it holds, and every
   * write fails with a {@linkcode CacheError} that says so.
   */
  get readOnly(): boolean {
    return this.#e.readOnlyBecause !== undefined;
  }

  /** Whether secrets are encrypted: the cache was opened with a key. */
  get encrypted(): boolean {
    return this.#e.key !== undefined;
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
    cache.#e.file = !remote && path !== ":memory:";
    cache.#e.readOnlyBecause = readOnly;
    try {
      await cache.#e.useKey(key);
    } catch (error) {
      cache.close();
      throw error;
    }
    return cache;
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
    this.#e.store.close();
  }

  /** Entries skipped as corrupt or foreign since the cache was opened. */
  get skipped(): readonly SkippedEntry[] {
    return [...this.#e.skipped.values()];
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
    const rows = await this.#e.list<CachedAccount>(prefix);
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
    const own = await this.#e.read<CachedRefreshToken>(refreshTokenKey(account));
    const refresh = own.value;
    const stored = await this.#e.read<CachedAccount>(accountKey(account));
    const tokens = await this.#e.guard(() =>
      Array.fromAsync(this.#e.store.list(accessTokenPrefix(account)))
    );
    const atomic = this.#e.store.atomic()
      .check(own.entry)
      .delete(accountKey(account))
      .delete(refreshTokenKey(account))
      .delete(idClaimsKey(account));
    for (const entry of tokens) atomic.delete(entry.key);
    if (refresh?.familyId) atomic.delete(familyTokenKey(account, refresh.familyId));
    if (stored.value) atomic.delete(accountNameKey(stored.value));
    // The active account signed out: the most recent other one becomes active, or none.
    const active = await this.#e.read<{ homeAccountId: string }>(
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
    return { ok: (await this.#e.commit(atomic)).ok, refresh };
  }

  /**
   * One account, read by its key.
   *
   * @param account What identifies it.
   * @returns The account, or `undefined` when it is not cached.
   */
  async getAccount(account: AccountRef): Promise<CachedAccount | undefined> {
    return (await this.#e.read<CachedAccount>(accountKey(account))).value;
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
    const rows = await this.#e.list<{ homeAccountId: string }>(
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
    const entries = await this.#e.guard(() =>
      Array.fromAsync(this.#e.store.list(accountPrefix(authority, clientId), { limit }))
    );
    const out: CachedAccount[] = [];
    for (const entry of entries) {
      const value = await this.#e.decode<CachedAccount>(entry);
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
    const { value } = await this.#e.read<{ homeAccountId: string }>(activeKey(authority, clientId));
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
    await this.#e.guard(() =>
      this.#e.store.set(activeKey(account.authority, account.clientId), {
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
    const atomic = this.#e.store.atomic()
      .set(accountKey(account), { ...account })
      .set(accountNameKey(account), { homeAccountId: account.homeAccountId })
      .set(tokenKey, {
        ...entry.accessToken,
        secret: await this.#e.secret(tokenKey, "secret", entry.accessToken.secret),
      });
    const refresh = entry.refreshToken;
    if (refresh) {
      const ownKey = refreshTokenKey(account);
      atomic.set(ownKey, {
        ...refresh,
        secret: await this.#e.secret(ownKey, "secret", refresh.secret),
      });
      if (refresh.familyId) {
        const familyKey = familyTokenKey(account, refresh.familyId);
        atomic.set(familyKey, {
          ...refresh,
          secret: await this.#e.secret(familyKey, "secret", refresh.secret),
        });
      }
    }
    if (entry.idTokenClaims) atomic.set(idClaimsKey(account), { ...entry.idTokenClaims });
    await this.#e.commit(atomic);
  }

  /**
   * The access tokens of an account, newest first; expired ones included.
   *
   * @param account The account.
   * @returns The tokens.
   */
  async getAccessTokens(account: AccountRef): Promise<CachedAccessToken[]> {
    const rows = await this.#e.list<CachedAccessToken>(accessTokenPrefix(account));
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
    const own = await this.#e.read<CachedRefreshToken>(refreshTokenKey(account));
    if (own.value || familyId === undefined) return own.value;
    return (await this.#e.read<CachedRefreshToken>(familyTokenKey(account, familyId))).value;
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
    const { value, entry } = await this.#e.read<CachedRefreshToken>(refreshTokenKey(account));
    if (!value || value.secret !== secret) return false;
    const atomic = this.#e.store.atomic().check(entry).delete(refreshTokenKey(account));
    if (value.familyId) atomic.delete(familyTokenKey(account, value.familyId));
    return (await this.#e.commit(atomic)).ok;
  }

  /**
   * The ID token claims of an account.
   *
   * @param account The account.
   * @returns The claims, or `undefined`.
   */
  async getIdTokenClaims(account: AccountRef): Promise<Record<string, unknown> | undefined> {
    return (await this.#e.read<Record<string, unknown>>(idClaimsKey(account))).value;
  }

  // ----- server metadata

  /**
   * The cached metadata of an authority.
   *
   * @param authority The authority.
   * @returns The metadata, or `undefined`.
   */
  async getMetadata(authority: string): Promise<CachedMetadata | undefined> {
    return (await this.#e.read<CachedMetadata>(metadataKey(authority))).value;
  }

  /**
   * Stores an authority's metadata.
   *
   * @param authority The authority.
   * @param metadata The metadata.
   */
  async setMetadata(authority: string, metadata: CachedMetadata): Promise<void> {
    await this.#e.guard(() => this.#e.store.set(metadataKey(authority), { ...metadata }));
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
    // Leases and pending sign-ins load when used: a cached token needs neither.
    return await (await import("./_leases.ts")).acquireLease(this.#e, name, holder, ttlMs, now);
  }

  /**
   * Gives a lease back, if the caller still holds it.
   *
   * @param name What the lease guards.
   * @param holder The caller's ID.
   */
  async releaseLease(name: string, holder: string): Promise<void> {
    await (await import("./_leases.ts")).releaseLease(this.#e, name, holder);
  }

  /**
   * Whether a live lease exists.
   *
   * @param name What the lease guards.
   * @param now The current time in milliseconds.
   * @returns `true` while someone holds it.
   */
  async leaseHeld(name: string, now: number): Promise<boolean> {
    return await (await import("./_leases.ts")).leaseHeld(this.#e, name, now);
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
    await (await import("./_pending.ts")).savePending(this.#e, authority, clientId, pending);
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
    return await (await import("./_pending.ts")).listPending(this.#e);
  }

  /**
   * Removes a started device flow.
   *
   * @param authority The authority.
   * @param clientId The client ID.
   * @param id Its ID.
   */
  async removePending(authority: string, clientId: string, id: string): Promise<void> {
    await (await import("./_pending.ts")).removePending(this.#e, authority, clientId, id);
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
    this.#e.skipped.clear();
    const all = await this.#e.guard(() => Array.fromAsync(this.#e.store.list([...NS])));
    for (const entry of all) await this.#e.decode(entry);
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
