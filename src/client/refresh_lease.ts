/**
 * One refresh at a time across processes: a lease in the cache, held while
 * the refresh runs, and waited for by everyone else, who use its result.
 *
 * @module
 */

import type { TokenCache } from "../cache/token_cache.ts";
import { CacheError } from "../errors.ts";
import type { Clock } from "../types.ts";

/** How a lease is held and waited for. */
export interface LeaseOptions {
  /** How long a lease outlives a holder that died, in milliseconds. */
  readonly ttlMs: number;
  readonly clock: Clock;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Runs `run` under the lease `name`, unless `done` finds its result first:
 * the holder checks again once it holds the lease (another process may have
 * finished meanwhile), and a process that waits checks after each try. A
 * wait longer than the lease can last is a {@linkcode CacheError}.
 *
 * @param cache The cache that keeps the lease.
 * @param name The lease's name.
 * @param options Its lifetime, the clock, cancellation.
 * @param done What is already there, or `undefined`.
 * @param run The work, when nothing is there.
 * @returns What `done` found, or what `run` made.
 */
export async function withLease<T>(
  cache: TokenCache,
  name: string,
  options: LeaseOptions,
  done: () => Promise<T | undefined>,
  run: () => Promise<T>,
): Promise<T> {
  // One holder per call, not per client: other work in this process on the
  // same lease must wait too.
  const holder = crypto.randomUUID();
  const { clock, ttlMs } = options;
  const deadline = clock.now() + ttlMs + 5000;
  let wait = 20;
  for (;;) {
    if (await cache.acquireLease(name, holder, ttlMs, clock.now())) {
      try {
        return await done() ?? await run();
      } finally {
        await cache.releaseLease(name, holder).catch(() => {});
      }
    }
    const found = await done();
    if (found !== undefined) return found;
    if (clock.now() > deadline) {
      throw new CacheError("Timed out waiting for another process to refresh the token");
    }
    await clock.sleep(wait * (0.5 + Math.random()), options.signal);
    wait = Math.min(wait * 2, 200);
  }
}
