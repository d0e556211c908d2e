/**
 * Deno KV behind the cache's store interface, with "database is locked"
 * retried and bounded, and a read-only fallback for files that cannot be
 * written.
 *
 * @module
 */

import { CacheError } from "../errors.ts";
import { dirOf } from "../paths.ts";
import { isLocked } from "./errors.ts";
import type { Store, StoreAtomic, StoreEntry, StoreKey } from "./store.ts";

// ---------------------------------------------------------------------------
// Deno KV, with "database is locked" retried.

/**
 * Why a cache file cannot be written, in the system's words (SQLite's are
 * vaguer: "disk I/O error", "unable to open database file"): a probe file
 * beside it, then the file itself opened for writing. `undefined` when both
 * work.
 */
export async function whyUnwritable(path: string): Promise<unknown> {
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
export async function openReadOnly(path: string): Promise<Deno.Kv | undefined> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size === 0) return undefined;
    const uri = `file:${path.replace(/[%?#]/g, (c) => encodeURIComponent(c))}?immutable=1`;
    return await Deno.openKv(uri);
  } catch {
    return undefined;
  }
}

/** After this long waiting for a locked file, {@linkcode TokenCacheOptions.onLockWait} is called. */
const LOCK_NOTICE_MS = 2000;
/** The default of {@linkcode TokenCacheOptions.lockTimeout}. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

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
export class LockWait {
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

export class KvStore implements Store {
  constructor(readonly kv: Deno.Kv, readonly wait: LockWait) {}

  get<T>(key: StoreKey): Promise<StoreEntry<T>> {
    return this.wait.run(() => this.kv.get<T>(key as Deno.KvKey)) as Promise<
      StoreEntry<T>
    >;
  }

  async *list<T>(prefix: StoreKey, options: { limit?: number } = {}): AsyncIterable<StoreEntry<T>> {
    const entries = await this.wait.run(
      () => Array.fromAsync(this.kv.list<T>({ prefix: prefix as Deno.KvKey }, options)),
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
