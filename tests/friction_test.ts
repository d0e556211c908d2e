/**
 * Everyday friction (issue 10, items 4 and 7): a mistake in one profile stays
 * in that profile, unknown words get a suggestion, `token --json`, and the
 * small things users hit.
 */

import assert from "node:assert/strict";
import { json, startFakeServer } from "./support/fake_server.ts";
import { runMain, tempCache } from "./support/cli_harness.ts";
import { hostileArgs, serveHostile } from "./support/hostile_server.ts";
import { closest } from "../src/suggest.ts";

async function withConfig(
  profiles: Record<string, unknown>,
  body: (config: string, cache: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/config.json`;
    await Deno.writeTextFile(config, JSON.stringify({ profiles }));
    await body(config, `${dir}/cache.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const GOOD = { authority: "https://id.example.com", clientId: "good-client" };

Deno.test("a mistake in one profile breaks only the commands that use it", () =>
  withConfig(
    {
      good: GOOD,
      typo: { authority: "https://id.example.com", clientID: "x" },
      wrong: { encrypt: "yes" },
    },
    async (config, cache) => {
      const args = ["--config", config, "--cache", cache];
      const good = await runMain(["accounts", ...args, "--profile", "good", "--json"]);
      assert.deepEqual([good.code, good.stdout], [0, "[]\n"]);
      const typo = await runMain(["accounts", ...args, "--profile", "typo"]);
      assert.equal(typo.code, 2);
      assert.equal(
        typo.stderr.split("\n")[0],
        `deviceflow: config ${config}: profiles.typo.clientID is not a known key; did you mean "clientId"? (known: provider, authority, deviceEndpoint, tokenEndpoint, revocationEndpoint, tenant, clientId, cache, clientSecret, scopes, defaultScopes, encrypt, gitHosts)`,
      );
      const wrong = await runMain(["token", ...args, "--profile", "wrong", "--no-interactive"]);
      assert.equal(wrong.code, 2);
      assert.match(wrong.stderr, /profiles\.wrong\.encrypt must be true or false/);

      // list and show always work, and say what is wrong where.
      const list = await runMain(["config", "list", "--config", config]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^ {2}good\n/m);
      assert.match(
        list.stdout,
        /^ {2}typo {2}\(error: profiles\.typo\.clientID is not a known key; did you mean "clientId"\?/m,
      );
      assert.match(
        list.stdout,
        /^ {2}wrong {2}\(error: profiles\.wrong\.encrypt must be true or false\)$/m,
      );
      const listJson = JSON.parse(
        (await runMain(["config", "list", "--config", config, "--json"])).stdout,
      );
      assert.deepEqual(
        listJson.map((p: { name: string; error?: string }) => [p.name, p.error !== undefined]),
        [
          ["good", false],
          ["typo", true],
          ["wrong", true],
        ],
      );
      const show = await runMain(["config", "show", "typo", "--config", config]);
      assert.equal(show.code, 0, show.stderr);
      assert.match(
        show.stdout,
        /^Profile: typo\nError: profiles\.typo\.clientID is not a known key/m,
      );
      const showGood = await runMain(["config", "show", "good", "--config", config]);
      assert.match(showGood.stdout, /clientId +good-client +profile/);
    },
  ));

Deno.test("a file that is not JSON: config list and show say so and exit 0; other commands exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/config.json`;
    await Deno.writeTextFile(config, "{ not json");
    for (const sub of ["list", "show"]) {
      const result = await runMain(["config", sub, "--config", config]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^Config: .*\n(Profile: .*\n)?Error: invalid JSON/);
    }
    assert.equal((await runMain(["accounts", "--config", config, "--cache", ":memory:"])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unknown commands, options and profile names get a suggestion when one is close", async () => {
  const cases: [string[], string][] = [
    [["tokn"], `deviceflow: unknown command "tokn"; did you mean 'deviceflow token'?`],
    [
      ["token", "--authroity", "x"],
      "deviceflow: token: unknown option --authroity; did you mean --authority?",
    ],
    [
      ["token", "--scopes", "a"],
      "deviceflow: token: unknown option --scopes; did you mean --scope?",
    ],
    [
      ["login", "--clientid", "x"],
      "deviceflow: login: unknown option --clientid; did you mean --client-id?",
    ],
    [["token", "--frobnicate"], "deviceflow: token: unknown option --frobnicate"],
  ];
  for (const [args, line] of cases) {
    const result = await runMain(args);
    assert.equal(result.code, 2);
    assert.equal(result.stderr.split("\n")[0], line);
  }
  assert.equal(closest("clientID", ["clientId", "cache"]), "clientId");
  assert.equal(closest("statsu", ["status", "switch"]), "status");
  assert.equal(closest("xyz", ["token"]), undefined);
});

Deno.test("token --json is -o json, as for status and accounts", async () => {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    serveHostile(server);
    assert.equal((await runMain(["login", ...hostileArgs(server, cache.path)])).code, 0);
    const json = await runMain(["token", "--cache", cache.path, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const dashO = await runMain(["token", "--cache", cache.path, "-o", "json"]);
    assert.deepEqual(JSON.parse(json.stdout), JSON.parse(dashO.stdout));
    const both = await runMain(["token", "--cache", cache.path, "--json", "-o", "env"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--json and --output env exclude each other/);
  } finally {
    await server.close();
    await cache.cleanup();
  }
});

Deno.test("fetch | head -1: a reader that closes stdout early ends the command quietly with 141", async () => {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    serveHostile(server);
    server.route("GET", "/big", { status: 200, body: "line\n".repeat(400_000) });
    assert.equal((await runMain(["login", ...hostileArgs(server, cache.path)])).code, 0);
    const cli = new URL("../cli.ts", import.meta.url).pathname;
    const output = await new Deno.Command("bash", {
      args: [
        "-c",
        `"$0" run -A --unstable-kv "$1" fetch --cache "$2" "$3/big" | head -1; echo "status \${PIPESTATUS[0]}" >&2`,
        Deno.execPath(),
        cli,
        cache.path,
        server.url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    assert.equal(text.decode(output.stdout), "line\n");
    assert.equal(
      text.decode(output.stderr),
      "status 141\n",
      "quietly, and 141 as a shell reports SIGPIPE",
    );
  } finally {
    await server.close();
    await cache.cleanup();
  }
});

Deno.test("status shows a sign-in started with --no-wait that is still pending, with its expiry", async () => {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    serveHostile(server);
    const started = await runMain(["login", ...hostileArgs(server, cache.path), "--no-wait"]);
    const { expiresAt } = JSON.parse(started.stdout);
    const status = await runMain(["status", "--cache", cache.path]);
    assert.match(
      status.stdout,
      new RegExp(
        `^Pending sign-in at http://127\\.0\\.0\\.1:\\d+, client hostile-client: code HOST-ILE1 at \\S+, expires ${
          expiresAt.replace(/\./g, "\\.")
        } \\(finish with: deviceflow login --resume\\)$`,
        "m",
      ),
    );
    const json = JSON.parse((await runMain(["status", "--cache", cache.path, "--json"])).stdout);
    assert.equal(json.pending.length, 1);
    assert.deepEqual(
      [json.pending[0].userCode, json.pending[0].expiresAt, json.pending[0].expired],
      ["HOST-ILE1", expiresAt, false],
    );
  } finally {
    await server.close();
    await cache.cleanup();
  }
});

Deno.test("advice after a description that ends a sentence has one full stop", async () => {
  const { ServerError } = await import("../src/errors.ts");
  const error = new ServerError({
    error: "invalid_client",
    errorDescription:
      "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    errorCodes: [7000218],
    status: 401,
  });
  assert.doesNotMatch(error.message, /\.\./);
  assert.match(error.message, /'client_secret'\. \S/, "one full stop, then the advice");
  assert.ok(error.message.endsWith(error.advice!), error.message);
});

Deno.test("GitLab without openid: the account is named from /api/v4/user, and two accounts stay apart", async () => {
  const server = await startFakeServer();
  const cache = await tempCache();
  try {
    serveHostile(server, { userinfo: json(401, { error: "insufficient_scope" }) });
    for (const [id, name] of [[42, "gitlab-ann"], [43, "gitlab-bob"]] as const) {
      server.route("GET", "/api/v4/user", json(200, { id, username: name, name: "Someone" }));
      const login = await runMain(["login", ...hostileArgs(server, cache.path)]);
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stderr, new RegExp(`Signed in as ${name}\\.`));
    }
    const accounts = JSON.parse(
      (await runMain(["accounts", "--cache", cache.path, "--json"])).stdout,
    );
    assert.deepEqual(
      accounts.map((
        a: { username: string; homeAccountId: string },
      ) => [a.username, a.homeAccountId]).sort(),
      [["gitlab-ann", "42"], ["gitlab-bob", "43"]],
    );
  } finally {
    await server.close();
    await cache.cleanup();
  }
});

/** Starts `deno task dev-server` with flags; resolves with its issuer and a stop function. */
async function devServerProcess(flags: string[]) {
  const script = new URL("../scripts/dev_server.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...flags],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!/listening on (\S+)/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the dev server did not start");
    seen += value;
  }
  return {
    issuer: seen.match(/listening on (\S+)/)![1]!,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel().catch(() => {});
    },
  };
}

Deno.test({
  name:
    "the dev server's --deny declines every sign-in, and deno task approve approves one from another process",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cache = await tempCache();
    const denying = await devServerProcess(["--deny", "--interval", "1"]);
    try {
      const args = [
        "--authority",
        denying.issuer,
        "--client-id",
        "deviceflow-dev",
        "--cache",
        cache.path,
      ];
      const declined = await runMain(["login", ...args]);
      assert.equal(declined.code, 4, declined.stderr);
      assert.match(declined.stderr, /declined/i);
    } finally {
      await denying.stop();
    }
    const server = await devServerProcess(["--interval", "1", "--slow-down", "1"]);
    try {
      const args = [
        "--authority",
        server.issuer,
        "--client-id",
        "deviceflow-dev",
        "--cache",
        cache.path,
      ];
      const started = await runMain(["login", ...args, "--no-wait"]);
      const { userCode } = JSON.parse(started.stdout);
      const approve = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../scripts/approve.ts", import.meta.url).pathname,
          // No address: the dev server running here says where it is.
          "--login",
          "carol",
          userCode,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(approve.code, 0, new TextDecoder().decode(approve.stderr));
      // --slow-down 1 answers the first poll of the code slow_down: not yet.
      const slowed = await runMain(["token", "--cache", cache.path]);
      assert.equal(slowed.code, 3, slowed.stderr);
      assert.match(slowed.stderr, /is not approved yet/);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const token = await runMain(["token", "--cache", cache.path]);
      assert.equal(token.code, 0, token.stderr);
      const accounts = JSON.parse(
        (await runMain(["accounts", "--cache", cache.path, "--json"])).stdout,
      );
      assert.equal(accounts[0].username, "carol");
    } finally {
      await server.stop();
      await cache.cleanup();
    }
  },
});
