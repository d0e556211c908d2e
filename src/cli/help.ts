/**
 * Help texts shared by the commands.
 *
 * @module
 */

import { defaultCachePath } from "../paths.ts";
import { type Group, type Setting, SETTINGS } from "./settings.ts";

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

const GROUP_TITLES: Readonly<Record<Group, string>> = {
  command: "Options:",
  output: "Output options:",
  "sign-in": "Sign-in options (used when a sign-in is needed):",
  server: "Server options (flags win, then the environment, then the profile):",
  cache: "Cache options:",
};

const WIDTH = 96;
const COLUMN = 28;

/** One option's lines: its usage, then its text wrapped beside it, then its variable. */
function optionLines(doc: Setting): string[] {
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
    const docs = Object.keys(SETTINGS)
      .filter((name) => Object.hasOwn(spec.options, name))
      .map((name) => SETTINGS[name])
      .filter((doc): doc is Setting =>
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
