/**
 * The config file: profiles, their precedence under flags and the
 * environment, strict checking, and `deviceflow config list|show|path`.
 */

import assert from "node:assert/strict";
import { TokenCache } from "../cache.ts";
import { type CliRun, runMain } from "./support/cli_harness.ts";

const SECRET = "profile-secret-0123456789";

const PROFILES = {
  default: {
    authority: "https://default.example.com/",
    clientId: "default-client",
    scopes: "default.read default.write",
    cache: "default.db",
  },
  work: {
    authority: "https://work.example.com/",
    clientId: "work-client",
    scopes: ["work.read"],
    cache: "/var/tmp/work.db",
    clientSecret: SECRET,
  },
  contoso: { tenant: "contoso", clientId: "contoso-client" },
};

/** A temporary XDG_CONFIG_HOME with `deviceflow/config.json` holding `content`. */
async function withConfig(
  content: unknown,
  run: (env: Record<string, string>, file: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "deviceflow-config-test-" });
  try {
    const file = `${dir}/deviceflow/config.json`;
    if (content !== undefined) {
      await Deno.mkdir(`${dir}/deviceflow`, { mode: 0o700 });
      await Deno.writeTextFile(
        file,
        typeof content === "string" ? content : JSON.stringify(content),
        { mode: 0o600 },
      );
    }
    await run({ XDG_CONFIG_HOME: dir, HOME: `${dir}/home` }, file);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function show(args: string[], env: Record<string, string>) {
  const result = await runMain(["config", "show", "--json", ...args], env);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** Exit 2 with exactly one line on stderr. */
function assertOneLine(result: CliRun, pattern: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, "");
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, pattern);
}

Deno.test("the default profile applies when none is named", () =>
  withConfig({ profiles: PROFILES }, async (env, file) => {
    const shown = await show([], env);
    assert.equal(shown.config, file);
    assert.equal(shown.profile, "default");
    assert.equal(shown.settings.authority, "https://default.example.com/");
    assert.equal(shown.settings.clientId, "default-client");
    assert.deepEqual(shown.settings.scopes, ["default.read", "default.write"]);
    // A relative cache path is taken from the config file's directory.
    assert.equal(shown.settings.cache, file.replace(/config\.json$/, "default.db"));
    assert.equal(shown.settings.clientSecret, null);
    assert.deepEqual(
      [shown.sources.authority, shown.sources.clientId, shown.sources.scopes, shown.sources.cache],
      ["profile", "profile", "profile", "profile"],
    );
  }));

Deno.test("--profile and DEVICEFLOW_PROFILE pick a profile, and --profile wins", () =>
  withConfig({ profiles: PROFILES }, async (env) => {
    for (
      const [args, extra] of [
        [["--profile", "work"], {}],
        [[], { DEVICEFLOW_PROFILE: "work" }],
        [["--profile", "work"], { DEVICEFLOW_PROFILE: "default" }],
      ] as const
    ) {
      const shown = await show([...args], { ...env, ...extra });
      assert.equal(shown.profile, "work");
      assert.equal(shown.settings.authority, "https://work.example.com/");
      assert.equal(shown.settings.clientId, "work-client");
      assert.deepEqual(shown.settings.scopes, ["work.read"]);
      assert.equal(shown.settings.cache, "/var/tmp/work.db");
    }
  }));

Deno.test("the environment wins over the profile, and flags win over both", () =>
  withConfig({ profiles: PROFILES }, async (env) => {
    const environment = {
      ...env,
      DEVICEFLOW_PROFILE: "work",
      DEVICEFLOW_AUTHORITY: "https://env.example.com/",
      DEVICEFLOW_CLIENT_ID: "env-client",
      DEVICEFLOW_SCOPE: "env.a env.b",
      DEVICEFLOW_CACHE: "/var/tmp/env.db",
    };
    const fromEnv = await show([], environment);
    assert.equal(fromEnv.settings.authority, "https://env.example.com/");
    assert.equal(fromEnv.settings.clientId, "env-client");
    assert.deepEqual(fromEnv.settings.scopes, ["env.a", "env.b"]);
    assert.equal(fromEnv.settings.cache, "/var/tmp/env.db");
    assert.equal(fromEnv.sources.authority, "env");
    assert.equal(fromEnv.sources.cache, "env");

    const fromFlags = await show([
      "--authority",
      "https://flag.example.com/",
      "--client-id",
      "flag-client",
      "--scope",
      "flag.a",
      "--scope",
      "flag.b",
      "--cache",
      ":memory:",
    ], environment);
    assert.equal(fromFlags.settings.authority, "https://flag.example.com/");
    assert.equal(fromFlags.settings.clientId, "flag-client");
    assert.deepEqual(fromFlags.settings.scopes, ["flag.a", "flag.b"]);
    assert.equal(fromFlags.settings.cache, ":memory:");
    assert.deepEqual(
      [fromFlags.sources.authority, fromFlags.sources.clientId, fromFlags.sources.scopes],
      ["flag", "flag", "flag"],
    );
    // What neither names still comes from the profile.
    assert.equal(fromFlags.settings.clientSecret, "********");
    assert.equal(fromFlags.sources.clientSecret, "profile");
  }));

Deno.test("config show NAME shows that profile under the same flags", () =>
  withConfig({ profiles: PROFILES }, async (env) => {
    const shown = await show(["contoso", "--client-id", "flag-client"], env);
    assert.equal(shown.profile, "contoso");
    assert.equal(shown.settings.provider, "entra");
    assert.equal(shown.settings.authority, "https://login.microsoftonline.com/contoso");
    assert.equal(shown.settings.clientId, "flag-client");
  }));

Deno.test("a profile's tenant does not rewrite an authority given by a flag", () =>
  withConfig({ profiles: PROFILES }, async (env) => {
    const overridden = await show([
      "contoso",
      "--authority",
      "https://issuer.example.com/",
    ], env);
    assert.equal(overridden.settings.authority, "https://issuer.example.com/");
    assert.equal(overridden.sources.authority, "flag");
    // A tenant flag does apply to the profile's authority: its host is kept.
    const sovereign = await show([
      "work",
      "--tenant",
      "fabrikam",
    ], env);
    assert.equal(sovereign.settings.authority, "https://work.example.com/fabrikam");
  }));

Deno.test("token --no-interactive with only --profile uses the profile's server, client and cache", () =>
  withConfig({
    profiles: {
      x: { authority: "http://127.0.0.1:9/tenant-x", clientId: "client-x", cache: "x.db" },
    },
  }, async (env, file) => {
    const result = await runMain(["token", "--no-interactive", "--profile", "x"], env);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      /Not signed in to http:\/\/127\.0\.0\.1:9\/tenant-x with client client-x/,
    );
    const cache = file.replace(/config\.json$/, "x.db");
    assert.ok((await Deno.stat(cache)).isFile, "the profile's cache file was not used");
  }));

Deno.test("an unknown key exits 2 with one line naming its path, for the commands that use its profile", () =>
  withConfig({ profiles: { x: { clientId: "a", bogus: 1 } } }, async (env, file) => {
    for (const command of [["token", "--no-interactive"], ["status"], ["accounts"]]) {
      const result = await runMain([...command, "--profile", "x"], env);
      assertOneLine(
        result,
        new RegExp(`^deviceflow: config ${file}: profiles\\.x\\.bogus is not a known key`),
      );
    }
    // The others, and config list, work; list shows the problem where it is.
    assert.equal((await runMain(["accounts", "--cache", ":memory:"], env)).code, 0);
    const list = await runMain(["config", "list"], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ {2}x {2}\(error: profiles\.x\.bogus is not a known key/);
  }));

Deno.test("an unknown top-level key exits 2 naming it, and config list shows it", () =>
  withConfig({ profile: {} }, async (env) => {
    assertOneLine(
      await runMain(["status"], env),
      /: profile is not a known key; did you mean "profiles"\?/,
    );
    const list = await runMain(["config", "list"], env);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /\nError: profile is not a known key/);
  }));

Deno.test("a value of the wrong type exits 2 naming the key", async () => {
  const cases: [unknown, RegExp][] = [
    [{ profiles: { work: { clientId: 42 } } }, /: profiles\.work\.clientId must be a string$/],
    [
      { profiles: { work: { scopes: ["a", 1] } } },
      /: profiles\.work\.scopes\[1\] must be a string$/,
    ],
    [{ profiles: { work: { scopes: { a: 1 } } } }, /: profiles\.work\.scopes must be a string or/],
    [{ profiles: { work: { defaultScopes: "no" } } }, /: profiles\.work\.defaultScopes must be/],
    [{ profiles: { work: { provider: "okta" } } }, /: profiles\.work\.provider must be one of/],
    [{ profiles: { work: { authority: "login" } } }, /: profiles\.work\.authority must be an/],
    [{ profiles: { "my work": [] } }, /: profiles\["my work"\] must be an object$/],
    [{ profiles: [] }, /: profiles must be an object$/],
  ];
  for (const [content, pattern] of cases) {
    await withConfig(content, async (env) => {
      const name = Object.keys((content as { profiles: object }).profiles)[0] ?? "work";
      assertOneLine(await runMain(["status", "--profile", name], env), pattern);
      // config show says the same, and exits 0: it is where one looks.
      const shown = await runMain(["config", "show", name], env);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout.split("\n").find((l) => l.startsWith("Error: "))!, pattern);
    });
  }
});

Deno.test("invalid JSON exits 2 with one line naming the file and the position", () =>
  withConfig('{\n  "profiles": {\n    "x": {"clientId": "a",}\n  }\n}\n', async (env, file) => {
    const result = await runMain(["status"], env);
    assertOneLine(
      result,
      new RegExp(`^deviceflow: config ${file}: invalid JSON at line 3, column 27: `),
    );
    const list = await runMain(["config", "list"], env);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /\nError: invalid JSON at line 3, column 27: /);
  }));

Deno.test("invalid JSON near a secret does not quote the secret", () =>
  withConfig(`{"profiles": {"x": {"clientSecret": "${SECRET}", "y": ]}}}`, async (env) => {
    const result = await runMain(["status"], env);
    assertOneLine(result, /invalid JSON at line 1, column \d+: Unexpected token '\]'$/);
    assert.ok(!result.stderr.includes(SECRET));
    const list = await runMain(["config", "list"], env);
    assert.ok(!list.stdout.includes(SECRET) && !list.stderr.includes(SECRET));
  }));

Deno.test("a missing config file is no error unless it was named", () =>
  withConfig(undefined, async (env, file) => {
    const list = await runMain(["config", "list"], env);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, "");
    assert.match(list.stderr, new RegExp(`No config file at ${file}`));
    const shown = await show([], env);
    assert.equal(shown.profile, null);
    assert.equal(shown.settings.authority, null);

    const missing = `${file}.missing`;
    assertOneLine(
      await runMain(["status", "--config", missing], env),
      new RegExp(`^deviceflow: config ${missing}: cannot read: No such file`),
    );
    assertOneLine(
      await runMain(["token", "--no-interactive"], { ...env, DEVICEFLOW_CONFIG: missing }),
      /: cannot read: /,
    );
  }));

Deno.test("an unknown profile exits 2 naming it and the profiles there are", () =>
  withConfig({ profiles: PROFILES }, async (env) => {
    assertOneLine(
      await runMain(["token", "--no-interactive", "--profile", "hmoe"], env),
      /no profile "hmoe" \(from --profile\); the profiles are: default, work, contoso$/,
    );
    assertOneLine(
      await runMain(["status"], { ...env, DEVICEFLOW_PROFILE: "hmoe" }),
      /no profile "hmoe" \(from DEVICEFLOW_PROFILE\); the profiles are: default, work, contoso$/,
    );
    assertOneLine(await runMain(["config", "show", "hmoe"], env), /no profile "hmoe"; the/);
  }));

Deno.test("config show masks client secrets from the file and the environment", () =>
  withConfig({ profiles: PROFILES }, async (env) => {
    for (
      const [args, extra] of [
        [["--profile", "work"], {}],
        [["--profile", "work", "--json"], {}],
        [[], { DEVICEFLOW_CLIENT_SECRET: "env-secret-0123456789" }],
        [["--json"], { DEVICEFLOW_CLIENT_SECRET: "env-secret-0123456789" }],
      ] as const
    ) {
      const result = await runMain(["config", "show", ...args], { ...env, ...extra });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /\*{8}/);
      for (const secret of [SECRET, "env-secret-0123456789"]) {
        assert.ok(!result.stdout.includes(secret), "the secret is on stdout");
        assert.ok(!result.stderr.includes(secret), "the secret is on stderr");
      }
    }
  }));

Deno.test("config list prints the profiles and marks the one that applies", () =>
  withConfig({ profiles: PROFILES }, async (env) => {
    const text = await runMain(["config", "list"], env);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, "* default\n  work\n  contoso\n");
    const json = await runMain(["config", "list", "--json", "--profile", "work"], env);
    assert.deepEqual(JSON.parse(json.stdout), [
      { name: "default", applies: false },
      { name: "work", applies: true },
      { name: "contoso", applies: false },
    ]);
  }));

Deno.test("config path follows XDG_CONFIG_HOME, HOME, DEVICEFLOW_CONFIG and --config", async () => {
  if (Deno.build.os !== "linux") return;
  const path = async (args: string[], env: Record<string, string>) => {
    const result = await runMain(["config", "path", ...args], env);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  };
  assert.equal(
    await path([], { XDG_CONFIG_HOME: "/x", HOME: "/h" }),
    "/x/deviceflow/config.json\n",
  );
  assert.equal(await path([], { HOME: "/h" }), "/h/.config/deviceflow/config.json\n");
  // A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
  assert.equal(
    await path([], { XDG_CONFIG_HOME: "x", HOME: "/h" }),
    "/h/.config/deviceflow/config.json\n",
  );
  assert.equal(await path([], { HOME: "/h", DEVICEFLOW_CONFIG: "/e.json" }), "/e.json\n");
  assert.equal(
    await path(["--config", "/f.json"], { HOME: "/h", DEVICEFLOW_CONFIG: "/e.json" }),
    "/f.json\n",
  );
  const none = await runMain(["config", "path"], {});
  assert.equal(none.code, 2);
  assert.match(none.stderr, /HOME is not set/);
});

Deno.test("a config file holding a secret that others can read gives a warning", async () => {
  if (Deno.build.os === "windows") return;
  await withConfig({ profiles: PROFILES }, async (env, file) => {
    const quiet = await runMain(["config", "list"], env);
    assert.equal(quiet.stderr, "");
    await Deno.chmod(file, 0o644);
    const warned = await runMain(["config", "list"], env);
    assert.equal(warned.code, 0);
    assert.match(
      warned.stderr,
      new RegExp(
        `warning: the config file ${file} holds a client secret and is readable by other users \\(mode 644\\); run: chmod 600`,
      ),
    );
    assert.ok(!warned.stderr.includes(SECRET));
  });
  // Without a secret, a readable file is fine.
  await withConfig({ profiles: { default: PROFILES.default } }, async (env, file) => {
    await Deno.chmod(file, 0o644);
    assert.equal((await runMain(["config", "list"], env)).stderr, "");
  });
});

Deno.test("config without a known subcommand exits 2", async () => {
  for (const args of [["config"], ["config", "lst"], ["config", "list", "extra"]]) {
    const result = await runMain(args, {});
    assert.equal(result.code, 2, args.join(" "));
    assert.match(result.stderr, /^deviceflow: config/);
    assert.equal(result.stdout, "");
  }
});

Deno.test("token and accounts choose among cached accounts by the profile's server", () =>
  withConfig({
    profiles: { b: { authority: "https://b.example.com/tenant", cache: "cache.db" } },
  }, async (env, file) => {
    const cache = await TokenCache.open(file.replace(/config\.json$/, "cache.db"));
    try {
      const now = Date.now();
      for (const name of ["a", "b"]) {
        await cache.save({
          account: {
            username: `${name}@example.com`,
            homeAccountId: `${name}-id`,
            authority: `https://${name}.example.com/tenant`,
            clientId: `client-${name}`,
            provider: "oidc",
            signedInAt: now,
          },
          accessToken: {
            secret: `access-token-${name}`,
            tokenType: "Bearer",
            scopes: ["openid", "profile", "offline_access"],
            requestedScopes: [],
            expiresAt: now + 3_600_000,
            refreshAt: now + 1_800_000,
            cachedAt: now,
          },
        });
      }
    } finally {
      cache.close();
    }
    const token = await runMain(["token", "--no-interactive", "--profile", "b"], env);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout, "access-token-b\n");
    const accounts = await runMain(["accounts", "--json", "--profile", "b"], env);
    assert.deepEqual(JSON.parse(accounts.stdout).map((a: { username: string }) => a.username), [
      "b@example.com",
    ]);
    // Without the profile both servers are cached, and token cannot choose.
    const cacheOnly = ["--cache", file.replace(/config\.json$/, "cache.db")];
    const ambiguous = await runMain(["token", "--no-interactive", ...cacheOnly], env);
    assert.equal(ambiguous.code, 2, ambiguous.stderr);
    assert.match(ambiguous.stderr, /Accounts of several servers or clients are cached/);
  }));
