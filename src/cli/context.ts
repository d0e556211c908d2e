/**
 * What every command needs before it runs: the command's shape, the cache
 * opened as the options say (with permissions checked first and the key of
 * an encrypted cache), and notices on stderr. It loads neither the client
 * nor HTTP, so that a cached `token` does not pay for them.
 *
 * @module
 */

import { CacheKeyError, exposure, kvAvailable, TokenCache } from "../cache/token_cache.ts";
import type { FoundKey } from "../cache/sealing.ts";
import { CacheError } from "../errors.ts";
import {
  cacheLocation,
  explainSettings,
  loadConfig,
  seconds,
  selectProfile,
  type ServerSettings,
  type Values,
} from "./args.ts";
import { dirOf } from "../paths.ts";
import { type GuardedIo, jsonLine } from "./format.ts";
import { MissingPermissionsError, type Need, requirePermissions } from "./permissions.ts";

/** A command of the CLI. */
export interface Command {
  /** What `deviceflow --help` says of it. */
  readonly summary: string;
  /** Its options, in node:util parseArgs form. */
  readonly options: import("./args.ts").Options;
  /** What `deviceflow <command> --help` prints. */
  readonly help: string;
  /**
   * Whether it takes arguments besides options (after the options, or after
   * `--`); `"after-separator"`: only after `--`.
   */
  readonly positionals?: boolean | "after-separator";
  /** Runs it; returns the exit code. */
  run(values: Values, io: GuardedIo, positionals: string[]): Promise<number>;
}

export async function withCache(
  values: Values,
  io: GuardedIo,
  run: (cache: TokenCache) => Promise<number>,
  options: { net?: boolean } = {},
): Promise<number> {
  const cache = await openCache(values, io, options);
  try {
    return await run(cache);
  } finally {
    cache.close();
  }
}

/**
 * Says something on stderr that is neither a result nor the error that ends
 * the command: a warning, or what is being waited for. With --json-events it
 * is a JSON event like every other stderr line.
 *
 * @param io Where to write.
 * @param values The command's options.
 * @param event `warning`, or what kind of notice it is.
 * @param message The sentence.
 * @param text The line as text, when it differs from "deviceflow: warning: MESSAGE".
 */
export function notice(
  io: GuardedIo,
  values: Values,
  event: string,
  message: string,
  text = `deviceflow: warning: ${message}`,
): void {
  io.stderr(values["json-events"] ? jsonLine({ event, message }) : `${text}\n`);
}

/** The hosts a server's settings send requests to, where they say. */
function hostsOf(settings: ServerSettings): string[] {
  if (settings.provider === "github" && !settings.authority) {
    return ["github.com", "api.github.com"];
  }
  if (settings.provider === "google" && !settings.authority) {
    return ["accounts.google.com", "oauth2.googleapis.com", "openidconnect.googleapis.com"];
  }
  const urls = [settings.authority, settings.deviceEndpoint, settings.tokenEndpoint];
  return [...new Set(urls.flatMap((url) => url ? [new URL(url).host] : []))];
}

/**
 * Checks, before anything is touched and without Deno ever prompting, that
 * the command may read its config directory, read and write its cache
 * directory, and (when `net`) reach its server: everything missing is one
 * line that names every flag to add.
 */
function preflight(values: Values, io: GuardedIo, net: boolean): void {
  // Everything granted (-A, or a binary compiled with it): nothing to work out.
  if (allGranted()) return;
  const needs: Need[] = [];
  const config = loadConfig(values, io.env);
  if (config?.unreadable) needs.push({ name: "read", target: dirOf(config.path) });
  // An unreadable config names no profile: the flags and the environment still say a lot.
  const selected = config?.unreadable
    ? { config, name: undefined, profile: {} }
    : selectProfile(values, io.env);
  const location = cacheLocation(values, io.env, selected).location;
  if (location && location !== ":memory:" && !/^https?:/i.test(location)) {
    const dir = dirOf(location);
    requireOrCollect([{ name: "read", target: dir }, { name: "write", target: dir }], needs);
  }
  if (net) {
    const hosts = hostsOf(explainSettings(values, io.env, selected).settings);
    requireOrCollect(hosts.map((host) => ({ name: "net", target: host })), needs);
  }
  if (needs.length) throw new MissingPermissionsError(needs);
}

function allGranted(): boolean {
  try {
    return (["read", "write", "net"] as const)
      .every((name) => Deno.permissions.querySync({ name }).state === "granted");
  } catch {
    return false;
  }
}

function requireOrCollect(wanted: Need[], into: Need[]): void {
  try {
    requirePermissions(wanted);
  } catch (error) {
    if (!(error instanceof MissingPermissionsError)) throw error;
    into.push(...error.needs);
  }
}

/**
 * A fetch that asks Deno before it reaches a host, so that it never prompts:
 * a host it may not reach is the one-line missing-permission error.
 */
export function permittedFetch(base: typeof fetch): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    requirePermissions([{ name: "net", target: url.host }]);
    return base(input, init);
  };
}

export async function openCache(
  values: Values,
  io: GuardedIo,
  options: { net?: boolean } = {},
): Promise<TokenCache> {
  // Only for this process's own Deno: a test's I/O has no permissions to ask about.
  if (!io.fetch) preflight(values, io, options.net === true);
  const selected = selectProfile(values, io.env);
  for (const warning of selected.config?.warnings ?? []) notice(io, values, "warning", warning);
  const { location } = cacheLocation(values, io.env, selected);
  if (!kvAvailable() && location !== ":memory:") {
    const message =
      "Deno KV is not enabled, so tokens will not be kept after this command; run with --unstable-kv to keep them";
    notice(io, values, "warning", message, `deviceflow: ${message}`);
    return TokenCache.memory();
  }
  const warning = await exposure(location);
  if (warning) notice(io, values, "warning", warning);
  // A key is looked for first only when one is asked for or named; an
  // encrypted cache opened without one says so, and its key file is looked
  // for then. A key found is always used: once a cache is encrypted, every
  // command needs its key.
  const encrypt = values.encrypt === true || selected.profile.encrypt === true;
  const named = encrypt || Boolean(io.env("DEVICEFLOW_CACHE_KEY")) ||
    Boolean(io.env("DEVICEFLOW_CACHE_KEY_FILE"));
  // The key files and the cipher are loaded only for an encrypted cache.
  const findCacheKey: typeof import("../cache/sealing.ts").findCacheKey = async (options) =>
    (await import("../cache/sealing.ts")).findCacheKey(options);
  let found = named ? await findCacheKey({ env: io.env, location, create: encrypt }) : undefined;
  const lockTimeout = seconds(
    io.env("DEVICEFLOW_LOCK_TIMEOUT") || undefined,
    "DEVICEFLOW_LOCK_TIMEOUT",
  );
  const onLockWait = (file: string) =>
    io.stderr(
      values["json-events"]
        ? jsonLine({ event: "waiting", reason: "cache_locked", cache: file })
        : `deviceflow: waiting for the token cache ${file}, which another process has locked...\n`,
    );
  const open = () =>
    TokenCache.open(location, {
      ...(found ? { encryptionKey: found.key } : {}),
      ...(lockTimeout !== undefined ? { lockTimeout: lockTimeout * 1000 } : {}),
      onLockWait,
    });
  try {
    try {
      return await open();
    } catch (error) {
      if (named || !(error instanceof CacheKeyError) || error.reason !== "missing") throw error;
      found = await findCacheKey({ env: io.env, location, create: false });
      if (!found) throw error;
      return await open();
    }
  } catch (error) {
    if (!(error instanceof CacheKeyError)) throw error;
    // A key made just now cannot be the one the cache was encrypted with.
    if (found?.created && found.file) await Deno.remove(found.file).catch(() => {});
    const { defaultKeyFile } = await import("../cache/sealing.ts");
    throw new CacheError(keyProblem(location, found?.created ? undefined : found, defaultKeyFile), {
      cause: error,
    });
  }
}

/** Why an encrypted cache did not open, and where the key was looked for. */
function keyProblem(
  location: string,
  found: FoundKey | undefined,
  defaultKeyFile: (location: string) => string | undefined,
): string {
  const unchanged = "nothing in it was changed";
  if (found) {
    return `The token cache ${location} is encrypted and ${found.source} does not open it; use the key it was encrypted with (${unchanged})`;
  }
  const file = defaultKeyFile(location);
  return `The token cache ${location} is encrypted and no key was found; set DEVICEFLOW_CACHE_KEY or DEVICEFLOW_CACHE_KEY_FILE${
    file ? `, or put the key back in ${file}` : ""
  } (${unchanged})`;
}
