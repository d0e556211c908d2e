/**
 * A sign-in in two steps (`login --no-wait`, then `login --resume` from
 * another process), and `--renew` when a code expires while waiting.
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "./support/approve.ts";
import type { DevServer } from "./support/dev_server.ts";
import { devServerTest, runCli, runMain, startMain, withDevServer } from "./support/cli_harness.ts";

const opts = devServerTest;

const server = (s: DevServer, cache: string) => [
  "--authority",
  s.issuer,
  "--client-id",
  s.clientId,
  "--cache",
  cache,
];

Deno.test({
  name: "login --no-wait exits at once and login --resume in another process finishes it",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (s, cache) => {
      const started = Date.now();
      const first = await runCli(["login", "--no-wait", ...server(s, cache)]);
      assert.equal(first.code, 0, first.stderr);
      assert.ok(Date.now() - started < 5000);
      const pending = JSON.parse(first.stdout);
      assert.match(pending.userCode, /^[A-Z]{4}-[A-Z]{4}$/);
      assert.match(pending.pending, /^[0-9a-f-]{36}$/);
      assert.equal(pending.verificationUri, `${s.issuer}/device`);
      assert.match(first.stderr, /finish with: deviceflow login --resume/);
      assert.equal(s.polls().length, 0, "--no-wait must not poll");
      assert.ok(!first.stdout.includes(s.polls()[0]?.deviceCode ?? "\0"));

      await approveDeviceCode(pending.verificationUri, pending.userCode, { login: "alice" });
      // No server options: the pending sign-in in the cache says where to resume.
      const resumed = await runCli(["login", "--resume", "--cache", cache]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(JSON.parse(resumed.stdout).username, "alice");
      const token = await runMain(["token", "--cache", cache, "--no-interactive"]);
      assert.equal(token.code, 0);
      // Finished sign-ins are not pending any more.
      const again = await runMain(["login", "--resume", "--cache", cache]);
      assert.equal(again.code, 3);
      assert.match(again.stderr, /No sign-in is waiting to be resumed/);
    }),
});

Deno.test({
  name: "login --resume says the code expired and exits 4",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1, deviceCodeTtl: 2 }, async (s, cache) => {
      const first = await runMain(["login", "--no-wait", ...server(s, cache)]);
      assert.equal(first.code, 0, first.stderr);
      await new Promise((resolve) => setTimeout(resolve, 2200));
      const resumed = await runMain(["login", "--resume", "--cache", cache]);
      assert.equal(resumed.code, 4);
      assert.match(resumed.stderr, /expired; start again/);
      assert.equal((await runMain(["login", "--resume", "--cache", cache])).code, 3);
    }),
});

Deno.test({
  name: "two processes resuming one sign-in: one polls, both succeed",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (s, cache) => {
      const first = await runMain(["login", "--no-wait", ...server(s, cache)]);
      const pending = JSON.parse(first.stdout);
      const a = runCli(["login", "--resume", "--cache", cache]);
      const b = runCli(["login", "--resume", "--cache", cache]);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await approveDeviceCode(pending.verificationUri, pending.userCode, { login: "alice" });
      const [ra, rb] = await Promise.all([a, b]);
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal(rb.code, 0, rb.stderr);
      assert.match(ra.stderr + rb.stderr, /Another process is finishing this sign-in/);
      const times = s.polls().map((p) => p.time);
      for (let i = 1; i < times.length; i++) {
        assert.ok(times[i]! - times[i - 1]! >= 990, "two processes polled the same code");
      }
    }),
});

Deno.test({
  name: "login --no-wait refuses a cache that dies with the process",
  ...opts,
  fn: () =>
    withDevServer({}, async (s) => {
      const result = await runMain([
        "login",
        "--no-wait",
        "--authority",
        s.issuer,
        "--client-id",
        s.clientId,
        "--cache",
        ":memory:",
      ]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /--no-wait needs a cache/);
    }),
});

Deno.test({
  name: "login --renew shows a new code when the first expires, and the new one signs in",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1, deviceCodeTtl: 3 }, async (s, cache) => {
      const run = startMain(["login", "--renew", ...server(s, cache)]);
      const first = await run.prompt;
      let second;
      while (
        !(second = run.stderr().match(
          /new one \(1 of 3\)[\s\S]*Address:\s*(\S+)[\s\S]*Code:\s*(\S+)/,
        ))
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.notEqual(second[2], first.code);
      await approveDeviceCode(second[1]!, second[2]!, { login: "alice" });
      const result = await run.done;
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).username, "alice");
    }),
});

Deno.test({
  name: "login without --renew fails on expiry with exit 4",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1, deviceCodeTtl: 2 }, async (s, cache) => {
      const result = await runMain(["login", ...server(s, cache)]);
      assert.equal(result.code, 4);
      assert.doesNotMatch(result.stderr, /new one/);
    }),
});
