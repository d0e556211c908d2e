/**
 * Help texts shared by the commands.
 *
 * @module
 */

import { defaultCachePath } from "../paths.ts";

/** The exit codes, as help and the README state them. */
export const EXIT_HELP =
  `Exit codes: 0 success, 1 other error, 2 usage error, 3 not signed in (a sign-in is needed),
4 sign-in declined or code expired (or --timeout reached), 5 network failure or server
unavailable, 6 the API answered with an HTTP error status (fetch), 130 interrupted, 141 stdout
was closed before all was written (| head), quietly; run exits with its command's code (126
cannot execute, 127 not found, 128+N killed by signal N).
`;

/** The server options, for the help of the commands that take them. */
export const SERVER_HELP = `Server options (flags win, then the environment, then the profile):
  --authority URL          Issuer URL, or an Entra authority     [DEVICEFLOW_AUTHORITY]
  --client-id ID           The application's client ID            [DEVICEFLOW_CLIENT_ID]
  --scope S                Scope to request; repeatable, or several space-separated
                                                                  [DEVICEFLOW_SCOPE]
  --provider NAME          entra, github, google or oidc (guessed from the authority)
                                                                  [DEVICEFLOW_PROVIDER]
  --tenant T               Entra tenant: sets the authority to login.microsoftonline.com/T
  --device-endpoint URL    Device authorization endpoint, for servers without discovery
  --token-endpoint URL     Token endpoint, for servers without discovery
  --revocation-endpoint URL  Revocation endpoint (RFC 7009), for servers without discovery
  --no-default-scopes      Do not add "openid profile offline_access" (OIDC and Entra)
  A client secret, where the server requires one, comes only from DEVICEFLOW_CLIENT_SECRET
  or the profile.
`;

/** The options every command has. */
/** The options every command has (built when shown: it names this machine's default cache). */
export function commonHelp(): string {
  return `Common options:
  --cache PATH             Token cache: a file, :memory:, or a KV Connect URL  [DEVICEFLOW_CACHE]
                           (default ${safeDefaultCachePath()})
  --config PATH            Config file with named profiles (see 'deviceflow config --help')
                                                                  [DEVICEFLOW_CONFIG]
  --profile NAME           The config file's profile to use (default: "default", if any)
                                                                  [DEVICEFLOW_PROFILE]
  --connect-timeout SECONDS  Give up a request when its answer has not begun within this
                           long: connecting, TLS and the server's reply (default 10)
                                                                  [DEVICEFLOW_CONNECT_TIMEOUT]
  --request-timeout SECONDS  Give up a request that has not been answered in full within
                           this long (default 30)                 [DEVICEFLOW_REQUEST_TIMEOUT]
  --encrypt                Encrypt the tokens in the cache (AES-GCM); the key comes from
                           DEVICEFLOW_CACHE_KEY, DEVICEFLOW_CACHE_KEY_FILE, or a 0600 key
                           file made next to the cache
  -v, --verbose            Show each request's method, address, status and time on stderr
  -h, --help               Show this help
`;
}

function safeDefaultCachePath(): string {
  try {
    return defaultCachePath();
  } catch {
    return "under the user's cache directory";
  }
}

/** Where an option is listed in a command's help. */
export type Group = "command" | "output" | "sign-in" | "server" | "cache";

/** One option as the help describes it. */
export interface OptionDoc {
  readonly group: Group;
  /** How it is written, with its value: `--authority URL`. */
  readonly usage: string;
  readonly text: string;
  /** The environment variable that sets it too. */
  readonly env?: string;
}

const GROUP_TITLES: Readonly<Record<Group, string>> = {
  command: "Options:",
  output: "Output options:",
  "sign-in": "Sign-in options (used when a sign-in is needed):",
  server: "Server options (flags win, then the environment, then the profile):",
  cache: "Cache options:",
};

/**
 * Every option of every command, described once: each command's help lists
 * those of its own options, grouped, from here.
 */
export const OPTION_DOCS: Readonly<Record<string, OptionDoc>> = {
  authority: {
    group: "server",
    usage: "--authority URL",
    text: "Issuer URL, an Entra authority, or a GitHub Enterprise base URL",
    env: "DEVICEFLOW_AUTHORITY",
  },
  "client-id": {
    group: "server",
    usage: "--client-id ID",
    text: "The application's client ID",
    env: "DEVICEFLOW_CLIENT_ID",
  },
  scope: {
    group: "server",
    usage: "--scope S",
    text: "Scope to request; repeatable, or several space-separated",
    env: "DEVICEFLOW_SCOPE",
  },
  provider: {
    group: "server",
    usage: "--provider NAME",
    text: "entra, github, google or oidc (guessed from the authority)",
    env: "DEVICEFLOW_PROVIDER",
  },
  tenant: {
    group: "server",
    usage: "--tenant T",
    text: "Entra tenant: the authority becomes login.microsoftonline.com/T",
    env: "DEVICEFLOW_TENANT",
  },
  "device-endpoint": {
    group: "server",
    usage: "--device-endpoint URL",
    text: "Device authorization endpoint, for servers without discovery (this run only)",
  },
  "token-endpoint": {
    group: "server",
    usage: "--token-endpoint URL",
    text: "Token endpoint, for servers without discovery (this run only)",
  },
  "revocation-endpoint": {
    group: "server",
    usage: "--revocation-endpoint URL",
    text: "Revocation endpoint (RFC 7009), for this run only",
  },
  "no-default-scopes": {
    group: "server",
    usage: "--no-default-scopes",
    text: 'Do not add "openid profile offline_access" (OIDC and Entra)',
  },
  "connect-timeout": {
    group: "server",
    usage: "--connect-timeout SECONDS",
    text: "Give up a request whose answer has not begun within this long (default 10)",
    env: "DEVICEFLOW_CONNECT_TIMEOUT",
  },
  "request-timeout": {
    group: "server",
    usage: "--request-timeout SECONDS",
    text: "Give up a request not answered in full within this long (default 30)",
    env: "DEVICEFLOW_REQUEST_TIMEOUT",
  },
  timeout: {
    group: "sign-in",
    usage: "--timeout SECONDS",
    text: "Give up the sign-in after this long; the last poll is at the limit",
  },
  qr: {
    group: "sign-in",
    usage: "--qr, --no-qr",
    text: "Always / never draw a QR code of the address",
  },
  "no-qr": { group: "sign-in", usage: "", text: "" },
  open: { group: "sign-in", usage: "--open", text: "Open the address in a local browser" },
  "no-color": {
    group: "sign-in",
    usage: "--no-color",
    text: "No colours (also NO_COLOR, and whenever stderr is no terminal)",
  },
  "json-events": {
    group: "sign-in",
    usage: "--json-events",
    text: "stderr carries one JSON object per line instead of text",
  },
  interactive: {
    group: "sign-in",
    usage: "--interactive",
    text: "Sign in even when stderr is no terminal (by default: exit 3, naming the login command)",
  },
  "no-interactive": {
    group: "sign-in",
    usage: "--no-interactive",
    text: "Never sign in; exit 3 when a sign-in is needed",
  },
  renew: {
    group: "sign-in",
    usage: "--renew",
    text: "When the code expires while waiting, show a new one (up to 3 times)",
  },
  "no-wait": {
    group: "sign-in",
    usage: "--no-wait",
    text: "Show the code, keep the sign-in pending, and exit 0 (finish it later)",
  },
  resume: {
    group: "sign-in",
    usage: "--resume",
    text: "Finish a sign-in started with --no-wait, from any process on the same cache",
  },
  account: {
    group: "command",
    usage: "--account NAME",
    text: "The account: its username or home account ID (default: the active one)",
  },
  all: { group: "command", usage: "--all", text: "Every cached account" },
  "min-ttl": {
    group: "command",
    usage: "--min-ttl SECONDS",
    text: "The token must live at least this long (default 300)",
  },
  "force-refresh": {
    group: "command",
    usage: "--force-refresh",
    text: "Refresh even when the cached token is good",
  },
  "git-host": {
    group: "command",
    usage: "--git-host HOST",
    text: "A host to answer for (host or host:port); repeatable (default: the authority's)",
  },
  env: {
    group: "command",
    usage: "--env NAME",
    text: "The variable that holds the token (default ACCESS_TOKEN)",
  },
  request: {
    group: "command",
    usage: "-X, --request METHOD",
    text: "The method (default GET, or POST with a body)",
  },
  header: {
    group: "command",
    usage: "-H, --header 'Name: value'",
    text: "A request header; repeatable",
  },
  data: {
    group: "command",
    usage: "-d, --data DATA",
    text: "The body: text, @FILE, or @- for stdin",
  },
  "data-file": { group: "command", usage: "--data-file FILE", text: "The body, from a file" },
  include: {
    group: "output",
    usage: "-i, --include",
    text: "Print the status line and headers first",
  },
  output: {
    group: "output",
    usage: "-o, --output FORMAT",
    text:
      "raw (the token alone), json, env (shell exports), header (Authorization: ...), or exec-credential (kubectl)",
  },
  json: { group: "output", usage: "--json", text: "Print JSON" },
  cache: {
    group: "cache",
    usage: "--cache PATH",
    // A getter: the default path is looked up when the help is shown, not at start-up.
    get text() {
      return `Token cache: a file, :memory:, or a KV Connect URL (default ${safeDefaultCachePath()})`;
    },
    env: "DEVICEFLOW_CACHE",
  },
  config: {
    group: "cache",
    usage: "--config PATH",
    text: "Config file with named profiles (see 'deviceflow config --help')",
    env: "DEVICEFLOW_CONFIG",
  },
  profile: {
    group: "cache",
    usage: "--profile NAME",
    text: 'The config file\'s profile to use (default: "default", if any)',
    env: "DEVICEFLOW_PROFILE",
  },
  encrypt: {
    group: "cache",
    usage: "--encrypt",
    text:
      "Encrypt the tokens in the cache (AES-GCM; key from DEVICEFLOW_CACHE_KEY(_FILE) or a key file)",
  },
  lang: {
    group: "cache",
    usage: "--lang LANG",
    text:
      "Language of the sign-in: en, de, zh, fr, ja or es (default: LC_ALL, LC_MESSAGES or LANG)",
    env: "DEVICEFLOW_LANG",
  },
  verbose: {
    group: "cache",
    usage: "-v, --verbose",
    text: "Show each request on stderr (never a secret)",
  },
  help: { group: "cache", usage: "-h, --help", text: "Show this help" },
};

const WIDTH = 96;
const COLUMN = 28;

/** One option's lines: its usage, then its text wrapped beside it, then its variable. */
function optionLines(doc: OptionDoc): string[] {
  const words = (doc.env ? `${doc.text} [${doc.env}]` : doc.text).split(" ");
  const lines: string[] = [];
  let line = `  ${doc.usage}`;
  if (line.length >= COLUMN - 1) {
    lines.push(line);
    line = "";
  }
  line = line.padEnd(COLUMN);
  let empty = true;
  for (const word of words) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = " ".repeat(COLUMN);
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines;
}

/** What a command's help is made of. */
export interface HelpSpec {
  /** The usage line(s), after "Usage: ". */
  readonly usage: string;
  /** What it does, in a few lines. */
  readonly about: string;
  /** Its options: the help lists these, and only these. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Two to four examples. */
  readonly examples: readonly string[];
  /** Anything more, after the options. */
  readonly notes?: string;
}

/**
 * A command's help: usage, what it does, its options grouped (command,
 * output, sign-in, server, cache), and examples.
 *
 * @param spec The parts.
 * @returns The text.
 */
export function commandHelp(spec: HelpSpec): string {
  const groups = (Object.keys(GROUP_TITLES) as Group[]).map((group) => {
    const docs = Object.keys(OPTION_DOCS)
      .filter((name) => Object.hasOwn(spec.options, name))
      .map((name) => OPTION_DOCS[name])
      .filter((doc): doc is OptionDoc =>
        doc !== undefined && doc.group === group && doc.usage !== ""
      );
    return docs.length ? `${GROUP_TITLES[group]}\n${docs.flatMap(optionLines).join("\n")}\n` : "";
  }).filter(Boolean);
  return [
    `Usage: ${spec.usage}\n\n${spec.about.trim()}\n`,
    ...groups,
    ...(spec.notes ? [`${spec.notes.trim()}\n`] : []),
    `Examples:\n${spec.examples.map((e) => `  ${e}`).join("\n")}\n`,
  ].join("\n");
}
