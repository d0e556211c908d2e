/**
 * Reading the parts of a JWT without verifying it. The client uses it for ID
 * tokens that came straight from the token endpoint over TLS (OpenID Connect
 * Core section 3.1.3.7 allows TLS server validation in place of the
 * signature there), never to decide whom to trust.
 *
 * @module
 */

/** The decoded header and claims of a JWT. */
export interface DecodedJwt {
  /** The JOSE header. */
  readonly header: Readonly<Record<string, unknown>>;
  /** The claims (payload). */
  readonly claims: Readonly<Record<string, unknown>>;
}

/**
 * Decodes a JWT's header and claims. The signature is not verified.
 *
 * @param token A compact JWS.
 * @returns The header and claims, or `undefined` when the token is not a JWT
 * (an opaque token, a JWE, or garbage).
 */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const header = decodePart(parts[0]!);
  const claims = decodePart(parts[1]!);
  return header && claims ? { header, claims } : undefined;
}

function decodePart(part: string): Record<string, unknown> | undefined {
  const text = /^[A-Za-z0-9_-]+$/.test(part) ? decodeBase64Url(part) : undefined;
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? value as Record<string, unknown>
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes base64url (with or without padding) to text.
 *
 * @param value The encoded text.
 * @returns The decoded text, or `undefined` when it is not valid base64url UTF-8.
 */
export function decodeBase64Url(value: string): string | undefined {
  if (!/^[A-Za-z0-9_+/=-]*$/.test(value)) return undefined;
  try {
    const base64 = value.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(binary, (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
}
