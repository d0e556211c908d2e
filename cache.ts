/**
 * The token cache: accounts, access tokens, refresh tokens, ID token claims
 * and server metadata, on Deno KV. One cache file can be shared by any number
 * of processes: every read is validated, writes that depend on a read are
 * atomic, and SQLite's "database is locked" is retried.
 *
 * @example Open a cache file and list its accounts
 * ```ts
 * import { TokenCache } from "@deviceflow/deviceflow/cache";
 *
 * // With no path, TokenCache.open() opens the default file under the user's cache directory.
 * const dir = await Deno.makeTempDir();
 * const cache = await TokenCache.open(`${dir}/cache.db`);
 * console.log(await cache.getAccounts());
 * cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export { CacheKeyError, exposure, kvAvailable, TokenCache } from "./src/cache/token_cache.ts";
export { scopeKey } from "./src/scopes.ts";
export type * from "./src/cache/types.ts";
