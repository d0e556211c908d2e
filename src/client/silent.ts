/**
 * The silent path's choices, as pure functions over the cache: which
 * account, which cached token, whether it is fresh enough, and the result.
 * The client's `acquireTokenSilent` and the CLI's cached `token` both use
 * {@linkcode lookupCachedToken}, so there is one lookup, not two: the CLI
 * loads the client, HTTP and the protocol only when it misses.
 *
 * Every read is by key (the active account, the username index, the
 * account's own tokens): the cost does not grow with the number of accounts.
 *
 * @module
 */

import type { TokenCache } from "../cache/token_cache.ts";
import type { CachedAccessToken, CachedAccount } from "../cache/types.ts";
import { DeviceFlowError, InteractionRequiredError } from "../errors.ts";
import { registerSecret } from "../redact.ts";
import { covers } from "../scopes.ts";
import type { Account, TokenResult } from "../types.ts";

/** How long an access token must still live to be returned from the cache, by default. */
export const DEFAULT_MIN_TTL_SECONDS = 300;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Whether what a user typed names an account: its username (without case)
 * or its home account ID.
 *
 * @param account The account.
 * @param nameOrId What the user typed.
 * @returns `true` when it names this account.
 */
export function accountMatches(
  account: Pick<Account, "username" | "homeAccountId">,
  nameOrId: string,
): boolean {
  return account.username.toLowerCase() === nameOrId.toLowerCase() ||
    account.homeAccountId === nameOrId;
}

/** An account as the library returns it: without the cache's bookkeeping. */
export function publicAccount(account: CachedAccount): Account {
  const out: Mutable<Account> = {
    username: account.username,
    homeAccountId: account.homeAccountId,
    authority: account.authority,
    clientId: account.clientId,
  };
  if (account.tenantId) out.tenantId = account.tenantId;
  return out;
}

/**
 * The margin a token must have left. A server that issues tokens shorter-lived
 * than the margin would otherwise have every call refresh: such a token counts
 * as fresh for the first half of its life.
 */
function effectiveMinTtl(token: CachedAccessToken, minTtlMs: number): number {
  return token.expiresAt === undefined
    ? minTtlMs
    : Math.min(minTtlMs, (token.expiresAt - token.cachedAt) / 2);
}

/**
 * Whether a cached token may be returned.
 *
 * @param token The token, if any.
 * @param minTtlMs How long it must still live.
 * @param now The time now.
 * @param after When set, only a token cached strictly after it counts (a
 * token cached in the same millisecond as a forced refresh began is the one
 * it asked to replace).
 * @returns `true` when it is fresh.
 */
export function isFresh(
  token: CachedAccessToken | undefined,
  minTtlMs: number,
  now: number,
  after?: number,
): token is CachedAccessToken {
  return token !== undefined && (after === undefined || token.cachedAt > after) &&
    (token.expiresAt === undefined || token.expiresAt - effectiveMinTtl(token, minTtlMs) > now) &&
    (token.refreshAt === undefined || token.refreshAt > now);
}

/** Where to look: an authority and client of the cache. */
export interface CacheScope {
  readonly authority: string;
  readonly clientId: string;
}

/**
 * The account a silent request means: the one given, the one named (by
 * username or home account ID), else the only one, else the active one.
 *
 * @param cache The cache.
 * @param where The authority and client.
 * @param wanted An account, a name, or nothing.
 * @returns The cached account.
 * @throws {InteractionRequiredError} When none matches (a sign-in is needed).
 * @throws {DeviceFlowError} `ambiguous_account` when several match and none is active.
 */
export async function findAccount(
  cache: TokenCache,
  where: CacheScope,
  wanted: Account | string | undefined,
): Promise<CachedAccount> {
  const { authority, clientId } = where;
  if (wanted !== undefined && typeof wanted !== "string") {
    const found = await cache.getAccount({
      authority,
      clientId,
      homeAccountId: wanted.homeAccountId,
    });
    if (found) return found;
    throw new InteractionRequiredError(`No cached sign-in for ${wanted.username}; sign in first`);
  }
  if (typeof wanted === "string") {
    const byId = await cache.getAccount({ authority, clientId, homeAccountId: wanted });
    const byName = await cache.accountsNamed(authority, clientId, wanted);
    const matches = [
      ...new Map([...(byId ? [byId] : []), ...byName].map((a) => [a.homeAccountId, a])).values(),
    ];
    if (matches.length === 1) return matches[0]!;
  } else {
    const active = await cache.getActiveAccount(authority, clientId);
    const found = active === undefined
      ? undefined
      : await cache.getAccount({ authority, clientId, homeAccountId: active });
    if (found) return found;
    const few = await cache.someAccounts(authority, clientId, 2);
    if (few?.length === 1) return few[0]!;
  }
  // Not found by key: the full list gives the precise answer (and finds
  // accounts cached before the username index existed).
  const accounts = await cache.getAccounts({ authority, clientId });
  if (typeof wanted === "string") {
    const matches = accounts.filter((a) => accountMatches(a, wanted));
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) {
      throw new InteractionRequiredError(
        `No cached account is named ${wanted}${
          accounts.length ? ` (cached: ${accounts.map((a) => a.username).join(", ")})` : ""
        }; sign in first`,
      );
    }
  }
  if (accounts.length === 1 && wanted === undefined) return accounts[0]!;
  if (accounts.length === 0) {
    throw new InteractionRequiredError(
      `Not signed in to ${authority} with client ${clientId}; sign in first`,
    );
  }
  throw new DeviceFlowError(
    "ambiguous_account",
    `Several accounts are signed in (${
      accounts.map((a) => a.username).join(", ")
    }) and none is active; name one`,
  );
}

/**
 * An account's cached access token for some scopes: the newest that covers them.
 *
 * @param cache The cache.
 * @param account The account.
 * @param wanted The resource scopes wanted (none: any token).
 * @returns The token, fresh or not, or `undefined`.
 */
export async function cachedToken(
  cache: TokenCache,
  account: CachedAccount,
  wanted: readonly string[],
): Promise<CachedAccessToken | undefined> {
  return newestCovering(await cache.getAccessTokens(account), wanted);
}

/** The newest of an account's tokens that covers the scopes; the newest of all when none are named. */
function newestCovering(
  tokens: readonly CachedAccessToken[],
  wanted: readonly string[],
): CachedAccessToken | undefined {
  return wanted.length === 0 ? tokens[0] : tokens.find((t) => covers(t, wanted));
}

/**
 * A cached token as the library returns it.
 *
 * @param cache The cache (for the ID token's claims).
 * @param account The account.
 * @param token The token.
 * @param claims Whether to read the ID token's claims (the CLI's raw output does not use them).
 * @returns The result.
 */
export async function resultFromCache(
  cache: TokenCache,
  account: CachedAccount,
  token: CachedAccessToken,
  claims = true,
): Promise<TokenResult> {
  const idTokenClaims = claims ? await cache.getIdTokenClaims(account) : undefined;
  const result: Mutable<TokenResult> = {
    accessToken: token.secret,
    tokenType: token.tokenType,
    scopes: token.scopes,
    account: publicAccount(account),
  };
  registerSecret(token.secret);
  if (token.expiresAt !== undefined) result.expiresAt = new Date(token.expiresAt);
  if (token.refreshAt !== undefined) result.refreshAt = new Date(token.refreshAt);
  if (idTokenClaims) result.idTokenClaims = idTokenClaims;
  return result;
}

/** What {@linkcode lookupCachedToken} looks for. */
export interface CachedTokenRequest extends CacheScope {
  /** An account, a username or home account ID, or nothing for the only or active one. */
  readonly account?: Account | string | undefined;
  /** The resource scopes wanted, split. */
  readonly scopes: readonly string[];
  /** How long the token must still live, in milliseconds. */
  readonly minTtlMs: number;
  /** The time now. */
  readonly now: number;
  /** Whether the result needs the ID token's claims (default `true`). */
  readonly idTokenClaims?: boolean;
}

/**
 * The one cache lookup of the silent path: the account, then a fresh token
 * of it that covers the scopes.
 *
 * @param cache The cache.
 * @param request What to look for.
 * @returns The account, and the result when a fresh token was cached.
 * @throws {InteractionRequiredError} When no account matches.
 */
export async function lookupCachedToken(
  cache: TokenCache,
  request: CachedTokenRequest,
): Promise<{ account: CachedAccount; result: TokenResult | undefined }> {
  let account: CachedAccount | undefined;
  let token: CachedAccessToken | undefined;
  if (request.account === undefined) {
    // The common case, the active account: its record and its tokens read at once.
    const active = await cache.getActiveAccount(request.authority, request.clientId);
    if (active !== undefined) {
      const ref = {
        authority: request.authority,
        clientId: request.clientId,
        homeAccountId: active,
      };
      const [found, tokens] = await Promise.all([
        cache.getAccount(ref),
        cache.getAccessTokens(ref),
      ]);
      if (found) {
        account = found;
        token = newestCovering(tokens, request.scopes);
      }
    }
  }
  if (!account) {
    account = await findAccount(cache, request, request.account);
    token = await cachedToken(cache, account, request.scopes);
  }
  if (!isFresh(token, request.minTtlMs, request.now)) return { account, result: undefined };
  return {
    account,
    result: await resultFromCache(cache, account, token, request.idTokenClaims ?? true),
  };
}
