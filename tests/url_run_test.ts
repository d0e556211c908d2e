/**
 * `deno run` from a URL: cli.ts and everything it imports load over HTTP with
 * no import map, no config and no local file, and run with the least
 * privilege the README gives.
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "./support/approve.ts";
import { startDevServer } from "./support/dev_server.ts";
import { type CliRun, completeSignIn } from "./support/cli_harness.ts";
import { serveFiles } from "./support/file_server.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
// oidc-provider keeps timers and sockets of its own between tests.
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("cli.ts imports only relative modules and node: built-ins", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-config", "--no-lock", `${ROOT}/cli.ts`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout));
  const outside = (info.modules as { specifier: string }[])
    .map((m) => m.specifier)
    .filter((s) => !s.startsWith(`file://${ROOT}/`) && !s.startsWith("node:"));
  assert.deepEqual(outside, []);
  for (const module of info.modules as { specifier: string }[]) {
    assert.ok(!/\/(tests|scripts)\//.test(module.specifier), `cli.ts loads ${module.specifier}`);
  }
});

Deno.test({
  name:
    "deno run http://127.0.0.1:PORT/cli.ts with least privilege: --help, a sign-in, then token from the cache",
  ...opts,
  fn: async () => {
    const files = serveFiles(ROOT);
    const server = await startDevServer({ interval: 1 });
    // An empty home, working directory and Deno cache: nothing local to load.
    const home = await Deno.makeTempDir({ prefix: "deviceflow-url-" });
    await Deno.mkdir(`${home}/cwd`);
    try {
      const authority = new URL(server.issuer);
      const deno = (args: string[]) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--no-config",
            "--no-lock",
            "--unstable-kv",
            `--allow-net=${authority.host}`,
            // The README's least-privilege flags.
            "--allow-env=DEVICEFLOW_*,HOME,XDG_CACHE_HOME,XDG_CONFIG_HOME,NO_COLOR",
            `--allow-read=${home}/.cache/deviceflow,${home}/.config/deviceflow`,
            `--allow-write=${home}/.cache/deviceflow`,
            "--allow-sys=uid",
            `${files.url}cli.ts`,
            ...args,
          ],
          cwd: `${home}/cwd`,
          clearEnv: true,
          env: {
            HOME: home,
            PATH: Deno.env.get("PATH") ?? "",
            DENO_DIR: `${home}/deno`,
            DENO_NO_UPDATE_CHECK: "1",
            NO_COLOR: "1",
          },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        });
      const run = async (args: string[]): Promise<CliRun> => {
        const output = await deno(args).output();
        const decoder = new TextDecoder();
        return {
          code: output.code,
          stdout: decoder.decode(output.stdout),
          stderr: decoder.decode(output.stderr),
        };
      };

      const help = await run(["--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^deviceflow \d+\.\d+\.\d+: sign in with a device code/);
      assert.ok(files.requested.includes("/cli.ts"));
      assert.ok(files.requested.includes("/src/cli/main.ts"));
      assert.ok(files.requested.includes("/src/cache/token_cache.ts"));

      const login = await completeSignIn(
        deno(["login", "--authority", server.issuer, "--client-id", server.clientId]).spawn(),
        ({ address, code }) => approveDeviceCode(address, code, { login: "alice" }),
      );
      assert.equal(login.code, 0, login.stderr);
      assert.equal(JSON.parse(login.stdout).username, "alice");

      const token = await run(["token"]);
      assert.equal(token.code, 0, token.stderr);
      assert.ok(token.stdout.trim().length > 20);
      assert.equal(token.stderr, "");
      // The default cache is where the README's --allow-write says.
      await Deno.stat(`${home}/.cache/deviceflow/cache.db`);
      // Only the served tree was loaded: no test, script or tool file.
      const loaded = files.requested.filter((p) => /^\/(tests|scripts)\//.test(p));
      assert.deepEqual(loaded, []);
    } finally {
      await server.close();
      await files.close();
      await Deno.remove(home, { recursive: true }).catch(() => {});
    }
  },
});
