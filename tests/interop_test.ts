/**
 * Interop: the CLI against node-oidc-provider, a real OpenID provider with
 * the device flow, approved through its own pages as a person would.
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "./support/approve.ts";
import type { DevServer } from "./support/dev_server.ts";
import { TokenCache } from "../cache.ts";
import {
  devServerTest,
  runCli,
  runMain,
  serverArgs,
  spawnCli,
  startMain,
  withDevServer,
} from "./support/cli_harness.ts";

const opts = devServerTest;

/** Signs in through main(), approving as `login`; returns the run. */
async function signIn(server: DevServer, cache: string, login = "alice", extra: string[] = []) {
  const run = startMain(["login", ...serverArgs(server, cache), ...extra]);
  const { address, code } = await run.prompt;
  await approveDeviceCode(address, code, { login });
  return await run.done;
}

function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

Deno.test({
  name: "login signs in against node-oidc-provider and no poll comes sooner than the interval",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      const run = startMain(["login", ...serverArgs(server, cache)]);
      const { address, code } = await run.prompt;
      // Let a few polls be pending first, so that the spacing is measured.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await approveDeviceCode(address, code, { login: "alice" });
      const result = await run.done;
      assert.equal(result.code, 0, result.stderr);
      const summary = JSON.parse(result.stdout);
      assert.equal(summary.username, "alice");
      assert.equal(summary.homeAccountId, "alice");
      assert.equal(summary.authority, server.issuer);
      assert.equal(summary.clientId, server.clientId);
      assert.ok(Date.parse(summary.expiresAt) > Date.now());
      assert.ok(!result.stdout.includes("access_token"));
      // The prompt names the address and the code on stderr, not stdout.
      assert.match(result.stderr, new RegExp(`Code:\\s+${code}`));
      const polls = server.polls().map((p) => p.time);
      assert.ok(polls.length >= 3, `expected several polls, got ${polls.length}`);
      for (const gap of gaps(polls)) assert.ok(gap >= 990, `a poll came after ${gap} ms`);
      const cached = await TokenCache.open(cache);
      try {
        const [account] = await cached.getAccounts();
        assert.equal(account?.username, "alice");
        assert.ok(await cached.getRefreshToken(account!));
      } finally {
        cached.close();
      }
    }),
});

Deno.test({
  name: "login honours and accumulates slow_down from the server (1 s, then 6 s, then 11 s)",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1, slowDown: 2 }, async (server, cache) => {
      const run = startMain(["login", ...serverArgs(server, cache)]);
      const { address, code } = await run.prompt;
      await approveDeviceCode(address, code, { login: "alice" });
      const result = await run.done;
      assert.equal(result.code, 0, result.stderr);
      const polls = server.polls();
      assert.deepEqual(polls.map((p) => p.status), [400, 400, 200]);
      const [first, second] = gaps(polls.map((p) => p.time));
      assert.ok(first! >= 5990, `after the first slow_down the gap was ${first} ms`);
      assert.ok(second! >= 10990, `after the second slow_down the gap was ${second} ms`);
      assert.match(result.stderr, /slow down: polling every 6 s/);
      assert.match(result.stderr, /slow down: polling every 11 s/);
    }),
});

Deno.test({
  name: "login exits 4 when the person declines at the server",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      const run = startMain(["login", ...serverArgs(server, cache)]);
      const { address, code } = await run.prompt;
      await approveDeviceCode(address, code, { deny: true });
      const result = await run.done;
      assert.equal(result.code, 4);
      assert.match(result.stderr, /deviceflow: The sign-in was declined\n/);
      assert.equal(result.stdout, "");
    }),
});

Deno.test({
  name: "login exits 4 and says expired when the code expires",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1, deviceCodeTtl: 3 }, async (server, cache) => {
      const result = await runMain(["login", ...serverArgs(server, cache)]);
      assert.equal(result.code, 4);
      assert.match(result.stderr, /deviceflow: The device code expired/);
    }),
});

Deno.test({
  name: "login with an unknown client exits 1 with the server's error on one line",
  ...opts,
  fn: () =>
    withDevServer({}, async (server, cache) => {
      const result = await runMain([
        "login",
        "--authority",
        server.issuer,
        "--client-id",
        "nobody",
        "--cache",
        cache,
      ]);
      assert.equal(result.code, 1);
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0]!,
        /^deviceflow: The server returned invalid_client \(HTTP 40\d\).*client ID/,
      );
    }),
});

Deno.test({
  name: "login --timeout exits 4 when the sign-in takes longer",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      const started = Date.now();
      const result = await runMain(["login", ...serverArgs(server, cache), "--timeout", "2"]);
      assert.equal(result.code, 4);
      assert.match(result.stderr, /did not complete within the 2 s time limit/);
      assert.ok(Date.now() - started < 5000);
    }),
});

Deno.test({
  name: "an interrupted login exits 130 and leaves the cache as it was",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      assert.equal((await signIn(server, cache, "alice")).code, 0);
      const before = await runMain(["status", "--json", "--cache", cache]);
      const run = startMain(["login", ...serverArgs(server, cache)]);
      await run.prompt;
      run.interrupt();
      const result = await run.done;
      assert.equal(result.code, 130);
      assert.match(result.stderr, /cancelled/);
      const after = await runMain(["status", "--json", "--cache", cache]);
      assert.equal(after.stdout, before.stdout);
    }),
});

Deno.test({
  name: "token prints the cached token without a request to the server",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      assert.equal((await signIn(server, cache)).code, 0);
      const requests = server.requests.length;
      const first = await runMain(["token", "--cache", cache]);
      const second = await runMain(["token", "--cache", cache, "--output", "json"]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(server.requests.length, requests, "token made a request");
      const token = first.stdout.trim();
      assert.ok(token.length > 20);
      const json = JSON.parse(second.stdout);
      assert.equal(json.accessToken, token);
      assert.equal(json.tokenType, "Bearer");
      assert.equal(json.account.username, "alice");
      assert.ok(Date.parse(json.expiresAt) > Date.now());
      assert.equal(first.stderr, "");
    }),
});

Deno.test({
  name: "token refreshes a short-lived token once and stores the rotated refresh token",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      assert.equal((await signIn(server, cache)).code, 0);
      const original = (await runMain(["token", "--cache", cache])).stdout.trim();
      const before = await readRefreshToken(cache);
      assert.equal(await expireAccessTokens(cache), 1);
      const result = await runMain(["token", "--cache", cache]);
      assert.equal(result.code, 0, result.stderr);
      const refreshed = result.stdout.trim();
      assert.notEqual(refreshed, original);
      assert.equal(server.count({ path: "/token", grantType: "refresh_token" }), 1);
      const after = await readRefreshToken(cache);
      assert.ok(before && after);
      assert.notEqual(after, before, "the rotated refresh token was not stored");
      // The new token is served from the cache while it lives long enough.
      const again = await runMain(["token", "--cache", cache]);
      assert.equal(again.stdout.trim(), refreshed);
      assert.equal(server.count({ path: "/token", grantType: "refresh_token" }), 1);
    }),
});

/** Makes every cached access token expired, as time would. */
async function expireAccessTokens(path: string): Promise<number> {
  const kv = await Deno.openKv(path);
  let count = 0;
  try {
    for await (
      const entry of kv.list<Record<string, unknown>>({
        prefix: ["deviceflow", "v1", "access_token"],
      })
    ) {
      await kv.set(entry.key, { ...entry.value, expiresAt: Date.now() - 1000 });
      count++;
    }
  } finally {
    kv.close();
  }
  return count;
}

async function readRefreshToken(path: string): Promise<string | undefined> {
  const cache = await TokenCache.open(path);
  try {
    const [account] = await cache.getAccounts();
    return account ? (await cache.getRefreshToken(account))?.secret : undefined;
  } finally {
    cache.close();
  }
}

Deno.test({
  name:
    "token refreshes once, not on every call, when the server's tokens live shorter than --min-ttl",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1, accessTokenTtl: 60 }, async (server, cache) => {
      assert.equal((await signIn(server, cache)).code, 0);
      // A 60 s token counts as fresh for its first 30 s, whatever the margin asked.
      for (let i = 0; i < 3; i++) {
        const result = await runMain(["token", "--cache", cache, "--min-ttl", "120"]);
        assert.equal(result.code, 0, result.stderr);
      }
      assert.equal(server.count({ path: "/token", grantType: "refresh_token" }), 0);
    }),
});

Deno.test({
  name: "token exits 3 when the server has revoked the refresh token",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      assert.equal((await signIn(server, cache)).code, 0);
      await server.revokeAllGrants();
      const result = await runMain([
        "token",
        "--cache",
        cache,
        "--force-refresh",
        "--no-interactive",
      ]);
      assert.equal(result.code, 3);
      assert.match(
        result.stderr,
        /refused the cached sign-in of alice \(invalid_grant\); sign in again with: deviceflow login --authority http:\/\/127\.0\.0\.1:\d+ --client-id deviceflow-dev\n$/,
      );
      assert.equal(result.stdout, "");
      // The dead refresh token is gone: the next try needs no request to know.
      const requests = server.requests.length;
      const again = await runMain([
        "token",
        "--cache",
        cache,
        "--force-refresh",
        "--no-interactive",
      ]);
      assert.equal(again.code, 3);
      assert.equal(server.requests.length, requests);
    }),
});

Deno.test({
  name: "token --no-interactive exits 3 when nothing is cached",
  ...opts,
  fn: () =>
    withDevServer({}, async (server, cache) => {
      const result = await runMain(["token", ...serverArgs(server, cache), "--no-interactive"]);
      assert.equal(result.code, 3);
      assert.match(result.stderr, /Not signed in/);
    }),
});

Deno.test({
  name: "token signs in with a device code when nothing is cached and prints the token",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      // A person is there to approve: stderr is no terminal here, so say so.
      const run = startMain(["token", ...serverArgs(server, cache), "--interactive"]);
      const { address, code } = await run.prompt;
      await approveDeviceCode(address, code, { login: "bob" });
      const result = await run.done;
      assert.equal(result.code, 0, result.stderr);
      const cached = await runMain(["token", "--cache", cache]);
      assert.equal(cached.stdout, result.stdout);
    }),
});

Deno.test({
  name: "logout revokes the refresh token at the server and empties the cache",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      assert.equal((await signIn(server, cache)).code, 0);
      const result = await runMain(["logout", "--cache", cache]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Signed out alice .*revoked at the server/);
      const revocations = server.requests.filter((r) => r.path === "/token/revocation");
      assert.equal(revocations.length, 1);
      assert.equal(revocations[0]!.status, 200);
      const accounts = await runMain(["accounts", "--json", "--cache", cache]);
      assert.deepEqual(JSON.parse(accounts.stdout), []);
      const status = await runMain(["status", "--cache", cache]);
      assert.equal(status.code, 3);
    }),
});

Deno.test({
  name: "accounts and status list the signed-in accounts without any token",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      assert.equal((await signIn(server, cache, "alice")).code, 0);
      assert.equal((await signIn(server, cache, "bob")).code, 0);
      const accounts = await runMain(["accounts", "--json", "--cache", cache]);
      const names = JSON.parse(accounts.stdout).map((a: { username: string }) => a.username);
      assert.deepEqual(names.sort(), ["alice", "bob"]);
      const text = await runMain(["accounts", "--cache", cache]);
      assert.match(text.stdout, /^ACTIVE\s+USERNAME\s+HOME ACCOUNT ID\s+AUTHORITY\s+CLIENT ID\n/);
      const status = await runMain(["status", "--json", "--cache", cache]);
      assert.equal(status.code, 0);
      const state = JSON.parse(status.stdout);
      assert.equal(state.cache, cache);
      assert.equal(state.accounts.length, 2);
      assert.equal(state.accounts[0].refreshToken, true);
      const tokens = [
        (await runMain(["token", "--cache", cache, "--account", "alice"])).stdout.trim(),
        (await runMain(["token", "--cache", cache, "--account", "bob"])).stdout.trim(),
      ];
      for (const token of tokens) {
        assert.ok(token.length > 20);
        assert.ok(!status.stdout.includes(token));
      }
      // Two accounts and no --account: the active one, the last signed in (bob).
      const active = await runMain(["token", "--cache", cache]);
      assert.equal(active.code, 0, active.stderr);
      assert.equal(active.stdout.trim(), tokens[1]);
    }),
});

Deno.test({
  name: "16 processes asking for an expired token at once make exactly one refresh",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      assert.equal((await signIn(server, cache)).code, 0);
      assert.equal(await expireAccessTokens(cache), 1);
      const children = Array.from(
        { length: 16 },
        () => spawnCli(["token", "--cache", cache]).output(),
      );
      const outputs = await Promise.all(children);
      const decoder = new TextDecoder();
      const tokens = outputs.map((o) => decoder.decode(o.stdout).trim());
      outputs.forEach((o, i) => assert.equal(o.code, 0, decoder.decode(outputs[i]!.stderr)));
      assert.equal(new Set(tokens).size, 1, "the processes printed different tokens");
      assert.equal(server.count({ path: "/token", grantType: "refresh_token" }), 1);
    }),
});

Deno.test({
  name: "concurrent sign-ins of different accounts into one cache lose nothing",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1 }, async (server, cache) => {
      const names = ["ann", "ben", "cat", "dan"];
      const runs = names.map((name) => ({
        name,
        child: spawnCli(["login", ...serverArgs(server, cache)]),
      }));
      await Promise.all(runs.map(async ({ name, child }) => {
        const stdout = new Response(child.stdout).text();
        const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        let prompt;
        while (!(prompt = text.match(/Address:\s*(\S+)[\s\S]*Code:\s*(\S+)/))) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`login for ${name} ended early: ${text}`);
          text += value;
        }
        await approveDeviceCode(prompt[1]!, prompt[2]!, { login: name });
        for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
        assert.equal((await child.status).code, 0, text);
        assert.equal(JSON.parse(await stdout).username, name);
      }));
      const accounts = await runMain(["accounts", "--json", "--cache", cache]);
      const found = JSON.parse(accounts.stdout).map((a: { username: string }) => a.username);
      assert.deepEqual(found.sort(), names);
    }),
});

Deno.test({
  name: "deno run cli.ts prints help on stdout, usage errors on stderr, with exit codes",
  fn: async () => {
    const help = await runCli(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^deviceflow \d+\.\d+\.\d+: sign in with a device code/);
    assert.equal(help.stderr, "");
    const loginHelp = await runCli(["login", "-h"]);
    assert.equal(loginHelp.code, 0);
    assert.match(loginHelp.stdout, /--client-id ID/);
    const bad = await runCli(["login", "--bogus"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, /^deviceflow: login: unknown option --bogus\n/);
    const version = await runCli(["--version"]);
    assert.match(version.stdout, /^deviceflow \d+\.\d+\.\d+\n$/);
  },
});
