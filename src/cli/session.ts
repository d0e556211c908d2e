/**
 * What the commands share: opening the cache, building the client, signing
 * in with a prompt on stderr, and turning errors into one line and an exit code.
 *
 * @module
 */

import { firstLine } from "../untrusted.ts";
import type { CachedAccount, TokenCache } from "../../cache.ts";
import {
  accountMatches,
  DeviceFlowClient,
  type DeviceFlowClientOptions,
} from "../client/client.ts";
import { ExpiredTokenError, InteractionRequiredError } from "../errors.ts";
import { redact } from "../redact.ts";
import type { Provider, TokenResult } from "../types.ts";
import {
  explainSettings,
  selectProfile,
  type ServerSettings,
  UsageError,
  type Values,
} from "./args.ts";
import type { CliIo } from "./io.ts";
import { leaseTtl, requestTimeouts } from "./args.ts";
import { chooseLocale } from "../i18n/choose.ts";
import { accountJson, type GuardedIo, jsonLine, oneLine } from "./format.ts";
import type { SignInView } from "./prompt.ts";
import { notice, permittedFetch } from "./context.ts";

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
    locale: chooseLocale(values.lang as string | undefined, io.env),
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
    locale: chooseLocale(values.lang as string | undefined, io.env),
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
      const reason = firstLine(redact((error as Error).message ?? String(error)));
      io.stderr(
        json
          ? jsonLine({ event: "response", method, url: address, failed: reason, ms: ms() })
          : `< failed ${where} (${ms()} ms): ${reason}\n`,
      );
      throw error;
    }
  };
}
