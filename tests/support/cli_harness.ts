/**
 * Running the CLI in tests: through `main()` with captured output, or as a
 * real `deno run cli.ts` process; and finding the prompt's address and code
 * in what it wrote to stderr.
 *
 * @module
 */

import { type CliIo, main } from "../../cli.ts";
import { type DevServer, type DevServerOptions, startDevServer } from "./dev_server.ts";

/** What a run of the CLI produced. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A run through `main()` whose stderr can be watched while it runs. */
export interface LiveRun {
  /** Resolves when the CLI returns. */
  done: Promise<CliRun>;
  /** Resolves with the prompt's address and code once they have been written. */
  prompt: Promise<{ address: string; code: string }>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Aborts the run, as Ctrl-C does. */
  interrupt(): void;
}

/** Finds the address and code in a sign-in prompt. */
export function findPrompt(text: string): { address: string; code: string } | undefined {
  const address = text.match(/^\s*Address:\s*(\S+)/m)?.[1];
  const code = text.match(/^\s*Code:\s*(\S+)/m)?.[1];
  return address && code ? { address, code } : undefined;
}

/**
 * Runs `main()` with captured stdout and stderr.
 *
 * @param args The command line.
 * @param env Environment variables the CLI sees (nothing else of the real environment).
 * @returns The live run.
 */
export function startMain(args: string[], env: Record<string, string> = {}): LiveRun {
  let stdout = "";
  let stderr = "";
  const controller = new AbortController();
  let resolvePrompt: (value: { address: string; code: string }) => void;
  const prompt = new Promise<{ address: string; code: string }>((resolve) => {
    resolvePrompt = resolve;
  });
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
      const found = findPrompt(stderr);
      if (found) resolvePrompt(found);
    },
    env: (name) => env[name],
    stderrIsTerminal: false,
    signal: controller.signal,
  };
  const done = main(args, io).then((code) => ({ code, stdout, stderr }));
  // A run that ends without a prompt fails whoever waits for one, rather than hanging.
  const prompted = Promise.race([
    prompt,
    done.then((run) => {
      throw new Error(`the run ended (exit ${run.code}) without a prompt: ${run.stderr}`);
    }),
  ]);
  prompted.catch(() => {});
  return { done, prompt: prompted, stderr: () => stderr, interrupt: () => controller.abort() };
}

/**
 * Runs `main()` to the end.
 *
 * @param args The command line.
 * @param env Environment variables.
 * @returns The exit code and output.
 */
export function runMain(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return startMain(args, env).done;
}

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/**
 * Starts `deno run cli.ts` as a process.
 *
 * @param args The command line.
 * @param env Extra environment variables.
 * @returns The child process, with piped stdout and stderr.
 */
export function spawnCli(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-kv", CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // English unless a test asks otherwise: the tests read the prompt's words.
    env: { NO_COLOR: "1", DEVICEFLOW_LANG: "en", ...env },
  }).spawn();
}

/**
 * Runs `deno run cli.ts` to the end.
 *
 * @param args The command line.
 * @param env Extra environment variables.
 * @returns The exit code and output.
 */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const output = await spawnCli(args, env).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * A fresh cache file in a new temporary directory.
 *
 * @returns The path and a function that removes the directory.
 */
export async function tempCache(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "deviceflow-test-" });
  return {
    path: `${dir}/cache.db`,
    cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/**
 * Waits for a spawned CLI's sign-in prompt on stderr, lets `approve` act on
 * it, and collects the rest of the run. A process that ends without a prompt
 * is returned as it ended.
 *
 * @param child A process with piped stdout and stderr.
 * @param approve What to do with the prompt's address and code.
 * @returns The exit code and output.
 */
export async function completeSignIn(
  child: Deno.ChildProcess,
  approve: (prompt: { address: string; code: string }) => Promise<void>,
): Promise<CliRun> {
  const stdout = new Response(child.stdout).text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let stderr = "";
  let prompt: { address: string; code: string } | undefined;
  let ended = false;
  while (!(prompt = findPrompt(stderr))) {
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    stderr += value;
  }
  if (prompt) await approve(prompt);
  if (!ended) {
    for (let r = await reader.read(); !r.done; r = await reader.read()) stderr += r.value;
  }
  return { code: (await child.status).code, stdout: await stdout, stderr };
}

/** Deno.test options for tests that run node-oidc-provider, which keeps timers and sockets of its own. */
export const devServerTest = { sanitizeOps: false, sanitizeResources: false } as const;

/**
 * Runs `run` with a fresh dev server (node-oidc-provider) and a fresh cache
 * file, and removes both afterwards.
 *
 * @param options The server's options.
 * @param run The test body.
 */
export async function withDevServer(
  options: DevServerOptions,
  run: (server: DevServer, cache: string) => Promise<void>,
): Promise<void> {
  const server = await startDevServer(options);
  const cache = await tempCache();
  try {
    await run(server, cache.path);
  } finally {
    await server.close();
    await cache.cleanup();
  }
}

/**
 * The options that point the CLI at a dev server and a cache.
 *
 * @param server The dev server.
 * @param cache The cache file.
 * @returns The arguments.
 */
export function serverArgs(server: DevServer, cache: string): string[] {
  return ["--authority", server.issuer, "--client-id", server.clientId, "--cache", cache];
}

/** How {@linkcode runAs} presents the CLI's surroundings. */
export interface RunAsOptions {
  /** Whether stderr (and stdin) are a terminal. */
  readonly terminal: boolean;
  /** Environment variables the CLI sees. */
  readonly env?: Record<string, string>;
  /** The line a person types when asked. */
  readonly answer?: string;
}

/**
 * Runs `main()` as if on a terminal, or not: for the behaviour that depends
 * on whether a person can see the output or answer a question.
 *
 * @param args The command line.
 * @param options Terminal or not, the environment, and the answer to a question.
 * @returns The exit code and output.
 */
export async function runAs(args: string[], options: RunAsOptions): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: (name) => options.env?.[name],
    stderrIsTerminal: options.terminal,
    stdinIsTerminal: options.terminal,
    columns: () => 100,
    readLine: () => Promise.resolve(options.answer ?? null),
  });
  return { code, stdout, stderr };
}
