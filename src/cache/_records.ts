/**
 * The validators of the cache's entries: every value read from the store is
 * checked against its kind before it is used.
 *
 * @module
 */

import { isSealed, type Sealed } from "./_sealed.ts";
import type { StoreKey } from "./store.ts";
import { isVisibleAscii } from "../untrusted.ts";
import { isSecureUrl, unsafeAddressReason } from "../url_policy.ts";
import { PROVIDERS } from "../types.ts";
import { accountKey, formatKey, NS } from "./_keys.ts";
import type {
  AccountRef,
  CachedAccessToken,
  CachedAccount,
  CachedMetadata,
  CachedRefreshToken,
  PendingDeviceCode,
} from "./types.ts";

// ---------------------------------------------------------------------------
// Validation: every value is checked when read.

export type Validator<T> = (value: unknown, key: StoreKey) => T | undefined;

// Plain objects only: KV also stores Maps, Dates and KvU64s, which are no entry.
export function isRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
export function isString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}
export function isTime(value: unknown): value is number {
  // 8.64e15 ms is the latest time a Date can hold.
  return typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= 8.64e15;
}
function isOptionalString(value: unknown): value is string | undefined {
  return value === undefined || isString(value);
}
/**
 * A token or code as the RFCs define them (VSCHARs), so that what the cache
 * file says cannot add a header, a variable or a protocol line to an output.
 */
export function isWireText(value: unknown, spaces = true): value is string {
  return isString(value) && isVisibleAscii(value, spaces);
}
/** A secret: plaintext, or sealed by an encrypted cache (checked when opened). */
function isSecret(value: unknown): value is string | Sealed {
  return isWireText(value) || isSealed(value);
}
function isEndpoint(value: unknown): value is string {
  if (!isString(value)) return false;
  try {
    return isSecureUrl(new URL(value));
  } catch {
    return false;
  }
}
function isAddress(value: unknown): value is string {
  return isString(value) && unsafeAddressReason(value) === undefined;
}
function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((s) => typeof s === "string");
}
const PROVIDER_NAMES: ReadonlySet<string> = new Set(PROVIDERS);

// An account stored under another key than its own could never be removed.
const validAccount: Validator<CachedAccount> = (v, key) =>
  isRecord(v) && isString(v.username) && isString(v.homeAccountId) && isString(v.authority) &&
    isString(v.clientId) && typeof v.provider === "string" && PROVIDER_NAMES.has(v.provider) &&
    isTime(v.signedInAt) && (v.tenantId === undefined || isString(v.tenantId)) &&
    formatKey(key) === formatKey(accountKey(v as unknown as AccountRef))
    ? v as unknown as CachedAccount
    : undefined;

const validAccessToken: Validator<CachedAccessToken> = (v) =>
  isRecord(v) && isSecret(v.secret) && isWireText(v.tokenType, false) && isStrings(v.scopes) &&
    isStrings(v.requestedScopes) && isTime(v.cachedAt) &&
    (v.expiresAt === undefined || isTime(v.expiresAt)) &&
    (v.refreshAt === undefined || isTime(v.refreshAt))
    ? v as unknown as CachedAccessToken
    : undefined;

const validRefreshToken: Validator<CachedRefreshToken> = (v) =>
  isRecord(v) && isSecret(v.secret) && isStrings(v.scopes) && isTime(v.cachedAt) &&
    (v.familyId === undefined || isString(v.familyId))
    ? v as unknown as CachedRefreshToken
    : undefined;

const validClaims: Validator<Record<string, unknown>> = (v) => isRecord(v) ? v : undefined;

const validMetadata: Validator<CachedMetadata> = (v) =>
  isRecord(v) && typeof v.provider === "string" && PROVIDER_NAMES.has(v.provider) &&
    isRecord(v.endpoints) && isEndpoint(v.endpoints.deviceAuthorization) &&
    isEndpoint(v.endpoints.token) &&
    (v.endpoints.revocation === undefined || isEndpoint(v.endpoints.revocation)) &&
    (v.endpoints.userinfo === undefined || isEndpoint(v.endpoints.userinfo)) &&
    isOptionalString(v.endpoints.issuer) &&
    (v.endpoints.uiLocalesSupported === undefined ||
      isStrings(v.endpoints.uiLocalesSupported) &&
        v.endpoints.uiLocalesSupported.every((t) => /^[A-Za-z0-9-]{1,64}$/.test(t))) &&
    isTime(v.fetchedAt)
    ? v as unknown as CachedMetadata
    : undefined;

const validPending: Validator<PendingDeviceCode> = (v) =>
  isRecord(v) && isString(v.id) && isSecret(v.deviceCode) && isWireText(v.userCode, false) &&
    isAddress(v.verificationUri) &&
    (v.verificationUriComplete === undefined || isAddress(v.verificationUriComplete)) &&
    isTime(v.expiresAt) && isTime(v.interval) &&
    typeof v.message === "string" && isStrings(v.scopes) && isTime(v.createdAt)
    ? v as unknown as PendingDeviceCode
    : undefined;

export const VALIDATORS: Record<string, Validator<unknown>> = {
  account: validAccount,
  access_token: validAccessToken,
  refresh_token: validRefreshToken,
  family_refresh_token: validRefreshToken,
  id_token_claims: validClaims,
  metadata: validMetadata,
  pending_device_code: validPending,
  lease: (v) => isRecord(v) && isString(v.holder) && isTime(v.expiresAt) ? v : undefined,
  active: (v) => isRecord(v) && isString(v.homeAccountId) ? v : undefined,
  account_name: (v) => isRecord(v) && isString(v.homeAccountId) ? v : undefined,
  encryption: (v) => isSealed(v) ? v : undefined,
};

/**
 * The KV expiry an entry is written with. Pending device codes are kept an
 * hour past the code's expiry, so that a late --resume can say "expired".
 */
export function expiryOf(key: StoreKey, value: Record<string, unknown>): { expireIn?: number } {
  if (key[NS.length] !== "pending_device_code" || !isTime(value.expiresAt)) return {};
  return { expireIn: Math.max(1000, value.expiresAt - Date.now()) + 3_600_000 };
}
