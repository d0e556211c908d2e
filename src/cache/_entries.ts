/**
 * The cache's entries over a store: each read validated against its kind
 * and its secret opened, each secret sealed when the cache is encrypted, and
 * every store failure said in one line. `TokenCache` and the modules of this
 * directory (leases, pending sign-ins) work through it.
 *
 * @module
 */

import { CacheError } from "../errors.ts";
import { firstLine } from "../untrusted.ts";
import { CacheKeyError, isSealed, type Sealed } from "./_sealed.ts";
import type { Store, StoreAtomic, StoreEntry, StoreKey } from "./store.ts";
import { cacheProblem } from "./errors.ts";
import { formatKey, KEY_CHECK, keyCheckKey, NS, SECRET_FIELDS, secretContext } from "./_keys.ts";
import { expiryOf, isRecord, isString, isWireText, VALIDATORS } from "./_records.ts";
import { whyUnwritable } from "./_kv.ts";
import { scrubFreePages } from "./_fs.ts";
import type { SkippedEntry } from "./types.ts";

/** The cipher, loaded only for an encrypted cache. */
type Sealing = typeof import("./sealing.ts");

/** The entries of one open cache. */
export class Entries {
  /** Entries skipped as corrupt or foreign, by key. */
  readonly skipped = new Map<string, SkippedEntry>();
  /** The key of an encrypted cache. */
  key: CryptoKey | undefined;
  sealing: Sealing | undefined;
  /** Whether the cache is a local file (its free pages can be scrubbed). */
  file = false;
  /** Why the file could not be opened for writing, when it was opened read-only. */
  readOnlyBecause: unknown;

  constructor(readonly store: Store, readonly location: string) {}

  /**
   * Checks the key against the cache: an encrypted cache needs its own key. A
   * key used on a cache for the first time is recorded in the key-check entry,
   * and the plaintext secrets already there are sealed with it.
   */
  async useKey(key: CryptoKey | undefined): Promise<void> {
    if (key) this.sealing = await import("./sealing.ts");
    const context = formatKey(keyCheckKey());
    for (let attempt = 0;; attempt++) {
      const check = await this.guard(() => this.store.get(keyCheckKey()));
      if (check.versionstamp !== null) {
        if (!key) throw new CacheKeyError("missing", this.location);
        const opened = isSealed(check.value)
          ? await this.sealing!.unseal(key, check.value, context)
          : undefined;
        if (opened !== KEY_CHECK) throw new CacheKeyError("wrong", this.location);
        this.key = key;
        return;
      }
      if (!key) return;
      const sealed = await this.sealAll(
        key,
        check,
        await this.sealing!.seal(key, KEY_CHECK, context),
      );
      if (sealed !== undefined) {
        this.key = key;
        if (sealed > 0 && this.file) await scrubFreePages(this.location);
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
  async sealAll(
    key: CryptoKey,
    check: StoreEntry,
    sealedCheck: Sealed,
  ): Promise<number | undefined> {
    const entries = await this.guard(() => Array.fromAsync(this.store.list([...NS])));
    const writes: { entry: StoreEntry; value: Record<string, unknown> }[] = [];
    for (const entry of entries) {
      const kind = entry.key[NS.length];
      const field = typeof kind === "string" ? SECRET_FIELDS[kind] : undefined;
      if (!field || !isRecord(entry.value)) continue;
      const secret = entry.value[field];
      const context = secretContext(entry.key, field);
      if (isSealed(secret)) {
        if (await this.sealing!.unseal(key, secret, context) === undefined) {
          throw new CacheKeyError("wrong", this.location);
        }
      } else if (isString(secret)) {
        writes.push({
          entry,
          value: { ...entry.value, [field]: await this.sealing!.seal(key, secret, context) },
        });
      }
    }
    const BATCH = 40;
    for (let start = 0;; start += BATCH) {
      const batch = writes.slice(start, start + BATCH);
      const last = start + BATCH >= writes.length;
      const atomic = this.store.atomic();
      for (const { entry, value } of batch) {
        atomic.check(entry).set(entry.key, value, expiryOf(entry.key, value));
      }
      if (last) atomic.check(check).set(keyCheckKey(), sealedCheck);
      if (!(await this.commit(atomic)).ok) return undefined;
      if (last) return writes.length;
    }
  }

  validate<T>(entry: StoreEntry<unknown>): T | undefined {
    // Absent is told by the versionstamp: a stored `null` is a corrupt entry.
    if (entry.versionstamp === null) return undefined;
    const kind = entry.key[NS.length];
    const validator = typeof kind === "string" ? VALIDATORS[kind] : undefined;
    const value = validator?.(entry.value, entry.key);
    if (value === undefined) {
      const key = formatKey(entry.key);
      this.skipped.set(key, {
        key,
        reason: validator ? "the value is not a valid entry" : "unknown entry kind",
      });
    }
    return value as T | undefined;
  }

  /** Validates an entry and opens its sealed secret; what fails either is skipped. */
  async decode<T>(entry: StoreEntry<unknown>): Promise<T | undefined> {
    const value = this.validate<Record<string, unknown>>(entry);
    const kind = entry.key[NS.length];
    const field = typeof kind === "string" ? SECRET_FIELDS[kind] : undefined;
    const secret = field ? value?.[field] : undefined;
    if (!field || !isSealed(secret)) return value as T | undefined;
    // Without the key a sealed secret is not corrupt: skipping it would let a
    // write replace it, and it is the only copy.
    if (!this.key) throw new CacheKeyError("missing", this.location);
    const opened = await this.sealing!.unseal(this.key, secret, secretContext(entry.key, field));
    if (opened === undefined || !isWireText(opened)) {
      const key = formatKey(entry.key);
      this.skipped.set(key, {
        key,
        reason: "the secret does not decrypt: it was altered, or moved from another entry",
      });
      return undefined;
    }
    return { ...value, [field]: opened } as T;
  }

  /** A secret as this cache stores it: sealed when the cache is encrypted. */
  async secret(key: StoreKey, field: "secret" | "deviceCode", secret: string) {
    return this.key
      ? await this.sealing!.seal(this.key, secret, secretContext(key, field))
      : secret;
  }

  async read<T>(key: StoreKey): Promise<{ value: T | undefined; entry: StoreEntry }> {
    const entry = await this.guard(() => this.store.get(key));
    return { value: await this.decode<T>(entry), entry };
  }

  async list<T>(prefix: StoreKey, limit?: number): Promise<{ value: T; entry: StoreEntry }[]> {
    const entries = await this.guard(() =>
      Array.fromAsync(this.store.list(prefix, limit === undefined ? {} : { limit }))
    );
    const out: { value: T; entry: StoreEntry }[] = [];
    for (const entry of entries) {
      const value = await this.decode<T>(entry);
      if (value !== undefined) out.push({ value, entry });
    }
    return out;
  }

  async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (error instanceof CacheError) throw error;
      // A write to a cache opened read-only fails for the reason it could not
      // be opened for writing (a full disk is not a read-only file); SQLite's
      // vague "disk I/O error" is asked of the file system.
      const why = this.readOnlyBecause !== undefined && /read-?only/i.test(firstLine(error))
        ? this.readOnlyBecause
        : this.file && /disk I\/O error|unable to open database file/i.test(firstLine(error))
        ? await whyUnwritable(this.location) ?? error
        : error;
      throw new CacheError(
        cacheProblem(`The token cache ${this.location} failed`, this.location, why),
        { cause: error },
      );
    }
  }

  commit(atomic: StoreAtomic): Promise<{ ok: boolean }> {
    return this.guard(() => atomic.commit());
  }
}
