/**
 * `deviceflow git-credential get|store|erase`: git's credential helper
 * protocol on stdin and stdout, so that `git config credential.helper` can
 * point at deviceflow and git gets a fresh access token as the password.
 *
 * @module
 */

import { UsageError, type Values } from "./args.ts";
import type { Command } from "./common.ts";
import { COMMON_HELP, SERVER_HELP } from "./help.ts";
import { type CliIo, EXIT } from "./io.ts";
import { TOKEN_OPTIONS, withToken } from "./token.ts";

const HELP = `Usage: deviceflow git-credential [token options] get|store|erase

A git credential helper. For "get" it reads git's request from stdin and answers with
username=<the account> and password=<a valid access token> (and password_expiry_utc);
"store" and "erase" are accepted and change nothing (the cache keeps the tokens).
Configure it for one host:

  git config --global credential.https://github.com.helper \\
    '!deviceflow git-credential --provider github --client-id <ID>'

Token options are those of 'deviceflow token' (--scope, --account, --no-interactive, ...).

${SERVER_HELP}
${COMMON_HELP}`;

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

async function readStdin(io: CliIo): Promise<string> {
  return io.stdin ? await io.stdin() : "";
}

async function gitCredential(values: Values, io: CliIo, args: string[]): Promise<number> {
  const action = args[0];
  if (args.length !== 1 || !["get", "store", "erase"].includes(action!)) {
    throw new UsageError("git-credential takes one action: get, store or erase");
  }
  const request = parseCredentialRequest(await readStdin(io));
  if (action !== "get") return EXIT.ok;
  // git runs helpers with a terminal on stderr only; the prompt goes there.
  return await withToken({ ...values, "no-color": true }, io, async (result) => {
    const lines = [
      ...["protocol", "host", "path"].flatMap((key) =>
        request.has(key) ? [`${key}=${request.get(key)}`] : []
      ),
      `username=${result.account.username}`,
      `password=${result.accessToken}`,
    ];
    if (result.expiresAt) {
      lines.push(`password_expiry_utc=${Math.floor(result.expiresAt.getTime() / 1000)}`);
    }
    await io.stdout(lines.join("\n") + "\n\n");
    return EXIT.ok;
  });
}

/** `deviceflow git-credential`. */
export const command: Command = {
  summary: "A git credential helper: a fresh access token as git's password",
  options: TOKEN_OPTIONS,
  help: HELP,
  positionals: true,
  run: (values, io, positionals = []) => gitCredential(values, io, positionals),
};
