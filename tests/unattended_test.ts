/**
 * Where nobody can answer (issue 10, items 1 and 2): kubectl's exec plugin
 * with `interactive: false`, scripts without a terminal, a sign-in started
 * with `login --no-wait` and finished by the next `token`, and time limits
 * that end at their deadline with a last poll there.
 */

import assert from "node:assert/strict";
import { type FakeServer, json, startFakeServer } from "./support/fake_server.ts";
import { runAs, runCli, runMain, tempCache } from "./support/cli_harness.ts";
import { hostileArgs, serveHostile, tokenResponse } from "./support/hostile_server.ts";

const PENDING = json(400, { error: "authorization_pending" });

async function withServer(
  body: (server: FakeServer, cache: string, args: string[]) => Promise<void>,
) {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    serveHostile(server);
    await body(server, cache.path, hostileArgs(server, cache.path));
  } finally {
    await server.close();
    await cache.cleanup();
  }
}

const EXEC_INFO = (interactive: boolean) =>
  JSON.stringify({
    kind: "ExecCredential",
    apiVersion: "client.authentication.k8s.io/v1",
    spec: { interactive, cluster: { server: "https://k8s.example" } },
  });

Deno.test("kubectl with interactive: false and nothing cached: exit 3 at once, naming the login command", () =>
  withServer(async (server, cache, args) => {
    const started = Date.now();
    const result = await runCli(["token", ...args, "-o", "exec-credential"], {
      KUBERNETES_EXEC_INFO: EXEC_INFO(false),
    });
    const took = Date.now() - started;
    assert.equal(result.code, 3, result.stderr);
    assert.ok(took < 2000, `took ${took} ms`);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `deviceflow: Not signed in to ${server.url} with client hostile-client; kubectl runs this non-interactively, so sign in with: deviceflow login --authority ${server.url} --client-id hostile-client\n`,
    );
    assert.equal(server.requestsTo("/device").length, 0, "no sign-in was started");
    // Even with a terminal: kubectl said nobody is there.
    const terminal = await runAs(["token", ...args, "-o", "exec-credential"], {
      terminal: true,
      env: { KUBERNETES_EXEC_INFO: EXEC_INFO(false) },
    });
    assert.equal(terminal.code, 3);
    assert.equal((await runMain(["accounts", "--cache", cache, "--json"])).stdout, "[]\n");
  }));

Deno.test("kubectl with interactive: true signs in, and the credential has kubectl's version", () =>
  withServer(async (server, _cache, args) => {
    const info = JSON.stringify({
      apiVersion: "client.authentication.k8s.io/v1beta1",
      spec: { interactive: true },
    });
    const result = await runAs(["token", ...args, "-o", "exec-credential"], {
      terminal: false,
      env: { KUBERNETES_EXEC_INFO: info },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).apiVersion, "client.authentication.k8s.io/v1beta1");
    assert.equal(server.requestsTo("/device").length, 1);
  }));

Deno.test("token starts a sign-in only where a person can see the code", () =>
  withServer(async (server, _cache, args) => {
    // No terminal: exit 3, with the command to run; nothing is asked of the server.
    const script = await runAs(["token", ...args], { terminal: false });
    assert.equal(script.code, 3);
    assert.match(
      script.stderr,
      /^deviceflow: Not signed in to \S+ with client hostile-client; there is no terminal to show a code on, so sign in with: deviceflow login --authority \S+ --client-id hostile-client \(or pass --interactive\)\n$/,
    );
    for (
      const command of [["git-credential", "--git-host", "127.0.0.1", "get"], ["run", "--", "true"]]
    ) {
      const other = await runAs([command[0]!, ...args, ...command.slice(1)], { terminal: false });
      assert.equal(other.code, command[0] === "git-credential" ? 0 : 3, other.stderr);
    }
    assert.equal(server.requestsTo("/device").length, 0);
    // --no-interactive keeps its meaning, even on a terminal.
    assert.equal((await runAs(["token", ...args, "--no-interactive"], { terminal: true })).code, 3);
    assert.equal(server.requestsTo("/device").length, 0);
    // A terminal, --json-events or --interactive: the sign-in starts.
    for (
      const [extra, terminal] of [[[], true], [["--json-events"], false], [
        ["--interactive"],
        false,
      ]] as const
    ) {
      const result = await runAs(["token", ...args, "--force-refresh", ...extra], {
        terminal: terminal,
      });
      assert.equal(result.code, 0, result.stderr);
    }
  }));

Deno.test("login --no-wait, approved later, is finished by the next token: one poll, no prompt", () =>
  withServer(async (server, cache, args) => {
    server.route("POST", "/token", PENDING);
    const started = await runMain(["login", ...args, "--no-wait"]);
    assert.equal(started.code, 0, started.stderr);
    const { userCode, verificationUri } = JSON.parse(started.stdout);
    // Not yet approved: one poll, then exit 3 naming the code and the address.
    const early = await runAs(["token", "--cache", cache], { terminal: false });
    assert.equal(early.code, 3);
    assert.equal(
      early.stderr,
      `deviceflow: The sign-in started with 'deviceflow login --no-wait' is not approved yet: open ${verificationUri} and enter the code ${userCode}, then run this again\n`,
    );
    assert.equal(server.requestsTo("/token").length, 1);
    // The person approves; the next token finishes it with one poll and prints the token.
    server.route("POST", "/token", tokenResponse());
    const done = await runAs(["token", "--cache", cache], { terminal: false });
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, "at-hostile-0123456789\n");
    assert.equal(done.stderr, "");
    assert.equal(server.requestsTo("/token").length, 2);
    // It is no longer pending; the token is cached.
    const status = JSON.parse((await runMain(["status", "--cache", cache, "--json"])).stdout);
    assert.deepEqual(status.pending ?? [], []);
    assert.equal(
      (await runAs(["token", "--cache", cache], { terminal: false })).stdout,
      "at-hostile-0123456789\n",
    );
    assert.equal(server.requestsTo("/token").length, 2, "from the cache");
  }));

Deno.test("login --resume says which pending sign-in it waits for, without the whole prompt", () =>
  withServer(async (server, cache, args) => {
    server.route("POST", "/token", PENDING);
    const started = await runMain(["login", ...args, "--no-wait"]);
    const { userCode } = JSON.parse(started.stdout);
    server.route("POST", "/token", [PENDING, tokenResponse()]);
    const resumed = await runMain(["login", "--cache", cache, "--resume"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(
      resumed.stderr,
      new RegExp(
        `^Waiting for the pending sign-in with code ${userCode} at \\S+ \\(it expires in \\d+:\\d\\d min\\)\\n`,
      ),
    );
    assert.doesNotMatch(resumed.stderr, /Address:|Code:/);
  }));

Deno.test("login --timeout ends at its deadline, with the last poll there (real time)", () =>
  withServer(async (server, _cache, args) => {
    // interval 5 s, limit 3 s: before, it gave up at once without a single poll.
    serveHostile(server, { device: { interval: 5 } });
    server.route("POST", "/token", PENDING);
    const started = performance.now();
    const result = await runMain(["login", ...args, "--timeout", "3"]);
    const took = (performance.now() - started) / 1000;
    assert.equal(result.code, 4);
    assert.match(result.stderr, /within the 3 s time limit/);
    assert.ok(took >= 2.95 && took < 3.8, `took ${took} s`);
    const polls = server.requestsTo("/token");
    assert.equal(polls.length, 1, "one poll, at the deadline");
    const pollAt = (polls[0]!.time - server.requestsTo("/device")[0]!.time) / 1000;
    assert.ok(pollAt >= 2.9 && pollAt <= 3.2, `polled at ${pollAt} s`);
  }));

Deno.test("an approval in the last second of --timeout is not lost", () =>
  withServer(async (server, _cache, args) => {
    serveHostile(server, { device: { interval: 1 } });
    // Pending at 1 s and 2 s, approved by the poll at the 2.5 s deadline.
    server.route("POST", "/token", [PENDING, PENDING, tokenResponse()]);
    const result = await runMain(["login", ...args, "--timeout", "2.5"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(server.requestsTo("/token").length, 3);
  }));
