/**
 * Cache errors tell the truth and never advise destroying good data (issue
 * 10, item 5): a full disk, a read-only mount or file, a permission, a lock
 * and damage each get their own line, and only damage is told to delete the
 * file. A cache that can be read but not written still serves its tokens.
 */

import { needs } from "./support/needs.ts";
import assert from "node:assert/strict";
import { cacheProblem } from "../src/cache/errors.ts";
import { startFakeServer } from "./support/fake_server.ts";
import { type CliRun, runMain } from "./support/cli_harness.ts";
import { hostileArgs, serveHostile } from "./support/hostile_server.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const DELETE_ADVICE = /delete|rm /;

Deno.test("cacheProblem() tells each failure apart, and only damage is told to delete the file", () => {
  const path = "/home/u/.cache/deviceflow/cache.db";
  const what = `The token cache ${path} failed`;
  const cases: [unknown, RegExp, boolean][] = [
    [
      new TypeError("database or disk is full"),
      /: the disk is full \(database or disk is full\); free some space/,
      false,
    ],
    [new Error("No space left on device (os error 28)"), /: the disk is full/, false],
    [
      new Deno.errors.PermissionDenied("Permission denied (os error 13)"),
      /: permission denied \(.*\); check the owner and mode of \/home/,
      false,
    ],
    [
      new TypeError("Can not write to a read-only database."),
      /: it is read-only \(.*\); it can serve the tokens it holds but not keep new ones/,
      false,
    ],
    [new Error("Read-only file system (os error 30)"), /: it is read-only/, false],
    [
      new Error("database is locked"),
      /: another process holds it locked \(database is locked\); try again/,
      false,
    ],
    [
      new Error("file is not a database"),
      /: it is damaged \(file is not a database\)\. To reset it, delete the file \(rm \/home\/u\/\.cache\/deviceflow\/cache\.db\*\)/,
      true,
    ],
    [new Error("database disk image is malformed"), /: it is damaged/, true],
    [new Error("something else"), /: something else$/, false],
  ];
  for (const [error, pattern, advises] of cases) {
    const line = cacheProblem(what, path, error);
    assert.match(line, pattern);
    assert.ok(line.startsWith(what));
    assert.equal(DELETE_ADVICE.test(line), advises, line);
    assert.doesNotMatch(line, /\n/);
  }
});

Deno.test("no HOME and no --cache is a usage line (exit 2)", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", CLI, "accounts"],
    env: { NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 2);
  assert.equal(
    new TextDecoder().decode(output.stderr),
    "deviceflow: Cannot find a cache directory (HOME is not set); pass --cache PATH or set DEVICEFLOW_CACHE\nRun 'deviceflow accounts --help' for usage.\n",
  );
});

/** Runs a shell command as root; `false` when it fails. */
async function sh(command: string): Promise<boolean> {
  const output = await new Deno.Command("sh", {
    args: ["-c", command],
    stdout: "null",
    stderr: "null",
  })
    .output().catch(() => undefined);
  return output?.success ?? false;
}

/** Whether a tmpfs can be mounted here (root on Linux): the mounted cases need one. */
async function canMount(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  const dir = await Deno.makeTempDir({ prefix: "deviceflow-probe-" });
  try {
    const mounted = await sh(`mount -t tmpfs -o size=1m tmpfs ${dir}`);
    if (mounted) await sh(`umount ${dir}`);
    return mounted;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
const MOUNTS = await canMount();
/** How a case that needs a mount is named where it cannot run: reported as ignored, with why. */
const NO_MOUNT = "no tmpfs can be mounted here: not root, or no mount";

/** A small tmpfs of our own, or `undefined` (with the reason printed) where none can be mounted. */
async function tmpfs(
  size: string,
): Promise<{ dir: string; remove: () => Promise<void> } | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "deviceflow-mount-" });
  if (
    Deno.build.os !== "linux" ||
    !(await sh(`mount -t tmpfs -o size=${size},mode=0700 tmpfs ${dir}`))
  ) {
    console.log("skipped a mounted case: no tmpfs can be mounted here (not root, or no mount)");
    await Deno.remove(dir, { recursive: true });
    return undefined;
  }
  return {
    dir,
    remove: async () => {
      await sh(`umount ${dir}`);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A sign-in cached on a tmpfs of our own; skipped (with the reason printed) where none can be mounted. */
async function signedInOnTmpfs(
  body: (mount: string, cache: string) => Promise<void>,
): Promise<void> {
  const mount = await tmpfs("2m");
  // The test is ignored where nothing can be mounted; a mount that fails here is a failure.
  assert.ok(mount, "the tmpfs could not be mounted");
  const server = await startFakeServer();
  try {
    serveHostile(server);
    const cache = `${mount.dir}/deviceflow/cache.db`;
    assert.equal((await runMain(["login", ...hostileArgs(server, cache)])).code, 0);
    await body(mount.dir, cache);
  } finally {
    await server.close();
    await mount.remove();
  }
}

function assertNoDeleteAdvice(result: CliRun): void {
  assert.doesNotMatch(
    result.stderr,
    DELETE_ADVICE,
    "a full or read-only disk is no reason to delete the cache",
  );
}

Deno.test({
  ...needs(
    "a full disk: a refresh fails with 'the disk is full', the cached token is still served, nothing is lost",
    MOUNTS,
    NO_MOUNT,
  ),
  sanitizeResources: false,
  fn: () =>
    signedInOnTmpfs(async (mount, cache) => {
      // Fill what is left of the disk.
      await sh(`dd if=/dev/zero of=${mount}/filler bs=4k 2>/dev/null; sync`);
      const refresh = await runMain([
        "token",
        "--cache",
        cache,
        "--force-refresh",
        "--no-interactive",
      ]);
      assert.equal(refresh.code, 1, refresh.stderr);
      assert.match(
        refresh.stderr,
        /^deviceflow: The token cache .* failed: the disk is full \((database or disk is full|No space left on device \(os error 28\))\); free some space and try again \(nothing in the cache was changed\)\n$/,
      );
      assertNoDeleteAdvice(refresh);
      const cached = await runMain(["token", "--cache", cache, "--no-interactive"]);
      assert.equal(cached.code, 0, cached.stderr);
      assert.equal(cached.stdout, "at-hostile-0123456789\n");
      await Deno.remove(`${mount}/filler`);
      const after = await runMain([
        "token",
        "--cache",
        cache,
        "--force-refresh",
        "--no-interactive",
      ]);
      assert.equal(after.code, 0, after.stderr);
    }),
});

Deno.test({
  ...needs(
    "a read-only mount still serves the cached token; a refresh or logout says the cache is read-only",
    MOUNTS,
    NO_MOUNT,
  ),
  sanitizeResources: false,
  fn: () =>
    signedInOnTmpfs(async (mount, cache) => {
      assert.ok(await sh(`mount -o remount,ro ${mount}`), "remount read-only");
      const token = await runMain(["token", "--cache", cache, "--no-interactive"]);
      assert.deepEqual([token.code, token.stdout, token.stderr], [
        0,
        "at-hostile-0123456789\n",
        "",
      ]);
      const status = await runMain(["status", "--cache", cache]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^Cache: .* \(read-only\)\n/);
      const accounts = await runMain(["accounts", "--cache", cache, "--json"]);
      assert.equal(JSON.parse(accounts.stdout).length, 1);
      for (const args of [["token", "--force-refresh", "--no-interactive"], ["logout"]]) {
        const write = await runMain([args[0]!, "--cache", cache, ...args.slice(1)]);
        assert.equal(write.code, 1, write.stderr);
        assert.match(
          write.stderr,
          /it is read-only \(.*\); it can serve the tokens it holds but not keep new ones/,
        );
        assertNoDeleteAdvice(write);
      }
      assert.equal(
        (await runMain(["token", "--cache", cache, "--no-interactive"])).code,
        0,
        "nothing lost",
      );
    }),
});

const AS_ROOT = Deno.build.os === "linux" && Deno.uid() === 0;
Deno.test({
  ...needs(
    "as a user without write access (a 0400 file in a 0500 directory) the cached token is served",
    AS_ROOT,
    "not root, so no second user can be made",
  ),
  sanitizeResources: false,
  fn: async () => {
    const user = "deviceflow-other";
    assert.ok(
      await sh(`id -u ${user} || useradd --no-create-home --shell /usr/sbin/nologin ${user}`),
      "no second user could be made",
    );
    const server = await startFakeServer();
    const dir = await Deno.makeTempDir({ prefix: "deviceflow-ro-" });
    try {
      serveHostile(server);
      const cache = `${dir}/cache/cache.db`;
      assert.equal((await runMain(["login", ...hostileArgs(server, cache)])).code, 0);
      await Deno.mkdir(`${dir}/deno`);
      assert.ok(
        await sh(
          `chown -R ${user} ${dir} && chmod 0400 ${cache} && chmod 0500 ${dir}/cache && chmod 0755 ${dir}`,
        ),
      );
      const run = async (args: string[]) => {
        const output = await new Deno.Command("runuser", {
          args: ["-u", user, "--", Deno.execPath(), "run", "-A", "--unstable-kv", CLI, ...args],
          env: { DENO_DIR: `${dir}/deno`, NO_COLOR: "1", HOME: dir },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder();
        return {
          code: output.code,
          stdout: text.decode(output.stdout),
          stderr: text.decode(output.stderr),
        };
      };
      const token = await run(["token", "--cache", cache, "--no-interactive"]);
      assert.deepEqual([token.code, token.stdout, token.stderr], [
        0,
        "at-hostile-0123456789\n",
        "",
      ]);
      const refresh = await run(["token", "--cache", cache, "--no-interactive", "--force-refresh"]);
      assert.equal(refresh.code, 1, refresh.stderr);
      assert.match(refresh.stderr, /read-only|permission denied/);
      assertNoDeleteAdvice(refresh);
    } finally {
      await server.close();
      await Deno.chmod(`${dir}/cache`, 0o700).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
