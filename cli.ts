/**
 * The `deviceflow` command: sign in with a device code, print tokens for
 * scripts, and manage the cached accounts. Library code never prints or
 * exits; the commands in `src/cli/` turn its results and typed errors into
 * text and exit codes.
 *
 * @example Run it from a Deno program
 * ```ts
 * import { main } from "@deviceflow/deviceflow/cli";
 *
 * // Prints "deviceflow <version>" on this process's stdout.
 * const code = await main(["--version"]);
 * if (code !== 0) throw new Error(`deviceflow exited ${code}`);
 * ```
 *
 * @module
 */

import { parseCommand, type Values } from "./src/cli/args.ts";
import { type Command, report } from "./src/cli/common.ts";
import { EXIT_HELP } from "./src/cli/help.ts";
import { type CliIo, EXIT, interrupts, processIo } from "./src/cli/io.ts";
import { command as accounts } from "./src/cli/accounts.ts";
import { completionsCommand } from "./src/cli/completions.ts";
import { command as config } from "./src/cli/config.ts";
import { command as decode } from "./src/cli/decode.ts";
import { command as fetchCommand } from "./src/cli/fetch.ts";
import { command as gitCredential } from "./src/cli/git_credential.ts";
import { command as login } from "./src/cli/login.ts";
import { command as logout } from "./src/cli/logout.ts";
import { command as run } from "./src/cli/run.ts";
import { command as status } from "./src/cli/status.ts";
import { command as token } from "./src/cli/token.ts";
import { VERSION } from "./src/version.ts";

export { type CliIo, EXIT } from "./src/cli/io.ts";

const COMMANDS: Readonly<Record<string, Command>> = {
  login,
  token,
  accounts,
  logout,
  status,
  "git-credential": gitCredential,
  config,
  fetch: fetchCommand,
  run,
  decode,
  completions: completionsCommand(() => COMMANDS),
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 3;
  const list = Object.entries(COMMANDS)
    .map(([name, command]) => `  ${name.padEnd(width)}${command.summary}`)
    .join("\n");
  return `deviceflow ${VERSION}: sign in with a device code (OAuth 2.0, RFC 8628) and print tokens for scripts

Usage: deviceflow <command> [options]

Commands:
${list}

Run 'deviceflow <command> --help' for a command's options.

${EXIT_HELP}`;
}

/**
 * Runs the CLI.
 *
 * @param args The command-line arguments.
 * @param io Where to read and write (default: the process's).
 * @returns The exit code.
 *
 * @example Get a token for a program, or learn that a sign-in is needed
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT, main } from "@deviceflow/deviceflow/cli";
 *
 * let token = "";
 * const code = await main(["token", "--cache", ":memory:", "--no-interactive"], {
 *   stdout: (text) => {
 *     token += text;
 *   },
 *   stderr: (text) => console.error(text.trimEnd()),
 *   env: () => undefined,
 *   stderrIsTerminal: false,
 * });
 * // Nothing is in this cache: "deviceflow login" first.
 * assert.equal(code, EXIT.signInNeeded);
 * assert.equal(token, "");
 * ```
 */
export async function main(args: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    const topic = name === "help" && rest[0] ? COMMANDS[rest[0]] : undefined;
    if (name === undefined) {
      io.stderr(usage());
      return EXIT.usage;
    }
    await io.stdout(topic ? topic.help : usage());
    return EXIT.ok;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    await io.stdout(`deviceflow ${VERSION}\n`);
    return EXIT.ok;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr(`deviceflow: unknown command "${name}"\nRun 'deviceflow --help' for usage.\n`);
    return EXIT.usage;
  }
  let values: Values | undefined;
  try {
    const parsed = parseCommand(name, command.options, rest, command.positionals);
    values = parsed.values;
    if (values.help) {
      await io.stdout(command.help);
      return EXIT.ok;
    }
    return await command.run(values, io, parsed.positionals);
  } catch (error) {
    return report(error, io, name, values?.["json-events"] === true);
  }
}

if (import.meta.main) {
  const controller = new AbortController();
  let interrupted = 0;
  const onInterrupt = () => {
    // A second Ctrl-C does not wait for the clean stop.
    if (++interrupted > 1 && !interrupts.deferToChild) Deno.exit(EXIT.interrupted);
    controller.abort(new DOMException("Interrupted", "AbortError"));
  };
  try {
    Deno.addSignalListener("SIGINT", onInterrupt);
  } catch {
    // Signals cannot be listened to everywhere.
  }
  Deno.exit(await main(Deno.args, { ...processIo(), signal: controller.signal }));
}
