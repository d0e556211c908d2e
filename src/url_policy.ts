/**
 * Which addresses the client sends credentials to, and which it shows a
 * person: HTTPS, or plain HTTP on a loopback address only.
 *
 * @module
 */

import { hasUnsafeCharacter } from "./untrusted.ts";

/** Longest verification address accepted (servers' are far shorter). */
export const MAX_ADDRESS = 2048;

/**
 * Whether a host name is a loopback address, where plain HTTP is allowed.
 *
 * @param hostname A URL's `hostname`.
 * @returns `true` for `localhost`, `127.0.0.0/8` and `[::1]`.
 */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || hostname === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * Whether a parsed URL is HTTPS, or HTTP on a loopback address.
 *
 * @param url The URL.
 * @returns `true` when credentials may go there.
 */
export function isSecureUrl(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname));
}

/**
 * A value as it may be quoted in a message: not the whole of a huge one.
 *
 * @param value Anything (callers in plain JavaScript may pass anything where a URL belongs).
 * @param max The most characters kept.
 * @returns The text, cut with "..." when longer.
 */
export function clip(value: unknown, max = 200): string {
  const text = String(value);
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/**
 * Parses a URL the client will send credentials to and requires HTTPS, or
 * HTTP on a loopback address.
 *
 * @param value The URL.
 * @param name What it is, for the message (an option name).
 * @returns The parsed URL.
 * @throws {TypeError} When the URL is malformed or insecure.
 */
export function secureUrl(value: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`Cannot use ${name} "${clip(value)}": not an absolute URL`);
  }
  if (isSecureUrl(url)) return url;
  throw new TypeError(
    `Cannot use ${name} "${
      clip(value)
    }": it must use https (plain http is allowed only on loopback addresses)`,
  );
}

/**
 * Why an address must not be shown to a person as where to sign in, or
 * `undefined` when it may be. What is shown, opened and drawn as a QR code is
 * the very string checked, so it must read as what it is: an absolute https
 * URL (http on loopback), no userinfo (`https://login.microsoftonline.com@evil.test/`
 * opens evil.test), no spaces, backslashes, controls or format characters,
 * and at most {@linkcode MAX_ADDRESS} characters.
 *
 * @param value The address.
 * @returns The reason, or `undefined`.
 */
export function unsafeAddressReason(value: string): string | undefined {
  if (value.length > MAX_ADDRESS) return `longer than ${MAX_ADDRESS} characters`;
  // The URL parser drops newlines and escapes the rest, but the raw value is
  // what a person sees: it must not carry text or escapes of its own.
  if (hasUnsafeCharacter(value) || /[\s\\]/.test(value)) {
    return "it contains spaces, backslashes, control or invisible characters";
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "not an absolute URL";
  }
  if (!isSecureUrl(url)) return "not https (plain http is allowed only on loopback)";
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(value)) {
    return `it has a user name before the host, so it would open ${url.host}`;
  }
  return undefined;
}
