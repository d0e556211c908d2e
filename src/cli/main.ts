/**
 * The CLI's dispatch: which command runs, its help and the usage, and the
 * one place where an error becomes a line and an exit code. Each command's
 * module is loaded when it runs. `cli.ts` is the entry that runs this.
 *
 * @module
 */

import { parseCommand, type Values } from "./args.ts";
import type { Command } from "./context.ts";
import { guardIo } from "./format.ts";
import { type CliIo, EXIT, processIo } from "./io.ts";
import { VERSION } from "../version.ts";

// Each command's module is loaded when it runs, so that `deviceflow token`
// does not pay for the modules of the others at start-up.
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  login: async () => (await import("./commands/login.ts")).command,
  token: async () => (await import("./commands/token.ts")).command,
  accounts: async () => (await import("./commands/accounts.ts")).command,
  logout: async () => (await import("./commands/logout.ts")).command,
  switch: async () => (await import("./commands/switch.ts")).command,
  status: async () => (await import("./commands/status.ts")).command,
  "git-credential": async () => (await import("./commands/git_credential.ts")).command,
  config: async () => (await import("./commands/config.ts")).command,
  fetch: async () => (await import("./commands/fetch.ts")).command,
  run: async () => (await import("./commands/run.ts")).command,
  decode: async () => (await import("./commands/decode.ts")).command,
  completions: async () =>
    (await import("./commands/completions.ts")).completionsCommand(loadCommands),
};

/** Every command, loaded: for the help and the completion scripts. */
async function loadCommands(): Promise<Record<string, Command>> {
  const entries = await Promise.all(
    Object.entries(COMMANDS).map(async ([name, load]) => [name, await load()] as const),
  );
  return Object.fromEntries(entries);
}

async function usage(): Promise<string> {
  const commands = await loadCommands();
  const width = Math.max(...Object.keys(commands).map((name) => name.length)) + 3;
  const list = Object.entries(commands)
    .map(([name, command]) => `  ${name.padEnd(width)}${command.summary}`)
    .join("\n");
  return `deviceflow ${VERSION}: sign in with a device code (OAuth 2.0, RFC 8628) and print tokens for scripts

Usage: deviceflow <command> [options]

Commands:
${list}

Run 'deviceflow <command> --help' for a command's options.

${(await import("./help.ts")).EXIT_HELP}`;
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
export async function main(args: string[], rawIo: CliIo = processIo()): Promise<number> {
  // Every byte of text the commands write passes the terminal sanitizer.
  const io = guardIo(rawIo);
  const [name, ...rest] = args;
  const known = (name: string | undefined) =>
    name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    if (name === undefined) {
      io.stderr(await usage());
      return EXIT.usage;
    }
    const topic = name === "help" ? known(rest[0]) : undefined;
    await io.stdout(topic ? (await topic()).help : await usage());
    return EXIT.ok;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    await io.stdout(`deviceflow ${VERSION}\n`);
    return EXIT.ok;
  }
  const load = known(name);
  if (!load) {
    const { didYouMean } = await import("../suggest.ts");
    const guess = didYouMean(name, Object.keys(COMMANDS), (c) => `'deviceflow ${c}'`);
    io.stderr(
      `deviceflow: unknown command "${name}"${guess}\nRun 'deviceflow --help' for usage.\n`,
    );
    return EXIT.usage;
  }
  let values: Values | undefined;
  // A cached `token` waits for nothing: it listens for Ctrl-C only when it
  // goes to the network (src/cli/tokens.ts).
  if (name !== "token") io.listenForInterrupts?.();
  try {
    const command = await load();
    const parsed = parseCommand(name, command.options, rest, command.positionals);
    values = parsed.values;
    if (values.help) {
      await io.stdout(command.help);
      return EXIT.ok;
    }
    return await command.run(values, io, parsed.positionals);
  } catch (error) {
    // A reader that closed stdout early (| head) wants no more, and no message.
    if (error instanceof Deno.errors.BrokenPipe) return EXIT.outputClosed;
    // The error path loads its own modules: a cached token does not pay for them.
    const [{ report }, { chooseLocale }] = await Promise.all([
      import("./exit.ts"),
      import("../i18n/choose.ts"),
    ]);
    return report(
      error,
      io,
      name,
      values?.["json-events"] === true,
      chooseLocale(values?.lang as string | undefined, io.env),
    );
  }
}
