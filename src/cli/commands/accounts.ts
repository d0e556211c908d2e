/**
 * `deviceflow accounts`.
 *
 * @module
 */

import { optionsFor } from "../settings.ts";
import type { Values } from "../args.ts";
import { accountFilter } from "../session.ts";
import { accountJson } from "../format.ts";
import { type Command, withCache } from "../context.ts";
import { commandHelp } from "../help.ts";
import { EXIT } from "../io.ts";
import { type GuardedIo, jsonLine, table } from "../format.ts";

const OPTIONS = optionsFor("accounts");

// Built when asked for: a cached `token` never shows help.
const help = () =>
  commandHelp({
    usage: "deviceflow accounts [--json] [--authority URL] [--client-id ID]",
    about: `Lists the cached accounts: username, home account ID, authority and client ID. A * marks
the active account of each authority and client: the one 'token' uses when several are cached
and --account names none ('deviceflow switch' changes it).`,
    options: OPTIONS,
    examples: ["deviceflow accounts", "deviceflow accounts --json"],
  });

async function accounts(values: Values, io: GuardedIo): Promise<number> {
  return await withCache(values, io, async (cache) => {
    const list = await cache.getAccounts(accountFilter(values, io.env));
    const active = await cache.activeAmong(list);
    if (values.json) {
      await io.stdout(jsonLine(list.map((a, i) => ({ ...accountJson(a), active: active[i] }))));
    } else if (list.length === 0) {
      io.stderr("No accounts are cached; sign in with: deviceflow login\n");
    } else {
      await io.stdout(
        table(
          ["ACTIVE", "USERNAME", "HOME ACCOUNT ID", "AUTHORITY", "CLIENT ID"],
          list.map((a, i) => [
            active[i] ? "*" : "",
            a.username,
            a.homeAccountId,
            a.authority,
            a.clientId,
          ]),
        ),
      );
    }
    return EXIT.ok;
  });
}

/** `deviceflow accounts`. */
export const command: Command = {
  summary: "List the cached accounts",
  options: OPTIONS,
  get help() {
    return help();
  },
  run: accounts,
};
