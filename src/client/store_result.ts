/**
 * What a sign-in or a refresh produced, as the cache stores it.
 *
 * @module
 */

import type { TokenCache } from "../cache/token_cache.ts";
import type { CachedAccessToken, CachedAccount } from "../cache/types.ts";
import { resourceScopes } from "../scopes.ts";
import type { Provider, TokenResult } from "../types.ts";

/** Where a result came from, and when. */
export interface StoreContext {
  readonly provider: Provider;
  readonly now: number;
  /** The scopes the request asked for. */
  readonly requestedScopes: readonly string[];
  /** The scopes of the sign-in: the refresh token keeps them, whatever a refresh asked. */
  readonly signInScopes: readonly string[];
  /** A refresh is not a sign-in: the account keeps the time it signed in. */
  readonly signedInAt?: number | undefined;
}

/**
 * Stores an account, its tokens and its claims in one atomic write.
 *
 * @param cache The cache.
 * @param token The result.
 * @param context Where it came from.
 */
export async function storeResult(
  cache: TokenCache,
  token: TokenResult,
  context: StoreContext,
): Promise<void> {
  const { now } = context;
  const accessToken: { -readonly [K in keyof CachedAccessToken]: CachedAccessToken[K] } = {
    secret: token.accessToken,
    tokenType: token.tokenType,
    scopes: resourceScopes(token.scopes),
    requestedScopes: resourceScopes(context.requestedScopes),
    cachedAt: now,
  };
  if (token.expiresAt) accessToken.expiresAt = token.expiresAt.getTime();
  if (token.refreshAt) accessToken.refreshAt = token.refreshAt.getTime();
  const account: CachedAccount = {
    ...token.account,
    provider: context.provider,
    signedInAt: context.signedInAt ?? now,
  };
  await cache.save({
    account,
    accessToken,
    refreshToken: token.refreshToken
      ? {
        secret: token.refreshToken,
        scopes: [...context.signInScopes],
        cachedAt: now,
        ...(token.familyId ? { familyId: token.familyId } : {}),
      }
      : undefined,
    idTokenClaims: token.idTokenClaims,
  });
}
