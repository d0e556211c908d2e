/**
 * Several accounts, one active (issue 10, item 3): login makes the new account
 * active, switch changes it, accounts and status mark it, logout of the
 * active one makes another active, and token without --account uses it, so a
 * second sign-in never breaks a script.
 */

import assert from "node:assert/strict";
import { type FakeServer, startFakeServer } from "./support/fake_server.ts";
import { runAs, runMain, tempCache } from "./support/cli_harness.ts";
import {
  HOSTILE_CLIENT,
  hostileArgs,
  idToken,
  serveHostile,
  tokenResponse,
} from "./support/hostile_server.ts";

async function withAccounts(
  body: (server: FakeServer, cache: string, args: string[]) => Promise<void>,
) {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    serveHostile(server);
    const args = hostileArgs(server, cache.path);
    for (const name of ["alice", "bob"]) {
      server.route(
        "POST",
        "/token",
        tokenResponse({
          access_token: `at-${name}-0123456789`,
          refresh_token: `rt-${name}-0123456789`,
          id_token: idToken(server.url, HOSTILE_CLIENT, { sub: name, preferred_username: name }),
        }),
      );
      const login = await runMain(["login", ...args]);
      assert.equal(login.code, 0, login.stderr);
    }
    await body(server, cache.path, args);
  } finally {
    await server.close();
    await cache.cleanup();
  }
}

Deno.test("the second sign-in is active: token without --account keeps working, accounts and status mark it", () =>
  withAccounts(async (_server, cache) => {
    const token = await runMain(["token", "--cache", cache, "--no-interactive"]);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout, "at-bob-0123456789\n");

    const table = (await runMain(["accounts", "--cache", cache])).stdout.split("\n");
    assert.match(table[0]!, /^ACTIVE {2}USERNAME/);
    assert.match(table.find((l) => l.includes(" bob "))!, /^\* +bob /);
    assert.doesNotMatch(table.find((l) => l.includes(" alice "))!, /^\*/);
    const json = JSON.parse((await runMain(["accounts", "--cache", cache, "--json"])).stdout);
    assert.deepEqual(
      json.map((a: { username: string; active: boolean }) => [a.username, a.active]).sort(),
      [["alice", false], ["bob", true]],
    );
    const status = await runMain(["status", "--cache", cache]);
    assert.match(status.stdout, /^Account bob \(bob\), active$/m);
    assert.match(status.stdout, /^Account alice \(alice\)$/m);
    const statusJson = JSON.parse((await runMain(["status", "--cache", cache, "--json"])).stdout);
    assert.equal(
      statusJson.accounts.find((a: { username: string }) => a.username === "bob").active,
      true,
    );
  }));

Deno.test("switch --account changes the active account; logout of it makes the other active", () =>
  withAccounts(async (_server, cache) => {
    const switched = await runMain(["switch", "--cache", cache, "--account", "ALICE"]);
    assert.equal(switched.code, 0, switched.stderr);
    assert.match(
      switched.stderr,
      /^Switched to alice \(http:\/\/127\.0\.0\.1:\d+, client hostile-client\)\n$/,
    );
    assert.equal(
      (await runMain(["token", "--cache", cache, "--no-interactive"])).stdout,
      "at-alice-0123456789\n",
    );
    const logout = await runMain(["logout", "--cache", cache, "--account", "alice"]);
    assert.equal(logout.code, 0, logout.stderr);
    assert.match(logout.stderr, /\nThe active account is now bob\n$/);
    assert.equal(
      (await runMain(["token", "--cache", cache, "--no-interactive"])).stdout,
      "at-bob-0123456789\n",
    );
    const last = await runMain(["logout", "--cache", cache]);
    assert.equal(last.code, 0, last.stderr);
    assert.doesNotMatch(last.stderr, /active account is now/);
    // logout --all of an empty cache succeeds.
    const empty = await runMain(["logout", "--cache", cache, "--all"]);
    assert.deepEqual([empty.code, empty.stderr], [0, "Not signed in: nothing to sign out\n"]);
  }));

Deno.test("switch with several accounts lists them and asks on a terminal, and exits 2 elsewhere", () =>
  withAccounts(async (_server, cache) => {
    const script = await runAs(["switch", "--cache", cache], { terminal: false });
    assert.equal(script.code, 2);
    assert.match(script.stderr, /^Cached accounts:\n {2}1\. \w+ .*\n {2}2\. \w+ .*\n/);
    assert.match(script.stderr, /choose one with --account\n/);
    const listed = script.stderr.split("\n").slice(1, 3);
    const aliceAt = listed.findIndex((l) => l.includes(" alice "));
    const asked = await runAs(["switch", "--cache", cache], {
      terminal: true,
      answer: String(aliceAt + 1),
    });
    assert.equal(asked.code, 0, asked.stderr);
    assert.match(asked.stderr, /Switch to which account\? \[1-2\]: Switched to alice /);
    assert.equal(
      (await runMain(["token", "--cache", cache, "--no-interactive"])).stdout,
      "at-alice-0123456789\n",
    );
    const wrong = await runAs(["switch", "--cache", cache], { terminal: true, answer: "7" });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /"7" is not a number from 1 to 2/);
  }));

Deno.test("token --account with no such account names the cached ones (exit 3)", () =>
  withAccounts(async (_server, cache) => {
    for (const command of [["token", "--no-interactive"], ["switch"], ["logout"]]) {
      const result = await runMain([
        command[0]!,
        "--cache",
        cache,
        ...command.slice(1),
        "--account",
        "carol",
      ]);
      assert.equal(result.code, 3, result.stderr);
      assert.match(
        result.stderr,
        /^deviceflow: No cached account is named carol; the cached accounts are (alice, bob|bob, alice)/,
      );
    }
  }));

Deno.test("several accounts and none active (an older cache): the message names --account and switch", () =>
  withAccounts(async (_server, cache) => {
    const kv = await Deno.openKv(cache);
    for await (const entry of kv.list({ prefix: ["deviceflow", "v1", "active"] })) {
      await kv.delete(entry.key);
    }
    kv.close();
    const result = await runMain(["token", "--cache", cache, "--no-interactive"]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /choose one with --account, or make one active with: deviceflow switch/,
    );
    assert.doesNotMatch(result.stderr, /the account option/);
  }));
