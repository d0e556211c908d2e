/**
 * Reading the parts of a JWT without verifying it. The client uses it for ID
 * tokens that came straight from the token endpoint over TLS (OpenID Connect
 * Core section 3.1.3.7 allows TLS server validation in place of the
 * signature there), never to decide whom to trust.
 *
 * @module
 */

/**
 * The decoded header and claims of a JWT.
 *
 * @example Read who an ID token names
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DecodedJwt, decodeJwt } from "@deviceflow/deviceflow";
 *
 * const part = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, "");
 * const idToken = `${part({ alg: "RS256" })}.${part({ sub: "alice", name: "Alice" })}.c2ln`;
 * const decoded: DecodedJwt | undefined = decodeJwt(idToken);
 * assert.equal(decoded?.header.alg, "RS256");
 * assert.equal(decoded?.claims.name, "Alice");
 * ```
 */
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
 *
 * @example Tell a JWT from an opaque token
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeJwt } from "@deviceflow/deviceflow";
 *
 * const part = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, "");
 * const jwt = `${part({ alg: "none" })}.${part({ exp: 1_900_000_000 })}.`;
 * assert.equal(decodeJwt(jwt)?.claims.exp, 1_900_000_000);
 * assert.equal(decodeJwt("gho_16C7e42F292c6912E7710c838347Ae178B4a"), undefined);
 * ```
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
    // Either alphabet, as servers mix them up; padding optional.
    const bytes = Uint8Array.fromBase64(
      value.replace(/=+$/, "").replaceAll("+", "-").replaceAll("/", "_"),
      { alphabet: "base64url", lastChunkHandling: "loose" },
    );
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
