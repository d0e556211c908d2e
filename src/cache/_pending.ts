/**
 * Device codes waiting for `login --resume`: kept (the device code sealed
 * when the cache is encrypted) until an hour past their expiry.
 *
 * @module
 */

import type { Entries } from "./_entries.ts";
import { NS, pendingKey } from "./_keys.ts";
import { expiryOf } from "./_records.ts";
import type { PendingDeviceCode } from "./types.ts";

/** Keeps a started device flow (`TokenCache.savePending`). */
export async function savePending(
  entries: Entries,
  authority: string,
  clientId: string,
  pending: PendingDeviceCode,
): Promise<void> {
  const key = pendingKey(authority, clientId, pending.id);
  const value = {
    ...pending,
    deviceCode: await entries.secret(key, "deviceCode", pending.deviceCode),
  };
  await entries.guard(() => entries.store.set(key, value, expiryOf(key, value)));
}

/** Every started device flow, newest first (`TokenCache.listPending`). */
export async function listPending(
  entries: Entries,
): Promise<{ authority: string; clientId: string; pending: PendingDeviceCode }[]> {
  const rows = await entries.list<PendingDeviceCode>([...NS, "pending_device_code"]);
  const out = [];
  for (const { value, entry } of rows) {
    const [authority, clientId] = entry.key.slice(NS.length + 1);
    if (typeof authority === "string" && typeof clientId === "string") {
      out.push({ authority, clientId, pending: value });
    }
  }
  return out.sort((a, b) => b.pending.createdAt - a.pending.createdAt);
}

/** Removes a started device flow (`TokenCache.removePending`). */
export async function removePending(
  entries: Entries,
  authority: string,
  clientId: string,
  id: string,
): Promise<void> {
  await entries.guard(() => entries.store.delete(pendingKey(authority, clientId, id)));
}
