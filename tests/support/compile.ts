/**
 * `deno task compile`: a self-contained `deviceflow` binary for every target
 * Deno supports, into `dist/`, with KV enabled, the permissions the tool
 * needs baked in, and a `SHA256SUMS` file that `sha256sum -c` checks.
 *
 * The binaries are compiled from the release build, the bundle that
 * `deno task build` makes (`scripts/build.ts`), written next to them as
 * `deviceflow.js` and listed in `SHA256SUMS` too: what every binary runs.
 *
 * Usage: deno task compile [--target TARGET]... [--out DIR]
 *
 * `--target` picks a subset (repeatable, or comma-separated; `host` is this
 * machine's). `deno compile` downloads Deno's base runtime (`denort`) for each
 * target from dl.deno.land, or takes it from `DENORT_BIN` (one target at a time).
 * `deno bundle` downloads esbuild once from the npm registry into `DENO_DIR`.
 *
 * @module
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { build, BuildError, BUNDLE_NAME, DEFAULT_OUTPUT, denoDir, denoReason } from "./build.ts";
import { ENV_VARIABLES } from "../../src/cli/permissions.ts";
import { VERSION } from "../../src/version.ts";

/** The targets `deno compile` supports. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;
/** A target `deno compile` supports. */
export type Target = typeof TARGETS[number];

/**
 * The permissions baked into the binaries. A compiled binary cannot be given
 * flags, so each must cover every use:
 * - net, any host: the authority (and an API for `fetch`) is the user's choice;
 * - env, only the variables the CLI reads;
 * - read and write, any path: the cache and config files are wherever
 *   `--cache`, `--config` and the user's home put them, and `fetch
 *   --data-file` reads any file;
 * - run, any program: `--open` starts the browser (`$BROWSER`) and `run`
 *   starts the user's command.
 */
export const PERMISSIONS: readonly string[] = [
  "--allow-net",
  `--allow-env=${ENV_VARIABLES.join(",")}`,
  "--allow-read",
  "--allow-write",
  "--allow-run",
];

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * The file name of a target's binary.
 *
 * @param target The target.
 * @returns `deviceflow-<target>`, with `.exe` for Windows.
 */
export function binaryName(target: Target): string {
  return `deviceflow-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/**
 * The `deno compile` arguments for a target.
 *
 * @param target The target.
 * @param output The binary's path.
 * @param bundle The bundle to compile (default `dist/deviceflow.js`, as `deno task build` writes it).
 * @returns The arguments after `deno`.
 */
export function compileArgs(target: Target, output: string, bundle = DEFAULT_OUTPUT): string[] {
  return [
    "compile",
    "--unstable-kv",
    "--target",
    target,
    "--output",
    output,
    ...PERMISSIONS,
    bundle,
  ];
}

/**
 * Reads `--target` values: names, comma-separated lists, `host` and `all`.
 *
 * @param values The values given (none: all targets).
 * @returns The targets, each once, in the order of {@linkcode TARGETS}.
 * @throws {TypeError} For a target Deno does not support.
 */
export function parseTargets(values: readonly string[]): Target[] {
  const wanted = new Set<string>();
  for (const value of values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean)) {
    if (value === "all") TARGETS.forEach((t) => wanted.add(t));
    else if (value === "host") wanted.add(Deno.build.target);
    else if ((TARGETS as readonly string[]).includes(value)) wanted.add(value);
    else {
      throw new TypeError(
        `Cannot compile for "${value}": the targets are ${TARGETS.join(", ")}, host and all`,
      );
    }
  }
  return values.length ? TARGETS.filter((t) => wanted.has(t)) : [...TARGETS];
}

/**
 * The `SHA256SUMS` text of files, as `sha256sum` writes it.
 *
 * @param dir The directory of the files.
 * @param names Their names.
 * @returns One `<hex>  <name>` line per file.
 */
export async function sha256sums(dir: string, names: readonly string[]): Promise<string> {
  const lines = [];
  for (const name of names) {
    const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(`${dir}/${name}`));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    lines.push(`${hex}  ${name}\n`);
  }
  return lines.join("");
}

/** Where `deno compile` keeps the base runtime it downloaded for a target. */
async function cachedRuntime(target: Target): Promise<string> {
  return `${await denoDir()}/dl/release/v${Deno.version.deno}/denort-${target}.zip`;
}

/** A compile that failed, in one line. */
export class CompileError extends Error {
  /**
   * Makes the error.
   *
   * @param message One line: what failed and what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "CompileError";
  }
}

/**
 * Compiles one target from the bundle in `outDir`.
 *
 * @param target The target.
 * @param outDir The directory of the bundle ({@linkcode BUNDLE_NAME}), and for the binary.
 * @returns The binary's file name.
 * @throws {CompileError} When `deno compile` fails, saying how to supply a base runtime where that is what failed.
 */
export async function compileTarget(target: Target, outDir: string): Promise<string> {
  const name = binaryName(target);
  const output = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(target, `${outDir}/${name}`, `${outDir}/${BUNDLE_NAME}`),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (output.success) {
    if (target === Deno.build.target) await checkRuns(`${outDir}/${name}`, target);
    return name;
  }
  const stderr = new TextDecoder().decode(output.stderr);
  const denort = Deno.env.get("DENORT_BIN");
  if (denort !== undefined && /Could not find denort/.test(stderr)) {
    throw new CompileError(
      `${target}: DENORT_BIN=${denort} cannot be read (${
        denoReason(stderr)
      }); set it to the path of an unzipped denort-${target}`,
    );
  }
  const url = stderr.match(/https:\/\/dl\.deno\.land\/\S+?\.zip/)?.[0];
  if (url || /base binary/i.test(stderr)) {
    const where = url ?? `denort-${target}.zip for Deno ${Deno.version.deno}`;
    throw new CompileError(
      `${target}: cannot download Deno's base runtime ${where} (${
        denoReason(stderr)
      }); download it where there is internet access, unzip it, and run again with DENORT_BIN=/path/to/denort --target ${target}, or put the zip at ${await cachedRuntime(
        target,
      )}`,
    );
  }
  throw new CompileError(`${target}: deno compile failed: ${denoReason(stderr)}`);
}

/** A base runtime that is not `denort` (the full `deno`, say) makes a binary that is not deviceflow. */
async function checkRuns(path: string, target: Target): Promise<void> {
  let text: string;
  try {
    const output = await new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    text = new TextDecoder().decode(output.stdout).trim() ||
      new TextDecoder().decode(output.stderr).trim();
  } catch (error) {
    text = (error as Error).message;
  }
  if (text !== `deviceflow ${VERSION}`) {
    throw new CompileError(
      `${target}: the binary does not run as deviceflow (--version printed "${
        text.split("\n")[0]
      }"); the base runtime must be denort ${Deno.version.deno} for ${target} (check DENORT_BIN)`,
    );
  }
}

/**
 * Builds the bundle, compiles the targets from it, and writes `SHA256SUMS`
 * for the binaries built and the bundle.
 *
 * @param targets The targets.
 * @param outDir The directory for the bundle, the binaries and the checksums.
 * @param log Where progress goes.
 * @returns The binaries' file names.
 * @throws {CompileError} When the bundle cannot be built, and on the first target that fails.
 */
export async function compileAll(
  targets: readonly Target[],
  dir: string,
  log: (line: string) => void = () => {},
): Promise<string[]> {
  // deno compile runs in the repository and this script wherever it was started: one absolute DIR.
  const outDir = resolve(dir);
  if (Deno.env.get("DENORT_BIN") && targets.length !== 1) {
    throw new CompileError(
      "DENORT_BIN is the base runtime of one target; pick that one with --target",
    );
  }
  await Deno.mkdir(outDir, { recursive: true });
  try {
    await build(`${outDir}/${BUNDLE_NAME}`);
  } catch (error) {
    if (error instanceof BuildError) throw new CompileError(error.message);
    throw error;
  }
  const names = [];
  for (const target of targets) {
    const name = await compileTarget(target, outDir);
    const size = (await Deno.stat(`${outDir}/${name}`)).size;
    log(`compiled ${outDir}/${name} (${(size / 1e6).toFixed(1)} MB) from ${BUNDLE_NAME}`);
    names.push(name);
  }
  await Deno.writeTextFile(
    `${outDir}/SHA256SUMS`,
    await sha256sums(outDir, [...names, BUNDLE_NAME]),
  );
  log(`wrote ${outDir}/SHA256SUMS`);
  return names;
}

/**
 * The script.
 *
 * @param args `--target T` (repeatable), `--out DIR`.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  let targets: Target[];
  let outDir: string;
  try {
    const { values } = parseArgs({
      args,
      options: {
        target: { type: "string", multiple: true },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(
        `Usage: deno task compile [--target TARGET]... [--out DIR]\n\nTargets: ${
          TARGETS.join(", ")
        }, host, all (default: all). The bundle (${BUNDLE_NAME}, as deno task build makes it), the binaries compiled from it, and SHA256SUMS go to DIR (default dist/).\nWithout internet access, set DENORT_BIN to an unzipped denort-<target> of Deno ${Deno.version.deno} and pick that --target; the bundle needs the esbuild that deno bundle downloads once from the npm registry into DENO_DIR.`,
      );
      return 0;
    }
    targets = parseTargets(values.target ?? []);
    outDir = values.out ?? `${ROOT}/dist`;
  } catch (error) {
    console.error(`compile: ${(error as Error).message}`);
    return 2;
  }
  try {
    await compileAll(targets, outDir, (line) => console.error(line));
    return 0;
  } catch (error) {
    if (!(error instanceof CompileError)) throw error;
    console.error(`compile: ${error.message}`);
    return 1;
  }
}
