/**
 * `deno task build`: the release build of the CLI, one minified JavaScript
 * file (`dist/deviceflow.js`) made by `deno bundle` from `cli.ts`, with the
 * command modules that `cli.ts` loads lazily inside it. It starts faster than
 * `deno run cli.ts`, since the runtime loads one module instead of dozens,
 * and it is what `deno task compile` puts in the binaries.
 *
 * Usage: deno task build [--out PATH]
 *
 * The bundle is type-checked first, and checked after: it must import
 * nothing at run time but Node's built-in modules, and `--help` (which loads
 * every command) must run from it. `deno bundle` runs esbuild, which Deno
 * downloads once from the npm registry into `DENO_DIR`.
 *
 * Run the result with `deno run -A --unstable-kv dist/deviceflow.js <command>`.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { VERSION } from "../../src/version.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** The file name of the bundle. */
export const BUNDLE_NAME = "deviceflow.js";

/** Where `deno task build` writes the bundle. */
export const DEFAULT_OUTPUT = `${ROOT}/dist/${BUNDLE_NAME}`;

/** A build that failed, in one line. */
export class BuildError extends Error {
  /**
   * Makes the error.
   *
   * @param message One line: what failed and what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "BuildError";
  }
}

/**
 * The `deno bundle` arguments.
 *
 * @param output The bundle's path.
 * @returns The arguments after `deno`.
 */
export function bundleArgs(output: string): string[] {
  // Type-checked, as `deno compile cli.ts` was before the binaries were made from the bundle.
  return [
    "bundle",
    "--check",
    "--minify",
    "--platform",
    "deno",
    "--output",
    output,
    `${ROOT}/cli.ts`,
  ];
}

/**
 * Deno's own error, as one line: the innermost cause it lists, else the
 * first type error and where it is, else the first error.
 *
 * @param stderr What a `deno` subcommand wrote to stderr (without colours).
 * @returns One line.
 */
export function denoReason(stderr: string): string {
  const text = stderr.split(/^Stack backtrace:/m)[0]!;
  const causes = [...text.matchAll(/^\s*\d+: (.+)$/gm)].map((m) => m[1]!.trim());
  const typeError = text.match(/^(TS\d+ \[ERROR\]: .+)\n(?:[\s\S]*?)^\s+at (\S+)/m);
  if (causes.length) return causes.at(-1)!;
  if (typeError) return `${typeError[1]} at ${typeError[2]}`;
  return text.match(/error: (.+)/)?.[1]?.trim() ?? (text.trim().split("\n").at(-1) || "no output");
}

/** Deno's cache directory, as `deno info` reports it. */
export async function denoDir(): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return output.success ? JSON.parse(new TextDecoder().decode(output.stdout)).denoDir : "$DENO_DIR";
}

/** What {@linkcode build} made. */
export interface Bundle {
  /** The bundle's path. */
  path: string;
  /** Its size in bytes. */
  size: number;
}

/**
 * Bundles `cli.ts` into one file and checks that it stands alone.
 *
 * @param output The bundle's path (default `dist/deviceflow.js`; a relative path is from the
 * working directory); its directory is created.
 * @returns The bundle's absolute path and size.
 * @throws {BuildError} When `deno bundle` fails, or the bundle imports a module of the
 * repository at run time, or does not run.
 */
export async function build(output: string = DEFAULT_OUTPUT): Promise<Bundle> {
  const path = resolve(output);
  await Deno.mkdir(dirname(path), { recursive: true });
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: bundleArgs(path),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!bundled.success) {
    const stderr = new TextDecoder().decode(bundled.stderr);
    if (/^error: .*esbuild/im.test(stderr)) {
      const what = stderr.match(/@esbuild\/[a-z0-9-]+/)?.[0] ?? "esbuild";
      throw new BuildError(
        `deno bundle cannot download esbuild (npm:${what}), which it runs: ${
          denoReason(stderr)
        }; run 'deno task build' once where the npm registry can be reached, or copy the dl/esbuild-* directory of the DENO_DIR of a machine where it has run with Deno ${Deno.version.deno} into ${await denoDir()}/dl/`,
      );
    }
    throw new BuildError(`deno bundle failed: ${denoReason(stderr)}`);
  }
  await checkBundle(path);
  return { path, size: (await Deno.stat(path)).size };
}

/**
 * Checks that a bundle stands alone: it imports nothing at run time but
 * Node's built-in modules, and `deviceflow --help` runs from it.
 *
 * @param bundle The bundle's absolute path.
 * @throws {BuildError} When it imports another module, or does not run.
 */
export async function checkBundle(bundle: string): Promise<void> {
  await checkStandsAlone(bundle);
  await checkRuns(bundle);
}

/**
 * The bundle must import only Node's built-in modules at run time: a lazy
 * import that `deno bundle` left out would be fetched from next to the
 * bundle, where the repository's `src/` is not.
 */
async function checkStandsAlone(bundle: string): Promise<void> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-config", bundle],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!info.success) {
    throw new BuildError(`deno info cannot read ${bundle}: ${denoReason(decode(info.stderr))}`);
  }
  const graph = JSON.parse(decode(info.stdout)) as {
    roots: string[];
    modules: { specifier: string }[];
  };
  const imported = graph.modules
    .map((module) => module.specifier)
    .filter((specifier) => !graph.roots.includes(specifier) && !specifier.startsWith("node:"));
  if (imported.length) {
    throw new BuildError(
      `${bundle} still imports ${
        imported.join(", ")
      } at run time; every module cli.ts loads must be imported with a string literal`,
    );
  }
}

/**
 * `--help` loads every command's module, and prints only when
 * `import.meta.main` is true in the bundle. Run with no permissions and no
 * remote or npm modules, from an empty directory.
 */
async function checkRuns(bundle: string): Promise<void> {
  const cwd = await Deno.makeTempDir({ prefix: "deviceflow-build-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--no-config",
        "--no-remote",
        "--no-npm",
        "--unstable-kv",
        bundle,
        "--help",
      ],
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = decode(output.stdout);
    if (!output.success || !stdout.startsWith(`deviceflow ${VERSION}: `)) {
      const printed = stdout.trim() ? `"${stdout.trim().split("\n")[0]}"` : "nothing";
      const stderr = decode(output.stderr).trim();
      throw new BuildError(
        `${bundle} does not run as deviceflow: --help exited ${output.code} and printed ${printed}${
          stderr ? ` (stderr: ${denoReason(stderr)})` : ""
        }`,
      );
    }
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/**
 * The script.
 *
 * @param args `--out PATH`.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  let output: string;
  let check: string | undefined;
  try {
    const { values } = parseArgs({
      args,
      options: {
        out: { type: "string" },
        check: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(
        `Usage: deno task build [--out PATH] [--check BUNDLE]\n\nBundles cli.ts into one minified file (default dist/${BUNDLE_NAME}), checked to stand alone.\n--check only checks an existing bundle.\nRun it with: deno run -A --unstable-kv dist/${BUNDLE_NAME} <command>`,
      );
      return 0;
    }
    output = values.out ?? DEFAULT_OUTPUT;
    check = values.check;
  } catch (error) {
    console.error(`build: ${(error as Error).message}`);
    return 2;
  }
  try {
    if (check !== undefined) {
      await checkBundle(check);
      console.error(`${check} stands alone`);
      return 0;
    }
    const { path, size } = await build(output);
    console.error(`bundled ${path} (${(size / 1024).toFixed(1)} KiB)`);
    return 0;
  } catch (error) {
    if (!(error instanceof BuildError)) throw error;
    console.error(`build: ${error.message}`);
    return 1;
  }
}
