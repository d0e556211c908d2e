/**
 * `deviceflow run`: the token in the command's environment and never on a
 * command line, a command that calls node-oidc-provider's userinfo with it,
 * exit codes as shells give them, and signals passed on.
 */

import assert from "node:assert/strict";
import { startDevServer } from "./support/dev_server.ts";
import { startFakeServer } from "./support/fake_server.ts";
import { runMain, tempCache } from "./support/cli_harness.ts";
import { signInDev, signInFake } from "./support/signed_in.ts";

// oidc-provider keeps timers and sockets of its own between tests.
const opts = { sanitizeOps: false, sanitizeResources: false };

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const DENO = Deno.execPath();

function spawnCli(args: string[], stdout: "piped" | "null" = "piped"): Deno.ChildProcess {
  return new Deno.Command(DENO, {
    args: ["run", "--allow-all", "--unstable-kv", CLI, ...args],
    stdin: "null",
    stdout,
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

async function output(child: Deno.ChildProcess) {
  const out = await child.output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

async function withFakeSignIn(run: (cache: string) => Promise<void>): Promise<void> {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    await signInFake(server, cache.path);
    await run(cache.path);
  } finally {
    await server.close();
    await cache.cleanup();
  }
}

// A child that calls userinfo with the token from its environment and tells
// what it saw: the answer, its own arguments, and both command lines.
const CHILD = `
const token = Deno.env.get(Deno.args[0]);
const response = await fetch(Deno.args[1], { headers: { authorization: "Bearer " + token } });
const cmdline = (pid) => Deno.readTextFileSync("/proc/" + pid + "/cmdline").split("\\0");
console.log(JSON.stringify({
  status: response.status,
  userinfo: await response.json(),
  args: Deno.args,
  token,
  accessToken: Deno.env.get("ACCESS_TOKEN") ?? null,
  own: cmdline("self"),
  parent: cmdline(Deno.ppid),
}));
`;

Deno.test({
  name: "run gives the command a token in ACCESS_TOKEN that works at node-oidc-provider's /me",
  ...opts,
  fn: async () => {
    const server = await startDevServer({ interval: 1 });
    const cache = await tempCache();
    try {
      await signInDev(server, cache.path, "alice");
      const token = (await runMain(["token", "--cache", cache.path])).stdout.trim();
      assert.ok(token.length > 20);
      const variants: [string[], string][] = [[[], "ACCESS_TOKEN"], [
        ["--env", "MY_TOKEN"],
        "MY_TOKEN",
      ]];
      for (const [extra, variable] of variants) {
        const result = await output(spawnCli([
          "run",
          "--cache",
          cache.path,
          ...extra,
          "--",
          DENO,
          "eval",
          CHILD,
          variable,
          `${server.issuer}/me`,
        ]));
        assert.equal(result.code, 0, result.stderr);
        const seen = JSON.parse(result.stdout);
        assert.equal(seen.status, 200);
        assert.equal(seen.userinfo.sub, "alice");
        assert.equal(seen.token, token);
        assert.deepEqual(seen.args, [variable, `${server.issuer}/me`]);
        if (variable === "MY_TOKEN") assert.equal(seen.accessToken, null);
        // Neither the command's nor deviceflow's command line holds the token.
        assert.ok(seen.own.includes("eval"), seen.own.join(" "));
        assert.ok(seen.parent.includes("run"), seen.parent.join(" "));
        for (const arg of [...seen.own, ...seen.parent]) assert.ok(!arg.includes(token));
      }
      assert.equal(server.count({ path: "/me" }), 2);
    } finally {
      await server.close();
      await cache.cleanup();
    }
  },
});

Deno.test("run passes the command's stdout through and exits with its exit code", () =>
  withFakeSignIn(async (cache) => {
    const seven = await output(
      spawnCli(["run", "--cache", cache, "--", "sh", "-c", 'echo "out $0"; exit 7', "zero"]),
    );
    assert.equal(seven.code, 7, seven.stderr);
    assert.equal(seven.stdout, "out zero\n");
    assert.equal(seven.stderr, "");
    const inProcess = await runMain(["run", "--cache", cache, "--", "sh", "-c", "exit 42"]);
    assert.equal(inProcess.code, 42);
    const ok = await runMain(["run", "--cache", cache, "--", "true"]);
    assert.equal(ok.code, 0);
  }));

Deno.test("run exits 127 when the command does not exist and 126 when it cannot be executed", () =>
  withFakeSignIn(async (cache) => {
    const missing = await runMain(["run", "--cache", cache, "--", "no-such-command-4f2a"]);
    assert.equal(missing.code, 127);
    assert.equal(missing.stderr, "deviceflow: run: command not found: no-such-command-4f2a\n");
    const json = await runMain(["run", "--cache", cache, "--json-events", "--", "no-such-x"]);
    assert.equal(json.code, 127);
    assert.deepEqual(JSON.parse(json.stderr), {
      event: "error",
      code: "not_found",
      message: "run: command not found: no-such-x",
      exitCode: 127,
    });
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/script`, "#!/bin/sh\necho hi\n", { mode: 0o644 });
      const denied = await runMain(["run", "--cache", cache, "--", `${dir}/script`]);
      assert.equal(denied.code, 126);
      assert.match(
        denied.stderr,
        /^deviceflow: run: cannot execute .*script: permission denied\n$/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }));

Deno.test("run without -- or without a command is a usage error, exit 2", async () => {
  const cache = await tempCache();
  try {
    for (
      const [args, pattern] of [
        [["true"], /unexpected argument "true" \(put -- before it\)/],
        [["--"], /no command given/],
        [[], /no command given/],
        [["--env", "1BAD", "--", "true"], /--env must be an environment variable name/],
      ] as const
    ) {
      const result = await runMain(["run", "--cache", cache.path, ...args]);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
    }
  } finally {
    await cache.cleanup();
  }
});

Deno.test("run exits 3 before starting the command when a sign-in is needed and not allowed", async () => {
  const cache = await tempCache();
  try {
    const marker = `${cache.path}.ran`;
    const result = await runMain([
      "run",
      "--cache",
      cache.path,
      "--no-interactive",
      "--",
      "touch",
      marker,
    ]);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /Not signed in/);
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
  } finally {
    await cache.cleanup();
  }
});

/** The output, or a SIGKILL (and so a failed test) when the process hangs. */
async function outputWithin(child: Deno.ChildProcess, ms: number) {
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    return await output(child);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts `run` with a shell script that prints "ready" when it is, and waits for that. */
async function startReady(cache: string, script: string) {
  const child = spawnCli(["run", "--cache", cache, "--", "sh", "-c", script]);
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.equal(new TextDecoder().decode(value), "ready\n");
  reader.releaseLock();
  return child;
}

Deno.test("run passes SIGTERM, SIGINT and SIGHUP on to the command and waits for it", () =>
  withFakeSignIn(async (cache) => {
    for (const [signal, code] of [["SIGTERM", 43], ["SIGINT", 44], ["SIGHUP", 45]] as const) {
      const name = signal.slice(3);
      const child = await startReady(
        cache,
        // The trap is set before "ready": a signal sent after it must reach the trap.
        `trap 'echo got ${name}; exit ${code}' ${name}; echo ready; while :; do sleep 0.05; done`,
      );
      child.kill(signal);
      const result = await outputWithin(child, 15_000);
      // deviceflow was not killed: it exited with the code the command chose.
      assert.equal(result.signal, null, signal);
      assert.equal(result.code, code, `${signal}: ${result.stderr}`);
      assert.equal(result.stdout, `got ${name}\n`);
    }
  }));

Deno.test("run exits 128+N when signal N ends the command", () =>
  withFakeSignIn(async (cache) => {
    for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      const child = await startReady(cache, "echo ready; exec sleep 30");
      child.kill(signal);
      const result = await outputWithin(child, 15_000);
      assert.equal(result.signal, null);
      assert.equal(result.code, code, `${signal}: ${result.stderr}`);
    }
    const self = await output(
      spawnCli(["run", "--cache", cache, "--", "sh", "-c", "kill -KILL $$"]),
    );
    assert.equal(self.code, 137);
  }));
