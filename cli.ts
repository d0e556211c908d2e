/**
 * The `deviceflow` command: sign in with a device code, print tokens for
 * scripts, and manage the cached accounts. Library code never prints or
 * exits; this module turns its results and typed errors into text and exit
 * codes.
 *
 * @example Run it from a Deno program
 * ```ts ignore
 * import { main } from "./cli.ts";
 * const code = await main(["token", "--no-interactive"]);
 * ```
 *
 * @module
 */

import { type CachedAccount, exposure, kvAvailable, TokenCache } from "./cache.ts";
import { DeviceFlowClient, type DeviceFlowClientOptions } from "./src/client.ts";
import {
  CacheError,
  DeviceFlowError,
  InteractionRequiredError,
  ServerError,
} from "./src/errors.ts";
import { redact } from "./src/redact.ts";
import type { Account, TokenResult } from "./src/types.ts";
import { VERSION } from "./src/version.ts";
import {
  parseCommand,
  seconds,
  type ServerSettings,
  serverSettings,
  UsageError,
  type Values,
} from "./src/cli/args.ts";
import { showPrompt, startWaiting } from "./src/cli/prompt.ts";
import { defaultCachePath } from "./src/paths.ts";

/** The documented exit codes. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  signInNeeded: 3,
  declinedOrExpired: 4,
  network: 5,
  interrupted: 130,
} as const;

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIo {
  /** Results. */
  stdout(text: string): void | Promise<void>;
  /** Prompts, progress, warnings and errors. */
  stderr(text: string): void;
  /** Reads an environment variable. */
  env: (name: string) => string | undefined;
  /** Whether stderr is a terminal (countdown, colours). */
  stderrIsTerminal: boolean;
  /** Aborts the command (Ctrl-C). */
  signal?: AbortSignal;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

const USAGE =
  `deviceflow ${VERSION}: sign in with a device code (OAuth 2.0, RFC 8628) and print tokens for scripts

Usage: deviceflow <command> [options]

Commands:
  login      Sign in with a device code and cache the tokens
  token      Print an access token: from the cache, by a silent refresh, or by signing in
  accounts   List the cached accounts
  logout     Remove an account's tokens (and revoke its refresh token at the server)
  status     Show what is cached: accounts, scopes, expiry times (never a token)

Run 'deviceflow <command> --help' for a command's options.

Exit codes: 0 success, 1 other error, 2 usage error, 3 not signed in (a sign-in is needed),
4 sign-in declined or code expired (or --timeout reached), 5 network failure or server
unavailable, 130 interrupted.
`;

const SERVER_HELP = `Server options (flags win over the environment):
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
  A client secret, where the server requires one, comes only from DEVICEFLOW_CLIENT_SECRET.
`;

const COMMON_HELP = `Common options:
  --cache PATH             Token cache: a file, :memory:, or a KV Connect URL  [DEVICEFLOW_CACHE]
                           (default ${safeDefaultCachePath()})
  -v, --verbose            Show each request's method, address, status and time on stderr
  -h, --help               Show this help
`;

const COMMAND_HELP: Record<string, string> = {
  login: `Usage: deviceflow login [options]

Signs in with a device code: shows an address and a code on stderr, waits while you
sign in on another device, caches the tokens, and prints a JSON summary of the account
(no token) on stdout.

  --timeout SECONDS        Give up after this long (default: when the code expires)

${SERVER_HELP}
${COMMON_HELP}`,
  token: `Usage: deviceflow token [options]

Prints a valid access token on stdout: from the cache, by a silent refresh, or, when
nothing else works, by a device code sign-in.

  --account NAME           Which cached account (username or home account ID)
  --min-ttl SECONDS        The token must live at least this long (default 300)
  --force-refresh          Refresh even when the cached token is good
  --no-interactive         Never sign in; exit 3 when a sign-in is needed
  -o, --output FORMAT      raw (default: the token alone) or json
  --timeout SECONDS        Give up a sign-in after this long

${SERVER_HELP}
${COMMON_HELP}`,
  accounts: `Usage: deviceflow accounts [--json] [--authority URL] [--client-id ID]

Lists the cached accounts: username, home account ID, authority and client ID.

  --json                   Print a JSON array

${COMMON_HELP}`,
  logout: `Usage: deviceflow logout [--account NAME | --all] [options]

Removes an account's tokens from the cache. Where the server has a revocation endpoint
(RFC 7009), the refresh token is revoked there too; a failed revocation does not fail
the logout.

  --account NAME           The account (needed when several are cached)
  --all                    Every cached account

${SERVER_HELP}
${COMMON_HELP}`,
  status: `Usage: deviceflow status [--json]

Shows the cache's location, its accounts, their scopes and expiry times, and any entry
skipped as corrupt. Never shows a token. Exits 3 when no account is cached.

  --json                   Print JSON

${COMMON_HELP}`,
};

function safeDefaultCachePath(): string {
  try {
    return defaultCachePath();
  } catch {
    return "under the user's cache directory";
  }
}

/**
 * Runs the CLI.
 *
 * @param args The command-line arguments.
 * @param io Where to read and write (default: the process's).
 * @returns The exit code.
 */
export async function main(args: string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    if (command === "help" && rest[0] && COMMAND_HELP[rest[0]]) {
      await io.stdout(COMMAND_HELP[rest[0]]!);
    } else {
      await io.stdout(USAGE);
    }
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    await io.stdout(`deviceflow ${VERSION}\n`);
    return EXIT.ok;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.stderr(`deviceflow: unknown command "${command}"\nRun 'deviceflow --help' for usage.\n`);
    return EXIT.usage;
  }
  try {
    const values = parseCommand(command, rest);
    if (values.help) {
      await io.stdout(COMMAND_HELP[command]!);
      return EXIT.ok;
    }
    return await run(values, io);
  } catch (error) {
    return report(error, io, command);
  }
}

type Command = (values: Values, io: CliIo) => Promise<number>;

const COMMANDS: Record<string, Command> = { login, token, accounts, logout, status };

// ------------------------------------------------------------------ commands

async function login(values: Values, io: CliIo): Promise<number> {
  const settings = serverSettings(values, io.env);
  const timeout = seconds(values.timeout, "--timeout");
  return await withCache(values, io, async (cache) => {
    const client = makeClient(settings, cache, io, values);
    const result = await signIn(client, settings.scopes, io, values, timeout);
    await io.stdout(JSON.stringify(summary(result)) + "\n");
    return EXIT.ok;
  });
}

async function token(values: Values, io: CliIo): Promise<number> {
  const settings = serverSettings(values, io.env);
  const timeout = seconds(values.timeout, "--timeout");
  const minTtl = seconds(values["min-ttl"], "--min-ttl", true);
  const output = (values.output as string | undefined) ?? "raw";
  if (output !== "raw" && output !== "json") {
    throw new UsageError(`--output must be raw or json, not "${output}"`);
  }
  return await withCache(values, io, async (cache) => {
    const client = await clientFromCache(settings, cache, io, values);
    let result: TokenResult;
    try {
      result = await client.acquireTokenSilent({
        scopes: settings.scopes,
        ...(values.account ? { account: values.account as string } : {}),
        ...(minTtl !== undefined ? { minTtl } : {}),
        forceRefresh: values["force-refresh"] === true,
        ...(io.signal ? { signal: io.signal } : {}),
      });
    } catch (error) {
      if (!(error instanceof InteractionRequiredError)) throw error;
      if (values["no-interactive"]) throw error;
      io.stderr(`${error.message}\n`);
      result = await signIn(client, settings.scopes, io, values, timeout);
    }
    await io.stdout(
      output === "json"
        ? JSON.stringify({
          accessToken: result.accessToken,
          tokenType: result.tokenType,
          expiresAt: result.expiresAt?.toISOString() ?? null,
          scopes: result.scopes,
          account: accountJson(result.account),
        }) + "\n"
        : result.accessToken + "\n",
    );
    return EXIT.ok;
  });
}

async function accounts(values: Values, io: CliIo): Promise<number> {
  return await withCache(values, io, async (cache) => {
    const list = await cache.getAccounts(accountFilter(values, io.env));
    if (values.json) {
      await io.stdout(JSON.stringify(list.map(accountJson)) + "\n");
    } else if (list.length === 0) {
      io.stderr("No accounts are cached; sign in with: deviceflow login\n");
    } else {
      await io.stdout(
        table(
          ["USERNAME", "HOME ACCOUNT ID", "AUTHORITY", "CLIENT ID"],
          list.map((a) => [a.username, a.homeAccountId, a.authority, a.clientId]),
        ),
      );
    }
    return EXIT.ok;
  });
}

async function logout(values: Values, io: CliIo): Promise<number> {
  const settings = serverSettings(values, io.env);
  if (values.all && values.account) throw new UsageError("--account and --all exclude each other");
  return await withCache(values, io, async (cache) => {
    let targets = await cache.getAccounts(accountFilter(values, io.env));
    if (values.account) {
      const name = (values.account as string).toLowerCase();
      targets = targets.filter((a) =>
        a.username.toLowerCase() === name || a.homeAccountId === values.account
      );
      if (targets.length === 0) {
        throw new InteractionRequiredError(`No cached account named ${values.account}`);
      }
    }
    if (targets.length === 0) {
      throw new InteractionRequiredError("Not signed in: nothing to remove");
    }
    if (targets.length > 1 && !values.all) {
      throw new UsageError(
        `Several accounts are cached (${
          targets.map((a) => a.username).join(", ")
        }); choose one with --account, or use --all`,
      );
    }
    for (const account of targets) {
      const client = makeClient(
        {
          ...settings,
          authority: account.authority,
          clientId: account.clientId,
          provider: account.provider,
        },
        cache,
        io,
        values,
      );
      const { revoked } = await client.removeAccount(
        account,
        io.signal ? { signal: io.signal } : {},
      );
      io.stderr(
        `Signed out ${account.username} (${account.authority})${
          revoked ? "; the refresh token was revoked at the server" : ""
        }\n`,
      );
    }
    return EXIT.ok;
  });
}

async function status(values: Values, io: CliIo): Promise<number> {
  return await withCache(values, io, async (cache) => {
    const state = await cache.status();
    const now = Date.now();
    const json = {
      cache: state.location,
      accounts: state.accounts.map((a) => ({
        ...accountJson(a),
        refreshToken: a.hasRefreshToken,
        accessTokens: a.accessTokens.map((t) => ({
          scopes: t.scopes,
          expiresAt: t.expiresAt === undefined ? null : new Date(t.expiresAt).toISOString(),
          expired: t.expiresAt !== undefined && t.expiresAt <= now,
        })),
      })),
      skipped: state.skipped,
    };
    if (values.json) {
      await io.stdout(JSON.stringify(json) + "\n");
    } else {
      const lines = [`Cache: ${state.location}`];
      if (json.accounts.length === 0) lines.push("Not signed in.");
      for (const a of json.accounts) {
        lines.push(`Account ${a.username} (${a.homeAccountId})`);
        lines.push(
          `  authority ${a.authority}, client ${a.clientId}${
            a.tenantId ? `, tenant ${a.tenantId}` : ""
          }`,
        );
        lines.push(`  refresh token: ${a.refreshToken ? "cached" : "none"}`);
        for (const t of a.accessTokens) {
          lines.push(
            `  access token for [${t.scopes.join(" ") || "(no scopes)"}]: ${
              t.expiresAt === null
                ? "no expiry given"
                : `${t.expired ? "expired" : "expires"} ${t.expiresAt}`
            }`,
          );
        }
      }
      for (const s of state.skipped) lines.push(`Skipped ${s.key}: ${s.reason}`);
      await io.stdout(lines.join("\n") + "\n");
    }
    return json.accounts.length ? EXIT.ok : EXIT.signInNeeded;
  });
}

// ------------------------------------------------------------------ helpers

async function withCache(
  values: Values,
  io: CliIo,
  run: (cache: TokenCache) => Promise<number>,
): Promise<number> {
  const cache = await openCache(values, io);
  try {
    return await run(cache);
  } finally {
    cache.close();
  }
}

async function openCache(values: Values, io: CliIo): Promise<TokenCache> {
  const location = (values.cache as string | undefined) ?? io.env("DEVICEFLOW_CACHE") ??
    defaultCachePath();
  if (!kvAvailable() && location !== ":memory:") {
    io.stderr(
      "deviceflow: Deno KV is not enabled, so tokens will not be kept after this command; run with --unstable-kv to keep them\n",
    );
    return TokenCache.memory();
  }
  const warning = await exposure(location);
  if (warning) io.stderr(`deviceflow: warning: ${warning}\n`);
  return await TokenCache.open(location);
}

function accountFilter(
  values: Values,
  env: CliIo["env"],
): { authority?: string; clientId?: string } {
  const filter: { authority?: string; clientId?: string } = {};
  const authority = (values.authority as string | undefined) ?? env("DEVICEFLOW_AUTHORITY");
  const clientId = (values["client-id"] as string | undefined) ?? env("DEVICEFLOW_CLIENT_ID");
  if (authority) filter.authority = authority.replace(/\/+$/, "");
  if (clientId) filter.clientId = clientId;
  return filter;
}

function makeClient(
  settings: ServerSettings,
  cache: TokenCache,
  io: CliIo,
  values: Values,
): DeviceFlowClient {
  if (!settings.clientId) {
    throw new UsageError("A client ID is needed: pass --client-id or set DEVICEFLOW_CLIENT_ID");
  }
  const options: DeviceFlowClientOptions = {
    clientId: settings.clientId,
    cache,
    defaultScopes: settings.defaultScopes,
    fetch: values.verbose ? verboseFetch(io) : (io.fetch ?? ((input, init) => fetch(input, init))),
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

/** The client for `token`: from the options, or, when they name no server, from the cache's only account. */
async function clientFromCache(
  settings: ServerSettings,
  cache: TokenCache,
  io: CliIo,
  values: Values,
): Promise<DeviceFlowClient> {
  const named = settings.clientId &&
    (settings.authority || settings.tokenEndpoint || settings.provider);
  if (named) return makeClient(settings, cache, io, values);
  let candidates: CachedAccount[] = await cache.getAccounts(accountFilter(values, io.env));
  if (values.account) {
    const name = (values.account as string).toLowerCase();
    candidates = candidates.filter((a) =>
      a.username.toLowerCase() === name || a.homeAccountId === values.account
    );
  }
  const servers = new Map(candidates.map((a) => [`${a.authority} ${a.clientId}`, a]));
  if (servers.size === 0) {
    if (!settings.clientId) {
      throw new InteractionRequiredError(
        "Not signed in; run: deviceflow login --authority URL --client-id ID",
      );
    }
    return makeClient(settings, cache, io, values);
  }
  if (servers.size > 1) {
    throw new UsageError(
      "Accounts of several servers or clients are cached; pass --authority and --client-id (or --account)",
    );
  }
  const account = [...servers.values()][0]!;
  return makeClient(
    {
      ...settings,
      authority: account.authority,
      clientId: account.clientId,
      provider: account.provider,
    },
    cache,
    io,
    values,
  );
}

async function signIn(
  client: DeviceFlowClient,
  scopes: string[],
  io: CliIo,
  values: Values,
  timeout: number | undefined,
): Promise<TokenResult> {
  const signal = io.signal;
  const code = await client.initiateDeviceFlow({ scopes, ...(signal ? { signal } : {}) });
  const color = io.stderrIsTerminal && !io.env("NO_COLOR");
  const out = {
    write: io.stderr,
    terminal: io.stderrIsTerminal,
    color,
    verbose: values.verbose === true,
    now: () => Date.now(),
  };
  showPrompt(out, code);
  const waiting = startWaiting(out, code);
  try {
    const result = await client.acquireTokenByDeviceFlow(code, {
      ...(signal ? { signal } : {}),
      ...(timeout !== undefined ? { timeout } : {}),
      onPending: waiting.report,
    });
    waiting.stop();
    io.stderr(`Signed in as ${result.account.username}.\n`);
    return result;
  } catch (error) {
    waiting.stop();
    throw error;
  }
}

function accountJson(account: Account) {
  return {
    username: account.username,
    homeAccountId: account.homeAccountId,
    tenantId: account.tenantId ?? null,
    authority: account.authority,
    clientId: account.clientId,
  };
}

function summary(result: TokenResult) {
  return {
    ...accountJson(result.account),
    scopes: result.scopes,
    expiresAt: result.expiresAt?.toISOString() ?? null,
  };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
    .join("\n") + "\n";
}

function verboseFetch(io: CliIo): typeof fetch {
  const base = io.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    // The query is left out: it is where a complete verification address keeps the code.
    const where = `${init?.method ?? "GET"} ${url.origin}${url.pathname}`;
    const started = performance.now();
    io.stderr(`> ${where}\n`);
    try {
      const response = await base(input, init);
      io.stderr(`< ${response.status} ${where} (${Math.round(performance.now() - started)} ms)\n`);
      return response;
    } catch (error) {
      io.stderr(
        `< failed ${where} (${Math.round(performance.now() - started)} ms): ${
          redact((error as Error).message ?? String(error)).split("\n")[0]
        }\n`,
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
function report(error: unknown, io: CliIo, command: string): number {
  const line = (text: string) => io.stderr(`deviceflow: ${redact(text).split("\n")[0]}\n`);
  if (error instanceof UsageError) {
    line(error.message);
    io.stderr(`Run 'deviceflow ${command} --help' for usage.\n`);
    return EXIT.usage;
  }
  if (!(error instanceof DeviceFlowError)) {
    if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
      line(`${(error as Error).message}`);
      return EXIT.error;
    }
    line(`unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.error;
  }
  let text = error.message;
  if (error instanceof ServerError) {
    const ids = [
      error.traceId ? `trace ID ${error.traceId}` : "",
      error.correlationId ? `correlation ID ${error.correlationId}` : "",
    ].filter(Boolean);
    if (ids.length) text += ` (${ids.join(", ")})`;
  }
  line(text);
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
      return error instanceof CacheError ? EXIT.error : EXIT.error;
  }
}

function processIo(): CliIo {
  const encoder = new TextEncoder();
  const writeAll = (file: typeof Deno.stdout, text: string) => {
    const bytes = encoder.encode(text);
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
  };
  return {
    stdout: (text) => writeAll(Deno.stdout, text),
    stderr: (text) => writeAll(Deno.stderr, text),
    env: (name) => {
      try {
        return Deno.env.get(name);
      } catch {
        return undefined;
      }
    },
    stderrIsTerminal: Deno.stderr.isTerminal(),
  };
}

if (import.meta.main) {
  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    // A second Ctrl-C does not wait for the clean stop.
    if (++interrupts > 1) Deno.exit(EXIT.interrupted);
    controller.abort(new DOMException("Interrupted", "AbortError"));
  };
  try {
    Deno.addSignalListener("SIGINT", onInterrupt);
  } catch {
    // Signals cannot be listened to everywhere (Windows has only SIGINT and SIGBREAK).
  }
  const code = await main(Deno.args, { ...processIo(), signal: controller.signal });
  Deno.exit(code);
}
