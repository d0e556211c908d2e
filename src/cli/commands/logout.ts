/**
 * `deviceflow logout`.
 *
 * @module
 */

import { optionsFor } from "../settings.ts";
import type { DeviceFlowClient } from "../../client/client.ts";
import { InteractionRequiredError } from "../../errors.ts";
import { serverSettings, UsageError, type Values } from "../args.ts";
import { accountClient, accountFilter, namedAccounts } from "../session.ts";
import { type Command, withCache } from "../context.ts";
import { commandHelp } from "../help.ts";
import { EXIT } from "../io.ts";
import { type GuardedIo, oneLine } from "../format.ts";

const OPTIONS = optionsFor("logout");

// Built when asked for: a cached `token` never shows help.
const help = () =>
  commandHelp({
    usage: "deviceflow logout [--account NAME | --all] [options]",
    about: `Removes an account's tokens from the cache. Where the server has a revocation endpoint
(RFC 7009), the refresh token is revoked there too; when the server refuses or cannot be
reached, the logout still happens and says that the refresh token stays valid at the server
until it expires. Logging out of the active account makes the most recent other one active.`,
    options: OPTIONS,
    examples: [
      "deviceflow logout",
      "deviceflow logout --account alice@contoso.com",
      "deviceflow logout --all",
    ],
  });

async function logout(values: Values, io: GuardedIo): Promise<number> {
  const settings = serverSettings(values, io.env);
  if (values.all && values.account) throw new UsageError("--account and --all exclude each other");
  return await withCache(values, io, async (cache) => {
    let targets = await cache.getAccounts(accountFilter(values, io.env));
    if (values.account) targets = namedAccounts(targets, values.account as string);
    if (targets.length === 0) {
      // Nothing to sign out is what --all asked for; a named or implied account is missing.
      if (values.all) {
        io.stderr("Not signed in: nothing to sign out\n");
        return EXIT.ok;
      }
      throw new InteractionRequiredError("Not signed in: nothing to sign out");
    }
    if (targets.length > 1 && !values.all) {
      throw new UsageError(
        `Several accounts are cached (${
          targets.map((a) => a.username).join(", ")
        }); choose one with --account, or use --all`,
      );
    }
    for (const account of targets) {
      const client = accountClient(account, settings, cache, io, values);
      const wasActive = (await client.getActiveAccount())?.homeAccountId === account.homeAccountId;
      const outcome = await client.removeAccount(
        account,
        io.signal ? { signal: io.signal } : {},
      );
      io.stderr(
        `Signed out ${oneLine(account.username)} (${oneLine(account.authority)})${
          REVOCATION[outcome.revocation](outcome.status)
        }\n`,
      );
      if (wasActive && !values.all) {
        const active = await client.getActiveAccount();
        if (active) io.stderr(`The active account is now ${oneLine(active.username)}\n`);
      }
    }
    return EXIT.ok;
  }, { net: true });
}

const STAYS_VALID = "so it stays valid at the server until it expires";
/** What the logout line says of the revocation. */
const REVOCATION: Record<
  Awaited<ReturnType<DeviceFlowClient["removeAccount"]>>["revocation"],
  (status?: number) => string
> = {
  revoked: () => "; the refresh token was revoked at the server",
  none: () => "",
  unsupported: () => `; the server offers no revocation of the refresh token, ${STAYS_VALID}`,
  refused: (status) =>
    `; the server refused to revoke the refresh token (HTTP ${status}), ${STAYS_VALID}`,
  failed: () => `; the refresh token could not be revoked at the server, ${STAYS_VALID}`,
};

/** `deviceflow logout`. */
export const command: Command = {
  summary: "Remove an account's tokens (and revoke its refresh token at the server)",
  options: OPTIONS,
  get help() {
    return help();
  },
  run: logout,
};
