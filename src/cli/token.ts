/**
 * `deviceflow token`.
 *
 * @module
 */

import { InteractionRequiredError } from "../errors.ts";
import type { TokenResult } from "../types.ts";
import {
  COMMON,
  seconds,
  SERVER,
  serverSettings,
  SIGN_IN,
  UsageError,
  type Values,
} from "./args.ts";
import { accountJson, clientFromCache, type Command, signIn, withCache } from "./common.ts";
import { COMMON_HELP, SERVER_HELP } from "./help.ts";
import { type CliIo, EXIT } from "./io.ts";

const HELP = `Usage: deviceflow token [options]

Prints a valid access token on stdout: from the cache, by a silent refresh, or, when
nothing else works, by a device code sign-in.

  --account NAME           Which cached account (username or home account ID)
  --min-ttl SECONDS        The token must live at least this long (default 300)
  --force-refresh          Refresh even when the cached token is good
  --no-interactive         Never sign in; exit 3 when a sign-in is needed
  -o, --output FORMAT      raw (default: the token alone) or json
  --timeout SECONDS        Give up a sign-in after this long

${SERVER_HELP}
${COMMON_HELP}`;

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

/** `deviceflow token`. */
export const command: Command = {
  summary: "Print an access token: from the cache, by a silent refresh, or by signing in",
  options: {
    ...COMMON,
    ...SERVER,
    ...SIGN_IN,
    account: { type: "string" },
    "min-ttl": { type: "string" },
    "force-refresh": { type: "boolean" },
    "no-interactive": { type: "boolean" },
    output: { type: "string", short: "o" },
  },
  help: HELP,
  run: token,
};
