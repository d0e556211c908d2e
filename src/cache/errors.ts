/**
 * What went wrong with a cache file, told truthfully: a full disk, a
 * read-only file or file system, a permission, a lock held by another
 * process, or damage. Only damage gets the advice to delete the file.
 *
 * @module
 */

import { firstLine } from "../untrusted.ts";

/**
 * Whether SQLite said that another process holds the database locked.
 *
 * @param error What was thrown.
 * @returns `true` for "database is locked" and its kin.
 */
export function isLocked(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /database is locked|SQLITE_BUSY|database is busy/i.test(message);
}

/**
 * What went wrong with the cache file, in one line that tells the truth: a
 * full disk, a read-only file or file system, a permission, a lock, or
 * damage. Only damage is told how to reset the file: the others would lose
 * every sign-in in it for nothing.
 *
 * @param what What failed ("Cannot open the token cache FILE").
 * @param path The cache file.
 * @param error What SQLite or the system said.
 * @returns The message.
 */
export function cacheProblem(what: string, path: string, error: unknown): string {
  // Deno adds the call and path ("...: writefile '/path'"): the path is ours to say.
  const reason = firstLine(error).replace(/: [a-z]+ '[^']*'$/, "");
  if (/disk is full|SQLITE_FULL|no space left|os error 28\b/i.test(reason)) {
    return `${what}: the disk is full (${reason}); free some space and try again (nothing in the cache was changed)`;
  }
  if (
    error instanceof Deno.errors.PermissionDenied ||
    /permission denied|access denied|EACCES|EPERM|os error 13\b/i.test(reason)
  ) {
    return `${what}: permission denied (${reason}); check the owner and mode of ${path} and its directory`;
  }
  if (/read-?only|EROFS|os error 30\b/i.test(reason)) {
    return `${what}: it is read-only (${reason}); it can serve the tokens it holds but not keep new ones, so make it writable or use another cache`;
  }
  if (isLocked(error)) return `${what}: another process holds it locked (${reason}); try again`;
  if (/malformed|not a database|corrupt|file is encrypted/i.test(reason)) {
    return `${what}: it is damaged (${reason}). To reset it, delete the file (rm ${path}*) and sign in again`;
  }
  return `${what}: ${reason}`;
}
