/**
 * Command-line parsing: the options of each command, their checks, and the
 * settings they resolve to (flags, then environment, then the config file's profile).
 *
 * This module is longer than 400 lines because it is the settings table and the
 * one precedence rule (flag, environment, profile, default) that every command,
 * the help and the generated docs read from.
 *
 * @module
 */

import { ArgvError, type OptionSpecs, parseArgv } from "./argv.ts";
import { type Config, ConfigError, type Profile, readConfig } from "./config_file.ts";
import { didYouMean } from "../suggest.ts";
import { MissingPermissionsError, requirePermissions } from "./permissions.ts";
import { isLoopback } from "../url_policy.ts";
import { SETTINGS, sourceName } from "./settings.ts";
import { defaultCachePath, defaultConfigPath, dirOf } from "../paths.ts";
import { type Provider, PROVIDERS } from "../types.ts";

/** A mistake on the command line: exit code 2. */
export class UsageError extends Error {
  /** @param message One line naming the option. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Option definitions. */
export type Options = OptionSpecs;

/** Parsed values: strings, booleans and repeated strings, by option name. */
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * Parses a command's arguments.
 *
 * @param command The command name, for messages.
 * @param options The options it accepts.
 * @param args The arguments after the command.
 * @param allowPositionals Whether the command takes arguments besides options;
 * `"after-separator"`: only after `--` (a command line of its own, as for `run`).
 * @returns The option values and the other arguments.
 * @throws {UsageError} For unknown options, missing values and unexpected arguments.
 */
export function parseCommand(
  command: string,
  options: Options,
  args: string[],
  allowPositionals: boolean | "after-separator" = false,
): { values: Values; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgv(args, options);
  } catch (error) {
    if (error instanceof ArgvError) throw new UsageError(`${command}: ${error.message}`);
    throw error;
  }
  if (allowPositionals === "after-separator" && parsed.beforeSeparator > 0) {
    throw new UsageError(
      `${command}: unexpected argument "${parsed.positionals[0]}" (put -- before it)`,
    );
  }
  if (!allowPositionals && parsed.positionals.length) {
    throw new UsageError(`${command}: unexpected argument "${parsed.positionals[0]}"`);
  }
  checkValues(parsed.values as Values);
  return { values: parsed.values as Values, positionals: parsed.positionals };
}

/** Options whose value may be empty (an empty request body). */
const MAY_BE_EMPTY = new Set(["data"]);
/** Options that take seconds, and whether 0 is allowed. */
const SECONDS_OPTIONS: Readonly<Record<string, boolean>> = {
  timeout: false,
  "min-ttl": true,
  "connect-timeout": false,
  "request-timeout": false,
};
const URL_OPTIONS = ["authority", "device-endpoint", "token-endpoint", "revocation-endpoint"];

/**
 * Checks the values whose form does not depend on the command, as soon as
 * they are parsed: a command that does not use an option still refuses a
 * malformed value for it, rather than ignoring it.
 */
function checkValues(values: Values): void {
  for (const [name, value] of Object.entries(values)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      // An empty value is a variable that was not set (--account "$ACCOUNT"), not a choice.
      if (typeof item === "string" && !item.trim() && !MAY_BE_EMPTY.has(name)) {
        throw new UsageError(`--${name} must not be empty`);
      }
    }
  }
  for (const [name, allowZero] of Object.entries(SECONDS_OPTIONS)) {
    if (values[name] !== undefined) seconds(values[name], `--${name}`, allowZero);
  }
  for (const name of URL_OPTIONS) {
    if (typeof values[name] === "string") checkUrl(values[name], `--${name}`);
  }
}

/** How to read the environment. */
export type Env = (name: string) => string | undefined;

/** What the server-facing options resolve to. */
export interface ServerSettings {
  authority?: string;
  clientId?: string;
  clientSecret?: string;
  provider?: Provider;
  deviceEndpoint?: string;
  tokenEndpoint?: string;
  revocationEndpoint?: string;
  scopes: string[];
  defaultScopes: boolean;
}

const ENTRA_DEFAULT_HOST = "https://login.microsoftonline.com";

/** Where a setting came from: a flag, the environment, the profile, or the built-in default. */
export type Source = "flag" | "env" | "profile" | "default";

const RANK: Readonly<Record<Source, number>> = { default: 0, profile: 1, env: 2, flag: 3 };

/** The config file and the profile that applies. */
export interface SelectedProfile {
  /** The config file, or `undefined` when the environment names no config directory. */
  readonly config: Config | undefined;
  /** The profile's name, or `undefined` when none applies. */
  readonly name: string | undefined;
  /** Its settings (none when no profile applies). */
  readonly profile: Profile;
}

/**
 * Where the config file is: `--config`, then `DEVICEFLOW_CONFIG`, then
 * `deviceflow/config.json` in the user's config directory.
 *
 * @param values Parsed flags.
 * @param env The environment.
 * @returns The path and whether it was named, or `undefined` when there is no config directory.
 * @throws {UsageError} When `--config` is empty.
 */
export function configPath(
  values: Values,
  env: Env,
): { path: string; explicit: boolean } | undefined {
  const named = (values.config as string | undefined) ?? variable(env, "DEVICEFLOW_CONFIG");
  if (named !== undefined) {
    if (!named.trim()) throw new UsageError("--config must not be empty");
    return { path: named, explicit: true };
  }
  const path = defaultConfigPath(env);
  return path === undefined ? undefined : { path, explicit: false };
}

/**
 * Reads the config file named by {@linkcode configPath}. A missing file has
 * no profiles, unless `--config` or `DEVICEFLOW_CONFIG` named it.
 *
 * @param values Parsed flags.
 * @param env The environment.
 * @returns The config, or `undefined` when there is no config directory.
 * @throws {ConfigError} When the file cannot be read or is not valid.
 */
export function loadConfig(values: Values, env: Env): Config | undefined {
  // Settings, the cache location and the account filter all consult the
  // file: one command reads it once.
  if (loaded.has(values)) return loaded.get(values);
  const where = configPath(values, env);
  // Asked first, so that Deno never prompts: a directory it may not read is
  // reported with the command's other missing permissions.
  const config = where && !mayRead(where.path)
    ? { path: where.path, found: false, profiles: {}, broken: {}, warnings: [], unreadable: true }
    : where && readConfig(where.path, { required: where.explicit });
  loaded.set(values, config);
  return config;
}

const loaded = new WeakMap<Values, Config | undefined>();

/** Options of {@linkcode selectProfile}. */
export interface SelectProfileOptions {
  /** The profile to use instead of the one the flags and the environment name. */
  readonly name?: string | undefined;
  /** The config, when it has been read already. */
  readonly config?: Config | undefined;
}

/**
 * Reads the config file and picks the profile that applies: the one named (by
 * `options.name`, `--profile` or `DEVICEFLOW_PROFILE`), else `default` when the
 * file has one.
 *
 * @param values Parsed flags.
 * @param env The environment.
 * @param options A profile name that wins over the flags, and a config read already.
 * @returns The config file and the profile.
 * @throws {ConfigError} When the file is not valid, or has no profile of the name asked for.
 */
export function selectProfile(
  values: Values,
  env: Env,
  options: SelectProfileOptions = {},
): SelectedProfile {
  const name = options.name;
  const config = "config" in options ? options.config : loadConfig(values, env);
  const profiles = config?.profiles ?? {};
  const flag = values.profile as string | undefined;
  const wanted = name ?? flag ?? variable(env, "DEVICEFLOW_PROFILE");
  // A profile with a mistake breaks the commands that use it, and only those.
  const brokenProblem = (profile: string) =>
    config && Object.hasOwn(config.broken, profile)
      ? new ConfigError(config.path, config.broken[profile]!)
      : undefined;
  if (wanted === undefined) {
    const broken = brokenProblem("default");
    if (broken) throw broken;
    const applies = Object.hasOwn(profiles, "default");
    return { config, name: applies ? "default" : undefined, profile: profiles.default ?? {} };
  }
  const broken = brokenProblem(wanted);
  if (broken) throw broken;
  if (config?.unreadable) {
    throw new MissingPermissionsError([{ name: "read", target: dirOf(config.path) }]);
  }
  if (!Object.hasOwn(profiles, wanted)) {
    const via = name !== undefined
      ? ""
      : flag !== undefined
      ? " (from --profile)"
      : " (from DEVICEFLOW_PROFILE)";
    const problem = `no profile "${wanted}"${via}`;
    if (!config) {
      throw new UsageError(
        `${problem}: there is no config file (HOME is not set); pass --config PATH or set DEVICEFLOW_CONFIG`,
      );
    }
    const names = [...Object.keys(profiles), ...Object.keys(config.broken)];
    throw new ConfigError(
      config.path,
      `${problem}${didYouMean(wanted, names)}; ${
        names.length
          ? `the profiles are: ${names.join(", ")}`
          : config.found
          ? "the file has no profiles"
          : "the file does not exist"
      }`,
    );
  }
  return { config, name: wanted, profile: profiles[wanted]! };
}

/** The server settings and where each came from. */
export interface ExplainedSettings {
  /** The settings. */
  readonly settings: ServerSettings;
  /** Where each setting that has a value came from. */
  readonly sources: Readonly<Partial<Record<keyof ServerSettings, Source>>>;
}

/**
 * Resolves the server settings: flags, then the environment, then the profile.
 *
 * @param values Parsed flags.
 * @param env The environment.
 * @returns The settings.
 * @throws {UsageError} When a value is malformed.
 * @throws {ConfigError} When the config file is not valid or the profile does not exist.
 */
export function serverSettings(values: Values, env: Env): ServerSettings {
  return explainSettings(values, env).settings;
}

/**
 * Resolves the server settings as {@linkcode serverSettings} does, and says
 * where each came from.
 *
 * @param values Parsed flags.
 * @param env The environment.
 * @param selected The profile (default: the one that applies).
 * @returns The settings and their sources.
 * @throws {UsageError} When a value is malformed.
 * @throws {ConfigError} When the config file is not valid or the profile does not exist.
 */
export function explainSettings(
  values: Values,
  env: Env,
  selected: SelectedProfile = selectProfile(values, env),
): ExplainedSettings {
  const profile = selected.profile;
  const sources: Partial<Record<keyof ServerSettings, Source>> = {};
  const str = (name: string) => values[name] as string | undefined;
  // A message names what the person wrote: the flag, the variable, or the profile's key.
  const where = (source: Source | undefined, flag: string) =>
    sourceName(flag, source, selected.name);
  // The flag, else its variable, else its profile key: the names come from the settings table.
  const from = (flag: string): [string | undefined, Source | undefined] => {
    const setting = SETTINGS[flag]!;
    const fromProfile = setting.profile
      ? (profile as Record<string, unknown>)[setting.profile]
      : undefined;
    return pick(
      str(flag),
      setting.env ? variable(env, setting.env) : undefined,
      typeof fromProfile === "string" ? fromProfile : undefined,
    );
  };
  const [provider, providerFrom] = from("provider");
  const providerName = where(providerFrom, "provider");
  if (provider !== undefined && !PROVIDERS.includes(provider as Provider)) {
    throw new UsageError(
      `${providerName} must be one of ${PROVIDERS.join(", ")}, not "${provider}"`,
    );
  }
  let [authority, authorityFrom] = from("authority");
  const authorityName = where(authorityFrom, "authority");
  let [tenant, tenantFrom] = from("tenant");
  // A tenant from a lower level does not rewrite an authority, or override a provider, from a higher one.
  if (
    outranks(authorityFrom, tenantFrom) ||
    (provider !== "entra" && outranks(providerFrom, tenantFrom))
  ) {
    tenant = tenantFrom = undefined;
  }
  if (tenant !== undefined) {
    const tenantName = where(tenantFrom, "tenant");
    if (!/^[A-Za-z0-9.-]+$/.test(tenant)) {
      throw new UsageError(
        `${tenantName} must be a tenant ID, domain, organizations, common or consumers, not "${tenant}"`,
      );
    }
    if (provider !== undefined && provider !== "entra") {
      throw new UsageError(
        `${tenantName} applies only to the provider entra, and ${providerName} is "${provider}"`,
      );
    }
    // --tenant picks the tenant on the given Entra host (a sovereign cloud), or the public one.
    const origin = authority ? safeOrigin(authority, authorityName) : ENTRA_DEFAULT_HOST;
    authority = `${origin}/${tenant}`;
    authorityFrom = tenantFrom;
  }
  const [scopes, scopesFrom] = pick(
    values.scope as string[] | undefined,
    variable(env, "DEVICEFLOW_SCOPE")?.split(/\s+/),
    profile.scopes,
  );
  const settings: ServerSettings = {
    scopes: (scopes ?? []).flatMap((s) => s.split(/\s+/)).filter(Boolean),
    defaultScopes: values["no-default-scopes"] !== true && profile.defaultScopes !== false,
  };
  sources.scopes = scopesFrom ?? "default";
  sources.defaultScopes = values["no-default-scopes"] === true
    ? "flag"
    : profile.defaultScopes !== undefined
    ? "profile"
    : "default";
  if (authority) {
    settings.authority = checkUrl(authority, authorityName);
    sources.authority = authorityFrom!;
  }
  const [clientId, clientIdFrom] = from("client-id");
  if (clientId !== undefined) {
    if (!clientId.trim()) {
      throw new UsageError(
        `${where(clientIdFrom, "client-id")} must not be empty`,
      );
    }
    settings.clientId = clientId;
    sources.clientId = clientIdFrom!;
  }
  const [secret, secretFrom] = pick(
    undefined,
    variable(env, "DEVICEFLOW_CLIENT_SECRET"),
    profile.clientSecret,
  );
  if (secret) {
    settings.clientSecret = secret;
    sources.clientSecret = secretFrom!;
  }
  if (provider || tenant) {
    settings.provider = (provider ?? "entra") as Provider;
    sources.provider = (providerFrom ?? tenantFrom)!;
  }
  const device = str("device-endpoint");
  const token = str("token-endpoint");
  if ((device === undefined) !== (token === undefined)) {
    throw new UsageError("--device-endpoint and --token-endpoint go together");
  }
  if (device !== undefined) {
    if (device) settings.deviceEndpoint = checkUrl(device, "--device-endpoint");
    if (token) settings.tokenEndpoint = checkUrl(token, "--token-endpoint");
  } else if (profile.deviceEndpoint && profile.tokenEndpoint) {
    settings.deviceEndpoint = checkUrl(
      profile.deviceEndpoint,
      where("profile", "device-endpoint"),
    );
    settings.tokenEndpoint = checkUrl(
      profile.tokenEndpoint,
      where("profile", "token-endpoint"),
    );
  }
  const endpointsFrom = device !== undefined ? "flag" : "profile";
  if (settings.deviceEndpoint) sources.deviceEndpoint = endpointsFrom;
  if (settings.tokenEndpoint) sources.tokenEndpoint = endpointsFrom;
  const [revocation, revocationFrom] = pick(
    str("revocation-endpoint"),
    undefined,
    profile.revocationEndpoint,
  );
  if (revocation) {
    settings.revocationEndpoint = checkUrl(
      revocation,
      where(revocationFrom, "revocation-endpoint"),
    );
    sources.revocationEndpoint = revocationFrom!;
  }
  return { settings, sources };
}

/**
 * Where the token cache is: `--cache`, then `DEVICEFLOW_CACHE`, then the
 * profile's, then the default file.
 *
 * @param values Parsed flags.
 * @param env The environment.
 * @param selected The profile (default: the one that applies).
 * @returns The location and where it came from.
 * @throws {TypeError} When the default is needed and there is no cache directory.
 */
export function cacheLocation(
  values: Values,
  env: Env,
  selected: SelectedProfile = selectProfile(values, env),
): { location: string; source: Source } {
  const [location, source] = pick(
    values.cache as string | undefined,
    variable(env, "DEVICEFLOW_CACHE"),
    selected.profile.cache,
  );
  if (location === "") {
    throw new UsageError(
      `${
        source === "profile" ? `"cache" of profile "${selected.name}"` : "--cache"
      } must not be empty`,
    );
  }
  if (location !== undefined) return { location, source: source! };
  try {
    return { location: defaultCachePath(), source: "default" };
  } catch (error) {
    // No HOME, and no --cache: a usage line (exit 2) that says what to pass.
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }
}

/** The first value given: the flag's, the environment's, or the profile's. */
function pick<T>(
  flag: T | undefined,
  environment: T | undefined,
  profile: T | undefined,
): [T | undefined, Source | undefined] {
  if (flag !== undefined) return [flag, "flag"];
  if (environment !== undefined) return [environment, "env"];
  if (profile !== undefined) return [profile, "profile"];
  return [undefined, undefined];
}

function outranks(a: Source | undefined, b: Source | undefined): boolean {
  return a !== undefined && b !== undefined && RANK[a] > RANK[b];
}

/** An environment variable; set but empty counts as unset. */
function variable(env: Env, name: string): string | undefined {
  return env(name) || undefined;
}

function safeOrigin(value: string, name: string): string {
  return new URL(checkUrl(value, name)).origin;
}

function checkUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${name} must be an absolute URL, not "${value}"`);
  }
  if (url.protocol === "https:") return value;
  // The rule the client applies: credentials go over plain http only to this machine.
  if (url.protocol === "http:") {
    if (isLoopback(url.hostname)) return value;
    throw new UsageError(
      `${name} must use https (plain http only on loopback addresses), not "${value}"`,
    );
  }
  throw new UsageError(`${name} must be an https URL, not "${value}"`);
}

/**
 * Reads a number of seconds.
 *
 * @param value The option's value.
 * @param name The option, for the message.
 * @param allowZero Whether 0 is allowed.
 * @returns The number, or `undefined` when absent.
 * @throws {UsageError} When it is not a number in range.
 */
export function seconds(value: unknown, name: string, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const number = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(number) || number > 1e7 || (!allowZero && number === 0)) {
    throw new UsageError(
      `${name} must be a ${
        allowZero ? "non-negative" : "positive"
      } number of seconds, not "${text}"`,
    );
  }
  return number;
}

function mayRead(path: string): boolean {
  try {
    requirePermissions([{ name: "read", target: dirOf(path) }]);
    return true;
  } catch {
    return false;
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
  env: Env,
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
export function leaseTtl(env: Env): { leaseTtl?: number } {
  const ttl = seconds(env("DEVICEFLOW_LEASE_TTL") || undefined, "DEVICEFLOW_LEASE_TTL");
  return ttl === undefined ? {} : { leaseTtl: ttl * 1000 };
}
