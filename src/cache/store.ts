/**
 * The small part of Deno KV the cache uses, behind an interface, so that the
 * cache also works where KV is not enabled (a `deno run` without
 * `--unstable-kv`) with a store that lives in memory.
 *
 * @module
 */

/** A key, as Deno KV has them. */
export type StoreKey = readonly (string | number)[];

/** One entry read from the store; `versionstamp` is `null` when the key is absent. */
export interface StoreEntry<T = unknown> {
  readonly key: StoreKey;
  readonly value: T | null;
  readonly versionstamp: string | null;
}

/** An atomic operation: checks, then writes, all or nothing. */
export interface StoreAtomic {
  check(...entries: { key: StoreKey; versionstamp: string | null }[]): StoreAtomic;
  set(key: StoreKey, value: unknown, options?: { expireIn?: number }): StoreAtomic;
  delete(key: StoreKey): StoreAtomic;
  commit(): Promise<{ ok: boolean }>;
}

/** What the cache needs of a key-value store. */
export interface Store {
  get<T = unknown>(key: StoreKey): Promise<StoreEntry<T>>;
  /** The entries under a prefix, in key order; at most `limit` of them when given. */
  list<T = unknown>(prefix: StoreKey, options?: { limit?: number }): AsyncIterable<StoreEntry<T>>;
  set(key: StoreKey, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  delete(key: StoreKey): Promise<void>;
  atomic(): StoreAtomic;
  close(): void;
}

function keyId(key: StoreKey): string {
  return JSON.stringify(key);
}

function startsWith(key: StoreKey, prefix: StoreKey): boolean {
  return prefix.length <= key.length && prefix.every((part, i) => key[i] === part);
}

/**
 * A {@linkcode Store} in memory, with the same atomic semantics as KV.
 * Values are copied on the way in and out, as KV does.
 */
export class MemoryStore implements Store {
  #entries = new Map<string, { key: StoreKey; value: unknown; versionstamp: string }>();
  #version = 0;

  #stamp(): string {
    return (++this.#version).toString(16).padStart(20, "0");
  }

  get<T>(key: StoreKey): Promise<StoreEntry<T>> {
    const entry = this.#entries.get(keyId(key));
    return Promise.resolve(
      entry
        ? { key, value: structuredClone(entry.value) as T, versionstamp: entry.versionstamp }
        : { key, value: null, versionstamp: null },
    );
  }

  async *list<T>(prefix: StoreKey, options: { limit?: number } = {}): AsyncIterable<StoreEntry<T>> {
    const matches = [...this.#entries.values()]
      .filter((entry) => startsWith(entry.key, prefix))
      .sort((a, b) => keyId(a.key) < keyId(b.key) ? -1 : 1)
      .slice(0, options.limit);
    for (const entry of matches) {
      yield {
        key: entry.key,
        value: structuredClone(entry.value) as T,
        versionstamp: entry.versionstamp,
      };
    }
  }

  set(key: StoreKey, value: unknown): Promise<unknown> {
    this.#entries.set(keyId(key), {
      key: [...key],
      value: structuredClone(value),
      versionstamp: this.#stamp(),
    });
    return Promise.resolve({ ok: true });
  }

  delete(key: StoreKey): Promise<void> {
    this.#entries.delete(keyId(key));
    return Promise.resolve();
  }

  atomic(): StoreAtomic {
    const checks: { key: StoreKey; versionstamp: string | null }[] = [];
    const writes: (() => void)[] = [];
    const op: StoreAtomic = {
      check: (...entries) => {
        checks.push(...entries);
        return op;
      },
      set: (key, value) => {
        writes.push(() => void this.set(key, value));
        return op;
      },
      delete: (key) => {
        writes.push(() => void this.delete(key));
        return op;
      },
      commit: () => {
        const ok = checks.every((check) =>
          (this.#entries.get(keyId(check.key))?.versionstamp ?? null) === check.versionstamp
        );
        if (ok) writes.forEach((write) => write());
        return Promise.resolve({ ok });
      },
    };
    return op;
  }

  close(): void {
    this.#entries.clear();
  }
}
