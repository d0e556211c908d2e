/**
 * Leases: one refresh for many processes. A lease is a short-lived entry
 * that names its holder; a live one of another holder means wait.
 *
 * @module
 */

import type { Entries } from "./_entries.ts";
import { leaseKey } from "./_keys.ts";

/** How far apart two processes' readings of the clock may be when they compare a lease. */
const LEASE_CLOCK_SLACK_MS = 5000;

/** Takes a lease unless another holder has a live one (`TokenCache.acquireLease`). */
export async function acquireLease(
  entries: Entries,
  name: string,
  holder: string,
  ttlMs: number,
  now: number,
): Promise<boolean> {
  const { value, entry } = await entries.read<{ holder: string; expiresAt: number }>(
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
  const atomic = entries.store.atomic().check(entry).set(
    leaseKey(name),
    { holder, expiresAt: now + ttlMs },
    { expireIn: ttlMs },
  );
  return (await entries.commit(atomic)).ok;
}

/** Gives a lease back, if the caller still holds it (`TokenCache.releaseLease`). */
export async function releaseLease(entries: Entries, name: string, holder: string): Promise<void> {
  const { value, entry } = await entries.read<{ holder: string }>(leaseKey(name));
  if (value?.holder !== holder) return;
  await entries.commit(entries.store.atomic().check(entry).delete(leaseKey(name)));
}

/** Whether a live lease exists (`TokenCache.leaseHeld`). */
export async function leaseHeld(entries: Entries, name: string, now: number): Promise<boolean> {
  const { value } = await entries.read<{ expiresAt: number }>(leaseKey(name));
  return value !== undefined && value.expiresAt > now;
}
