/**
 * Every key the cache writes, made in one place, and how a key is shown.
 *
 * @module
 */

import type { AccountRef } from "./types.ts";
import type { StoreKey } from "./store.ts";

// Bump when an entry's shape changes; older entries are then foreign and skipped.
export const NS = ["deviceflow", "v1"] as const;

/** Key helpers: every key the cache writes is made here. */
export function accountKey(a: AccountRef): StoreKey {
  return [...NS, "account", a.authority, a.clientId, a.homeAccountId];
}
/**
 * The index of accounts by username (lower-cased), so that `--account NAME`
 * is one short list, whatever the number of accounts.
 */
export function accountNamePrefix(authority: string, clientId: string, username: string): StoreKey {
  // The first 64 characters only: a key stays within KV's 2 KiB, whatever a server
  // calls its users; a reader checks the whole name on the account it finds.
  return [...NS, "account_name", authority, clientId, username.toLowerCase().slice(0, 64)];
}
export function accountNameKey(a: AccountRef & { username: string }): StoreKey {
  return [...accountNamePrefix(a.authority, a.clientId, a.username), a.homeAccountId];
}
export function accountPrefix(authority: string, clientId: string): StoreKey {
  return [...NS, "account", authority, clientId];
}
export function accessTokenPrefix(a: AccountRef): StoreKey {
  return [...NS, "access_token", a.authority, a.clientId, a.homeAccountId];
}
export function accessTokenKey(a: AccountRef, scopeKey: string): StoreKey {
  return [...accessTokenPrefix(a), scopeKey];
}
export function refreshTokenKey(a: AccountRef): StoreKey {
  return [...NS, "refresh_token", a.authority, a.clientId, a.homeAccountId];
}
export function familyTokenKey(a: AccountRef, familyId: string): StoreKey {
  return [...NS, "family_refresh_token", a.authority, familyId, a.homeAccountId];
}
export function idClaimsKey(a: AccountRef): StoreKey {
  return [...NS, "id_token_claims", a.authority, a.clientId, a.homeAccountId];
}
export function metadataKey(authority: string): StoreKey {
  return [...NS, "metadata", authority];
}
export function leaseKey(name: string): StoreKey {
  return [...NS, "lease", name];
}
export function pendingKey(authority: string, clientId: string, id: string): StoreKey {
  return [...NS, "pending_device_code", authority, clientId, id];
}
export function activeKey(authority: string, clientId: string): StoreKey {
  return [...NS, "active", authority, clientId];
}
export function keyCheckKey(): StoreKey {
  return [...NS, "encryption"];
}

/** The field that holds the secret, by entry kind: the fields an encrypted cache seals. */
export const SECRET_FIELDS: Readonly<Record<string, "secret" | "deviceCode">> = {
  access_token: "secret",
  refresh_token: "secret",
  family_refresh_token: "secret",
  pending_device_code: "deviceCode",
};
/** What the key-check entry seals: a key that opens it opens the cache. */
export const KEY_CHECK = "deviceflow cache key";

/** A key as text for {@linkcode SkippedEntry}; foreign keys may hold bigints, which JSON refuses. */
export function formatKey(key: StoreKey): string {
  return JSON.stringify(key, (_, part) => typeof part === "bigint" ? `${part}n` : part);
}

/** What a sealed secret is bound to: its entry's key and field, so that it opens nowhere else. */
export function secretContext(key: StoreKey, field: string): string {
  return `${formatKey(key)}#${field}`;
}
