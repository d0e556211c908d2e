/**
 * Where the CLI reads and writes, and the exit codes it documents.
 *
 * @module
 */

/**
 * The documented exit codes.
 *
 * @example Tell "sign in first" from a failure
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT, main } from "@deviceflow/deviceflow/cli";
 *
 * const code = await main(["token", "--cache", ":memory:", "--no-interactive"], {
 *   stdout: () => {},
 *   stderr: () => {},
 *   env: () => undefined,
 *   stderrIsTerminal: false,
 * });
 * assert.equal(code, EXIT.signInNeeded); // nothing is cached: a sign-in is needed
 * ```
 */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  signInNeeded: 3,
  declinedOrExpired: 4,
  network: 5,
  httpError: 6,
  interrupted: 130,
  /**
   * stdout was closed before everything was written (`fetch URL | head -1`):
   * the command stops quietly, as `cat` does, with the status a shell gives a
   * command ended by SIGPIPE (128 + 13).
   */
  outputClosed: 141,
} as const;

/**
 * Where the CLI reads and writes; tests pass their own.
 *
 * @example Run a command with captured output
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CliIo, main } from "@deviceflow/deviceflow/cli";
 *
 * let stdout = "";
 * let stderr = "";
 * const io: CliIo = {
 *   stdout: (text) => {
 *     stdout += text;
 *   },
 *   stderr: (text) => {
 *     stderr += text;
 *   },
 *   env: (name) => ({ DEVICEFLOW_CACHE: ":memory:" } as Record<string, string>)[name],
 *   stderrIsTerminal: false,
 * };
 * assert.equal(await main(["accounts", "--json"], io), 0);
 * assert.equal(stdout, "[]\n");
 * assert.equal(stderr, "");
 * ```
 */
export interface CliIo {
  /** Results. */
  stdout(text: string): void | Promise<void>;
  /** Results as bytes (binary output); without it, they are decoded as UTF-8 and given to `stdout`. */
  stdoutBytes?: (bytes: Uint8Array) => void | Promise<void>;
  /** Prompts, progress, warnings and errors. */
  stderr(text: string): void;
  /** Reads an environment variable. */
  env: (name: string) => string | undefined;
  /** Whether stderr is a terminal (countdown, colours). */
  stderrIsTerminal: boolean;
  /** Reads all of stdin as text (default: nothing). */
  stdin?: () => Promise<string>;
  /** Whether stdin is a terminal (a person may answer a question). */
  stdinIsTerminal?: boolean;
  /** Reads one line of stdin, without its newline; `null` at the end. */
  readLine?: () => Promise<string | null>;
  /** The terminal's width in columns, when stderr is a terminal. */
  columns?: () => number | undefined;
  /** The terminal's height in rows, when stderr is a terminal. */
  rows?: () => number | undefined;
  /** Aborts the command (Ctrl-C). */
  signal?: AbortSignal;
  /**
   * Starts listening for Ctrl-C, which then aborts {@linkcode CliIo.signal}
   * instead of ending the process at once. Called when a command may wait on
   * the network or a person; a cached `token` never calls it, and pays nothing
   * for it.
   */
  listenForInterrupts?: () => void;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

/**
 * The process's own stdout, stderr and environment.
 *
 * @returns The I/O of this process.
 */
export function processIo(): CliIo {
  const encoder = new TextEncoder();
  // Each variable is asked for once: settings, the cache and the config all read some.
  const variables = new Map<string, string | undefined>();
  const writeAll = (file: typeof Deno.stdout, text: string | Uint8Array) => {
    const bytes = typeof text === "string" ? encoder.encode(text) : text;
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
  };
  return {
    stdout: (text) => writeAll(Deno.stdout, text),
    stdoutBytes: (bytes) => writeAll(Deno.stdout, bytes),
    stderr: (text) => writeAll(Deno.stderr, text),
    env: (name) => {
      if (variables.has(name)) return variables.get(name);
      // Asked before read: a variable Deno may not read is unset, and Deno never prompts.
      let value: string | undefined;
      try {
        if (Deno.permissions.querySync({ name: "env", variable: name }).state === "granted") {
          value = Deno.env.get(name);
        }
      } catch {
        value = undefined;
      }
      variables.set(name, value);
      return value;
    },
    stderrIsTerminal: Deno.stderr.isTerminal(),
    stdin: () => new Response(Deno.stdin.readable).text(),
    stdinIsTerminal: Deno.stdin.isTerminal(),
    readLine: async () => {
      // Byte by byte: what follows the line stays unread for whoever reads next.
      const bytes: number[] = [];
      const one = new Uint8Array(1);
      for (;;) {
        const n = await Deno.stdin.read(one);
        if (n === null) {
          return bytes.length ? new TextDecoder().decode(new Uint8Array(bytes)) : null;
        }
        if (one[0] === 0x0a) {
          return new TextDecoder().decode(new Uint8Array(bytes)).replace(/\r$/, "");
        }
        bytes.push(one[0]!);
      }
    },
    columns: () => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return undefined;
      }
    },
    rows: () => {
      try {
        return Deno.consoleSize().rows;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * While `run`'s command runs, Ctrl-C belongs to it: a second Ctrl-C must not
 * make the CLI exit and leave the command behind.
 */
export const interrupts: { deferToChild: boolean } = { deferToChild: false };
