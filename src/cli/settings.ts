/**
 * The one table of the CLI's options. Each row says, once: the flag (and
 * its short form), its type, the environment variable and the profile key
 * that set it too, its help text and group, how the shells complete its
 * value, and which commands take it. Parsing (`optionsFor`), the help
 * (`help.ts`), the completion scripts, the names in messages and
 * `config show` (which flag, variable or key a value came from), and the
 * tables of `docs/cli.md` (`deno task docs`) are all made from it, so that
 * none of them is kept in step by hand.
 *
 * This module is longer than 400 lines because it is that table: one row per
 * option, each a few lines, and splitting it would split the one source.
 *
 * @module
 */

import type { OptionSpecs } from "./argv.ts";
import { LOCALES } from "../i18n/choose.ts";
import { defaultCachePath } from "../paths.ts";
import { PROVIDERS } from "../types.ts";

/** The commands of the CLI. */
export const COMMAND_NAMES = [
  "login",
  "token",
  "accounts",
  "logout",
  "switch",
  "status",
  "git-credential",
  "config",
  "fetch",
  "run",
  "decode",
  "completions",
] as const;
/** One of {@linkcode COMMAND_NAMES}. */
export type CommandName = typeof COMMAND_NAMES[number];

/** Where an option is listed in a command's help. */
export type Group = "command" | "output" | "sign-in" | "server" | "cache";

/** The output formats of `token`. */
export const FORMATS = ["raw", "json", "env", "header", "exec-credential"] as const;

/** One row of the table. */
export interface Setting {
  /** What parseArgv reads. */
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  /** Where the help lists it. */
  readonly group: Group;
  /** How it is written, with its value (`--authority URL`); empty for an alias listed with another. */
  readonly usage: string;
  /** What it does, in one line. */
  readonly text: string;
  /** The environment variable that sets it too. */
  readonly env?: string;
  /** The config profile's key that sets it too. */
  readonly profile?: string;
  /** How the shells complete its value: a file name, or one of some words. */
  readonly complete?: "file" | readonly string[];
  /** The commands that take it. */
  readonly commands: "all" | readonly CommandName[];
}

/** The commands that open the cache: all but decode and completions. */
const WITH_CACHE: readonly CommandName[] = COMMAND_NAMES.filter((name) =>
  name !== "decode" && name !== "completions"
);

/** The commands that may sign in: they take the sign-in's options. */
const SIGNING_IN: readonly CommandName[] = ["login", "token", "git-credential", "fetch", "run"];
/** The commands that send requests for scopes (and config, which shows their settings). */
const REQUESTING: readonly CommandName[] = [
  "login",
  "token",
  "git-credential",
  "config",
  "fetch",
  "run",
];
/** The commands that reach the server (and config, which shows their settings). */
const CONNECTING: readonly CommandName[] = [
  "login",
  "token",
  "logout",
  "git-credential",
  "config",
  "fetch",
  "run",
];
/** The commands that get a token the way `token` does. */
const GETTING_TOKENS: readonly CommandName[] = ["token", "git-credential", "fetch", "run"];
/** The commands that name a server and client. */
const NAMING_SERVER: readonly CommandName[] = [
  "login",
  "token",
  "accounts",
  "logout",
  "switch",
  "git-credential",
  "config",
  "fetch",
  "run",
];

function safeDefaultCachePath(): string {
  try {
    return defaultCachePath();
  } catch {
    return "under the user's cache directory";
  }
}

/** Every option of the CLI. */
export const SETTINGS: Readonly<Record<string, Setting>> = {
  authority: {
    type: "string",
    group: "server",
    usage: "--authority URL",
    text: "Issuer URL, an Entra authority, or a GitHub Enterprise base URL",
    env: "DEVICEFLOW_AUTHORITY",
    profile: "authority",
    commands: NAMING_SERVER,
  },
  "client-id": {
    type: "string",
    group: "server",
    usage: "--client-id ID",
    text: "The application's client ID",
    env: "DEVICEFLOW_CLIENT_ID",
    profile: "clientId",
    commands: NAMING_SERVER,
  },
  scope: {
    type: "string",
    multiple: true,
    group: "server",
    usage: "--scope S",
    text: "Scope to request; repeatable, or several space-separated",
    env: "DEVICEFLOW_SCOPE",
    profile: "scopes",
    commands: REQUESTING,
  },
  provider: {
    type: "string",
    group: "server",
    usage: "--provider NAME",
    text: "entra, github, google or oidc (guessed from the authority)",
    env: "DEVICEFLOW_PROVIDER",
    profile: "provider",
    complete: PROVIDERS,
    commands: CONNECTING,
  },
  tenant: {
    type: "string",
    group: "server",
    usage: "--tenant T",
    text: "Entra tenant: the authority becomes login.microsoftonline.com/T",
    env: "DEVICEFLOW_TENANT",
    profile: "tenant",
    commands: CONNECTING,
  },
  "device-endpoint": {
    type: "string",
    group: "server",
    usage: "--device-endpoint URL",
    text: "Device authorization endpoint, for servers without discovery (this run only)",
    profile: "deviceEndpoint",
    commands: REQUESTING,
  },
  "token-endpoint": {
    type: "string",
    group: "server",
    usage: "--token-endpoint URL",
    text: "Token endpoint, for servers without discovery (this run only)",
    profile: "tokenEndpoint",
    commands: REQUESTING,
  },
  "revocation-endpoint": {
    type: "string",
    group: "server",
    usage: "--revocation-endpoint URL",
    text: "Revocation endpoint (RFC 7009), for this run only",
    profile: "revocationEndpoint",
    commands: CONNECTING,
  },
  "no-default-scopes": {
    type: "boolean",
    group: "server",
    usage: "--no-default-scopes",
    text: 'Do not add "openid profile offline_access" (OIDC and Entra)',
    profile: "defaultScopes",
    commands: REQUESTING,
  },
  "connect-timeout": {
    type: "string",
    group: "server",
    usage: "--connect-timeout SECONDS",
    text: "Give up a request whose answer has not begun within this long (default 10)",
    env: "DEVICEFLOW_CONNECT_TIMEOUT",
    commands: CONNECTING,
  },
  "request-timeout": {
    type: "string",
    group: "server",
    usage: "--request-timeout SECONDS",
    text: "Give up a request not answered in full within this long (default 30)",
    env: "DEVICEFLOW_REQUEST_TIMEOUT",
    commands: CONNECTING,
  },
  timeout: {
    type: "string",
    group: "sign-in",
    usage: "--timeout SECONDS",
    text: "Give up the sign-in after this long; the last poll is at the limit",
    commands: SIGNING_IN,
  },
  qr: {
    type: "boolean",
    group: "sign-in",
    usage: "--qr, --no-qr",
    text: "Always / never draw a QR code of the address",
    commands: SIGNING_IN,
  },
  "no-qr": {
    type: "boolean",
    group: "sign-in",
    usage: "",
    text: "",
    commands: SIGNING_IN,
  },
  open: {
    type: "boolean",
    group: "sign-in",
    usage: "--open",
    text: "Open the address in a local browser",
    commands: SIGNING_IN,
  },
  "no-color": {
    type: "boolean",
    group: "sign-in",
    usage: "--no-color",
    text: "No colours (also NO_COLOR, and whenever stderr is no terminal)",
    commands: SIGNING_IN,
  },
  "json-events": {
    type: "boolean",
    group: "sign-in",
    usage: "--json-events",
    text: "stderr carries one JSON object per line instead of text",
    commands: SIGNING_IN,
  },
  interactive: {
    type: "boolean",
    group: "sign-in",
    usage: "--interactive",
    text: "Sign in even when stderr is no terminal (by default: exit 3, naming the login command)",
    commands: GETTING_TOKENS,
  },
  "no-interactive": {
    type: "boolean",
    group: "sign-in",
    usage: "--no-interactive",
    text: "Never sign in; exit 3 when a sign-in is needed",
    commands: GETTING_TOKENS,
  },
  renew: {
    type: "boolean",
    group: "sign-in",
    usage: "--renew",
    text: "When the code expires while waiting, show a new one (up to 3 times)",
    commands: ["login"],
  },
  "no-wait": {
    type: "boolean",
    group: "sign-in",
    usage: "--no-wait",
    text: "Show the code, keep the sign-in pending, and exit 0 (finish it later)",
    commands: ["login"],
  },
  resume: {
    type: "boolean",
    group: "sign-in",
    usage: "--resume",
    text: "Finish a sign-in started with --no-wait, from any process on the same cache",
    commands: ["login"],
  },
  account: {
    type: "string",
    group: "command",
    usage: "--account NAME",
    text: "The account: its username or home account ID (default: the active one)",
    commands: ["token", "logout", "switch", "git-credential", "fetch", "run"],
  },
  all: {
    type: "boolean",
    group: "command",
    usage: "--all",
    text: "Every cached account",
    commands: ["logout"],
  },
  "min-ttl": {
    type: "string",
    group: "command",
    usage: "--min-ttl SECONDS",
    text: "The token must live at least this long (default 300)",
    commands: GETTING_TOKENS,
  },
  "force-refresh": {
    type: "boolean",
    group: "command",
    usage: "--force-refresh",
    text: "Refresh even when the cached token is good",
    commands: GETTING_TOKENS,
  },
  "git-host": {
    type: "string",
    multiple: true,
    group: "command",
    usage: "--git-host HOST",
    text: "A host to answer for (host or host:port); repeatable (default: the authority's)",
    profile: "gitHosts",
    commands: ["git-credential"],
  },
  env: {
    type: "string",
    group: "command",
    usage: "--env NAME",
    text: "The variable that holds the token (default ACCESS_TOKEN)",
    commands: ["run"],
  },
  request: {
    type: "string",
    short: "X",
    group: "command",
    usage: "-X, --request METHOD",
    text: "The method (default GET, or POST with a body)",
    complete: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    commands: ["fetch"],
  },
  header: {
    type: "string",
    short: "H",
    multiple: true,
    group: "command",
    usage: "-H, --header 'Name: value'",
    text: "A request header; repeatable",
    commands: ["fetch"],
  },
  data: {
    type: "string",
    short: "d",
    multiple: true,
    group: "command",
    usage: "-d, --data DATA",
    text: "The body: text, @FILE, or @- for stdin",
    commands: ["fetch"],
  },
  "data-file": {
    type: "string",
    group: "command",
    usage: "--data-file FILE",
    text: "The body, from a file",
    complete: "file",
    commands: ["fetch"],
  },
  include: {
    type: "boolean",
    short: "i",
    group: "output",
    usage: "-i, --include",
    text: "Print the status line and headers first",
    commands: ["fetch"],
  },
  output: {
    type: "string",
    short: "o",
    group: "output",
    usage: "-o, --output FORMAT",
    text:
      "raw (the token alone), json, env (shell exports), header (Authorization: ...), or exec-credential (kubectl)",
    complete: FORMATS,
    commands: ["token"],
  },
  json: {
    type: "boolean",
    group: "output",
    usage: "--json",
    text: "Print JSON",
    commands: ["token", "accounts", "status", "config"],
  },
  cache: {
    type: "string",
    group: "cache",
    usage: "--cache PATH",
    get text() {
      return `Token cache: a file, :memory:, or a KV Connect URL (default ${safeDefaultCachePath()})`;
    },
    env: "DEVICEFLOW_CACHE",
    profile: "cache",
    complete: "file",
    commands: WITH_CACHE,
  },
  config: {
    type: "string",
    group: "cache",
    usage: "--config PATH",
    text: "Config file with named profiles (see 'deviceflow config --help')",
    env: "DEVICEFLOW_CONFIG",
    complete: "file",
    commands: WITH_CACHE,
  },
  profile: {
    type: "string",
    group: "cache",
    usage: "--profile NAME",
    text: 'The config file\'s profile to use (default: "default", if any)',
    env: "DEVICEFLOW_PROFILE",
    commands: WITH_CACHE,
  },
  encrypt: {
    type: "boolean",
    group: "cache",
    usage: "--encrypt",
    text:
      "Encrypt the tokens in the cache (AES-GCM; key from DEVICEFLOW_CACHE_KEY(_FILE) or a key file)",
    profile: "encrypt",
    commands: REQUESTING,
  },
  lang: {
    type: "string",
    group: "cache",
    usage: "--lang LANG",
    text:
      "Language of the sign-in: en, de, zh, fr, ja or es (default: LC_ALL, LC_MESSAGES or LANG)",
    env: "DEVICEFLOW_LANG",
    complete: LOCALES,
    commands: WITH_CACHE,
  },
  verbose: {
    type: "boolean",
    short: "v",
    group: "cache",
    usage: "-v, --verbose",
    text: "Show each request on stderr (never a secret)",
    commands: WITH_CACHE,
  },
  help: {
    type: "boolean",
    short: "h",
    group: "cache",
    usage: "-h, --help",
    text: "Show this help",
    commands: "all",
  },
};

/**
 * The options a command takes, as parseArgv reads them.
 *
 * @param command The command.
 * @returns Its option specs, from {@linkcode SETTINGS}.
 */
export function optionsFor(command: CommandName): OptionSpecs {
  const specs: Record<string, OptionSpecs[string]> = {};
  for (const [name, setting] of Object.entries(SETTINGS)) {
    if (setting.commands !== "all" && !setting.commands.includes(command)) continue;
    specs[name] = {
      type: setting.type,
      ...(setting.short ? { short: setting.short } : {}),
      ...(setting.multiple ? { multiple: true } : {}),
    };
  }
  return specs;
}

/**
 * What a person wrote to set an option, for messages: the flag, the
 * variable, or the profile's key.
 *
 * @param flag The option.
 * @param source Where its value came from.
 * @param profileName The profile's name, when it came from one.
 * @returns `--authority`, `DEVICEFLOW_AUTHORITY`, or `"authority" of profile "work"`.
 */
export function sourceName(
  flag: string,
  source: "flag" | "env" | "profile" | "default" | undefined,
  profileName?: string,
): string {
  const setting = SETTINGS[flag];
  if (source === "env" && setting?.env) return setting.env;
  if (source === "profile" && setting?.profile) {
    return `"${setting.profile}" of profile "${profileName}"`;
  }
  return `--${flag}`;
}
