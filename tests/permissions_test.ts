/**
 * `deno run cli.ts` with fewer permissions than it needs, and without
 * `--unstable-kv`: one line naming the permission and the flag, or a warning
 * and an in-memory cache.
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "./support/approve.ts";
import { type DevServer, startDevServer } from "./support/dev_server.ts";
import { explainPermission, missingPermission } from "../src/cli/permissions.ts";
import { type CliRun, completeSignIn } from "./support/cli_harness.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
// oidc-provider keeps timers and sockets of its own between tests.
const opts = { sanitizeOps: false, sanitizeResources: false };

/** `deno run` of cli.ts with exactly these flags, in an empty home. */
function deno(home: string, flags: string[], args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    // --no-config: deno.json would turn KV on.
    args: ["run", "--no-config", "--no-lock", ...flags, CLI, ...args],
    cwd: home,
    clearEnv: true,
    env: {
      HOME: home,
      PATH: Deno.env.get("PATH") ?? "",
      DENO_DIR: `${home}/.deno`,
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(home: string, flags: string[], args: string[]): Promise<CliRun> {
  const output = await deno(home, flags, args).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

function signIn(home: string, flags: string[], server: DevServer, extra: string[] = []) {
  return completeSignIn(
    deno(home, flags, [
      "login",
      "--authority",
      server.issuer,
      "--client-id",
      server.clientId,
      ...extra,
    ]).spawn(),
    ({ address, code }) => approveDeviceCode(address, code, { login: "alice" }),
  );
}

async function withHome(run: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "deviceflow-perm-" });
  try {
    await run(home);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

async function withServer(run: (server: DevServer, home: string) => Promise<void>) {
  const server = await startDevServer({ interval: 1 });
  try {
    await withHome((home) => run(server, home));
  } finally {
    await server.close();
  }
}

Deno.test("without --allow-net, login names the host to allow in one line and exits 1", async () => {
  await withHome(async (home) => {
    const flags = ["--unstable-kv", "--allow-read", "--allow-write", "--allow-env"];
    const args = ["login", "--tenant", "contoso.onmicrosoft.com", "--client-id", "app"];
    const result = await run(home, flags, args);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      'deviceflow: missing permission: net access to "login.microsoftonline.com"; ' +
        "run deno with --allow-net=login.microsoftonline.com (or --allow-net)\n",
    );
    const json = await run(home, flags, [...args, "--json-events"]);
    assert.equal(json.code, 1);
    const event = JSON.parse(json.stderr.trim());
    assert.equal(event.event, "error");
    assert.equal(event.code, "permission");
    assert.equal(event.exitCode, 1);
  });
});

Deno.test({
  name: "without --allow-env, login works when the flags name everything, and token asks for HOME",
  ...opts,
  fn: () =>
    withServer(async (server, home) => {
      const flags = ["--unstable-kv", "--allow-net", "--allow-read", "--allow-write"];
      const cache = `${home}/cache/cache.db`;
      const login = await signIn(home, flags, server, ["--cache", cache]);
      assert.equal(login.code, 0, login.stderr);
      assert.equal(JSON.parse(login.stdout).username, "alice");
      const cached = await run(home, flags, ["token", "--cache", cache]);
      assert.equal(cached.code, 0, cached.stderr);
      assert.ok(cached.stdout.trim().length > 20);
      // Without --cache the default cache is under HOME, which deno may not read.
      const token = await run(home, flags, ["token"]);
      assert.equal(token.code, 1);
      assert.equal(
        token.stderr,
        'deviceflow: missing permission: env access to "HOME"; run deno with --allow-env=HOME (or --allow-env)\n',
      );
      // A variable the user set, that deno may not read, is named where it is asked for.
      const noClient = await run(home, flags, [
        "login",
        "--authority",
        server.issuer,
        "--cache",
        cache,
      ]);
      assert.equal(noClient.code, 2);
      assert.match(
        noClient.stderr,
        /^deviceflow: A client ID is needed: pass --client-id or set DEVICEFLOW_CLIENT_ID \(deno may not read DEVICEFLOW_CLIENT_ID: run it with --allow-env=DEVICEFLOW_CLIENT_ID\)\n/,
      );
    }),
});

Deno.test("without --allow-write or --allow-read for the cache, one line names the path and the flag", async () => {
  await withHome(async (home) => {
    const cacheDir = `${home}/cache`;
    const args = ["token", "--cache", `${cacheDir}/cache.db`, "--no-interactive"];
    const noWrite = await run(home, ["--unstable-kv", "--allow-env", "--allow-read"], args);
    assert.equal(noWrite.code, 1);
    assert.equal(
      noWrite.stderr,
      `deviceflow: missing permission: write access to "${cacheDir}"; run deno with --allow-write=${cacheDir} (or --allow-write)\n`,
    );
    const noRead = await run(home, [
      "--unstable-kv",
      "--allow-env",
      `--allow-read=${home}/.config`,
      `--allow-write=${cacheDir}`,
    ], args);
    assert.equal(noRead.code, 1);
    assert.match(
      noRead.stderr,
      new RegExp(
        `^deviceflow: missing permission: read access to "${cacheDir}[^"]*"; run deno with --allow-read=${cacheDir}\\S* \\(or --allow-read\\)\\n$`,
      ),
    );
  });
});

Deno.test({
  name:
    "without --unstable-kv, login says in one line that tokens will not be kept, signs in, and keeps nothing",
  ...opts,
  fn: () =>
    withServer(async (server, home) => {
      const cache = `${home}/cache/cache.db`;
      const login = await signIn(home, ["--allow-all"], server, ["--cache", cache]);
      assert.equal(login.code, 0, login.stderr);
      assert.equal(JSON.parse(login.stdout).username, "alice");
      const warnings = login.stderr.split("\n").filter((line) => /KV/.test(line));
      assert.deepEqual(warnings, [
        "deviceflow: Deno KV is not enabled, so tokens will not be kept after this command; run with --unstable-kv to keep them",
      ]);
      assert.ok(login.stderr.startsWith(warnings[0]!), login.stderr);
      await assert.rejects(Deno.stat(cache), Deno.errors.NotFound);
      const token = await run(home, ["--allow-all"], ["token", "--cache", cache]);
      assert.equal(token.code, 3);
      assert.equal(token.stdout, "");
      assert.match(
        token.stderr,
        /^deviceflow: Deno KV is not enabled.*\ndeviceflow: Not signed in/,
      );
    }),
});

Deno.test("a missing permission is found through the errors that wrap it, and a compiled binary says it was not compiled in", () => {
  const refused = new Deno.errors.NotCapable(
    'Requires read access to "/srv/cache.db", run again with the --allow-read flag',
  );
  const wrapped = new Error("The token cache failed", {
    cause: new Error("open", { cause: refused }),
  });
  const missing = missingPermission(wrapped);
  assert.deepEqual(missing, { name: "read", target: "/srv/cache.db" });
  assert.equal(
    explainPermission(missing!, false),
    'missing permission: read access to "/srv/cache.db"; run deno with --allow-read=/srv/cache.db (or --allow-read)',
  );
  assert.equal(
    explainPermission(missing!, true),
    'missing permission: read access to "/srv/cache.db"; this binary was compiled without it (compile with --allow-read=/srv/cache.db)',
  );
  assert.equal(
    explainPermission({ name: "env", target: undefined }, false),
    "missing permission: env access; run deno with --allow-env",
  );
  assert.equal(missingPermission(new Error("Cannot reach id.example.com")), undefined);
  assert.equal(
    missingPermission(new Deno.errors.PermissionDenied("Permission denied (os error 13)")),
    undefined,
  );
});

/** Runs the CLI in a pseudo-terminal (script), where Deno would prompt for a missing permission. */
async function inTerminal(
  home: string,
  flags: string[],
  args: string[],
): Promise<{ code: number; output: string }> {
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
  const command = [Deno.execPath(), "run", ...flags, cli, ...args].map(quote).join(" ");
  const output = await new Deno.Command("timeout", {
    // A prompt waits for an answer that never comes: the timeout turns it into a failure.
    args: ["20", "script", "-qec", command, "/dev/null"],
    env: { HOME: home, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    output: new TextDecoder().decode(output.stdout).replaceAll("\r", ""),
  };
}

Deno.test("on a terminal, deviceflow never triggers Deno's permission prompt: one line names every flag to add", async () => {
  await withHome(async (home) => {
    const args = ["token", "--tenant", "contoso.onmicrosoft.com", "--client-id", "app"];
    const bare = await inTerminal(home, ["--unstable-kv", "--allow-env"], args);
    assert.doesNotMatch(bare.output, /Allow\?|Deno requests/);
    assert.equal(
      bare.output,
      `deviceflow: missing permissions: read access to "${home}/.config/deviceflow", read access to "${home}/.cache/deviceflow", write access to "${home}/.cache/deviceflow", net access to "login.microsoftonline.com"; run deno with --allow-read=${home}/.config/deviceflow,${home}/.cache/deviceflow --allow-write=${home}/.cache/deviceflow --allow-net=login.microsoftonline.com\n`,
    );
    assert.equal(bare.code, 1);
    // The README's least-privilege flags: no prompt and no permission error.
    const readme = await inTerminal(home, [
      "--unstable-kv",
      "--allow-net=login.microsoftonline.com",
      "--allow-env=DEVICEFLOW_*,HOME,XDG_CACHE_HOME,XDG_CONFIG_HOME,NO_COLOR",
      `--allow-read=${home}/.cache/deviceflow,${home}/.config/deviceflow`,
      `--allow-write=${home}/.cache/deviceflow`,
      "--allow-sys=uid",
    ], [...args, "--no-interactive"]);
    assert.doesNotMatch(readme.output, /Allow\?|Deno requests|missing permission/);
    assert.equal(readme.code, 3, readme.output);
    assert.match(
      readme.output,
      /^deviceflow: Not signed in to https:\/\/login\.microsoftonline\.com\/contoso\.onmicrosoft\.com/,
    );
  });
});
