/**
 * The config file: named profiles of server settings, read and checked
 * strictly, so that a misspelt key is named instead of quietly ignored.
 *
 * ```json
 * { "profiles": { "default": { "authority": "https://login.example.com", "clientId": "abc" } } }
 * ```
 *
 * @module
 */

import { registerSecret } from "../redact.ts";
import { didYouMean } from "../suggest.ts";
import { type Provider, PROVIDERS } from "../types.ts";

/** One named set of settings in the config file. */
export interface Profile {
  /** `entra`, `github`, `google` or `oidc`. */
  readonly provider?: Provider;
  /** The issuer URL, or an Entra authority. */
  readonly authority?: string;
  /** An Entra tenant: combined with the authority's origin, or the public cloud's. */
  readonly tenant?: string;
  /** The application's client ID. */
  readonly clientId?: string;
  /** Scopes to request; the file may give them as one space-separated string. */
  readonly scopes?: readonly string[];
  /** The device authorization endpoint, for servers without discovery. */
  readonly deviceEndpoint?: string;
  /** The token endpoint, for servers without discovery. */
  readonly tokenEndpoint?: string;
  /** The revocation endpoint (RFC 7009). */
  readonly revocationEndpoint?: string;
  /** The token cache; a relative path is taken from the config file's directory. */
  readonly cache?: string;
  /** Whether to add the default OIDC scopes (default true). */
  readonly defaultScopes?: boolean;
  /** Whether to encrypt the cache's secrets, as `--encrypt` does (default false). */
  readonly encrypt?: boolean;
  /** The client secret, where the server requires one. */
  readonly clientSecret?: string;
  /** The hosts `git-credential` answers for, as `--git-host` names them (default: the authority's). */
  readonly gitHosts?: readonly string[];
}

/** A config file as read. */
export interface Config {
  /** Where it is, or would be. */
  readonly path: string;
  /** Whether the file exists. */
  readonly found: boolean;
  /** Its valid profiles by name, in the file's order. */
  readonly profiles: Readonly<Record<string, Profile>>;
  /**
   * The profiles that have a mistake, by name, with the one-line problem: a
   * mistake in one profile breaks only the commands that use it.
   */
  readonly broken: Readonly<Record<string, string>>;
  /** What the user should fix, such as a secret in a file others can read. */
  readonly warnings: readonly string[];
  /** Deno may not read its directory: it was not read (and nothing prompted). */
  readonly unreadable?: boolean;
}

/** A config file that cannot be read or is not valid: the message names the file and the key. */
export class ConfigError extends Error {
  /** The config file. */
  readonly path: string;
  /** What is wrong, without the file's name. */
  readonly problem: string;

  /**
   * @param path The config file.
   * @param problem What is wrong, naming the key.
   * @param options The cause.
   */
  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(`config ${path}: ${problem}`, options);
    this.name = "ConfigError";
    this.path = path;
    this.problem = problem;
  }
}

/** Options of {@linkcode readConfig}. */
export interface ReadConfigOptions {
  /** Whether a missing file is an error (it was named explicitly), not an empty config. */
  readonly required?: boolean;
}

/**
 * Reads and checks a config file. A missing file is a config without
 * profiles, unless it is required.
 *
 * @param path The config file.
 * @param options Whether it must exist.
 * @returns The config.
 * @throws {ConfigError} When it cannot be read, is not JSON, or holds an unknown key or a wrong type.
 */
export function readConfig(path: string, options: ReadConfigOptions = {}): Config {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !options.required) {
      return { path, found: false, profiles: {}, broken: {}, warnings: [] };
    }
    // A missing --allow-read is the runtime's to explain.
    if (error instanceof Deno.errors.NotCapable) throw error;
    const reason = (error as Error).message?.replace(/ \(os error \d+\).*$/s, "") ?? String(error);
    throw new ConfigError(path, `cannot read: ${reason}`, { cause: error });
  }
  const { profiles, broken } = parseConfig(text, path);
  return { path, found: true, profiles, broken, warnings: secretWarnings(path, profiles) };
}

/**
 * Parses and checks the text of a config file.
 *
 * @param text The file's text.
 * @param path The file, for messages and for relative cache paths.
 * @returns The valid profiles by name, and the problem of each profile that is not.
 * @throws {ConfigError} When it is not JSON, or is not an object of profiles.
 */
export function parseConfig(
  text: string,
  path: string,
): { profiles: Record<string, Profile>; broken: Record<string, string> } {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new ConfigError(path, `invalid JSON${describeJsonError(error, text)}`);
  }
  const fail = (problem: string): never => {
    throw new ConfigError(path, problem);
  };
  if (!isObject(data)) return fail("the file must hold a JSON object");
  for (const key of Object.keys(data)) {
    if (key !== "profiles") {
      fail(
        `${keyPath([key])} is not a known key${didYouMean(key, ["profiles"])} (known: profiles)`,
      );
    }
  }
  const profiles: Record<string, Profile> = {};
  const broken: Record<string, string> = {};
  if (data.profiles === undefined) return { profiles, broken };
  if (!isObject(data.profiles)) return fail("profiles must be an object");
  for (const [name, value] of Object.entries(data.profiles)) {
    // defineProperty, so that a profile named __proto__ is a profile like any other.
    try {
      if (!name.trim()) fail(`${keyPath(["profiles", name])}: a profile needs a name`);
      Object.defineProperty(profiles, name, {
        value: checkProfile(value, ["profiles", name], path, fail),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      Object.defineProperty(broken, name, {
        value: error.problem,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return { profiles, broken };
}

const URL_KEYS = ["authority", "deviceEndpoint", "tokenEndpoint", "revocationEndpoint"] as const;
const STRING_KEYS = ["tenant", "clientId", "cache", "clientSecret"] as const;
const KNOWN_KEYS: readonly string[] = [
  "provider",
  ...URL_KEYS,
  ...STRING_KEYS,
  "scopes",
  "defaultScopes",
  "encrypt",
  "gitHosts",
];

function checkProfile(
  value: unknown,
  at: string[],
  path: string,
  fail: (problem: string) => never,
): Profile {
  const name = keyPath(at);
  if (!isObject(value)) return fail(`${name} must be an object`);
  const key = (k: string) => keyPath([...at, k]);
  for (const k of Object.keys(value)) {
    if (!KNOWN_KEYS.includes(k)) {
      fail(
        `${key(k)} is not a known key${didYouMean(k, KNOWN_KEYS)} (known: ${
          KNOWN_KEYS.join(", ")
        })`,
      );
    }
  }
  const profile: Record<string, unknown> = {};
  for (const k of [...STRING_KEYS, ...URL_KEYS, "provider"]) {
    const v = value[k];
    if (v === undefined) continue;
    if (typeof v !== "string") fail(`${key(k)} must be a string`);
    if (!(v as string).trim()) fail(`${key(k)} must not be empty`);
    profile[k] = v;
  }
  if (profile.provider !== undefined && !PROVIDERS.includes(profile.provider as Provider)) {
    fail(`${key("provider")} must be one of ${PROVIDERS.join(", ")}, not "${profile.provider}"`);
  }
  for (const k of URL_KEYS) {
    if (profile[k] !== undefined && !isHttpUrl(profile[k] as string)) {
      fail(`${key(k)} must be an absolute https URL, not "${profile[k]}"`);
    }
  }
  if (profile.tenant !== undefined) {
    if (!/^[A-Za-z0-9.-]+$/.test(profile.tenant as string)) {
      fail(`${key("tenant")} must be a tenant ID, domain, organizations, common or consumers`);
    }
    if (profile.provider !== undefined && profile.provider !== "entra") {
      fail(`${key("tenant")} applies only to provider entra`);
    }
  }
  if ((profile.deviceEndpoint === undefined) !== (profile.tokenEndpoint === undefined)) {
    fail(`${key("deviceEndpoint")} and ${key("tokenEndpoint")} go together`);
  }
  if (value.scopes !== undefined) {
    const scopes = value.scopes;
    if (typeof scopes === "string") {
      profile.scopes = scopes.split(/\s+/).filter(Boolean);
    } else if (Array.isArray(scopes)) {
      scopes.forEach((s, i) => {
        if (typeof s !== "string") fail(`${key("scopes")}[${i}] must be a string`);
      });
      profile.scopes = (scopes as string[]).flatMap((s) => s.split(/\s+/)).filter(Boolean);
    } else {
      fail(`${key("scopes")} must be a string or an array of strings`);
    }
  }
  if (value.gitHosts !== undefined) {
    const hosts = typeof value.gitHosts === "string"
      ? value.gitHosts.split(/[\s,]+/).filter(Boolean)
      : value.gitHosts;
    if (!Array.isArray(hosts) || !hosts.length || !hosts.every((h) => isGitHost(h))) {
      fail(`${key("gitHosts")} must be a list of host names (a port may follow: host:8443)`);
    }
    profile.gitHosts = (hosts as string[]).map((h) => h.toLowerCase());
  }
  if (value.defaultScopes !== undefined) {
    if (typeof value.defaultScopes !== "boolean") {
      fail(`${key("defaultScopes")} must be true or false`);
    }
    profile.defaultScopes = value.defaultScopes;
  }
  if (value.encrypt !== undefined) {
    if (typeof value.encrypt !== "boolean") fail(`${key("encrypt")} must be true or false`);
    profile.encrypt = value.encrypt;
  }
  if (typeof profile.cache === "string") {
    if (profile.cache.startsWith("~")) {
      fail(
        `${
          key("cache")
        } starts with ~, which is not expanded; give an absolute path or one relative to the config file`,
      );
    }
    profile.cache = resolveCache(profile.cache, path);
  }
  registerSecret(profile.clientSecret as string | undefined);
  return profile as Profile;
}

function secretWarnings(path: string, profiles: Record<string, Profile>): string[] {
  if (Deno.build.os === "windows") return [];
  if (!Object.values(profiles).some((p) => p.clientSecret !== undefined)) return [];
  let mode: number | null;
  try {
    mode = Deno.statSync(path).mode;
  } catch {
    return [];
  }
  if (mode === null || (mode & 0o077) === 0) return [];
  return [
    `the config file ${path} holds a client secret and is readable by other users (mode ${
      (mode & 0o777).toString(8)
    }); run: chmod 600 ${path}`,
  ];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/** `profiles.work.clientId`, or `profiles["my work"].clientId` for names that are not identifiers. */
function keyPath(parts: string[]): string {
  return parts.map((part, i) =>
    /^[A-Za-z_$][\w$-]*$/.test(part) ? `${i ? "." : ""}${part}` : `[${JSON.stringify(part)}]`
  ).join("");
}

/** A cache path relative to the config file's directory; `:memory:` and URLs as they are. */
function resolveCache(value: string, configPath: string): string {
  const absolute = value.startsWith("/") || value.startsWith("\\") || /^[A-Za-z]:[\\/]/.test(value);
  if (absolute || value === ":memory:" || /^[A-Za-z][\w+.-]*:\/\//.test(value)) return value;
  const cut = Math.max(configPath.lastIndexOf("/"), configPath.lastIndexOf("\\"));
  return cut < 0 ? value : `${configPath.slice(0, cut + 1)}${value}`;
}

/**
 * Where and why JSON.parse failed, as ` at line L, column C: reason`. V8
 * quotes the text around an unexpected token, which may be a secret, so the
 * quote is left out of the message and only used to find the position.
 */
function describeJsonError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  let position = Number(message.match(/ at position (\d+)/)?.[1] ?? NaN);
  if (/^Unexpected end of JSON input/.test(message)) position = text.length;
  const quoted = message.match(
    /^Unexpected token '(.)', (\.\.\.)?"(.*)"(\.\.\.)? is not valid JSON$/s,
  );
  if (quoted) {
    const [, token, before, context, after] = quoted as unknown as string[];
    // V8 quotes 10 characters either side of the token, or all of a short text.
    if (before && after) position = text.indexOf(context!) + 10;
    else if (before) position = text.length - context!.length + 10;
    else if (after) position = context!.length - 10;
    else if (text.indexOf(token!) === text.lastIndexOf(token!)) position = text.indexOf(token!);
    if (text[position] !== token) position = NaN;
  }
  const reason = message
    .replace(/ in JSON at position \d+.*$/s, "")
    .replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, "");
  if (Number.isNaN(position)) return `: ${reason}`;
  const lines = text.slice(0, position).split("\n");
  return ` at line ${lines.length}, column ${lines.at(-1)!.length + 1}: ${reason}`;
}

/**
 * Whether a value is a host as git names it in a credential request: a DNS
 * name or an IP address, with an optional port.
 *
 * @param value The value.
 * @returns `true` when it is one.
 */
export function isGitHost(value: unknown): value is string {
  return typeof value === "string" &&
    /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/
      .test(value);
}
