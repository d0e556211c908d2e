/**
 * The cache file on disk: refused when a symbolic link, another user's, or
 * readable by others; created exclusively with mode 0600 in a 0700
 * directory; and the free pages scrubbed after secrets are sealed.
 *
 * @module
 */

import { firstLine } from "../untrusted.ts";
import { CacheError } from "../errors.ts";
import { dirOf } from "../paths.ts";

/**
 * Rewrites a cache file without its free pages and empties its write-ahead
 * log: SQLite keeps the old plaintext of secrets just sealed there until the
 * pages are reused. Best effort: a file that cannot be vacuumed now (another
 * process is in the middle of a write, or Deno may not use node:sqlite) keeps
 * them until then.
 */
export async function scrubFreePages(path: string): Promise<void> {
  try {
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA busy_timeout = 2000; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);");
    } finally {
      db.close();
    }
  } catch {
    // The entries are sealed either way.
  }
}

/** The files SQLite keeps beside a database: each holds its data too. */
const COMPANIONS = ["-wal", "-shm", "-journal"] as const;

/** The user this process runs as, when Deno may ask (`--allow-sys=uid`); never prompts. */
function currentUid(): number | undefined {
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state !== "granted") {
      return undefined;
    }
    return Deno.uid() ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why a cache file must not be opened, or `undefined` when it is ours and
 * private: a symbolic link (it could point anywhere), a file of another user
 * (planted in a shared directory such as /tmp), or one that others may read
 * or write.
 */
function refusal(path: string, info: Deno.FileInfo, uid: number | undefined): string | undefined {
  if (info.isSymlink) return `${path} is a symbolic link; remove it (rm ${path})`;
  if (!info.isFile) return `${path} is not a regular file`;
  if (uid !== undefined && info.uid !== null && info.uid !== uid) {
    return `${path} belongs to another user (uid ${info.uid}); remove it, or choose another cache file`;
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    return `${path} can be read or written by other users (mode ${
      (info.mode & 0o777).toString(8)
    }); run: chmod 600 ${path}`;
  }
  return undefined;
}

// Synchronous: four quick stats on the path of every command, where async ops cost more.
function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Checks a cache file and its SQLite companions before KV opens them, and
 * creates a missing file exclusively with mode 0600 (its directory 0700), so
 * that no other user can plant it first. Windows has no modes to check.
 *
 * @throws {CacheError} When a file is a link, another user's, or open to others.
 */
export async function prepareFile(path: string): Promise<void> {
  if (Deno.build.os === "windows") return await createFile(path);
  const uid = currentUid();
  const fail = (why: string) => new CacheError(`Refusing to open the token cache: ${why}`);
  let info: Deno.FileInfo | undefined;
  try {
    info = lstatOrUndefined(path);
  } catch (error) {
    throw cannotCreate(path, error);
  }
  if (info === undefined) {
    await createFile(path);
    info = await Deno.lstat(path);
  }
  const problem = refusal(path, info, uid);
  if (problem) throw fail(problem);
  for (const suffix of COMPANIONS) {
    let companion: Deno.FileInfo | undefined;
    try {
      companion = lstatOrUndefined(path + suffix);
    } catch {
      companion = undefined;
    }
    const why = companion && refusal(path + suffix, companion, uid);
    if (why) throw fail(why);
  }
}

/** Creates the directory (0700) and an empty database file (0600), only if the file is new. */
async function createFile(path: string): Promise<void> {
  try {
    await Deno.mkdir(dirOf(path), { recursive: true, mode: 0o700 });
    // SQLite opens an empty file as an empty database; creating it here,
    // exclusively, is what gives it mode 0600 from the first byte and makes
    // sure nobody else's file is taken for ours.
    const file = await Deno.open(path, { createNew: true, write: true, mode: 0o600 });
    file.close();
  } catch (error) {
    // Another process of ours created it meanwhile: it is checked like any other.
    if (error instanceof Deno.errors.AlreadyExists) return;
    throw cannotCreate(path, error);
  }
}

function cannotCreate(path: string, error: unknown): CacheError {
  return new CacheError(
    `Cannot create the token cache ${path}: ${firstLine(error)}`,
    { cause: error },
  );
}

/**
 * A real exposure of a cache file that passed the checks of
 * {@linkcode TokenCache.open}: its directory can be written by other users
 * and has no sticky bit, so they may delete or replace the files (a private
 * directory, or one like /tmp with the sticky bit, is fine). The CLI warns
 * about it.
 *
 * @param path The cache file.
 * @returns A sentence naming what is exposed, or `undefined` when nothing is.
 *
 * @example Warn about a directory others can write to
 * ```ts
 * import assert from "node:assert/strict";
 * import { exposure } from "@deviceflow/deviceflow/cache";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.chmod(dir, 0o777);
 * const warning = await exposure(`${dir}/cache.db`);
 * if (Deno.build.os !== "windows") assert.match(warning!, /writable by other users .*chmod 700/);
 * await Deno.chmod(dir, 0o700);
 * assert.equal(await exposure(`${dir}/cache.db`), undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function exposure(path: string): Promise<string | undefined> {
  return Promise.resolve(exposureOf(path));
}

function exposureOf(path: string): string | undefined {
  if (Deno.build.os === "windows" || path === ":memory:" || /^https?:/i.test(path)) {
    return undefined;
  }
  const dir = dirOf(path);
  try {
    // Synchronous: one stat, where an async op costs more than the call.
    const mode = Deno.statSync(dir).mode;
    if (mode !== null && (mode & 0o022) !== 0 && (mode & 0o1000) === 0) {
      return `the cache directory ${dir} is writable by other users (mode ${
        (mode & 0o777).toString(8)
      }), who could replace the cache; run: chmod 700 ${dir}`;
    }
  } catch {
    // Missing is private enough.
  }
  return undefined;
}
