/**
 * What the cache needs to know of encryption without the cipher: the shape
 * of a sealed secret, and the error of a missing or wrong key. The AES-GCM
 * code (`sealing.ts`) is loaded only when a key is given.
 *
 * @module
 */

import { CacheError } from "../errors.ts";

/** A secret as the cache stores it when it is encrypted. */
export interface Sealed {
  /** The format's version. */
  readonly v: 1;
  /** The AES-GCM IV, 12 bytes, base64url. */
  readonly iv: string;
  /** The ciphertext and tag, base64url. */
  readonly ct: string;
}

/**
 * The cache is encrypted and the key is missing or another one. Nothing was
 * read or changed; the CLI turns it into one line that names where it looked
 * for the key.
 *
 * @example Tell a missing key from another key
 * ```ts
 * import assert from "node:assert/strict";
 * import { CacheKeyError, TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/cache.db`;
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * (await TokenCache.open(path, { encryptionKey: key })).close();
 *
 * await assert.rejects(
 *   () => TokenCache.open(path),
 *   (error) => error instanceof CacheKeyError && error.reason === "missing",
 * );
 * await assert.rejects(
 *   () => TokenCache.open(path, { encryptionKey: crypto.getRandomValues(new Uint8Array(32)) }),
 *   (error) => error instanceof CacheKeyError && error.reason === "wrong",
 * );
 * (await TokenCache.open(path, { encryptionKey: key })).close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class CacheKeyError extends CacheError {
  /** `missing`: no key was given; `wrong`: the key does not open the cache. */
  readonly reason: "missing" | "wrong";

  /**
   * Creates the error.
   *
   * @param reason Whether the key is missing or another one.
   * @param location The cache.
   */
  constructor(reason: "missing" | "wrong", location: string) {
    super(
      reason === "missing"
        ? `The token cache ${location} is encrypted and no key was given; nothing was changed`
        : `The token cache ${location} is encrypted with another key; nothing was changed`,
    );
    this.name = "CacheKeyError";
    this.reason = reason;
  }
}

/**
 * Whether a value has the shape of a sealed secret.
 *
 * @param value A stored value.
 * @returns `true` for `{ v: 1, iv, ct }` with string parts.
 */
export function isSealed(value: unknown): value is Sealed {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return v.v === 1 && typeof v.iv === "string" && typeof v.ct === "string";
}
