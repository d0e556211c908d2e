/**
 * A virtual clock for tests: `sleep()` advances virtual time at once instead
 * of waiting, so polling and back-off can be asserted to the millisecond
 * without real delays.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./fake_clock.ts";
 * const clock = new FakeClock();
 * const start = clock.now();
 * await clock.sleep(5000);
 * console.assert(clock.now() - start === 5000);
 * console.assert(clock.sleeps[0] === 5000);
 * ```
 *
 * @module
 */

import type { Clock } from "../../src/types.ts";

/** The default start of virtual time: 2025-01-01T00:00:00Z. */
export const FAKE_EPOCH: number = Date.UTC(2025, 0, 1);

/** A {@linkcode Clock} whose time moves only when something sleeps or a test advances it. */
export class FakeClock implements Clock {
  #now: number;
  /** Every sleep asked for, in milliseconds, in order. */
  readonly sleeps: number[] = [];

  /**
   * Starts virtual time.
   *
   * @param start The virtual time to start at, in epoch milliseconds.
   */
  constructor(start: number = FAKE_EPOCH) {
    this.#now = start;
  }

  /** The virtual time in epoch milliseconds. */
  now(): number {
    return this.#now;
  }

  /**
   * Moves virtual time forward without anyone sleeping.
   *
   * @param ms How far, in milliseconds.
   */
  advance(ms: number): void {
    this.#now += ms;
  }

  /**
   * Records the sleep, lets other tasks run for one macrotask, then moves
   * virtual time to the end of the sleep. Concurrent sleepers do not add up:
   * each ends at the time it was due, as with a real clock.
   *
   * @param ms How long, in virtual milliseconds.
   * @param signal Rejects with its reason when it is or becomes aborted.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const due = this.#now + Math.max(0, ms);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        this.#now = Math.max(this.#now, due);
        resolve();
      }, 0);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
