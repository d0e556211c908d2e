/**
 * Scopes: splitting what the caller gave, the OpenID Connect defaults,
 * which scopes name a resource, whether a cached token covers a request,
 * and the key of a scope set.
 *
 * @module
 */

/** The scopes OpenID Connect servers get unless told not to, as MSAL does. */
export const OIDC_SCOPES: readonly string[] = ["openid", "profile", "offline_access"];
// Scopes that name no resource: they are not compared when matching cached tokens.
const NON_RESOURCE_SCOPES = new Set(["openid", "profile", "offline_access", "email"]);

/**
 * The scopes given, each item split at white space, without repeats.
 *
 * @param scopes Scopes, or space-separated lists of them.
 * @returns The scopes, in order.
 * @throws {TypeError} When it is not an array of strings.
 */
export function splitScopes(scopes: readonly string[] | undefined): string[] {
  if (scopes !== undefined && !Array.isArray(scopes)) {
    throw new TypeError("Cannot request tokens: scopes must be an array of strings");
  }
  const out: string[] = [];
  for (const item of scopes ?? []) {
    if (typeof item !== "string") {
      throw new TypeError("Cannot request tokens: scopes must be an array of strings");
    }
    for (const scope of item.split(/\s+/)) if (scope && !out.includes(scope)) out.push(scope);
  }
  return out;
}

/** The scopes that name a resource: those a cached token is matched by. */
export function resourceScopes(scopes: readonly string[]): string[] {
  return scopes.filter((s) => !NON_RESOURCE_SCOPES.has(s.toLowerCase()));
}

/**
 * Whether a cached token covers the wanted scopes. Only what the server
 * granted counts (RFC 6749 section 5.1: the response's `scope`, or the
 * request's when the server named none): a server that granted less than was
 * asked is no cache hit for the rest. Entra may qualify granted scopes with
 * the resource URI, and grants a resource's `.default` as the list of its
 * permissions, so `.default` is covered by a token that asked for it.
 */
export function covers(
  token: { readonly scopes: readonly string[]; readonly requestedScopes: readonly string[] },
  wanted: readonly string[],
): boolean {
  const have = new Set(token.scopes.map((s) => s.toLowerCase()));
  const short = new Set(token.scopes.map((s) => s.toLowerCase().split("/").pop()!));
  const asked = new Set(token.requestedScopes.map((s) => s.toLowerCase()));
  return wanted.every((s) => {
    const scope = s.toLowerCase();
    if (scope.endsWith(".default")) return asked.has(scope);
    return have.has(scope) || short.has(scope) || have.has(scope.split("/").pop()!);
  });
}

/**
 * The key of a scope set: sorted, lower-cased, space-separated.
 *
 * @param scopes The scopes.
 * @returns The key.
 *
 * @example Scope sets that are the same
 * ```ts
 * import assert from "node:assert/strict";
 * import { scopeKey } from "@deviceflow/deviceflow/cache";
 *
 * assert.equal(scopeKey(["User.Read", "openid", "user.read"]), "openid user.read");
 * assert.equal(scopeKey(["b", "a"]), scopeKey(["a", "b"]));
 * ```
 */
export function scopeKey(scopes: readonly string[]): string {
  return [...new Set(scopes.map((s) => s.toLowerCase()))].sort().join(" ");
}
