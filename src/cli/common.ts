/**
 * What the commands share: opening the cache, building the client, signing
 * in with a prompt on stderr, and turning errors into one line and an exit code.
 *
 * @module
 */

import {
  type CachedAccount,
  CacheKeyError,
  exposure,
  kvAvailable,
  TokenCache,
} from "../../cache.ts";
import { defaultKeyFile, findCacheKey, type FoundKey } from "../cache/sealing.ts";
import {
  accountMatches,
  DeviceFlowClient,
  type DeviceFlowClientOptions,
} from "../client/client.ts";
import {
  CacheError,
  DeviceFlowError,
  ExpiredTokenError,
  InteractionRequiredError,
  ServerError,
} from "../errors.ts";
import { redact } from "../redact.ts";
import type { Account, Provider, TokenResult } from "../types.ts";
import {
  cacheLocation,
  explainSettings,
  loadConfig,
  seconds,
  selectProfile,
  type ServerSettings,
  UsageError,
  type Values,
} from "./args.ts";
import { ConfigError } from "./config_file.ts";
import { dirOf } from "../paths.ts";
import { type CliIo, EXIT } from "./io.ts";
import { type GuardedIo, jsonLine, oneLine } from "./format.ts";
import type { SignInView } from "./prompt.ts";
import {
  explainPermission,
  missingPermission,
  MissingPermissionsError,
  type Need,
  requirePermissions,
  unreadableVariables,
} from "./permissions.ts";

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
  // A key found is always used: once a cache is encrypted, every command needs its key.
  const encrypt = values.encrypt === true || selected.profile.encrypt === true;
  const found = await findCacheKey({ env: io.env, location, create: encrypt });
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
  try {
    return await TokenCache.open(location, {
      ...(found ? { encryptionKey: found.key } : {}),
      ...(lockTimeout !== undefined ? { lockTimeout: lockTimeout * 1000 } : {}),
      onLockWait,
    });
  } catch (error) {
    if (!(error instanceof CacheKeyError)) throw error;
    // A key made just now cannot be the one the cache was encrypted with.
    if (found?.created && found.file) await Deno.remove(found.file).catch(() => {});
    throw new CacheError(keyProblem(location, found?.created ? undefined : found), {
      cause: error,
    });
  }
}

/** Why an encrypted cache did not open, and where the key was looked for. */
function keyProblem(location: string, found: FoundKey | undefined): string {
  const unchanged = "nothing in it was changed";
  if (found) {
    return `The token cache ${location} is encrypted and ${found.source} does not open it; use the key it was encrypted with (${unchanged})`;
  }
  const file = defaultKeyFile(location);
  return `The token cache ${location} is encrypted and no key was found; set DEVICEFLOW_CACHE_KEY or DEVICEFLOW_CACHE_KEY_FILE${
    file ? `, or put the key back in ${file}` : ""
  } (${unchanged})`;
}

export function accountFilter(
  values: Values,
  env: CliIo["env"],
): { authority?: string; clientId?: string } {
  const filter: { authority?: string; clientId?: string } = {};
  // Where the flags and the environment name no server, the profile's applies.
  const profile = explainSettings({}, () => undefined, selectProfile(values, env)).settings;
  const authority = (values.authority as string | undefined) ??
    (env("DEVICEFLOW_AUTHORITY") || profile.authority);
  const clientId = (values["client-id"] as string | undefined) ??
    (env("DEVICEFLOW_CLIENT_ID") || profile.clientId);
  if (authority) filter.authority = authority.replace(/\/+$/, "");
  if (clientId) filter.clientId = clientId;
  return filter;
}

export function makeClient(
  settings: ServerSettings,
  cache: TokenCache,
  io: GuardedIo,
  values: Values,
): DeviceFlowClient {
  if (!settings.clientId) {
    throw new UsageError("A client ID is needed: pass --client-id or set DEVICEFLOW_CLIENT_ID");
  }
  const options: DeviceFlowClientOptions = {
    clientId: settings.clientId,
    cache,
    defaultScopes: settings.defaultScopes,
    fetch: values.verbose
      ? verboseFetch(io, values)
      : (io.fetch ?? permittedFetch((input, init) => fetch(input, init))),
    ...requestTimeouts(values, io.env),
    ...leaseTtl(io.env),
  };
  if (settings.authority) options.authority = settings.authority;
  if (settings.provider) options.provider = settings.provider;
  if (settings.clientSecret) options.clientSecret = settings.clientSecret;
  if (settings.deviceEndpoint && settings.tokenEndpoint) {
    options.endpoints = {
      deviceAuthorization: settings.deviceEndpoint,
      token: settings.tokenEndpoint,
      ...(settings.revocationEndpoint ? { revocation: settings.revocationEndpoint } : {}),
    };
  }
  if (
    !options.authority && !options.endpoints && settings.provider !== "github" &&
    settings.provider !== "google"
  ) {
    throw new UsageError(
      "An authority is needed: pass --authority (or --tenant, or --provider github|google, or the endpoints) or set DEVICEFLOW_AUTHORITY",
    );
  }
  try {
    return new DeviceFlowClient(options);
  } catch (error) {
    if (error instanceof TypeError) {
      throw new UsageError(error.message.replace(/^Cannot create a DeviceFlowClient: /, ""));
    }
    throw error;
  }
}

/**
 * The request timeouts the options ask for, in milliseconds: the flags, else
 * the environment; absent ones are left to the defaults (10 s and 30 s).
 *
 * @param values The command's options.
 * @param env The environment.
 * @returns `connectTimeout` and `requestTimeout`, where given.
 * @throws {UsageError} When a value is not a positive number of seconds; the message names it.
 */
export function requestTimeouts(
  values: Values,
  env: CliIo["env"],
): { connectTimeout?: number; requestTimeout?: number } {
  const out: { connectTimeout?: number; requestTimeout?: number } = {};
  for (
    const [flag, variable, key] of [
      ["connect-timeout", "DEVICEFLOW_CONNECT_TIMEOUT", "connectTimeout"],
      ["request-timeout", "DEVICEFLOW_REQUEST_TIMEOUT", "requestTimeout"],
    ] as const
  ) {
    const fromFlag = values[flag] !== undefined;
    const value = fromFlag ? values[flag] : env(variable) || undefined;
    const parsed = seconds(value, fromFlag ? `--${flag}` : variable);
    if (parsed !== undefined) out[key] = parsed * 1000;
  }
  return out;
}

/**
 * `DEVICEFLOW_LEASE_TTL`, in seconds: how long a refresh lease outlives a
 * process that died holding it. A knob for tests and tuning; it must exceed
 * the time a refresh takes, or a waiting process takes over a live refresh.
 */
function leaseTtl(env: CliIo["env"]): { leaseTtl?: number } {
  const ttl = seconds(env("DEVICEFLOW_LEASE_TTL") || undefined, "DEVICEFLOW_LEASE_TTL");
  return ttl === undefined ? {} : { leaseTtl: ttl * 1000 };
}

/** The client for `token`: from the options, or, when they name no server, from the cache's only account. */
export async function clientFromCache(
  settings: ServerSettings,
  cache: TokenCache,
  io: GuardedIo,
  values: Values,
): Promise<DeviceFlowClient> {
  const named = settings.clientId &&
    (settings.authority || settings.tokenEndpoint || settings.provider);
  if (named) return makeClient(settings, cache, io, values);
  const cached: CachedAccount[] = await cache.getAccounts(accountFilter(values, io.env));
  const candidates = values.account ? namedAccounts(cached, values.account as string) : cached;
  const servers = new Map(candidates.map((a) => [`${a.authority} ${a.clientId}`, a]));
  if (servers.size === 0) {
    if (settings.clientId) return makeClient(settings, cache, io, values);
    // Nothing signed in yet, but a sign-in started with login --no-wait may be waiting.
    const pending = new Map(
      (await cache.listPending()).map((p) => [`${p.authority} ${p.clientId}`, p]),
    );
    if (pending.size === 1) {
      const [found] = pending.values();
      const metadata = await cache.getMetadata(found!.authority);
      return accountClient(
        { ...found!, provider: metadata?.provider },
        settings,
        cache,
        io,
        values,
      );
    }
    throw new InteractionRequiredError(
      "Not signed in; run: deviceflow login --authority URL --client-id ID",
    );
  }
  if (servers.size > 1) {
    throw new UsageError(
      "Accounts of several servers or clients are cached; pass --authority and --client-id (or --account)",
    );
  }
  return accountClient([...servers.values()][0]!, settings, cache, io, values);
}

/**
 * The cached accounts a `--account` value names; none is a sign-in needed
 * that lists the names cached (exit 3).
 *
 * @param accounts The cached accounts.
 * @param name The `--account` value: a username or a home account ID.
 * @returns The accounts it names (one per server and client).
 * @throws {InteractionRequiredError} When it names none.
 */
export function namedAccounts<T extends CachedAccount>(accounts: T[], name: string): T[] {
  const named = accounts.filter((a) => accountMatches(a, name));
  if (named.length) return named;
  const names = [...new Set(accounts.map((a) => oneLine(a.username)))];
  throw new InteractionRequiredError(
    `No cached account is named ${name}${
      names.length ? `; the cached accounts are ${names.join(", ")}` : "; no account is cached"
    }`,
  );
}

/**
 * The client of a cached account's server and application.
 *
 * @param account The account (or where a pending sign-in started).
 * @param settings The other settings (secret, timeouts).
 * @param cache The cache.
 * @param io Where to write.
 * @param values The command's options.
 * @returns The client.
 */
export function accountClient(
  account: Pick<CachedAccount, "authority" | "clientId"> & { provider?: Provider | undefined },
  settings: ServerSettings,
  cache: TokenCache,
  io: GuardedIo,
  values: Values,
): DeviceFlowClient {
  return makeClient(
    {
      ...settings,
      authority: account.authority,
      clientId: account.clientId,
      ...(account.provider ? { provider: account.provider } : {}),
    },
    cache,
    io,
    values,
  );
}

/** How many new codes `--renew` asks for when one expires during `login`. */
export const MAX_RENEWALS = 3;

/**
 * The view of a sign-in that the options ask for: JSON events, or text with
 * colours, a countdown and a QR code where the terminal allows.
 *
 * @param io Where to write.
 * @param values The command's options.
 * @returns The view.
 */
export async function makeView(io: GuardedIo, values: Values): Promise<SignInView> {
  // Loaded only when a sign-in happens: the QR encoder is not on the path of a cached `token`.
  const { jsonView, textView } = await import("./prompt.ts");
  if (values["json-events"]) return jsonView(io.stderr);
  return textView({
    write: io.stderr,
    control: io.control,
    terminal: io.stderrIsTerminal,
    color: io.stderrIsTerminal && !io.env("NO_COLOR") && values["no-color"] !== true,
    verbose: values.verbose === true,
    qr: values.qr ? "on" : values["no-qr"] ? "off" : "auto",
    columns: io.columns?.(),
    rows: io.rows?.(),
    now: () => Date.now(),
  });
}

/**
 * Signs in with a device code: shows the code, opens the browser when asked,
 * waits, and with `--renew` starts over with a new code when one expires.
 *
 * @param client The client.
 * @param scopes The scopes.
 * @param io Where to write.
 * @param values The command's options.
 * @param timeout The overall limit in seconds.
 * @param claims Claims to request (a claims challenge), as JSON.
 * @returns The tokens.
 */
export async function signIn(
  client: DeviceFlowClient,
  scopes: string[],
  io: GuardedIo,
  values: Values,
  timeout: number | undefined,
  claims?: string,
): Promise<TokenResult> {
  const signal = io.signal;
  const view = await makeView(io, values);
  const deadline = timeout === undefined ? undefined : Date.now() + timeout * 1000;
  const renewals = values.renew ? MAX_RENEWALS : 0;
  for (let attempt = 0;; attempt++) {
    const code = await client.initiateDeviceFlow({
      scopes,
      ...(claims ? { claims } : {}),
      ...(signal ? { signal } : {}),
    });
    view.deviceCode(code);
    if (values.open && attempt === 0) {
      const { openBrowser } = await import("./open.ts");
      const problem = await openBrowser(
        code.verificationUriComplete ?? code.verificationUri,
        io.env,
      );
      if (problem) notice(io, values, "warning", problem, problem);
    }
    try {
      // A renewed code gets what is left of the overall limit.
      const left = deadline === undefined || attempt === 0
        ? timeout
        : Math.max(0.001, (deadline - Date.now()) / 1000);
      const result = await client.acquireTokenByDeviceFlow(code, {
        ...(signal ? { signal } : {}),
        ...(left !== undefined ? { timeout: left } : {}),
        onPending: (event) => view.event(event),
      });
      view.success(result.account);
      return result;
    } catch (error) {
      if (error instanceof ExpiredTokenError && attempt < renewals) {
        view.renewing(attempt + 1, renewals);
        continue;
      }
      view.stop();
      throw error;
    }
  }
}

export function accountJson(account: Account) {
  return {
    username: account.username,
    homeAccountId: account.homeAccountId,
    tenantId: account.tenantId ?? null,
    authority: account.authority,
    clientId: account.clientId,
  };
}

export function summary(result: TokenResult) {
  return {
    ...accountJson(result.account),
    scopes: result.scopes,
    expiresAt: result.expiresAt?.toISOString() ?? null,
  };
}

export function verboseFetch(io: GuardedIo, values: Values = {}): typeof fetch {
  const base = io.fetch ??
    permittedFetch((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const json = values["json-events"] === true;
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    // The query is left out: it is where a complete verification address keeps the code.
    const method = init?.method ?? "GET";
    const where = `${method} ${url.origin}${url.pathname}`;
    const address = `${url.origin}${url.pathname}`;
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    io.stderr(json ? jsonLine({ event: "request", method, url: address }) : `> ${where}\n`);
    try {
      const response = await base(input, init);
      io.stderr(
        json
          ? jsonLine({ event: "response", method, url: address, status: response.status, ms: ms() })
          : `< ${response.status} ${where} (${ms()} ms)\n`,
      );
      return response;
    } catch (error) {
      const reason = redact((error as Error).message ?? String(error)).split("\n")[0];
      io.stderr(
        json
          ? jsonLine({ event: "response", method, url: address, failed: reason, ms: ms() })
          : `< failed ${where} (${ms()} ms): ${reason}\n`,
      );
      throw error;
    }
  };
}

/**
 * Turns an error into one line on stderr and its exit code.
 *
 * @param error What was thrown.
 * @param io Where to write.
 * @param command The command, for usage hints.
 * @returns The exit code.
 */
export function report(error: unknown, io: GuardedIo, command: string, json = false): number {
  const code = exitCode(error);
  const message = oneLine(redact(describe(error)).split(/\r?\n/)[0]!);
  if (json) {
    // --json-events: errors are events too, so that stderr stays one JSON object per line.
    const kind = missingPermission(error) || error instanceof MissingPermissionsError
      ? "permission"
      : error instanceof DeviceFlowError
      ? error.code
      : error instanceof UsageError || error instanceof ConfigError
      ? "usage"
      : "unexpected";
    io.stderr(jsonLine({ event: "error", code: kind, message, exitCode: code }));
    return code;
  }
  io.stderr(`deviceflow: ${message}\n`);
  if (error instanceof UsageError) io.stderr(`Run 'deviceflow ${command} --help' for usage.\n`);
  return code;
}

function describe(error: unknown): string {
  // A missing Deno permission is said as such, with the flag, wherever it surfaced.
  if (error instanceof MissingPermissionsError) return error.message;
  const permission = missingPermission(error);
  if (permission) return explainPermission(permission);
  const message = describeError(error);
  // A variable Deno may not read looks unset: say so where the message asks to set it.
  const unreadable = error instanceof UsageError || error instanceof ConfigError ||
      error instanceof InteractionRequiredError
    ? unreadableVariables(message)
    : [];
  return unreadable.length
    ? `${message} (deno may not read ${unreadable.join(", ")}: run it with --allow-env=${
      unreadable.join(",")
    })`
    : message;
}

function describeError(error: unknown): string {
  if (error instanceof ServerError) {
    const ids = [
      error.traceId ? `trace ID ${error.traceId}` : "",
      error.correlationId ? `correlation ID ${error.correlationId}` : "",
    ].filter(Boolean);
    return ids.length ? `${error.message} (${ids.join(", ")})` : error.message;
  }
  if (error instanceof DeviceFlowError && error.code === "ambiguous_account") {
    // The library's words, in the command line's: the option and the command that fix it.
    return `${
      error.message.replace(/; name one$/, "")
    }; choose one with --account, or make one active with: deviceflow switch`;
  }
  if (
    error instanceof DeviceFlowError || error instanceof UsageError || error instanceof ConfigError
  ) return error.message;
  return `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * The documented exit code of an error.
 *
 * @param error What was thrown.
 * @returns The exit code.
 */
export function exitCode(error: unknown): number {
  if (missingPermission(error)) return EXIT.error;
  if (error instanceof UsageError || error instanceof ConfigError) return EXIT.usage;
  if (!(error instanceof DeviceFlowError)) return EXIT.error;
  switch (error.code) {
    case "interaction_required":
      return EXIT.signInNeeded;
    case "authorization_declined":
    case "expired_token":
    case "timeout":
      return EXIT.declinedOrExpired;
    case "network":
      return EXIT.network;
    case "cancelled":
      return EXIT.interrupted;
    case "ambiguous_account":
      return EXIT.usage;
    case "server_error":
      return error instanceof ServerError && (error.status >= 500 || error.status === 429)
        ? EXIT.network
        : EXIT.error;
    default:
      return EXIT.error;
  }
}
