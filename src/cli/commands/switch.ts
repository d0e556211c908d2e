/**
 * `deviceflow switch`: which cached account `token` uses when several are
 * signed in and none is named, as `gh auth switch` does.
 *
 * @module
 */

import { optionsFor } from "../settings.ts";
import type { CachedAccount } from "../../../cache.ts";
import { InteractionRequiredError } from "../../errors.ts";
import { UsageError, type Values } from "../args.ts";
import { accountFilter, namedAccounts } from "../session.ts";
import { type Command, withCache } from "../context.ts";
import { type GuardedIo, oneLine } from "../format.ts";
import { commandHelp } from "../help.ts";
import { EXIT } from "../io.ts";

const OPTIONS = optionsFor("switch");

// Built when asked for: a cached `token` never shows help.
const help = () =>
  commandHelp({
    usage: "deviceflow switch [--account NAME] [--authority URL] [--client-id ID]",
    about: `Makes a cached account the active one of its authority and client: the account that
'token' (and 'fetch', 'run', 'git-credential') uses when several are signed in and --account
names none. 'login' makes the account it signs in active; 'logout' of the active account makes
the most recent other one active. With no --account and several accounts, it lists them and
asks which when stdin and stderr are a terminal; elsewhere it lists them and exits 2.`,
    options: OPTIONS,
    examples: [
      "deviceflow switch --account bob@contoso.com",
      "deviceflow switch                      # on a terminal: pick from the list",
    ],
  });

async function switchAccount(values: Values, io: GuardedIo): Promise<number> {
  return await withCache(values, io, async (cache) => {
    const all = await cache.getAccounts(accountFilter(values, io.env));
    if (all.length === 0) {
      throw new InteractionRequiredError("Not signed in: there is no account to switch to");
    }
    const chosen = values.account
      ? only(namedAccounts(all, values.account as string), values.account as string)
      : all.length === 1
      ? all[0]!
      : await ask(all, io, await cache.activeAmong(all));
    await cache.setActiveAccount(chosen);
    io.stderr(
      `Switched to ${oneLine(chosen.username)} (${oneLine(chosen.authority)}, client ${
        oneLine(chosen.clientId)
      })\n`,
    );
    return EXIT.ok;
  });
}

function only(named: CachedAccount[], name: string): CachedAccount {
  if (named.length > 1) {
    throw new UsageError(
      `Accounts named ${name} are cached for several servers or clients; pass --authority and --client-id`,
    );
  }
  return named[0]!;
}

/** Lists the accounts and, on a terminal, asks which; elsewhere a usage error. */
async function ask(
  accounts: CachedAccount[],
  io: GuardedIo,
  active: boolean[],
): Promise<CachedAccount> {
  const list = accounts.map((a, i) =>
    `  ${i + 1}. ${oneLine(a.username)} (${oneLine(a.authority)}, client ${oneLine(a.clientId)})${
      active[i] ? ", active" : ""
    }`
  ).join("\n");
  io.stderr(`Cached accounts:\n${list}\n`);
  if (!(io.stderrIsTerminal && io.stdinIsTerminal && io.readLine)) {
    throw new UsageError("Several accounts are cached: choose one with --account");
  }
  io.stderr(`Switch to which account? [1-${accounts.length}]: `);
  const answer = (await io.readLine())?.trim() ?? "";
  const index = /^\d+$/.test(answer) ? Number(answer) : NaN;
  if (!(index >= 1 && index <= accounts.length)) {
    throw new UsageError(`"${answer}" is not a number from 1 to ${accounts.length}`);
  }
  return accounts[index - 1]!;
}

/** `deviceflow switch`. */
export const command: Command = {
  summary: "Choose the active account: the one token uses when several are cached",
  options: OPTIONS,
  get help() {
    return help();
  },
  run: switchAccount,
};
