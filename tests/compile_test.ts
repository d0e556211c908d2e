/**
 * `deno task build` and `deno task compile`: the release build (the bundle)
 * runs alone, away from the repository, and signs in and keeps its cache, as
 * the binaries compiled from it must; binary names, baked permissions,
 * checksums, the one line when esbuild or Deno's base runtime cannot be had,
 * and, where a base runtime is available, a compiled binary that signs in
 * and keeps its cache.
 */

import { needs } from "./support/needs.ts";
import assert from "node:assert/strict";
import { EXIT } from "../cli.ts";
import { approveDeviceCode } from "./support/approve.ts";
import {
  binaryName,
  compileArgs,
  parseTargets,
  PERMISSIONS,
  sha256sums,
  TARGETS,
} from "./support/compile.ts";
import { startDevServer } from "./support/dev_server.ts";
import { ENV_VARIABLES } from "../src/cli/permissions.ts";
import { VERSION } from "../src/version.ts";
import { type CliRun, completeSignIn, runMain } from "./support/cli_harness.ts";

const SCRIPT = new URL("../scripts/compile.ts", import.meta.url).pathname;
const BUILD_SCRIPT = new URL("../scripts/build.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
// oidc-provider keeps timers and sockets of its own between tests.
const opts = { sanitizeOps: false, sanitizeResources: false };

/** Runs `deno` in the repository with only PATH, HOME, DENO_DIR and `env` in its environment. */
async function deno(args: string[], env: Record<string, string>): Promise<CliRun> {
  const inherited = ["PATH", "HOME", "DENO_DIR"].flatMap((name) => {
    const value = Deno.env.get(name);
    return value === undefined ? [] : [[name, value]];
  });
  return await output(
    new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      clearEnv: true,
      env: { ...Object.fromEntries(inherited), NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

/** Runs the compile script. */
function compile(args: string[], env: Record<string, string>): Promise<CliRun> {
  return deno(["run", "--allow-all", SCRIPT, ...args], env);
}

/** Runs `deno task build`. */
function buildTask(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return deno(["task", "--quiet", "build", ...args], env);
}

async function output(command: Deno.Command): Promise<CliRun> {
  const result = await command.output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    stdout: decoder.decode(result.stdout),
    stderr: decoder.decode(result.stderr),
  };
}

async function withTemp<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "deviceflow-compile-" });
  try {
    return await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("compile names each binary for its target and bakes KV and the permissions in", () => {
  assert.deepEqual(TARGETS.map(binaryName), [
    "deviceflow-x86_64-unknown-linux-gnu",
    "deviceflow-aarch64-unknown-linux-gnu",
    "deviceflow-x86_64-apple-darwin",
    "deviceflow-aarch64-apple-darwin",
    "deviceflow-x86_64-pc-windows-msvc.exe",
  ]);
  const args = compileArgs("aarch64-apple-darwin", "dist/deviceflow-aarch64-apple-darwin");
  assert.deepEqual(args.slice(0, 6), [
    "compile",
    "--unstable-kv",
    "--target",
    "aarch64-apple-darwin",
    "--output",
    "dist/deviceflow-aarch64-apple-darwin",
  ]);
  // The binaries run the release build, the bundle deno task build writes.
  assert.ok(args.at(-1)!.endsWith("/dist/deviceflow.js"), args.at(-1));
  assert.equal(
    compileArgs("aarch64-apple-darwin", "out", "/tmp/b/deviceflow.js").at(-1),
    "/tmp/b/deviceflow.js",
  );
  for (const flag of PERMISSIONS) assert.ok(args.includes(flag), flag);
  assert.ok(!args.includes("--allow-all") && !args.includes("-A"));
  assert.ok(!args.includes("--allow-env"), "env must list its variables");
  assert.ok(!args.some((a) => /^--allow-(ffi|sys)/.test(a)));
  assert.deepEqual(parseTargets([]), [...TARGETS]);
  assert.deepEqual(parseTargets(["host"]), [Deno.build.target]);
  assert.deepEqual(parseTargets(["x86_64-pc-windows-msvc,aarch64-apple-darwin"]), [
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
  ]);
  assert.throws(() => parseTargets(["riscv64"]), TypeError);
});

Deno.test("the baked --allow-env lists every variable the CLI reads", async () => {
  // Every env read in the CLI's modules: io.env("X"), env("X"), variable(env, "X"), Deno.env.get("X").
  const read = new Set<string>();
  const pattern = /(?:\benv|\bget|variable\(env,|Deno\.env\.get)\(\s*"([A-Z][A-Z0-9_]*)"/g;
  for (const file of ["cli.ts", "cache.ts", ...await sources("src")]) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    for (const match of text.matchAll(pattern)) read.add(match[1]!);
    for (const match of text.matchAll(/variable\(env, "([A-Z][A-Z0-9_]*)"\)/g)) read.add(match[1]!);
  }
  assert.ok(read.has("DEVICEFLOW_CLIENT_ID") && read.has("HOME"), [...read].join(" "));
  const missing = [...read].filter((name) => !ENV_VARIABLES.includes(name));
  assert.deepEqual(missing, [], "read by the CLI but not in ENV_VARIABLES");
});

async function sources(dir: string): Promise<string[]> {
  const files = [];
  for await (const entry of Deno.readDir(`${ROOT}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await sources(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

Deno.test("SHA256SUMS is in the form sha256sum -c checks", async () => {
  await withTemp(async (dir) => {
    await Deno.writeTextFile(`${dir}/deviceflow-x86_64-unknown-linux-gnu`, "linux\n");
    await Deno.writeTextFile(`${dir}/deviceflow-x86_64-pc-windows-msvc.exe`, "windows\n");
    const text = await sha256sums(dir, [
      "deviceflow-x86_64-unknown-linux-gnu",
      "deviceflow-x86_64-pc-windows-msvc.exe",
    ]);
    assert.match(
      text,
      /^[0-9a-f]{64} {2}deviceflow-x86_64-unknown-linux-gnu\n[0-9a-f]{64} {2}\S+\.exe\n$/,
    );
    await Deno.writeTextFile(`${dir}/SHA256SUMS`, text);
    const check = await new Deno.Command("sha256sum", { args: ["-c", "SHA256SUMS"], cwd: dir })
      .output();
    assert.equal(new TextDecoder().decode(check.stdout).match(/: OK$/gm)?.length, 2);
    assert.ok(check.success);
  });
});

/** This Deno's cache directory (DENO_DIR), as `deno info` names it. */
async function denoCacheDir(): Promise<string> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  return JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;
}

/**
 * A fresh Deno cache that has only the esbuild deno bundle runs, as on a
 * machine that has built before: no base runtime in it.
 */
async function cacheWithEsbuild(dir: string): Promise<string> {
  // Building once puts esbuild in this process's Deno cache, if it was not there.
  const seeded = await buildTask(["--out", `${dir}/seed/deviceflow.js`]);
  assert.equal(seeded.code, 0, seeded.stderr);
  const from = `${await denoCacheDir()}/dl`;
  const fresh = `${dir}/deno`;
  await Deno.mkdir(`${fresh}/dl`, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.name.startsWith("esbuild-")) {
      await Deno.symlink(`${from}/${entry.name}`, `${fresh}/dl/${entry.name}`);
    }
  }
  return fresh;
}

Deno.test("compile says in one line that the base runtime could not be downloaded, and how to supply DENORT_BIN", async () => {
  await withTemp(async (dir) => {
    // No base runtime in the Deno cache and a proxy that refuses: the download fails here as it
    // does offline.
    const result = await compile(["--target", "host", "--out", `${dir}/dist`], {
      DENO_DIR: await cacheWithEsbuild(dir),
      HTTPS_PROXY: "http://127.0.0.1:1",
      HTTP_PROXY: "http://127.0.0.1:1",
    });
    assert.equal(result.code, 1);
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    const target = Deno.build.target;
    assert.match(
      lines[0]!,
      new RegExp(
        `^compile: ${target}: cannot download Deno's base runtime https://dl\\.deno\\.land/release/v${Deno.version.deno}/denort-${target}\\.zip \\(.+\\); .*DENORT_BIN=/path/to/denort --target ${target}`,
      ),
    );
    await assert.rejects(Deno.stat(`${dir}/dist/SHA256SUMS`), Deno.errors.NotFound);
  });
});

Deno.test("build and compile say in one line that esbuild could not be downloaded, and how to supply it", async () => {
  await withTemp(async (dir) => {
    // An empty Deno cache and a proxy that refuses: deno bundle cannot fetch esbuild.
    const env = {
      DENO_DIR: `${dir}/deno`,
      HTTPS_PROXY: "http://127.0.0.1:1",
      HTTP_PROXY: "http://127.0.0.1:1",
    };
    const result = await compile(["--target", "host", "--out", `${dir}/dist`], env);
    assert.equal(result.code, 1);
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0]!,
      new RegExp(
        `^compile: deno bundle cannot download esbuild \\(npm:@esbuild/[a-z0-9-]+\\), which it runs: .+; run 'deno task build' once where the npm registry can be reached, or copy the dl/esbuild-\\* directory .* into ${dir}/deno/dl/$`,
      ),
    );
    await assert.rejects(Deno.stat(`${dir}/dist/SHA256SUMS`), Deno.errors.NotFound);
    // The script itself: deno task would first stop at installing the project's npm packages.
    const bundled = await deno(
      ["run", "--allow-all", BUILD_SCRIPT, "--out", `${dir}/build/deviceflow.js`],
      env,
    );
    assert.equal(bundled.code, 1);
    assert.match(bundled.stderr, /^build: deno bundle cannot download esbuild .*\n$/);
  });
});

Deno.test("compile refuses DENORT_BIN for several targets, and a base runtime that is not denort", async () => {
  await withTemp(async (dir) => {
    const several = await compile(["--out", `${dir}/dist`], { DENORT_BIN: Deno.execPath() });
    assert.equal(several.code, 1);
    assert.equal(
      several.stderr,
      "compile: DENORT_BIN is the base runtime of one target; pick that one with --target\n",
    );
    // The full deno binary is no base runtime: what it makes runs as deno, not as deviceflow.
    const deno = await compile(["--target", "host", "--out", `${dir}/dist`], {
      DENORT_BIN: Deno.execPath(),
    });
    assert.equal(deno.code, 1);
    assert.match(
      deno.stderr,
      /^compile: \S+: the binary does not run as deviceflow \(--version printed "deno \d.*"\); the base runtime must be denort .*DENORT_BIN\)\n$/,
    );
  });
});

/** A base runtime for this machine: DENORT_BIN, or the one deno compile downloaded before. */
async function baseRuntime(): Promise<string | undefined> {
  const given = Deno.env.get("DENORT_BIN");
  if (given) return given;
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const denoDir = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;
  const cached = `${denoDir}/dl/release/v${Deno.version.deno}/denort-${Deno.build.target}.zip`;
  try {
    await Deno.stat(cached);
    return cached;
  } catch {
    return undefined;
  }
}

const runtime = await baseRuntime();
if (!runtime) {
  console.log(
    `compile_test: skipping the compiled binary's sign-in: no base runtime for deno compile (DENORT_BIN is not set, and denort-${Deno.build.target}.zip of Deno ${Deno.version.deno} is not in DENO_DIR: set DENORT_BIN, or run 'deno task compile --target host' once where dl.deno.land can be reached)`,
  );
}

/** A JWT with `claims`, unsigned: enough for `decode`. */
function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) =>
    btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.c2ln`;
}

/**
 * What a shipped deviceflow must do with nothing of the repository around it:
 * print its version, the same help and completions as the working tree (every
 * command's module is in it), decode a JWT, say a sign-in is needed on an empty
 * cache, sign in against the dev server, and print the token it cached from a
 * second and a third process.
 *
 * @param command `deviceflow` with a command line, run in `home` with HOME set to it.
 * @param home The home directory, empty.
 */
async function shipsAsDeviceflow(
  command: (args: string[]) => Deno.Command,
  home: string,
): Promise<void> {
  const run = (args: string[]) => output(command(args));
  assert.equal((await run(["--version"])).stdout, `deviceflow ${VERSION}\n`);
  const help = await run(["--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^deviceflow \d+\.\d+\.\d+: sign in with a device code/);
  assert.equal(help.stdout, (await runMain(["--help"])).stdout);
  const completions = await run(["completions", "bash"]);
  assert.equal(completions.code, 0, completions.stderr);
  assert.equal(completions.stdout, (await runMain(["completions", "bash"])).stdout);
  const decoded = await run(["decode", jwt({ sub: "alice", exp: 2_000_000_000 })]);
  assert.equal(decoded.code, 0, decoded.stderr);
  assert.equal(JSON.parse(decoded.stdout).claims.sub, "alice");
  const server = await startDevServer({ interval: 1 });
  try {
    const where = ["--authority", server.issuer, "--client-id", server.clientId];
    const before = await run(["token", ...where, "--no-interactive"]);
    assert.equal(before.code, EXIT.signInNeeded, before.stderr);
    assert.equal(before.stdout, "");
    const login = await completeSignIn(
      command(["login", ...where]).spawn(),
      ({ address, code }) => approveDeviceCode(address, code, { login: "alice" }),
    );
    assert.equal(login.code, 0, login.stderr);
    assert.doesNotMatch(login.stderr, /KV is not enabled/);
    const first = await run(["token"]);
    const second = await run(["token"]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.stdout, first.stdout);
    assert.ok(first.stdout.trim().length > 20);
    await Deno.stat(`${home}/.cache/deviceflow/cache.db`);
  } finally {
    await server.close();
  }
}

/** A command that runs `program` with `args` in `home`, with only HOME (and `env`) in its environment. */
function inHome(program: string, args: string[], home: string, env: Record<string, string> = {}) {
  return (more: string[]) =>
    new Deno.Command(program, {
      args: [...args, ...more],
      cwd: home,
      clearEnv: true,
      env: { HOME: home, NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
}

Deno.test({
  name:
    "the release build runs alone: --help, completions and decode work, it signs in, and its cache survives a second run",
  ...opts,
  fn: () =>
    withTemp(async (dir) => {
      const built = await buildTask(["--out", `${dir}/build/deviceflow.js`]);
      assert.equal(built.code, 0, built.stderr);
      assert.match(built.stderr, /^bundled \S+\/build\/deviceflow\.js \(\d+\.\d KiB\)\n$/);
      // Only the bundle, away from the repository's src/ and deno.json.
      const app = `${dir}/app`;
      await Deno.mkdir(app);
      await Deno.copyFile(`${dir}/build/deviceflow.js`, `${app}/deviceflow.js`);
      const home = `${dir}/home`;
      await Deno.mkdir(home);
      // The permissions a binary has baked in, an empty Deno cache, and no remote or npm
      // modules: the stand-in for a compiled binary where no base runtime can be had.
      const args = ["run", "--no-remote", "--no-npm", "--unstable-kv", ...PERMISSIONS];
      await shipsAsDeviceflow(
        inHome(Deno.execPath(), [...args, `${app}/deviceflow.js`], home, {
          DENO_DIR: `${dir}/deno`,
          DENO_NO_UPDATE_CHECK: "1",
        }),
        home,
      );
      assert.deepEqual(await Array.fromAsync(Deno.readDir(app), (e) => e.name), [
        "deviceflow.js",
      ]);
    }),
});

Deno.test("a bundle that would import a module of the repository at run time, or does not run, is refused", async () => {
  await withTemp(async (dir) => {
    const lazy = `${dir}/lazy.js`;
    await Deno.writeTextFile(
      lazy,
      `export const load = () => import("./src/cli/token.ts");\nif (import.meta.main) console.log("deviceflow ${VERSION}: ");\n`,
    );
    const lazyCheck = await buildTask(["--check", lazy]);
    assert.equal(lazyCheck.code, 1);
    assert.equal(
      lazyCheck.stderr,
      `build: ${lazy} still imports file://${dir}/src/cli/token.ts at run time; every module cli.ts loads must be imported with a string literal\n`,
    );
    const silent = `${dir}/silent.js`;
    await Deno.writeTextFile(silent, `import "node:sqlite";\nexport const main = () => 0;\n`);
    const silentCheck = await buildTask(["--check", silent]);
    assert.equal(silentCheck.code, 1);
    assert.equal(
      silentCheck.stderr,
      `build: ${silent} does not run as deviceflow: --help exited 0 and printed nothing\n`,
    );
  });
});

Deno.test({
  // Skipped where no denort base runtime can be had (offline, no DENORT_BIN): the name says so.
  ...needs(
    "a binary compiled for this machine prints --version and --help, signs in, and its cache survives a second run",
    runtime !== undefined,
    "no denort base runtime here; set DENORT_BIN to run it",
  ),
  ...opts,
  fn: () =>
    withTemp(async (dir) => {
      const built = await compile(
        ["--target", "host", "--out", `${dir}/dist`],
        Deno.env.get("DENORT_BIN") ? { DENORT_BIN: Deno.env.get("DENORT_BIN")! } : {},
      );
      assert.equal(built.code, 0, built.stderr);
      const binary = `${dir}/dist/${binaryName(Deno.build.target as typeof TARGETS[number])}`;
      const sums = await Deno.readTextFile(`${dir}/dist/SHA256SUMS`);
      assert.match(sums, /^[0-9a-f]{64} {2}deviceflow-\S+\n[0-9a-f]{64} {2}deviceflow\.js\n$/);
      // Only what the binary carries: an empty environment besides HOME.
      const home = `${dir}/home`;
      await Deno.mkdir(home);
      await shipsAsDeviceflow(inHome(binary, [], home), home);
    }),
});
