/**
 * `deviceflow login`.
 *
 * @module
 */

import { COMMON, seconds, SERVER, serverSettings, SIGN_IN, type Values } from "./args.ts";
import { type Command, makeClient, signIn, summary, withCache } from "./common.ts";
import { COMMON_HELP, SERVER_HELP } from "./help.ts";
import { type CliIo, EXIT } from "./io.ts";

const HELP = `Usage: deviceflow login [options]

Signs in with a device code: shows an address and a code on stderr, waits while you
sign in on another device, caches the tokens, and prints a JSON summary of the account
(no token) on stdout.

  --timeout SECONDS        Give up after this long (default: when the code expires)

${SERVER_HELP}
${COMMON_HELP}`;

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

/** `deviceflow login`. */
export const command: Command = {
  summary: "Sign in with a device code and cache the tokens",
  options: { ...COMMON, ...SERVER, ...SIGN_IN },
  help: HELP,
  run: login,
};
