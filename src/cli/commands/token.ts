/**
 * `deviceflow token`.
 *
 * @module
 */

import { optionsFor } from "../settings.ts";
import { CacheError, DeviceFlowError } from "../../errors.ts";
import type { TokenCache } from "../../cache/token_cache.ts";
import { clientIdentity } from "../../client/options.ts";
import { DEFAULT_MIN_TTL_SECONDS, lookupCachedToken } from "../../client/silent.ts";
import { resourceScopes, splitScopes } from "../../scopes.ts";
import type { TokenResult } from "../../types.ts";
import {
  leaseTtl,
  requestTimeouts,
  seconds,
  type ServerSettings,
  serverSettings,
  UsageError,
  type Values,
} from "../args.ts";
import { type Format, FORMATS, formatToken } from "../token_output.ts";
import { type Command, withCache } from "../context.ts";
import { commandHelp } from "../help.ts";
import { EXIT } from "../io.ts";
import type { GuardedIo } from "../format.ts";

async function token(values: Values, io: GuardedIo): Promise<number> {
  // --json, as status and accounts have it, is -o json.
  if (values.json && values.output !== undefined && values.output !== "json") {
    throw new UsageError(`--json and --output ${values.output} exclude each other`);
  }
  const output = (values.output as string | undefined) ?? (values.json ? "json" : "raw");
  if (!FORMATS.includes(output as Format)) {
    throw new UsageError(`--output must be one of ${FORMATS.join(", ")}, not "${output}"`);
  }
  const settings = serverSettings(values, io.env);
  seconds(values.timeout, "--timeout");
  const minTtl = seconds(values["min-ttl"], "--min-ttl", true);
  requestTimeouts(values, io.env);
  leaseTtl(io.env);
  const print = async (result: TokenResult) => {
    await io.stdout(formatToken(result, output as Format, io.env));
    return EXIT.ok;
  };
  return await withCache(values, io, async (cache) => {
    const cached = values["force-refresh"]
      ? undefined
      : await cachedToken(settings, cache, values, minTtl);
    if (cached) return await print(cached);
    // A miss: the client, HTTP and the protocol are loaded only now.
    const { tokensFromCache } = await import("../tokens.ts");
    return await tokensFromCache(
      values,
      io,
      cache,
      settings,
      async (getToken) => await print(await getToken()),
    );
  }, { net: true });
}

/**
 * The hot path: a fresh cached token for the server the options name, by the
 * library's own lookup, without making a client. `undefined` sends `token`
 * down the full path, which also says what is wrong when something is.
 */
async function cachedToken(
  settings: ServerSettings,
  cache: TokenCache,
  values: Values,
  minTtl: number | undefined,
): Promise<TokenResult | undefined> {
  // A server the options do not name comes from the cache's accounts: the full path.
  if (!settings.clientId || !(settings.authority || settings.tokenEndpoint || settings.provider)) {
    return undefined;
  }
  let authority: string;
  try {
    authority = clientIdentity({
      authority: settings.authority,
      provider: settings.provider,
      endpoints: settings.deviceEndpoint && settings.tokenEndpoint
        ? { deviceAuthorization: settings.deviceEndpoint, token: settings.tokenEndpoint }
        : undefined,
    }).authority;
  } catch {
    return undefined;
  }
  try {
    const { result } = await lookupCachedToken(cache, {
      authority,
      clientId: settings.clientId,
      account: values.account as string | undefined,
      scopes: resourceScopes(splitScopes(settings.scopes)),
      minTtlMs: (minTtl ?? DEFAULT_MIN_TTL_SECONDS) * 1000,
      now: Date.now(),
      // No output format shows the ID token's claims.
      idTokenClaims: false,
    });
    return result;
  } catch (error) {
    // No such account, or several: the full path says so, as it always has.
    if (error instanceof DeviceFlowError && !(error instanceof CacheError)) return undefined;
    throw error;
  }
}

const OPTIONS = optionsFor("token");

// Built when asked for: a cached `token` never shows help.
const help = () =>
  commandHelp({
    usage: "deviceflow token [options]",
    about: `Prints a valid access token on stdout: from the cache, by a silent refresh, or, when
nothing else works, by a device code sign-in. A sign-in starts only where a person can see
the code (a terminal, --json-events, --interactive, or kubectl's interactive mode); elsewhere
it exits 3 with the login command to run. A sign-in started with 'login --no-wait' and
approved since is finished with one poll.`,
    options: OPTIONS,
    examples: [
      "deviceflow token",
      'curl -H "Authorization: Bearer $(deviceflow token)" https://graph.microsoft.com/v1.0/me',
      "deviceflow token --account bob@contoso.com -o header",
      "deviceflow token --profile k8s -o exec-credential   # in a kubeconfig exec plugin",
    ],
  });

/** `deviceflow token`. */
export const command: Command = {
  summary: "Print an access token: from the cache, by a silent refresh, or by signing in",
  options: OPTIONS,
  get help() {
    return help();
  },
  run: token,
};
