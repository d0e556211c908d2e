/**
 * `deviceflow run`: a command with an access token in its environment.
 *
 * @module
 */

import { optionsFor } from "../settings.ts";
import type { TokenResult } from "../../types.ts";
import { UsageError, type Values } from "../args.ts";
import type { Command } from "../context.ts";
import { commandHelp } from "../help.ts";
import { EXIT, interrupts } from "../io.ts";
import { type GuardedIo, jsonLine } from "../format.ts";
import { withToken } from "../tokens.ts";

/** Signals passed on to the command. */
const FORWARDED: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
const NOT_EXECUTABLE = 126;
const NOT_FOUND = 127;

async function run(values: Values, io: GuardedIo, argv: string[]): Promise<number> {
  const name = (values.env as string | undefined) ?? "ACCESS_TOKEN";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new UsageError(`--env must be an environment variable name, not "${name}"`);
  }
  const [program, ...args] = argv;
  if (program === undefined || program === "") {
    throw new UsageError("run: no command given: deviceflow run [options] -- COMMAND [ARGS...]");
  }
  let token: TokenResult | undefined;
  await withToken(values, io, (result) => {
    token = result;
    return Promise.resolve(EXIT.ok);
  });
  // The cache is closed again before the command starts: it may run for hours.
  const { clear, vars } = withoutSecrets(io);
  const env = { ...vars, [name]: token!.accessToken };
  return await spawn(program, args, env, clear, (code, message) => {
    io.stderr(
      values["json-events"]
        ? jsonLine({ event: "error", code, message, exitCode: exitCodes[code] })
        : `deviceflow: ${message}\n`,
    );
    return exitCodes[code];
  });
}

const exitCodes = { not_found: NOT_FOUND, not_executable: NOT_EXECUTABLE } as const;

/** deviceflow's own secrets: the command gets a token, never the keys to the whole cache. */
const WITHHELD = ["DEVICEFLOW_CACHE_KEY", "DEVICEFLOW_CACHE_KEY_FILE", "DEVICEFLOW_CLIENT_SECRET"];

/**
 * The environment the command gets: deviceflow's, without its secrets. Where
 * deno may read the whole environment, it is copied without them; elsewhere
 * they are passed on empty, which is all a child can be told without it.
 */
function withoutSecrets(io: GuardedIo): { clear: boolean; vars: Record<string, string> } {
  const present = WITHHELD.filter((name) => io.env(name) !== undefined);
  if (present.length === 0) return { clear: false, vars: {} };
  try {
    if (Deno.permissions.querySync({ name: "env" }).state === "granted") {
      const vars = Deno.env.toObject();
      for (const name of WITHHELD) delete vars[name];
      return { clear: true, vars };
    }
  } catch {
    // Not Deno's own process environment: pass them on empty.
  }
  return { clear: false, vars: Object.fromEntries(present.map((name) => [name, ""])) };
}

async function spawn(
  program: string,
  args: string[],
  env: Record<string, string>,
  clearEnv: boolean,
  fail: (code: keyof typeof exitCodes, message: string) => number,
): Promise<number> {
  let child: Deno.ChildProcess | undefined;
  const attached = isAttachedToTerminal();
  const listeners = FORWARDED
    // A terminal sends Ctrl-C's SIGINT to the command too; passing it on would double it.
    .filter((signal) => !(signal === "SIGINT" && attached))
    .map((signal) => [signal, () => child?.kill(signal)] as const);
  for (const [signal, listener] of listeners) {
    try {
      Deno.addSignalListener(signal, listener);
    } catch {
      // Not every platform has every signal (Windows has only SIGINT and SIGBREAK).
    }
  }
  interrupts.deferToChild = true;
  try {
    try {
      child = new Deno.Command(program, {
        args,
        env,
        clearEnv,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return fail("not_found", `run: command not found: ${program}`);
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        return fail("not_executable", `run: cannot execute ${program}: permission denied`);
      }
      throw error;
    }
    const status = await child.status;
    // Deno reports a command killed by signal N as code 128+N, as shells do.
    return status.code;
  } finally {
    interrupts.deferToChild = false;
    for (const [signal, listener] of listeners) {
      try {
        Deno.removeSignalListener(signal, listener);
      } catch {
        // It was never added.
      }
    }
  }
}

function isAttachedToTerminal(): boolean {
  try {
    return Deno.stdin.isTerminal() || Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

const OPTIONS = optionsFor("run");

// Built when asked for: a cached `token` never shows help.
const help = () =>
  commandHelp({
    usage: "deviceflow run [token options] [--env NAME] -- COMMAND [ARGS...]",
    about:
      `Runs COMMAND with a valid access token in its environment, in ACCESS_TOKEN or the variable
--env names; the token never appears on a command line. deviceflow's own secrets
(DEVICEFLOW_CACHE_KEY, DEVICEFLOW_CACHE_KEY_FILE, DEVICEFLOW_CLIENT_SECRET) are not passed
on. The command gets deviceflow's stdin, stdout and stderr, and the SIGINT, SIGTERM and
SIGHUP sent to deviceflow (SIGINT only when no terminal is attached: a terminal's Ctrl-C
reaches the command by itself). The token lives at least --min-ttl seconds (default 300)
when the command starts; it is not renewed while the command runs.`,
    options: OPTIONS,
    notes:
      `Exit status: the command's own; as in shells, 126 when it cannot be executed, 127 when it
is not found, and 128+N when signal N ended it. Before the command starts, the codes of
'deviceflow --help' apply (2 when -- or the command is missing, 3 when a sign-in is needed).`,
    examples: [
      "deviceflow run -- sh -c 'curl -H \"Authorization: Bearer $ACCESS_TOKEN\" https://api.example.com/'",
      "deviceflow run --env GH_TOKEN --profile gh -- gh api user",
    ],
  });

/** `deviceflow run`. */
export const command: Command = {
  summary: "Run a command with an access token in its environment, not on its command line",
  options: OPTIONS,
  get help() {
    return help();
  },
  positionals: "after-separator",
  run,
};
