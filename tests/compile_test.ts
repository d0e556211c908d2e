/**
 * `deno task compile`: binary names, baked permissions, checksums, the one
 * line when Deno's base runtime cannot be had, and, where a base runtime is
 * available, a compiled binary that signs in and keeps its cache.
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "../scripts/approve.ts";
import {
  binaryName,
  compileArgs,
  parseTargets,
  PERMISSIONS,
  sha256sums,
  TARGETS,
} from "../scripts/compile.ts";
import { startDevServer } from "../scripts/dev_server.ts";
import { ENV_VARIABLES } from "../src/cli/permissions.ts";
import { VERSION } from "../src/version.ts";
import { type CliRun, completeSignIn } from "./support/cli_harness.ts";

const SCRIPT = new URL("../scripts/compile.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
// oidc-provider keeps timers and sockets of its own between tests.
const opts = { sanitizeOps: false, sanitizeResources: false };

/** Runs the compile script with only PATH, HOME, DENO_DIR and `env` in its environment. */
async function compile(args: string[], env: Record<string, string>): Promise<CliRun> {
  const inherited = ["PATH", "HOME", "DENO_DIR"].flatMap((name) => {
    const value = Deno.env.get(name);
    return value === undefined ? [] : [[name, value]];
  });
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", SCRIPT, ...args],
    clearEnv: true,
    env: { ...Object.fromEntries(inherited), NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
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
  assert.ok(args.at(-1)!.endsWith("/cli.ts"));
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

Deno.test("compile says in one line that the base runtime could not be downloaded, and how to supply DENORT_BIN", async () => {
  await withTemp(async (dir) => {
    // A fresh Deno cache and a proxy that refuses: the download fails here as it does offline.
    const result = await compile(["--target", "host", "--out", `${dir}/dist`], {
      DENO_DIR: `${dir}/deno`,
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

Deno.test({
  name:
    "a binary compiled for this machine prints --version and --help, signs in, and its cache survives a second run",
  ignore: runtime === undefined,
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
      assert.match(sums, /^[0-9a-f]{64} {2}deviceflow-/);
      // Only what the binary carries: an empty environment besides HOME.
      const home = `${dir}/home`;
      await Deno.mkdir(home);
      const command = (args: string[]) =>
        new Deno.Command(binary, {
          args,
          cwd: home,
          clearEnv: true,
          env: { HOME: home, NO_COLOR: "1" },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        });
      const run = async (args: string[]): Promise<CliRun> => {
        const output = await command(args).output();
        const decoder = new TextDecoder();
        return {
          code: output.code,
          stdout: decoder.decode(output.stdout),
          stderr: decoder.decode(output.stderr),
        };
      };
      assert.equal((await run(["--version"])).stdout, `deviceflow ${VERSION}\n`);
      const help = await run(["--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^deviceflow \d+\.\d+\.\d+: sign in with a device code/);
      const server = await startDevServer({ interval: 1 });
      try {
        const login = await completeSignIn(
          command(["login", "--authority", server.issuer, "--client-id", server.clientId]).spawn(),
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
    }),
});
