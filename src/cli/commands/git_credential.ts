/**
 * `deviceflow git-credential get|store|erase`: git's credential helper
 * protocol on stdin and stdout, so that `git config credential.helper` can
 * point at deviceflow and git gets a fresh access token as the password.
 *
 * @module
 */

import { optionsFor } from "../settings.ts";
import { isGitHost } from "../config_file.ts";
import { isLoopback } from "../../url_policy.ts";
import { selectProfile, UsageError, type Values } from "../args.ts";
import type { Command } from "../context.ts";
import { commandHelp } from "../help.ts";
import { EXIT } from "../io.ts";
import type { GuardedIo } from "../format.ts";
import { withTokens } from "../tokens.ts";

/**
 * Reads git's key=value lines up to a blank line or the end.
 *
 * @param text What git wrote.
 * @returns The attributes.
 */
export function parseCredentialRequest(text: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const line of text.split("\n")) {
    const trimmed = line.replace(/\r$/, "");
    if (trimmed === "") break;
    const index = trimmed.indexOf("=");
    if (index > 0) attributes.set(trimmed.slice(0, index), trimmed.slice(index + 1));
  }
  return attributes;
}

async function readStdin(io: GuardedIo): Promise<string> {
  return io.stdin ? await io.stdin() : "";
}

/** What git's protocol cannot carry in a value: each would end or cut the line. */
const UNSAFE_VALUE = /[\r\n\0]/;

/**
 * Whether a request is one this helper answers: https (http only on a
 * loopback address) to one of the hosts it serves.
 *
 * @param request git's attributes.
 * @param hosts The hosts served, lower-case, with a port where one is named.
 * @returns `true` when a token may be given.
 */
export function servesRequest(request: Map<string, string>, hosts: readonly string[]): boolean {
  const protocol = request.get("protocol")?.toLowerCase();
  const host = request.get("host")?.toLowerCase();
  if (!host || !isGitHost(host) || !hosts.includes(host)) return false;
  if (protocol === "https") return true;
  return protocol === "http" && isLoopback(host.replace(/:\d+$/, "").replace(/^\[|\]$/g, ""));
}

async function gitCredential(values: Values, io: GuardedIo, args: string[]): Promise<number> {
  const action = args[0];
  if (args.length !== 1 || !["get", "store", "erase"].includes(action!)) {
    throw new UsageError("git-credential takes one action: get, store or erase");
  }
  const request = parseCredentialRequest(await readStdin(io));
  if (action !== "get") return EXIT.ok;
  const named = gitHosts(values, io);
  // A request for another host is not ours: nothing is opened, nothing is said.
  if (named && !servesRequest(request, named)) return EXIT.ok;
  // git runs helpers with a terminal on stderr only; the prompt goes there.
  return await withTokens({ ...values, "no-color": true }, io, async (getToken, client) => {
    if (!named && !servesRequest(request, [new URL(client.authority).host.toLowerCase()])) {
      return EXIT.ok;
    }
    const result = await getToken();
    // The password line is the real token or nothing: a token git's protocol
    // cannot carry (a damaged cache) gives no answer at all.
    if (UNSAFE_VALUE.test(result.accessToken)) return EXIT.ok;
    const lines = [
      ...["protocol", "host", "path"].flatMap((key) => {
        const value = request.get(key);
        return value === undefined || UNSAFE_VALUE.test(value) ? [] : [`${key}=${value}`];
      }),
      // A name git's protocol cannot carry is left out; git asks for none then.
      ...(UNSAFE_VALUE.test(result.account.username)
        ? []
        : [`username=${result.account.username}`]),
      `password=${result.accessToken}`,
    ];
    if (result.expiresAt) {
      lines.push(`password_expiry_utc=${Math.floor(result.expiresAt.getTime() / 1000)}`);
    }
    await io.stdout(lines.join("\n") + "\n\n");
    return EXIT.ok;
  });
}

/** The hosts named by --git-host or the profile's gitHosts; `undefined`: the authority's. */
function gitHosts(values: Values, io: GuardedIo): string[] | undefined {
  const flags = values["git-host"] as string[] | undefined;
  if (flags?.length) {
    for (const host of flags) {
      if (!isGitHost(host)) {
        throw new UsageError(
          `--git-host must be a host name, with an optional :port, not "${host}"`,
        );
      }
    }
    return flags.map((h) => h.toLowerCase());
  }
  const profile = selectProfile(values, io.env).profile;
  return profile.gitHosts ? [...profile.gitHosts] : undefined;
}

const OPTIONS = optionsFor("git-credential");

// Built when asked for: a cached `token` never shows help.
const help = () =>
  commandHelp({
    usage: "deviceflow git-credential [--git-host HOST]... [token options] get|store|erase",
    about:
      `A git credential helper. For "get" it reads git's request from stdin and, when the request
is for a host it serves, answers with username=<the account> and password=<a valid access
token> (and password_expiry_utc); "store" and "erase" are accepted and change nothing. It
answers only for protocol=https (http only on loopback addresses) and only for the hosts given
with --git-host or a profile's "gitHosts", by default the authority's host (github.com for
--provider github). Any other request gets no answer and exit 0, so that git asks its next
helper: a hostile remote gets no token. A value git's protocol cannot carry (CR, LF, NUL) is
left out.`,
    options: OPTIONS,
    examples: [
      "git config --global credential.https://github.com.helper '!deviceflow git-credential --profile gh'",
      "git config --global credential.https://dev.azure.com.helper '!deviceflow git-credential --git-host dev.azure.com'",
    ],
  });

/** `deviceflow git-credential`. */
export const command: Command = {
  summary: "A git credential helper: a fresh access token as git's password",
  options: OPTIONS,
  get help() {
    return help();
  },
  positionals: true,
  run: (values, io, positionals = []) => gitCredential(values, io, positionals),
};
