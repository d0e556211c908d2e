/**
 * Encryption at rest of the cache's secrets: the key (from text, a key file,
 * or a new key file), and sealing and opening one secret with AES-GCM.
 *
 * A sealed secret is `{ v: 1, iv, ct }`: a random 96-bit IV and the
 * ciphertext with its 128-bit tag, both base64url. The entry's KV key is the
 * additional authenticated data, so that a ciphertext moved to another entry
 * does not open.
 *
 * @module
 */

import { firstLine } from "../untrusted.ts";
import { CacheError } from "../errors.ts";
import type { Sealed } from "./_sealed.ts";

export { CacheKeyError, isSealed, type Sealed } from "./_sealed.ts";

/** The length of a cache key in bytes: AES-256. */
export const KEY_BYTES = 32;

/** How to make a key, for messages. */
const HOW_TO_MAKE = "make one with: openssl rand -base64 32";

/**
 * Makes an AES-GCM key for the cache from raw bytes, or checks a given one.
 *
 * @param key 32 bytes, or an AES-GCM `CryptoKey` that may encrypt and decrypt.
 * @returns The key.
 * @throws {TypeError} When the bytes are not 32, or the key is not an AES-GCM key for both uses.
 */
export async function importCacheKey(key: CryptoKey | Uint8Array): Promise<CryptoKey> {
  if (key instanceof Uint8Array) {
    if (key.length !== KEY_BYTES) {
      throw new TypeError(
        `Cannot use the encryption key: it must be ${KEY_BYTES} bytes, not ${key.length}`,
      );
    }
    return await crypto.subtle.importKey("raw", key.slice(), "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
  }
  if (
    !(key instanceof CryptoKey) || key.algorithm.name !== "AES-GCM" ||
    !key.usages.includes("encrypt") || !key.usages.includes("decrypt")
  ) {
    throw new TypeError(
      "Cannot use the encryption key: it must be 32 bytes or an AES-GCM CryptoKey for encrypt and decrypt",
    );
  }
  return key;
}

/**
 * Encrypts a secret.
 *
 * @param key The cache key.
 * @param plaintext The secret.
 * @param context What it is bound to (the entry's key and field); needed to open it.
 * @returns The sealed secret.
 */
export async function seal(key: CryptoKey, plaintext: string, context: string): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    key,
    encoder.encode(plaintext),
  );
  return {
    v: 1,
    iv: iv.toBase64({ alphabet: "base64url", omitPadding: true }),
    ct: new Uint8Array(ct).toBase64({ alphabet: "base64url", omitPadding: true }),
  };
}

/**
 * Decrypts a secret.
 *
 * @param key The cache key.
 * @param sealed The sealed secret.
 * @param context What it was bound to when sealed.
 * @returns The secret, or `undefined` when it does not open: another key, another
 * context, or altered bytes.
 */
export async function unseal(
  key: CryptoKey,
  sealed: Sealed,
  context: string,
): Promise<string | undefined> {
  const iv = fromBase64(sealed.iv);
  const ct = fromBase64(sealed.ct);
  if (!iv || iv.length !== 12 || !ct) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
      key,
      ct,
    );
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch {
    return undefined;
  }
}

/**
 * Reads a key written as text: 32 bytes in base64 (standard or URL-safe,
 * padded or not, as `openssl rand -base64 32` prints) or in hex.
 *
 * @param text The key.
 * @returns The bytes, or `undefined` when the text is not such a key.
 */
export function parseKey(text: string): Uint8Array | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) {
    return Uint8Array.from(trimmed.match(/../g)!, (byte) => parseInt(byte, 16));
  }
  const bytes = fromBase64(trimmed);
  return bytes?.length === KEY_BYTES ? bytes : undefined;
}

/** Where a key came from, for messages: `DEVICEFLOW_CACHE_KEY`, or a key file. */
export interface FoundKey {
  /** The key's bytes. */
  readonly key: Uint8Array;
  /** Where it came from, as a message names it. */
  readonly source: string;
  /** The key file, when it came from one. */
  readonly file?: string;
  /** Whether the key file was created just now. */
  readonly created: boolean;
}

/** Options of {@linkcode findCacheKey}. */
export interface FindCacheKeyOptions {
  /** Reads the environment. */
  readonly env: (name: string) => string | undefined;
  /** The cache: a file path, `:memory:`, or a KV Connect URL. */
  readonly location: string;
  /** Create the default key file when no key is found (`--encrypt`). */
  readonly create: boolean;
}

/**
 * Finds the cache key: `DEVICEFLOW_CACHE_KEY`, else the file named by
 * `DEVICEFLOW_CACHE_KEY_FILE`, else `key` next to the cache file. With
 * `create`, a key file that does not exist is made with a new random key and
 * mode 0600.
 *
 * @param options The environment, the cache, and whether to create a key.
 * @returns The key, or `undefined` when there is none and none was to be made.
 * @throws {CacheError} When a key is malformed, a key file is readable by others
 * or cannot be read, or `create` is asked for a cache with no default key file.
 */
export async function findCacheKey(options: FindCacheKeyOptions): Promise<FoundKey | undefined> {
  const text = options.env("DEVICEFLOW_CACHE_KEY") || undefined;
  if (text !== undefined) {
    const key = parseKey(text);
    if (!key) {
      throw new CacheError(
        `DEVICEFLOW_CACHE_KEY is not a key: it must be ${KEY_BYTES} bytes in base64 or hex (${HOW_TO_MAKE})`,
      );
    }
    return { key, source: "DEVICEFLOW_CACHE_KEY", created: false };
  }
  const named = options.env("DEVICEFLOW_CACHE_KEY_FILE") || undefined;
  const file = named ?? defaultKeyFile(options.location);
  if (file === undefined) {
    if (!options.create || options.location === ":memory:") return undefined;
    throw new CacheError(
      `Encrypting the remote cache ${options.location} needs a key: set DEVICEFLOW_CACHE_KEY or DEVICEFLOW_CACHE_KEY_FILE (${HOW_TO_MAKE})`,
    );
  }
  const source = named
    ? `the key file ${file} (DEVICEFLOW_CACHE_KEY_FILE)`
    : `the key file ${file}`;
  const existing = await readKeyFile(file, { missingOk: true });
  if (existing) return { key: existing, source, file, created: false };
  if (!options.create) {
    if (named) {
      throw new CacheError(
        `The key file ${file} named by DEVICEFLOW_CACHE_KEY_FILE does not exist (${HOW_TO_MAKE}, or pass --encrypt to have one made)`,
      );
    }
    return undefined;
  }
  const made = await createKeyFile(file);
  return { key: made.key, source, file, created: made.created };
}

/**
 * The key file that goes with a cache file: `key` in its directory.
 *
 * @param location The cache.
 * @returns The path, or `undefined` for `:memory:` and remote caches.
 */
export function defaultKeyFile(location: string): string | undefined {
  if (location === ":memory:" || /^https?:\/\//i.test(location)) return undefined;
  const end = Math.max(location.lastIndexOf("/"), location.lastIndexOf("\\"));
  const sep = end >= 0 ? location[end] : "/";
  return end < 0 ? "key" : `${location.slice(0, end) || sep}${sep}key`;
}

/**
 * Reads a key file, refusing one that other users may read.
 *
 * @param path The key file.
 * @param options `missingOk`: a missing file is `undefined`, not an error.
 * @returns The key.
 * @throws {CacheError} When the file is readable by others, unreadable, or holds no key.
 */
export async function readKeyFile(
  path: string,
  options: { missingOk?: boolean } = {},
): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    const info = await Deno.stat(path);
    // Refused, as ssh refuses a private key others can read: the key is only as private as its file.
    if (Deno.build.os !== "windows" && info.mode !== null && (info.mode & 0o077) !== 0) {
      throw new CacheError(
        `The key file ${path} is readable by other users (mode ${
          (info.mode & 0o777).toString(8)
        }), so it is not used; run: chmod 600 ${path}`,
      );
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof CacheError || error instanceof Deno.errors.NotCapable) throw error;
    if (error instanceof Deno.errors.NotFound && options.missingOk) return undefined;
    throw new CacheError(`Cannot read the key file ${path}: ${firstLine(error)}`, {
      cause: error,
    });
  }
  const key = parseKey(text);
  if (!key) {
    throw new CacheError(
      `The key file ${path} does not hold a key: it must be ${KEY_BYTES} bytes in base64 or hex (${HOW_TO_MAKE})`,
    );
  }
  return key;
}

/**
 * Creates a key file with a new random key and mode 0600. The file appears
 * whole or not at all (written aside, then linked into place), so that a
 * process racing to create it reads the winner's key, never half of it.
 *
 * @param path The key file.
 * @returns The key in the file, and whether this call created it.
 * @throws {CacheError} When the file cannot be written.
 */
export async function createKeyFile(
  path: string,
): Promise<{ key: Uint8Array; created: boolean }> {
  const key = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
  const text = `${key.toBase64()}\n`;
  const end = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const aside = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    if (end > 0) await Deno.mkdir(path.slice(0, end), { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(aside, text, { createNew: true, mode: 0o600 });
    try {
      await Deno.link(aside, path);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      const theirs = await readKeyFile(path);
      return { key: theirs!, created: false };
    }
    return { key, created: true };
  } catch (error) {
    if (error instanceof CacheError || error instanceof Deno.errors.NotCapable) throw error;
    throw new CacheError(`Cannot create the key file ${path}: ${firstLine(error)}`, {
      cause: error,
    });
  } finally {
    await Deno.remove(aside).catch(() => {});
  }
}

const encoder = new TextEncoder();

/** Standard or URL-safe base64, padded or not; `undefined` when it is neither. */
function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text) || /[+/]/.test(text) && /[-_]/.test(text)) {
    return undefined;
  }
  const url = /[-_]/.test(text);
  try {
    return Uint8Array.fromBase64(text.replace(/=+$/, ""), {
      alphabet: url ? "base64url" : "base64",
      lastChunkHandling: "loose",
    }) as Uint8Array<ArrayBuffer>;
  } catch {
    return undefined;
  }
}
