/**
 * The reference tables of `docs/cli.md`, made from the code's own tables:
 * the options (their help, the variable that sets each, and the commands
 * that take it), the environment variables the CLI reads, and the exit
 * codes. `deno task docs` writes them into the file, and a test fails when
 * the file differs, so the docs cannot drift from the code.
 *
 * @module
 */

import { command as accounts } from "./commands/accounts.ts";
import { command as config } from "./commands/config.ts";
import { command as decode } from "./commands/decode.ts";
import { command as fetchCommand } from "./commands/fetch.ts";
import { command as gitCredential } from "./commands/git_credential.ts";
import { command as login } from "./commands/login.ts";
import { command as logout } from "./commands/logout.ts";
import { command as run } from "./commands/run.ts";
import { command as status } from "./commands/status.ts";
import { command as switchCommand } from "./commands/switch.ts";
import { command as token } from "./commands/token.ts";
import type { Command } from "./context.ts";
import { SETTINGS } from "./settings.ts";
import { EXIT } from "./io.ts";
import { ENV_VARIABLES } from "./permissions.ts";

/** The commands whose options the table lists, by name. */
const COMMANDS: Readonly<Record<string, Command>> = {
  login,
  token,
  accounts,
  logout,
  switch: switchCommand,
  status,
  "git-credential": gitCredential,
  config,
  fetch: fetchCommand,
  run,
  decode,
};

/** What each exit code means: a key of EXIT without a line here does not compile. */
const EXIT_MEANINGS: Readonly<Record<keyof typeof EXIT, string>> = {
  ok: "success",
  error: "any other error (a server error, a damaged or locked cache, a missing permission)",
  usage: "usage error: a bad option, value, profile or config file",
  signInNeeded: "not signed in: a sign-in is needed (`deviceflow login`)",
  declinedOrExpired: "the sign-in was declined, the code expired, or `--timeout` was reached",
  network: "network failure, or the server unavailable (HTTP 5xx, 429)",
  httpError: "`fetch`: the API answered with an HTTP error status",
  interrupted: "interrupted (Ctrl-C)",
  outputClosed: "stdout closed before all was written (`| head`); quietly",
};

/** The environment variables no option stands for, and what each does. */
const OTHER_VARIABLES: Readonly<Record<string, string>> = {
  DEVICEFLOW_CACHE_KEY: "The key of an encrypted cache (32 bytes, base64 or hex)",
  DEVICEFLOW_CACHE_KEY_FILE: "A file holding that key",
  DEVICEFLOW_CLIENT_SECRET: "The client secret, where the server requires one",
  DEVICEFLOW_LEASE_TTL: "Seconds a refresh lease outlives a process that died holding it",
  DEVICEFLOW_LOCK_TIMEOUT: "Seconds to wait for a cache another process has locked (10)",
  LC_ALL: "The language of the sign-in, after --lang and DEVICEFLOW_LANG (POSIX order)",
  LC_MESSAGES: "The language of the sign-in, after LC_ALL",
  LANG: "The language of the sign-in, after LC_MESSAGES",
  HOME: "Where the cache and config are by default",
  USERPROFILE: "Where the cache and config are by default (Windows)",
  XDG_CACHE_HOME: "The cache directory, when set",
  XDG_CONFIG_HOME: "The config directory, when set",
  LOCALAPPDATA: "The cache directory (Windows)",
  APPDATA: "The config directory (Windows)",
  NO_COLOR: "No colours",
  BROWSER: "The browser `--open` starts",
  KUBERNETES_EXEC_INFO: "kubectl's request: its interactive mode and ExecCredential version",
  DENO_KV_ACCESS_TOKEN: "The access token of a KV Connect cache",
};

/** A table cell: pipes escaped, on one line. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|").replace(/\s+/g, " ").trim();
}

/**
 * The generated part of `docs/cli.md`.
 *
 * @returns Markdown, ending with a newline.
 */
export function renderReference(): string {
  const options = Object.entries(SETTINGS).filter(([, doc]) => doc.usage).map(([name, doc]) => {
    const takers = Object.entries(COMMANDS)
      .filter(([, command]) => Object.hasOwn(command.options, name))
      .map(([commandName]) => commandName);
    // The table says which commands take it; the commands' parsers are made from it.
    // The help names this machine's default path; the docs name the rule.
    const text = name === "cache"
      ? doc.text.replace(
        /\(default [^)]*\)/,
        "(default: deviceflow/cache.db in the user's cache directory)",
      )
      : doc.text;
    return `| \`${cell(doc.usage)}\` | ${cell(text)} | ${doc.env ? `\`${doc.env}\`` : ""} | ${
      takers.length === Object.keys(COMMANDS).length ? "all" : takers.join(", ")
    } |`;
  });
  const fromOptions = new Map(
    Object.values(SETTINGS).flatMap((doc) => doc.env ? [[doc.env, doc.usage] as const] : []),
  );
  const variables = ENV_VARIABLES.map((name) => {
    const usage = fromOptions.get(name);
    const text = usage ? `As \`${usage.split(",").at(-1)!.trim()}\`` : OTHER_VARIABLES[name] ?? "";
    return `| \`${name}\` | ${cell(text)} |`;
  });
  const exits = (Object.keys(EXIT) as (keyof typeof EXIT)[])
    .map((key) => `| ${EXIT[key]} | ${cell(EXIT_MEANINGS[key])} |`);
  return [
    "### Options",
    "",
    "Flags win over the environment, which wins over the profile (`deviceflow config show` says",
    "which applied).",
    "",
    "| option | what it does | environment | commands |",
    "| --- | --- | --- | --- |",
    ...options,
    "",
    "### Environment variables",
    "",
    "| variable | what it does |",
    "| --- | --- |",
    ...variables,
    "",
    "### Exit codes",
    "",
    "`run` exits with its command's code (126 cannot execute, 127 not found, 128+N killed by signal N).",
    "",
    "| code | meaning |",
    "| --- | --- |",
    ...exits,
    "",
  ].join("\n");
}

/** The markers `docs/cli.md` keeps the generated tables between. */
export const MARKERS = ["<!-- generated:start -->", "<!-- generated:end -->"] as const;

/**
 * A `docs/cli.md` with the generated tables put between its markers.
 *
 * @param current The file as it is.
 * @returns The file as `deno task docs` writes it.
 */
export function withReference(current: string): string {
  const start = current.indexOf(MARKERS[0]);
  const end = current.indexOf(MARKERS[1]);
  if (start < 0 || end < start) throw new Error("docs/cli.md has lost its generated markers");
  return `${current.slice(0, start + MARKERS[0].length)}\n\n${renderReference()}\n${
    current.slice(end)
  }`;
}
