/**
 * The cache cannot be planted, hijacked or read by others (issue 9, classes 5
 * and 7): links, other users' files and files others may read are refused
 * before KV opens them, SQLite's companions included; new files are created
 * exclusively, 0600 in a 0700 directory, whatever the umask; a file another
 * process holds locked is waited for a bounded time, saying so; a lease that
 * ends further ahead than a lease can last is taken over; and what a crafted
 * cache file says is validated like what a server says.
 */

import { needs } from "./support/needs.ts";
import assert from "node:assert/strict";
import { TokenCache } from "../cache.ts";
import { startFakeServer } from "./support/fake_server.ts";
import { type CliRun, runCli, runMain } from "./support/cli_harness.ts";
import { assertTerminalSafe, hostileArgs, serveHostile } from "./support/hostile_server.ts";

const POSIX = Deno.build.os !== "windows";
const mode = (info: Deno.FileInfo) => info.mode! & 0o7777;

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "deviceflow-files-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A file of ours with the given mode, whatever the umask. */
async function writeFile(path: string, fileMode = 0o600): Promise<void> {
  await Deno.writeFile(path, new Uint8Array(), { mode: fileMode });
  await Deno.chmod(path, fileMode);
}

/** `accounts` against a cache file: the cheapest command that opens it. */
async function accounts(path: string): Promise<CliRun> {
  const result = await runMain(["accounts", "--cache", path, "--json"]);
  assertTerminalSafe(result.stderr, "stderr");
  return result;
}

function assertRefused(result: CliRun, why: string): void {
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr, `deviceflow: Refusing to open the token cache: ${why}\n`);
}

Deno.test({
  name: "a cache file that is a symbolic link is refused in one line, and its target is untouched",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      const target = `${dir}/elsewhere.db`;
      await writeFile(target);
      const link = `${dir}/cache.db`;
      await Deno.symlink(target, link);
      assertRefused(await accounts(link), `${link} is a symbolic link; remove it (rm ${link})`);
      assert.equal((await Deno.stat(target)).size, 0, "the target was not opened");
      // A dangling link is refused too: it would create a file wherever it points.
      await Deno.remove(target);
      assertRefused(await accounts(link), `${link} is a symbolic link; remove it (rm ${link})`);
      await assert.rejects(Deno.lstat(target));
    }),
});

Deno.test({
  name: "a cache file others may read or write is refused with the chmod that fixes it",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/cache.db`;
      for (const wide of [0o640, 0o604, 0o620, 0o666]) {
        await writeFile(path, wide);
        assertRefused(
          await accounts(path),
          `${path} can be read or written by other users (mode ${
            wide.toString(8)
          }); run: chmod 600 ${path}`,
        );
        assert.equal(
          mode(await Deno.stat(path)),
          wide,
          "its mode is not changed behind the user's back",
        );
      }
      await Deno.chmod(path, 0o600);
      assert.equal((await accounts(path)).stdout, "[]\n");
    }),
});

Deno.test({
  name: "a planted SQLite companion (-wal, -shm, -journal) is refused like the file itself",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/cache.db`;
      await writeFile(path);
      for (const suffix of ["-wal", "-shm", "-journal"]) {
        const companion = `${path}${suffix}`;
        await Deno.symlink(`${dir}/planted`, companion);
        assertRefused(
          await accounts(path),
          `${companion} is a symbolic link; remove it (rm ${companion})`,
        );
        await Deno.remove(companion);
        await writeFile(companion, 0o644);
        assertRefused(
          await accounts(path),
          `${companion} can be read or written by other users (mode 644); run: chmod 600 ${companion}`,
        );
        await Deno.remove(companion);
      }
      assert.equal((await accounts(path)).code, 0);
    }),
});

/** A second local user, made with useradd; `undefined` (with the reason printed) where that cannot be. */
async function otherUser(): Promise<number | undefined> {
  const skip = (why: string) => {
    console.log(`skipped the other-user case: ${why}`);
    return undefined;
  };
  if (!POSIX) return skip("not POSIX");
  if (Deno.uid() !== 0) return skip("not running as root, so no file can be given to another user");
  const name = "deviceflow-other";
  const id = async () => {
    const out = await new Deno.Command("id", {
      args: ["-u", name],
      stdout: "piped",
      stderr: "null",
    })
      .output().catch(() => undefined);
    return out?.success ? Number(new TextDecoder().decode(out.stdout).trim()) : undefined;
  };
  const existing = await id();
  if (existing !== undefined) return existing;
  const made = await new Deno.Command("useradd", {
    args: ["--no-create-home", "--shell", "/usr/sbin/nologin", name],
    stdout: "null",
    stderr: "piped",
  }).output().catch((error) => ({
    success: false,
    stderr: new TextEncoder().encode(String(error)),
  }));
  if (!made.success) return skip(`useradd failed: ${new TextDecoder().decode(made.stderr).trim()}`);
  return await id() ?? skip("useradd made no user");
}

const ROOT = POSIX && Deno.uid() === 0;
Deno.test({
  ...needs(
    "a cache file of another user (planted first in a shared directory) is refused, even for root",
    ROOT,
    "not root, so no file can be given to another user",
  ),
  fn: () =>
    withDir(async (dir) => {
      const uid = await otherUser();
      // Root that cannot add a user is a broken machine, not a reason to pass.
      assert.ok(uid !== undefined, "no second user could be made");
      // A shared directory like /tmp: anyone may create files, nobody may replace another's.
      await Deno.chmod(dir, 0o1777);
      const path = `${dir}/cache.db`;
      await writeFile(path);
      await Deno.chown(path, uid, null);
      assertRefused(
        await accounts(path),
        `${path} belongs to another user (uid ${uid}); remove it, or choose another cache file`,
      );
      // Its -wal, too.
      await Deno.chown(path, 0, null);
      await writeFile(`${path}-wal`);
      await Deno.chown(`${path}-wal`, uid, null);
      assertRefused(
        await accounts(path),
        `${path}-wal belongs to another user (uid ${uid}); remove it, or choose another cache file`,
      );
    }),
});

Deno.test({
  name: "under umask 000 a new cache is still 0600 in a 0700 directory, SQLite's files too",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      const server = await startFakeServer();
      try {
        serveHostile(server);
        const path = `${dir}/new/deviceflow/cache.db`;
        const cli = new URL("../cli.ts", import.meta.url).pathname;
        const output = await new Deno.Command("sh", {
          args: [
            "-c",
            `umask 000 && exec "$0" run -A --unstable-kv "$@"`,
            Deno.execPath(),
            cli,
            "login",
            ...hostileArgs(server, path),
          ],
          stdout: "piped",
          stderr: "piped",
          env: { NO_COLOR: "1" },
        }).output();
        assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
        assert.equal(mode(await Deno.stat(`${dir}/new/deviceflow`)), 0o700);
        for (const file of [path, `${path}-wal`, `${path}-shm`]) {
          const info = await Deno.stat(file).catch(() => undefined);
          if (info) assert.equal(mode(info), 0o600, file);
        }
        assert.equal((await accounts(path)).code, 0);
      } finally {
        await server.close();
      }
    }),
});

Deno.test({
  name: "a private cache in a 0755 directory gets no warning; a directory others may write does",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/cache.db`;
      await Deno.chmod(dir, 0o755);
      const quiet = await accounts(path);
      assert.deepEqual([quiet.code, quiet.stderr], [0, ""]);
      await Deno.chmod(dir, 0o777);
      const loud = await accounts(path);
      assert.equal(loud.code, 0);
      assert.equal(
        loud.stderr,
        `deviceflow: warning: the cache directory ${dir} is writable by other users (mode 777), who could replace the cache; run: chmod 700 ${dir}\n`,
      );
      await Deno.chmod(dir, 0o700);
    }),
});

// ------------------------------------------------------------------ locks and leases

/** A process that holds the SQLite file locked with BEGIN EXCLUSIVE until killed. */
async function holdExclusive(path: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { DatabaseSync } from "node:sqlite";
       const db = new DatabaseSync(${JSON.stringify(path)});
       db.exec("BEGIN EXCLUSIVE");
       console.log("locked");
       setTimeout(() => {}, 60_000);`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the lock holder did not start");
    seen += value;
  }
  reader.releaseLock();
  return child;
}

for (const [bound, env] of [[3, { DEVICEFLOW_LOCK_TIMEOUT: "3" }], [10, {}]] as const) {
  Deno.test(`a cache another process holds locked: token says so after 2 s and gives up after ${bound} s`, () =>
    withDir(async (dir) => {
      const path = `${dir}/cache.db`;
      assert.equal((await accounts(path)).code, 0);
      const holder = await holdExclusive(path);
      try {
        const started = Date.now();
        const result = await runCli(["token", "--cache", path, "--no-interactive"], env);
        const took = (Date.now() - started) / 1000;
        assert.equal(result.code, 1, result.stderr);
        assert.ok(took >= bound && took < bound + 4, `took ${took} s`);
        assert.equal(
          result.stderr,
          `deviceflow: waiting for the token cache ${path}, which another process has locked...\n` +
            `deviceflow: The token cache ${path} is locked by another process (waited ${bound} s); try again when it has finished\n`,
        );
        assert.doesNotMatch(result.stderr, /delete|rm /, "a locked cache is not damaged");
      } finally {
        holder.kill();
        await holder.status;
        await holder.stdout.cancel().catch(() => {});
      }
      // The lock gone, the cache works as before.
      assert.equal((await accounts(path)).code, 0);
    }));
}

Deno.test("the lock notice is a JSON event with --json-events", () =>
  withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    assert.equal((await accounts(path)).code, 0);
    const holder = await holdExclusive(path);
    try {
      const result = await runCli(["token", "--cache", path, "--no-interactive", "--json-events"], {
        DEVICEFLOW_LOCK_TIMEOUT: "3",
      });
      const events = result.stderr.trim().split("\n").map((line) => JSON.parse(line));
      assert.deepEqual(events[0], { event: "waiting", reason: "cache_locked", cache: path });
      assert.equal(events[1].event, "error");
      assert.equal(events[1].exitCode, 1);
    } finally {
      holder.kill();
      await holder.status;
      await holder.stdout.cancel().catch(() => {});
    }
  }));

Deno.test("a lease that ends further ahead than a lease can last is stale and taken over", async () => {
  const cache = TokenCache.memory();
  const now = Date.now();
  const ttl = 30_000;
  // A live lease of another holder is respected...
  assert.equal(await cache.acquireLease("live", "other", ttl, now), true);
  assert.equal(await cache.acquireLease("live", "me", ttl, now + 1000), false);
  // ...one a killed holder took for ten years (or a clock far ahead) is not.
  assert.equal(await cache.acquireLease("stuck", "other", 10 * 365 * 86_400_000, now), true);
  assert.equal(await cache.acquireLease("stuck", "me", ttl, now + 1000), true);
  assert.equal(await cache.leaseHeld("stuck", now + ttl + 2000), false, "it is mine, and bounded");
  cache.close();
});

// ------------------------------------------------------------------ crafted entries

Deno.test("a crafted cache file cannot make an output line: bad tokens, addresses and endpoints are skipped", () =>
  withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const server = await startFakeServer();
    try {
      serveHostile(server);
      const login = await runMain(["login", ...hostileArgs(server, path)]);
      assert.equal(login.code, 0, login.stderr);
      const kv = await Deno.openKv(path);
      const authority = server.url;
      const client = "hostile-client";
      for await (const entry of kv.list({ prefix: ["deviceflow", "v1", "access_token"] })) {
        await kv.set(entry.key, { ...(entry.value as object), secret: "at-1\nX-Injected: 1" });
      }
      await kv.set(["deviceflow", "v1", "metadata", authority], {
        provider: "oidc",
        endpoints: {
          deviceAuthorization: "http://evil.example/device",
          token: "http://evil.example/token",
        },
        fetchedAt: Date.now(),
      });
      await kv.set(["deviceflow", "v1", "pending_device_code", authority, client, "p1"], {
        id: "p1",
        deviceCode: "dc-0123456789",
        userCode: "ABCD-EFGH",
        verificationUri: "https://login.microsoftonline.com@evil.test/",
        expiresAt: Date.now() + 600_000,
        interval: 5,
        message: "m",
        scopes: [],
        createdAt: Date.now(),
      });
      kv.close();

      const header = await runMain(["token", "--cache", path, "-o", "header"]);
      assert.equal(header.code, 0, header.stderr);
      // The tampered token was skipped; the refresh went to the real server, not the cached http one.
      assert.equal(header.stdout, "Authorization: Bearer at-hostile-0123456789\n");
      assert.equal(server.requestsTo("/token").at(-1)!.form.get("grant_type"), "refresh_token");
      const status = JSON.parse((await runMain(["status", "--cache", path, "--json"])).stdout);
      const skipped = status.skipped.map((s: { key: string }) => JSON.parse(s.key)[2]).sort();
      assert.deepEqual(skipped, ["pending_device_code"], JSON.stringify(status.skipped));
      const resume = await runMain(["login", "--cache", path, "--resume"]);
      assert.equal(resume.code, 3, "the pending sign-in with a disguised address is not resumed");
    } finally {
      await server.close();
    }
  }));
