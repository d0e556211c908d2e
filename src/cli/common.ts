/**
 * What the commands share: opening the cache, building the client, signing
 * in with a prompt on stderr, and turning errors into one line and an exit code.
 *
 * @module
 */

import { type CachedAccount, exposure, kvAvailable, TokenCache } from "../../cache.ts";
import { DeviceFlowClient, type DeviceFlowClientOptions } from "../client.ts";
import { DeviceFlowError, InteractionRequiredError, ServerError } from "../errors.ts";
import { redact } from "../redact.ts";
import type { Account, TokenResult } from "../types.ts";
import { type ServerSettings, UsageError, type Values } from "./args.ts";
import { type CliIo, EXIT } from "./io.ts";
import { showPrompt, startWaiting } from "./prompt.ts";
import { defaultCachePath } from "../paths.ts";

/** A command of the CLI. */
export interface Command {
  /** What `deviceflow --help` says of it. */
  readonly summary: string;
  /** Its options, in node:util parseArgs form. */
  readonly options: import("./args.ts").Options;
  /** What `deviceflow <command> --help` prints. */
  readonly help: string;
  /** Runs it; returns the exit code. */
  run(values: Values, io: CliIo): Promise<number>;
}

export async function withCache(
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

export async function openCache(values: Values, io: CliIo): Promise<TokenCache> {
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

export function accountFilter(
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

export function makeClient(
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
export async function clientFromCache(
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

export async function signIn(
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

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
    .join("\n") + "\n";
}

export function verboseFetch(io: CliIo): typeof fetch {
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
export function report(error: unknown, io: CliIo, command: string): number {
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
      return EXIT.error;
  }
}
