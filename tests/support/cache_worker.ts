/**
 * A process that hammers one token cache file, for the cross-process tests in
 * `cache_test.ts`. Run with `deno run --unstable-kv -A`:
 *
 * - `save PATH WORKER COUNT [LOCK_RETRIES]`: saves COUNT accounts of its own,
 *   reading the cache between writes; prints `saved COUNT`.
 * - `lease PATH HOLDER START_AT`: waits until the epoch millisecond START_AT so
 *   that all workers race together, then tries to take the lease `race`;
 *   prints `won` or `lost`.
 * - `open [PATH]`: opens the cache at PATH (which may be relative), or the
 *   default one, saves one account; prints where the cache is.
 * - `hold PATH MS`: opens PATH with plain SQLite, holds an exclusive lock for
 *   MS milliseconds (printing `locked` once it has it), then releases it.
 *
 * Any error goes to stderr and exits 1.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { type CachedAccount, TokenCache } from "../../cache.ts";

/** The account, tokens and claims that worker `worker` saves as its `i`th entry. */
export function workerEntry(worker: string, i: number, now = Date.now()) {
  const account: CachedAccount = {
    username: `user-${worker}-${i}@example.com`,
    homeAccountId: `home-${worker}-${i}`,
    authority: "https://login.example.com/race",
    clientId: "race-client",
    provider: "oidc",
    signedInAt: now,
  };
  return {
    account,
    accessToken: {
      secret: `at-${worker}-${i}`,
      tokenType: "Bearer",
      scopes: ["openid", "offline_access"],
      requestedScopes: ["openid"],
      expiresAt: now + 3_600_000,
      cachedAt: now,
    },
    refreshToken: { secret: `rt-${worker}-${i}`, scopes: ["openid"], cachedAt: now },
    idTokenClaims: { sub: `home-${worker}-${i}` },
  };
}

async function saveMany(path: string, worker: string, count: number, retries?: number) {
  const cache = await TokenCache.open(path, retries === undefined ? {} : { lockRetries: retries });
  try {
    for (let i = 0; i < count; i++) {
      const entry = workerEntry(worker, i);
      await cache.save(entry);
      // Reads in between, so that readers and writers contend as in real use.
      if ((await cache.getRefreshToken(entry.account))?.secret !== entry.refreshToken.secret) {
        throw new Error(`Refresh token ${i} of worker ${worker} was not read back`);
      }
      await cache.getAccounts({ authority: entry.account.authority });
    }
    console.log(`saved ${count}`);
  } finally {
    cache.close();
  }
}

async function openOne(path: string | undefined) {
  const cache = await TokenCache.open(path);
  try {
    await cache.save(workerEntry("solo", 0));
    console.log(cache.location);
  } finally {
    cache.close();
  }
}

async function race(path: string, holder: string, startAt: number) {
  const cache = await TokenCache.open(path);
  try {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));
    const won = await cache.acquireLease("race", holder, 60_000, Date.now());
    console.log(won ? "won" : "lost");
  } finally {
    cache.close();
  }
}

async function hold(path: string, ms: number) {
  const db = new DatabaseSync(path);
  try {
    db.exec("BEGIN EXCLUSIVE");
    console.log("locked");
    await new Promise((resolve) => setTimeout(resolve, ms));
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

if (import.meta.main) {
  const [mode, path, id, arg, retries] = Deno.args;
  try {
    if (mode === "save" && path && id && arg) {
      await saveMany(path, id, Number(arg), retries === undefined ? undefined : Number(retries));
    } else if (mode === "lease" && path && id && arg) {
      await race(path, id, Number(arg));
    } else if (mode === "open") {
      await openOne(path);
    } else if (mode === "hold" && path && id) {
      await hold(path, Number(id));
    } else {
      throw new TypeError(`Cannot run cache worker: bad arguments ${JSON.stringify(Deno.args)}`);
    }
  } catch (error) {
    console.error(error instanceof Error ? error.stack ?? error.message : String(error));
    Deno.exit(1);
  }
}
