/**
 * The cache under stress, with real `deno run cli.ts` processes against
 * node-oidc-provider: 32 commands at once on one cache file, a process
 * killed in the middle of a refresh, and Ctrl-C while polling.
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "./support/approve.ts";
import { type DevServer, startDevServer } from "./support/dev_server.ts";
import {
  devServerTest,
  findPrompt,
  runCli,
  runMain,
  serverArgs,
  spawnCli,
  startMain,
  withDevServer,
} from "./support/cli_harness.ts";

const opts = devServerTest;
const NS = ["deviceflow", "v1"];
const REFRESH = { path: "/token", grantType: "refresh_token" };

/** Signs `login` in through main(), approving through the server's pages. */
async function signIn(
  server: DevServer,
  cache: string,
  login: string,
  env: Record<string, string> = {},
): Promise<void> {
  const run = startMain(["login", ...serverArgs(server, cache)], env);
  const { address, code } = await run.prompt;
  await approveDeviceCode(address, code, { login });
  const result = await run.done;
  assert.equal(result.code, 0, result.stderr);
}

/** A CLI process whose output can be watched while it runs. */
interface Watched {
  readonly args: string[];
  /** Everything on stderr so far. */
  stderr(): string;
  /** Resolves once stderr matches. */
  waitFor(pattern: RegExp): Promise<void>;
  /** Resolves when the process has ended and its output is read. */
  readonly done: Promise<
    { code: number; signal: Deno.Signal | null; stdout: string; stderr: string }
  >;
  readonly child: Deno.ChildProcess;
}

function watch(args: string[], env: Record<string, string> = {}): Watched {
  const child = spawnCli(args, env);
  let stderr = "";
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const stdout = new Response(child.stdout).text();
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += chunk;
      for (const w of waiters.filter((w) => w.pattern.test(stderr))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  })();
  const done = (async () => {
    const [status, out] = await Promise.all([child.status, stdout, reading]);
    return { code: status.code, signal: status.signal, stdout: out, stderr };
  })();
  return {
    args,
    child,
    stderr: () => stderr,
    waitFor: (pattern) =>
      pattern.test(stderr) ? Promise.resolve() : Promise.race([
        new Promise<void>((resolve) => waiters.push({ pattern, resolve })),
        done.then((r) => {
          throw new Error(`${args.join(" ")} ended (${r.code}) before ${pattern}: ${r.stderr}`);
        }),
      ]),
    done,
  };
}

async function until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every entry of the cache file as raw KV has it; versionstamps left out. */
async function rawEntries(path: string): Promise<Map<string, unknown>> {
  const kv = await Deno.openKv(path);
  try {
    const out = new Map<string, unknown>();
    for await (const entry of kv.list({ prefix: [] })) {
      out.set(JSON.stringify(entry.key), entry.value);
    }
    return out;
  } finally {
    kv.close();
  }
}

/**
 * Rewrites entries of one kind through raw KV, as time would: every access
 * token of the given accounts, or every pending sign-in of an authority.
 */
async function rewrite(
  path: string,
  kind: "access_token" | "pending_device_code",
  match: (key: Deno.KvKey) => boolean,
  change: (value: Record<string, unknown>) => Record<string, unknown>,
): Promise<number> {
  const kv = await Deno.openKv(path);
  let count = 0;
  try {
    for await (const entry of kv.list<Record<string, unknown>>({ prefix: [...NS, kind] })) {
      if (!match(entry.key)) continue;
      await kv.set(entry.key, change(entry.value));
      count++;
    }
  } finally {
    kv.close();
  }
  return count;
}

const expired = (value: Record<string, unknown>) => ({ ...value, expiresAt: Date.now() - 1000 });

async function token(cache: string, account: string, env: Record<string, string> = {}) {
  const result = await runMain(["token", "--cache", cache, "--account", account], env);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

// ---------------------------------------------------------------------------

/** One kind of process in the storm, and what it must end with. */
interface Role {
  readonly name: string;
  readonly args: string[];
  readonly count: number;
  readonly code: number;
  /** What stderr must say, for the failures. */
  readonly says?: RegExp;
}

for (const encrypted of [false, true]) {
  Deno.test({
    name: `32 processes mixing token, login --resume, logout and status on one ${
      encrypted ? "encrypted " : ""
    }cache lose nothing and end with the documented exit codes`,
    ...opts,
    fn: async () => {
      const env: Record<string, string> = encrypted
        ? {
          DEVICEFLOW_CACHE_KEY: btoa(
            String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))),
          ),
        }
        : {};
      const other = await startDevServer({ interval: 1 });
      try {
        await withDevServer({ interval: 1 }, async (server, cache) => {
          const started = performance.now();
          const names = ["ann", "ben", "cat", "dan", "eve", "fay", "zed"];
          await Promise.all(names.map((name) => signIn(server, cache, name, env)));
          assert.equal(
            (await runMain(["logout", "--account", "zed", "--cache", cache], env)).code,
            0,
          );
          const before = new Map<string, string>();
          for (const name of ["ann", "ben", "cat", "dan"]) {
            before.set(name, await token(cache, name, env));
          }

          // Two sign-ins started with --no-wait: one to be approved during the
          // storm, one at another server whose code has expired.
          const pending = await runMain(["login", "--no-wait", ...serverArgs(server, cache)], env);
          assert.equal(pending.code, 0, pending.stderr);
          const waiting = JSON.parse(pending.stdout);
          const stale = await runMain(["login", "--no-wait", ...serverArgs(other, cache)], env);
          assert.equal(stale.code, 0, stale.stderr);
          assert.equal(
            await rewrite(cache, "pending_device_code", (k) => k[3] === other.issuer, expired),
            1,
          );
          const needRefresh = new Set(["ann", "ben", "cat"]);
          assert.equal(
            await rewrite(cache, "access_token", (k) => needRefresh.has(String(k[5])), expired),
            3,
          );
          const refreshesBefore = server.count(REFRESH);
          const setUp = performance.now() - started;

          const c = ["--cache", cache];
          const roles: Role[] = [
            ...["ann", "ben"].map((a) => ({
              name: `token ${a} (expired)`,
              args: ["token", "--account", a, "--no-interactive", ...c],
              count: 4,
              code: 0,
            })),
            {
              name: "token cat (expired)",
              args: ["token", "--account", "cat", "--no-interactive", ...c],
              count: 3,
              code: 0,
            },
            {
              name: "token dan (fresh)",
              args: ["token", "--account", "dan", "--no-interactive", ...c],
              count: 5,
              code: 0,
            },
            {
              name: "token zed (logged out)",
              args: ["token", "--account", "zed", "--no-interactive", ...c],
              count: 2,
              code: 3,
              says: /No cached account is named zed/,
            },
            ...["eve", "fay"].map((a) => ({
              name: `logout ${a}`,
              args: ["logout", "--account", a, ...c],
              count: 1,
              code: 0,
            })),
            {
              name: "logout zed (logged out)",
              args: ["logout", "--account", "zed", ...c],
              count: 1,
              code: 3,
              says: /No cached account is named zed/,
            },
            {
              name: "login --resume (approved)",
              args: [
                "login",
                "--resume",
                "--authority",
                server.issuer,
                "--client-id",
                server.clientId,
                ...c,
              ],
              count: 2,
              code: 0,
            },
            {
              name: "login --resume (expired)",
              args: [
                "login",
                "--resume",
                "--authority",
                other.issuer,
                "--client-id",
                other.clientId,
                ...c,
              ],
              count: 1,
              code: 4,
              says: /The device code of the pending sign-in expired/,
            },
            { name: "status --json", args: ["status", "--json", ...c], count: 8, code: 0 },
          ];
          const storm = roles.flatMap((role) =>
            Array.from({ length: role.count }, () => ({ role, run: watch(role.args, env) }))
          );
          assert.equal(storm.length, 32);
          const stormStarted = performance.now();

          // Both resumers must be in before the sign-in is approved: one polls,
          // the other waits for its result.
          const resumers = storm.filter((p) => p.role.name === "login --resume (approved)");
          await Promise.all(
            resumers.map((p) =>
              p.run.waitFor(
                /Waiting for the pending sign-in|Another process is finishing this sign-in/,
              )
            ),
          );
          await approveDeviceCode(waiting.verificationUri, waiting.userCode, { login: "gus" });
          const results = await Promise.all(
            storm.map(async (p) => ({ ...p, ...(await p.run.done) })),
          );
          const stormTime = performance.now() - stormStarted;

          const seen = new Map<number, number>();
          for (const r of results) {
            seen.set(r.code, (seen.get(r.code) ?? 0) + 1);
            assert.equal(r.code, r.role.code, `${r.role.name}: ${r.stderr}`);
            if (r.role.says) {
              assert.match(r.stderr, r.role.says, r.role.name);
              assert.equal(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
            }
          }
          // One token per account; a new one for each expired account, the cached one for dan.
          for (const name of ["ann", "ben", "cat", "dan"]) {
            const printed = new Set(
              results.filter((r) => r.role.args.includes(name) && r.role.args[0] === "token").map((
                r,
              ) => r.stdout.trim()),
            );
            assert.equal(printed.size, 1, `${name} got different tokens`);
            const [printedToken] = printed;
            if (name === "dan") assert.equal(printedToken, before.get(name));
            else assert.notEqual(printedToken, before.get(name), `${name} was not refreshed`);
          }
          const refreshes = server.count(REFRESH) - refreshesBefore;
          assert.equal(refreshes, 3, "one refresh per expired account");
          for (const r of results.filter((r) => r.role.name === "login --resume (approved)")) {
            assert.equal(JSON.parse(r.stdout).username, "gus");
          }
          for (const r of results.filter((r) => r.role.name === "status --json")) {
            const state = JSON.parse(r.stdout);
            assert.deepEqual(state.skipped, []);
            const usernames = state.accounts.map((a: { username: string }) => a.username);
            for (const name of ["ann", "ben", "cat", "dan"]) assert.ok(usernames.includes(name));
          }

          // Afterwards: exactly the accounts that were not signed out, nothing skipped.
          const after = await runMain(["status", "--json", "--cache", cache], env);
          const state = JSON.parse(after.stdout);
          assert.deepEqual(state.skipped, []);
          assert.deepEqual(
            state.accounts.map((a: { username: string }) => a.username).sort(),
            ["ann", "ben", "cat", "dan", "gus"],
          );
          for (const account of state.accounts) assert.equal(account.refreshToken, true);
          const raw = await rawEntries(cache);
          const kinds = [...raw.keys()].map((k) => JSON.parse(k)[2]);
          assert.ok(!kinds.includes("pending_device_code"), "a pending sign-in was left");
          assert.ok(!kinds.includes("lease"), "a lease was left");
          for (const key of raw.keys()) assert.doesNotMatch(key, /"(eve|fay|zed)"/);
          // Every survivor's tokens still work, the refresh token too.
          for (const name of ["ann", "ben", "cat", "dan", "gus"]) {
            const result = await runMain(
              ["token", "--account", name, "--no-interactive", "--force-refresh", ...c],
              env,
            );
            assert.equal(result.code, 0, result.stderr);
          }
          if (encrypted) {
            const text = JSON.stringify([...raw.values()]);
            for (
              const printed of results.map((r) => r.stdout.trim()).filter((t) => t.length > 30)
            ) {
              assert.ok(!text.includes(printed), "a token is in the cache in plaintext");
            }
          }
          console.log(
            `storm${encrypted ? " (encrypted)" : ""}: ${results.length} processes in ${
              Math.round(stormTime)
            } ms (set-up ${Math.round(setUp)} ms); exit codes ${
              JSON.stringify(Object.fromEntries([...seen].sort()))
            }; ${refreshes} refreshes for 3 expired accounts; tokens lost: 0`,
          );
        });
      } finally {
        await other.close();
      }
    },
  });
}

for (const rotate of [false, true]) {
  Deno.test({
    name: rotate
      ? "a process killed mid-refresh at a server that rotates refresh tokens: the next run takes over the lease and asks for a sign-in (exit 3)"
      : "a process killed mid-refresh: the next run takes over once the lease expires and refreshes",
    ...opts,
    fn: () =>
      withDevServer(
        { interval: 1, refreshDelayMs: 1500, rotateRefreshTokens: rotate },
        async (server, cache) => {
          await signIn(server, cache, "alice");
          const original = await token(cache, "alice");
          await rewrite(cache, "access_token", () => true, expired);
          // A short lease, so that the test does not wait the default minute.
          const env = { DEVICEFLOW_LEASE_TTL: "2" };
          const args = ["token", "--cache", cache, "--no-interactive"];
          const victim = watch(args, env);
          await until(() => server.count(REFRESH) === 1, "the refresh to reach the server");
          victim.child.kill("SIGKILL");
          const killed = await victim.done;
          assert.equal(killed.signal, "SIGKILL");
          assert.equal(killed.stdout, "");
          const leases = [...(await rawEntries(cache))].filter(([k]) => k.includes('"lease"'));
          assert.equal(leases.length, 1, "the killed process left its lease");

          const started = performance.now();
          const next = await runCli(args, env);
          const took = performance.now() - started;
          assert.equal(server.count(REFRESH), 2, "the next run refreshed once");
          // It waited for the dead holder's lease (2 s) rather than the default, then did the work.
          assert.ok(took < 2000 + 5000 + 3000, `the next run took ${Math.round(took)} ms`);
          if (!rotate) {
            assert.equal(next.code, 0, next.stderr);
            assert.notEqual(next.stdout.trim(), original);
            assert.equal(next.stderr, "");
            assert.equal(await token(cache, "alice"), next.stdout.trim());
          } else {
            // The killed refresh reached the server, which rotated the refresh
            // token; the new one died with the process, and the old one is
            // refused as replayed.
            assert.equal(next.code, 3, next.stderr);
            assert.equal(
              next.stderr,
              `deviceflow: The server refused the cached sign-in of alice (invalid_grant); sign in again with: deviceflow login --authority ${server.issuer} --client-id ${server.clientId}\n`,
            );
            const state = JSON.parse(
              (await runMain(["status", "--json", "--cache", cache])).stdout,
            );
            assert.equal(state.accounts[0].refreshToken, false);
            assert.deepEqual(state.skipped, []);
            await signIn(server, cache, "alice");
            assert.ok((await token(cache, "alice")).length > 20);
          }
          console.log(
            `killed mid-refresh (${
              rotate ? "rotating" : "non-rotating"
            } server): next run exit ${next.code} after ${Math.round(took)} ms`,
          );
        },
      ),
  });
}

Deno.test({
  name: "Ctrl-C while login polls exits 130 with one line and leaves the cache as it was",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      await signIn(server, cache, "alice");
      const status = await runMain(["status", "--json", "--cache", cache]);
      const raw = await rawEntries(cache);
      const login = watch(["login", ...serverArgs(server, cache)]);
      await login.waitFor(/Waiting for the sign-in/);
      const prompt = findPrompt(login.stderr());
      assert.ok(prompt);
      await until(() => server.polls().length >= 1, "the first poll");
      const shown = login.stderr();
      login.child.kill("SIGINT");
      const result = await login.done;
      assert.equal(result.code, 130, result.stderr);
      assert.equal(result.stdout, "");
      const after = result.stderr.slice(shown.length);
      assert.equal(after, "deviceflow: The operation was cancelled\n");
      assert.equal((await runMain(["status", "--json", "--cache", cache])).stdout, status.stdout);
      assert.deepEqual(await rawEntries(cache), raw);
    }),
});
