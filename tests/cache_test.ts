import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type CachedAccessToken,
  type CachedAccount,
  type CachedMetadata,
  type CachedRefreshToken,
  exposure,
  type PendingDeviceCode,
  scopeKey,
  TokenCache,
} from "../cache.ts";
import { CacheError } from "../src/errors.ts";
import { workerEntry } from "./support/cache_worker.ts";

const AUTHORITY = "https://login.example.com/tenant";
const CLIENT = "client-1";
const WORKER = fileURLToPath(new URL("./support/cache_worker.ts", import.meta.url));
const POSIX = Deno.build.os !== "windows";

interface Fixture {
  account: CachedAccount;
  accessToken: CachedAccessToken;
  refreshToken: CachedRefreshToken;
  idTokenClaims: Record<string, unknown>;
}

/** What a sign-in of `home` at client `clientId` would store. */
function fixture(
  home: string,
  options: { clientId?: string; signedInAt?: number; familyId?: string } = {},
): Fixture {
  const at = options.signedInAt ?? 1_700_000_000_000;
  return {
    account: {
      username: `${home}@example.com`,
      homeAccountId: `${home}-id`,
      tenantId: "tenant",
      authority: AUTHORITY,
      clientId: options.clientId ?? CLIENT,
      provider: "entra",
      signedInAt: at,
    },
    accessToken: {
      secret: `at-${home}`,
      tokenType: "Bearer",
      scopes: ["openid", "profile", "offline_access"],
      requestedScopes: ["openid"],
      expiresAt: at + 3_600_000,
      refreshAt: at + 1_800_000,
      cachedAt: at,
    },
    refreshToken: {
      secret: `rt-${home}`,
      scopes: ["openid", "offline_access"],
      cachedAt: at,
      ...(options.familyId ? { familyId: options.familyId } : {}),
    },
    idTokenClaims: { sub: `${home}-id`, name: home, roles: ["a", "b"] },
  };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "deviceflow_cache_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withCache(
  open: () => Promise<TokenCache>,
  fn: (cache: TokenCache) => Promise<void>,
): Promise<void> {
  const cache = await open();
  try {
    await fn(cache);
  } finally {
    cache.close();
  }
}

/** The three places a cache can live; every behaviour must be the same on each. */
const BACKENDS: { name: string; open: (dir: string) => Promise<TokenCache> }[] = [
  { name: "file", open: (dir) => TokenCache.open(`${dir}/cache.db`) },
  { name: "TokenCache.memory()", open: () => Promise.resolve(TokenCache.memory()) },
  { name: "KV :memory:", open: () => TokenCache.open(":memory:") },
];

function onEachBackend(name: string, fn: (cache: TokenCache) => Promise<void>): void {
  for (const backend of BACKENDS) {
    Deno.test(`${name} (${backend.name})`, () =>
      withTempDir((dir) => withCache(() => backend.open(dir), fn)));
  }
}

function mode(info: Deno.FileInfo): number {
  return (info.mode ?? 0) & 0o777;
}

async function runWorker(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-kv", "-A", WORKER, ...args],
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

// ---------------------------------------------------------------------------
// Round trips

onEachBackend("save() then reads return the same accounts, tokens and claims", async (cache) => {
  const alice = fixture("alice", { signedInAt: 1_000, familyId: "1" });
  const bob = fixture("bob", { signedInAt: 2_000 });
  // Alice again at a second client of the same family, with no refresh token of its own.
  const aliceApp2 = fixture("alice", { clientId: "client-2", signedInAt: 500 });
  await cache.save(alice);
  await cache.save(bob);
  await cache.save({ account: aliceApp2.account, accessToken: aliceApp2.accessToken });

  assert.deepEqual(await cache.getAccounts(), [bob.account, alice.account, aliceApp2.account]);
  assert.deepEqual(await cache.getAccounts({ authority: AUTHORITY, clientId: CLIENT }), [
    bob.account,
    alice.account,
  ]);
  assert.deepEqual(await cache.getAccounts({ clientId: "client-2" }), [aliceApp2.account]);
  assert.deepEqual(await cache.getAccounts({ authority: "https://elsewhere.example" }), []);

  assert.deepEqual(await cache.getAccessTokens(alice.account), [alice.accessToken]);
  assert.deepEqual(await cache.getAccessTokens(bob.account), [bob.accessToken]);
  assert.deepEqual(await cache.getRefreshToken(alice.account), alice.refreshToken);
  assert.deepEqual(await cache.getRefreshToken(bob.account), bob.refreshToken);
  assert.deepEqual(await cache.getIdTokenClaims(alice.account), alice.idTokenClaims);

  // The family refresh token serves the other client only when the family is asked for.
  assert.equal(await cache.getRefreshToken(aliceApp2.account), undefined);
  assert.deepEqual(await cache.getRefreshToken(aliceApp2.account, "1"), alice.refreshToken);
  assert.equal(await cache.getRefreshToken(aliceApp2.account, "2"), undefined);
  assert.equal(await cache.getIdTokenClaims(aliceApp2.account), undefined);

  // A token for another scope set sits next to the first, newest first; a save
  // without a refresh token keeps the one already there.
  const graph: CachedAccessToken = {
    ...alice.accessToken,
    secret: "at-alice-graph",
    scopes: ["User.Read"],
    cachedAt: alice.accessToken.cachedAt + 1,
  };
  await cache.save({ account: alice.account, accessToken: graph });
  assert.deepEqual(await cache.getAccessTokens(alice.account), [graph, alice.accessToken]);
  assert.deepEqual(await cache.getRefreshToken(alice.account), alice.refreshToken);
  assert.deepEqual(cache.skipped, []);
});

onEachBackend("an access token without expiry or refresh time round-trips", async (cache) => {
  const github = fixture("octocat");
  const { expiresAt: _e, refreshAt: _r, ...forever } = github.accessToken;
  await cache.save({ account: { ...github.account, provider: "github" }, accessToken: forever });
  assert.deepEqual(await cache.getAccessTokens(github.account), [forever]);
  assert.deepEqual(await cache.getAccounts(), [{ ...github.account, provider: "github" }]);
});

Deno.test("a cache file keeps everything across close and reopen", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const alice = fixture("alice", { familyId: "1" });
    const bob = fixture("bob", { signedInAt: 1_800_000_000_000 });
    const metadata: CachedMetadata = {
      provider: "entra",
      endpoints: { deviceAuthorization: `${AUTHORITY}/devicecode`, token: `${AUTHORITY}/token` },
      fetchedAt: 5,
    };
    await withCache(() => TokenCache.open(path), async (cache) => {
      await cache.save(alice);
      await cache.save(bob);
      await cache.setMetadata(AUTHORITY, metadata);
    });
    await withCache(() => TokenCache.open(path), async (cache) => {
      assert.equal(cache.location, path);
      assert.deepEqual(await cache.getAccounts(), [bob.account, alice.account]);
      assert.deepEqual(await cache.getAccessTokens(alice.account), [alice.accessToken]);
      assert.deepEqual(await cache.getRefreshToken(alice.account), alice.refreshToken);
      assert.deepEqual(await cache.getIdTokenClaims(bob.account), bob.idTokenClaims);
      assert.deepEqual(await cache.getMetadata(AUTHORITY), metadata);
      const status = await cache.status();
      assert.equal(status.location, path);
      assert.deepEqual(status.skipped, []);
      assert.deepEqual(
        status.accounts.map((a) => [a.username, a.hasRefreshToken, a.accessTokens]),
        [
          ["bob@example.com", true, [{
            scopes: bob.accessToken.scopes,
            expiresAt: bob.accessToken.expiresAt,
          }]],
          ["alice@example.com", true, [{
            scopes: alice.accessToken.scopes,
            expiresAt: alice.accessToken.expiresAt,
          }]],
        ],
      );
      // The status shows state, never a secret.
      assert.doesNotMatch(JSON.stringify(status), /at-alice|rt-alice|at-bob|rt-bob/);
    });
  });
});

// ---------------------------------------------------------------------------
// Corrupt and foreign entries

Deno.test("reads skip corrupt, unknown and foreign entries and keep every valid one", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const alice = fixture("alice", { signedInAt: 3 });
    const bob = fixture("bob", { signedInAt: 2 });
    const carol = fixture("carol", { signedInAt: 1 });
    await withCache(() => TokenCache.open(path), async (cache) => {
      await cache.save(alice);
      await cache.save(bob);
      await cache.save({ account: carol.account, accessToken: carol.accessToken });
    });

    const v1 = ["deviceflow", "v1"];
    const accountAt = [...v1, "account", AUTHORITY, CLIENT];
    const corrupt: [Deno.KvKey, unknown][] = [
      [[...accountAt, "missing-fields"], { username: "x" }],
      [[...accountAt, "a-string"], "not an object"],
      [[...accountAt, "null"], null],
      [[...accountAt, "an-array"], [alice.account]],
      [[...accountAt, "a-date"], new Date(0)],
      [[...accountAt, "a-u64"], new Deno.KvU64(1n)],
      [[...accountAt, 7n], { ...alice.account, homeAccountId: "bigint" }],
      // A valid account under another account's key: removeAccount() could never reach it.
      [[...accountAt, "mallory-id"], alice.account],
      [[...accountAt, "bad-provider"], { ...alice.account, provider: "myspace" }],
      [[...accountAt, "negative-time"], { ...alice.account, signedInAt: -1 }],
      [[...v1, "access_token", AUTHORITY, CLIENT, "alice-id", "zzz"], {
        ...alice.accessToken,
        secret: 42,
      }],
      [[...v1, "access_token", AUTHORITY, CLIENT, "bob-id", "scopes"], {
        ...bob.accessToken,
        scopes: "openid",
      }],
      [[...v1, "refresh_token", AUTHORITY, CLIENT, "carol-id"], {
        secret: "",
        scopes: ["openid"],
        cachedAt: 1,
      }],
      [[...v1, "id_token_claims", AUTHORITY, CLIENT, "carol-id"], ["sub", "carol"]],
      [[...v1, "id_token_claims", AUTHORITY, CLIENT, "dave-id"], new Map([["sub", "dave"]])],
      [[...v1, "metadata", AUTHORITY], {
        provider: "entra",
        endpoints: { deviceAuthorization: "https://x/device", token: 5 },
        fetchedAt: 1,
      }],
      [[...v1, "metadata", "https://other.example"], {
        provider: "entra",
        endpoints: { deviceAuthorization: "https://x/d", token: "https://x/t", revocation: 7 },
        fetchedAt: 1,
      }],
      [[...v1, "lease", "stuck"], "held"],
      [[...v1, "pending_device_code", AUTHORITY, CLIENT, "p1"], { id: "p1" }],
    ];
    const unknown: Deno.KvKey[] = [[...v1, "bogus", "x"], [...v1, 42]];
    const foreign: [Deno.KvKey, unknown][] = [
      [["deviceflow", "v0", "account", AUTHORITY, CLIENT, "old"], { ...alice.account }],
      [["deviceflow", "v0", "refresh_token", AUTHORITY, CLIENT, "alice-id"], "old"],
      [["another-app", "account"], "theirs"],
    ];
    const kv = await Deno.openKv(path);
    try {
      for (const [key, value] of [...corrupt, ...foreign]) await kv.set(key, value);
      for (const key of unknown) await kv.set(key, { anything: true });
    } finally {
      kv.close();
    }

    await withCache(() => TokenCache.open(path), async (cache) => {
      assert.deepEqual(await cache.getAccounts(), [alice.account, bob.account, carol.account]);
      assert.deepEqual(await cache.getAccounts({ authority: AUTHORITY, clientId: CLIENT }), [
        alice.account,
        bob.account,
        carol.account,
      ]);
      assert.deepEqual(await cache.getAccessTokens(alice.account), [alice.accessToken]);
      assert.deepEqual(await cache.getAccessTokens(bob.account), [bob.accessToken]);
      assert.deepEqual(await cache.getRefreshToken(alice.account), alice.refreshToken);
      assert.equal(await cache.getRefreshToken(carol.account), undefined);
      assert.equal(await cache.getIdTokenClaims(carol.account), undefined);
      assert.equal(
        await cache.getIdTokenClaims({ ...carol.account, homeAccountId: "dave-id" }),
        undefined,
      );
      assert.equal(await cache.getMetadata(AUTHORITY), undefined);
      assert.equal(await cache.getMetadata("https://other.example"), undefined);
      assert.deepEqual(await cache.getPending(AUTHORITY, CLIENT), []);
      assert.equal(await cache.leaseHeld("stuck", 0), false);

      const status = await cache.status();
      assert.deepEqual(status.accounts.map((a) => [a.username, a.hasRefreshToken]), [
        ["alice@example.com", true],
        ["bob@example.com", true],
        ["carol@example.com", false],
      ]);
      const keyText = (key: Deno.KvKey) =>
        JSON.stringify(key, (_, part) => typeof part === "bigint" ? `${part}n` : part);
      const reasons = new Map(status.skipped.map((s) => [s.key, s.reason]));
      const expected = new Map([
        ...corrupt.map(([key]) => [keyText(key), "the value is not a valid entry"] as const),
        ...unknown.map((key) => [keyText(key), "unknown entry kind"] as const),
      ]);
      assert.deepEqual(reasons, expected);
      assert.equal(status.skipped.length, expected.size);
      assert.deepEqual(cache.skipped, status.skipped);

      // A corrupt lease does not block anyone: it is taken over.
      assert.equal(await cache.acquireLease("stuck", "me", 60_000, 1_000), true);
      assert.equal(await cache.leaseHeld("stuck", 1_000), true);
    });

    // Reading changed nothing: the corrupt entries are still there to inspect.
    const check = await Deno.openKv(path);
    try {
      assert.equal((await check.get([...accountAt, "a-string"])).value, "not an object");
      assert.equal((await check.get([...v1, "bogus", "x"])).versionstamp !== null, true);
    } finally {
      check.close();
    }
  });
});

// ---------------------------------------------------------------------------
// Damaged files

Deno.test("TokenCache.open() refuses a file that is not a database in one line that says how to reset it", async () => {
  await withTempDir(async (dir) => {
    const contents = [
      new TextEncoder().encode("this is a text file, not a database\n"),
      crypto.getRandomValues(new Uint8Array(8192)),
    ];
    for (const [i, content] of contents.entries()) {
      const path = `${dir}/damaged-${i}.db`;
      await Deno.writeFile(path, content, { mode: 0o600 });
      await Deno.chmod(path, 0o600);
      await assert.rejects(TokenCache.open(path), (error: unknown) => {
        assert.ok(error instanceof CacheError, String(error));
        assert.equal(error.code, "cache");
        assert.doesNotMatch(error.message, /\n/);
        assert.ok(error.message.includes(path), error.message);
        assert.match(error.message, /delete the file/);
        assert.ok(error.message.includes(`rm ${path}`), error.message);
        return true;
      });
      assert.deepEqual(await Deno.readFile(path), content, "the damaged file was changed");
    }
  });
});

Deno.test("a cache file damaged past its header fails with how to reset it, not a crash", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/cache.db`;
    await withCache(() => TokenCache.open(path), async (cache) => {
      for (let i = 0; i < 300; i++) {
        const entry = fixture(`user${i}`);
        await cache.save({ ...entry, idTokenClaims: { pad: "x".repeat(300) } });
      }
    });
    const bytes = await Deno.readFile(path);
    assert.ok(bytes.length > 64 * 1024, `the database is only ${bytes.length} bytes`);
    bytes.fill(0xff, bytes.length / 2, bytes.length / 2 + 16 * 1024);
    await Deno.writeFile(path, bytes);

    let error: unknown;
    try {
      await withCache(() => TokenCache.open(path), async (cache) => void await cache.status());
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof CacheError, `expected a CacheError, got ${error}`);
    assert.doesNotMatch(error.message, /\n/);
    assert.ok(error.message.includes(path), error.message);
    assert.ok(error.message.includes(`delete the file (rm ${path}*)`), error.message);
  });
});

// ---------------------------------------------------------------------------
// File modes

Deno.test({
  name:
    "a new cache gets a 0700 directory and a 0600 file, and exposure() reports a directory others may write",
  ignore: !POSIX,
  fn: () =>
    withTempDir(async (tmp) => {
      const dir = `${tmp}/new/deviceflow`;
      const path = `${dir}/cache.db`;
      await withCache(() => TokenCache.open(path), async (cache) => {
        await cache.save(fixture("alice"));
        assert.equal(mode(await Deno.stat(dir)), 0o700);
        assert.equal(mode(await Deno.stat(path)), 0o600);
        // SQLite's side files hold the same secrets and must be as private.
        for (const side of [`${path}-wal`, `${path}-shm`]) {
          const info = await Deno.stat(side).catch(() => undefined);
          if (info) assert.equal(mode(info), 0o600, side);
        }
      });
      assert.equal(await exposure(path), undefined);

      // A directory others may read is no exposure when the files are private.
      await Deno.chmod(dir, 0o755);
      assert.equal(await exposure(path), undefined);
      // One they may write to is: they could replace the cache.
      await Deno.chmod(dir, 0o777);
      const directory = await exposure(path);
      assert.ok(directory?.includes(`directory ${dir} `), directory);
      assert.ok(directory?.includes(`chmod 700 ${dir}`), directory);
      // The sticky bit (as on /tmp) keeps others from replacing our files.
      await Deno.chmod(dir, 0o1777);
      assert.equal(await exposure(path), undefined);

      await Deno.chmod(dir, 0o700);
      assert.equal(await exposure(path), undefined);
      assert.equal(await exposure(":memory:"), undefined);
      assert.equal(await exposure("https://kv.example.com/db"), undefined);
    }),
});

Deno.test({
  name: "an existing cache file that others may read is refused, and keeps its mode",
  ignore: !POSIX,
  fn: () =>
    withTempDir(async (dir) => {
      const path = `${dir}/cache.db`;
      await Deno.writeFile(path, new Uint8Array(), { mode: 0o640 });
      await Deno.chmod(path, 0o640);
      await assert.rejects(TokenCache.open(path), (error: unknown) => {
        assert.ok(error instanceof CacheError, String(error));
        assert.equal(
          error.message,
          `Refusing to open the token cache: ${path} can be read or written by other users (mode 640); run: chmod 600 ${path}`,
        );
        return true;
      });
      assert.equal(mode(await Deno.stat(path)), 0o640);
    }),
});

Deno.test({
  name: "a bare file name opens a cache in the working directory",
  ignore: !POSIX,
  fn: () =>
    withTempDir(async (dir) => {
      const run = await runWorker(["open", "cache.db"], { cwd: dir });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), "cache.db");
      const info = await Deno.stat(`${dir}/cache.db`);
      assert.ok(info.isFile);
      assert.equal(mode(info), 0o600);
    }),
});

Deno.test({
  name: "the default cache lives in $XDG_CACHE_HOME/deviceflow with private modes",
  ignore: Deno.build.os !== "linux",
  fn: () =>
    withTempDir(async (dir) => {
      const run = await runWorker(["open"], { env: { XDG_CACHE_HOME: `${dir}/xdg` } });
      assert.equal(run.code, 0, run.stderr);
      const path = `${dir}/xdg/deviceflow/cache.db`;
      assert.equal(run.stdout.trim(), path);
      assert.equal(mode(await Deno.stat(`${dir}/xdg/deviceflow`)), 0o700);
      assert.equal(mode(await Deno.stat(path)), 0o600);
      await withCache(() => TokenCache.open(path), async (cache) => {
        const accounts = await cache.getAccounts();
        assert.deepEqual(accounts.map((a) => a.homeAccountId), [
          workerEntry("solo", 0).account.homeAccountId,
        ]);
      });
    }),
});

// ---------------------------------------------------------------------------
// Removal

onEachBackend("removeRefreshToken() removes only the token it was given", async (cache) => {
  const alice = fixture("alice", { familyId: "1" });
  await cache.save(alice);

  assert.equal(await cache.removeRefreshToken(alice.account, "rt-someone-else"), false);
  assert.deepEqual(await cache.getRefreshToken(alice.account), alice.refreshToken);

  // Another process rotated the token: the refused old one must not take the new one along.
  const rotated = { ...alice.refreshToken, secret: "rt-alice-2", cachedAt: 9 };
  await cache.save({
    account: alice.account,
    accessToken: alice.accessToken,
    refreshToken: rotated,
  });
  assert.equal(await cache.removeRefreshToken(alice.account, alice.refreshToken.secret), false);
  assert.deepEqual(await cache.getRefreshToken(alice.account), rotated);

  assert.equal(await cache.removeRefreshToken(alice.account, "rt-alice-2"), true);
  assert.equal(await cache.getRefreshToken(alice.account), undefined);
  assert.equal(await cache.getRefreshToken(alice.account, "1"), undefined, "family token left");
  // The rest of the sign-in stays.
  assert.deepEqual(await cache.getAccounts(), [alice.account]);
  assert.deepEqual(await cache.getAccessTokens(alice.account), [alice.accessToken]);
  assert.equal(await cache.removeRefreshToken(alice.account, "rt-alice-2"), false);
});

onEachBackend(
  "removeAccount() removes everything of that account, returns its refresh token, and keeps the others",
  async (cache) => {
    const alice = fixture("alice", { familyId: "1", signedInAt: 3 });
    const bob = fixture("bob", { signedInAt: 2 });
    const aliceApp2 = fixture("alice", { clientId: "client-2", signedInAt: 1 });
    await cache.save(alice);
    await cache.save({
      ...alice,
      accessToken: { ...alice.accessToken, secret: "at-alice-2", scopes: ["User.Read"] },
    });
    await cache.save(bob);
    await cache.save({
      ...aliceApp2,
      refreshToken: { ...aliceApp2.refreshToken, secret: "rt-a2" },
    });

    assert.deepEqual(await cache.removeAccount(alice.account), alice.refreshToken);

    assert.deepEqual(await cache.getAccounts(), [bob.account, aliceApp2.account]);
    assert.deepEqual(await cache.getAccessTokens(alice.account), []);
    assert.equal(await cache.getRefreshToken(alice.account), undefined);
    assert.equal(await cache.getRefreshToken(alice.account, "1"), undefined);
    assert.equal(await cache.getIdTokenClaims(alice.account), undefined);

    assert.deepEqual(await cache.getAccessTokens(bob.account), [bob.accessToken]);
    assert.deepEqual(await cache.getRefreshToken(bob.account), bob.refreshToken);
    assert.deepEqual(await cache.getIdTokenClaims(bob.account), bob.idTokenClaims);
    assert.deepEqual(await cache.getAccessTokens(aliceApp2.account), [aliceApp2.accessToken]);
    assert.equal((await cache.getRefreshToken(aliceApp2.account))?.secret, "rt-a2");
    assert.deepEqual(await cache.getIdTokenClaims(aliceApp2.account), aliceApp2.idTokenClaims);

    assert.equal(await cache.removeAccount(alice.account), undefined);
    assert.deepEqual(await cache.getAccounts(), [bob.account, aliceApp2.account]);
  },
);

// ---------------------------------------------------------------------------
// Leases

onEachBackend("a lease has one holder until it expires or is released", async (cache) => {
  const t0 = 1_000_000;
  const ttl = 60_000;
  assert.equal(await cache.leaseHeld("refresh", t0), false);
  assert.equal(await cache.acquireLease("refresh", "A", ttl, t0), true);
  assert.equal(await cache.leaseHeld("refresh", t0 + 1), true);
  assert.equal(await cache.acquireLease("refresh", "B", ttl, t0 + 30_000), false);
  // Other names are separate leases.
  assert.equal(await cache.acquireLease("other", "B", ttl, t0 + 30_000), true);

  // Past its expiry the lease is free for the taking.
  assert.equal(await cache.leaseHeld("refresh", t0 + ttl + 1), false);
  assert.equal(await cache.acquireLease("refresh", "B", ttl, t0 + ttl + 1), true);
  assert.equal(await cache.acquireLease("refresh", "A", ttl, t0 + ttl + 2), false);

  await cache.releaseLease("refresh", "A");
  assert.equal(await cache.leaseHeld("refresh", t0 + ttl + 3), true, "a non-holder released it");
  assert.equal(await cache.acquireLease("refresh", "A", ttl, t0 + ttl + 3), false);

  await cache.releaseLease("refresh", "B");
  assert.equal(await cache.leaseHeld("refresh", t0 + ttl + 4), false);
  assert.equal(await cache.acquireLease("refresh", "A", ttl, t0 + ttl + 4), true);
  assert.equal(await cache.leaseHeld("other", t0 + ttl + 4), true);
});

onEachBackend("a holder may renew its own live lease", async (cache) => {
  assert.equal(await cache.acquireLease("refresh", "A", 1_000, 10_000), true);
  assert.equal(await cache.acquireLease("refresh", "A", 1_000, 10_900), true);
  // Renewed at 10 900, so it lives to 11 900, past the first expiry.
  assert.equal(await cache.leaseHeld("refresh", 11_500), true);
  assert.equal(await cache.acquireLease("refresh", "B", 1_000, 11_500), false);
});

onEachBackend("of many concurrent acquireLease() calls exactly one wins", async (cache) => {
  const holders = Array.from({ length: 8 }, (_, i) => `holder-${i}`);
  const won = await Promise.all(holders.map((h) => cache.acquireLease("race", h, 60_000, 1)));
  assert.equal(won.filter(Boolean).length, 1, JSON.stringify(won));
});

// ---------------------------------------------------------------------------
// Pending device codes and metadata

onEachBackend("savePending(), getPending() and removePending() round-trip", async (cache) => {
  const now = Date.now();
  const first: PendingDeviceCode = {
    id: "p1",
    deviceCode: "dc-1",
    userCode: "ABCD-EFGH",
    verificationUri: "https://login.example.com/device",
    verificationUriComplete: "https://login.example.com/device?code=ABCD-EFGH",
    expiresAt: now + 900_000,
    interval: 5,
    message: "Go to https://login.example.com/device and enter ABCD-EFGH",
    scopes: ["openid"],
    createdAt: now,
  };
  const { verificationUriComplete: _, ...second } = {
    ...first,
    id: "p2",
    deviceCode: "dc-2",
    createdAt: now + 1,
  };
  await cache.savePending(AUTHORITY, CLIENT, first);
  await cache.savePending(AUTHORITY, CLIENT, second);
  await cache.savePending(AUTHORITY, "client-2", { ...first, id: "p3" });

  assert.deepEqual(await cache.getPending(AUTHORITY, CLIENT), [second, first]);
  assert.deepEqual(await cache.getPending(AUTHORITY, "client-2"), [{ ...first, id: "p3" }]);
  assert.deepEqual(await cache.getPending("https://elsewhere.example", CLIENT), []);

  await cache.removePending(AUTHORITY, CLIENT, "p2");
  assert.deepEqual(await cache.getPending(AUTHORITY, CLIENT), [first]);
  await cache.removePending(AUTHORITY, CLIENT, "absent");
  assert.deepEqual(await cache.getPending(AUTHORITY, CLIENT), [first]);
  assert.deepEqual(cache.skipped, []);
});

onEachBackend("setMetadata() then getMetadata() round-trips per authority", async (cache) => {
  const metadata: CachedMetadata = {
    provider: "oidc",
    endpoints: {
      deviceAuthorization: "https://idp.example.com/device",
      token: "https://idp.example.com/token",
      revocation: "https://idp.example.com/revoke",
      userinfo: "https://idp.example.com/userinfo",
      issuer: "https://idp.example.com",
    },
    fetchedAt: 1_234,
  };
  assert.equal(await cache.getMetadata("https://idp.example.com"), undefined);
  await cache.setMetadata("https://idp.example.com", metadata);
  assert.deepEqual(await cache.getMetadata("https://idp.example.com"), metadata);
  assert.equal(await cache.getMetadata("https://other.example.com"), undefined);

  const refreshed = { ...metadata, fetchedAt: 5_678 };
  await cache.setMetadata("https://idp.example.com", refreshed);
  assert.deepEqual(await cache.getMetadata("https://idp.example.com"), refreshed);
});

// ---------------------------------------------------------------------------
// Scope keys

Deno.test("scopeKey() ignores order, case and duplicates", () => {
  assert.equal(
    scopeKey(["User.Read", "openid", "OPENID", "offline_access", "openid"]),
    "offline_access openid user.read",
  );
  assert.equal(scopeKey(["b", "a"]), scopeKey(["A", "B", "a"]));
  assert.notEqual(scopeKey(["a"]), scopeKey(["a", "b"]));
  assert.equal(scopeKey([]), "");
});

onEachBackend(
  "a token for the same scopes in another order or case replaces the first",
  async (cache) => {
    const alice = fixture("alice");
    await cache.save({
      ...alice,
      accessToken: { ...alice.accessToken, scopes: ["Mail.Read", "openid"] },
    });
    const again = {
      ...alice.accessToken,
      secret: "at-2",
      scopes: ["OPENID", "mail.read", "openid"],
    };
    await cache.save({ account: alice.account, accessToken: again });
    assert.deepEqual(await cache.getAccessTokens(alice.account), [again]);
  },
);

// ---------------------------------------------------------------------------
// Many processes on one file

Deno.test("eight processes saving and reading one cache file lose no write", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const workers = Array.from({ length: 8 }, (_, i) => `w${i}`);
    const perWorker = 50;
    const runs = await Promise.all(
      workers.map((w) => runWorker(["save", path, w, String(perWorker)])),
    );
    for (const [i, run] of runs.entries()) {
      assert.equal(run.code, 0, `worker ${i} failed: ${run.stderr}`);
      assert.equal(run.stdout.trim(), `saved ${perWorker}`);
      assert.doesNotMatch(run.stderr, /locked/i);
    }

    await withCache(() => TokenCache.open(path), async (cache) => {
      const expected = workers.flatMap((w) =>
        Array.from({ length: perWorker }, (_, i) => workerEntry(w, i))
      );
      const accounts = await cache.getAccounts({ authority: expected[0]!.account.authority });
      assert.equal(accounts.length, workers.length * perWorker);
      assert.deepEqual(
        new Set(accounts.map((a) => a.homeAccountId)),
        new Set(expected.map((e) => e.account.homeAccountId)),
      );
      for (const entry of expected) {
        const [token] = await cache.getAccessTokens(entry.account);
        assert.equal(token?.secret, entry.accessToken.secret);
        assert.equal(
          (await cache.getRefreshToken(entry.account))?.secret,
          entry.refreshToken.secret,
        );
      }
      assert.deepEqual((await cache.status()).skipped, []);
    });
  });
});

Deno.test("of eight processes racing for one lease exactly one wins", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/cache.db`;
    // Created first, so that the race is for the lease and not for the file.
    await withCache(() => TokenCache.open(path), () => Promise.resolve());
    const startAt = Date.now() + 1_500;
    const holders = Array.from({ length: 8 }, (_, i) => `holder-${i}`);
    const runs = await Promise.all(holders.map((h) => runWorker(["lease", path, h, `${startAt}`])));
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    const outcomes = runs.map((run) => run.stdout.trim());
    assert.equal(outcomes.filter((o) => o === "won").length, 1, outcomes.join(" "));
    assert.equal(outcomes.filter((o) => o === "lost").length, 7, outcomes.join(" "));

    const winner = holders[outcomes.indexOf("won")]!;
    const loser = holders[outcomes.indexOf("lost")]!;
    await withCache(() => TokenCache.open(path), async (cache) => {
      assert.equal(await cache.leaseHeld("race", Date.now()), true);
      assert.equal(await cache.acquireLease("race", loser, 60_000, Date.now()), false);
      assert.equal(await cache.acquireLease("race", winner, 60_000, Date.now()), true);
    });
  });
});

/** Starts a process holding an exclusive SQLite lock on `path`; resolves once it has it. */
async function holdLock(path: string, ms: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WORKER, "hold", path, String(ms)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  let seen = "";
  while (!seen.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  if (!seen.includes("locked")) {
    await drained;
    throw new Error(`The lock holder did not start: ${await stderr}`);
  }
  return async () => {
    await drained;
    const status = await child.status;
    assert.equal(status.code, 0, await stderr);
  };
}

Deno.test("a save waits for another process that holds the cache file locked", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const alice = fixture("alice");
    await withCache(() => TokenCache.open(path), (cache) => cache.save(alice));
    const done = await holdLock(path, 1_000);
    const bob = fixture("bob");
    const started = Date.now();
    await withCache(() => TokenCache.open(path), async (cache) => {
      await cache.save(bob);
      assert.ok(Date.now() - started >= 500, "the save did not wait for the lock");
      assert.deepEqual(
        (await cache.getAccounts()).map((a) => a.username),
        ["alice@example.com", "bob@example.com"],
      );
    });
    await done();
  });
});

Deno.test("opening a new cache file retries while another process holds it locked", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/cache.db`;
    // An empty file of ours, as the cache creates it, that another process locks first.
    await Deno.writeFile(path, new Uint8Array(), { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    // Held past SQLite's own 5 s busy timeout, so that only the cache's retries get through.
    const done = await holdLock(path, 6_500);
    // A process that may not retry gives up, and is not told to delete the cache.
    const impatient = new Deno.Command(Deno.execPath(), {
      args: ["run", "--unstable-kv", "-A", WORKER, "save", path, "impatient", "1", "0"],
      stdout: "null",
      stderr: "piped",
    }).output();
    await withCache(() => TokenCache.open(path), async (cache) => {
      const alice = fixture("alice");
      await cache.save(alice);
      assert.deepEqual(await cache.getAccounts(), [alice.account]);
    });
    const failed = await impatient;
    const stderr = new TextDecoder().decode(failed.stderr);
    assert.equal(failed.code, 1, stderr);
    assert.match(stderr, /CacheError: Cannot open the token cache .*database is locked/);
    assert.match(stderr, /try again/);
    assert.doesNotMatch(stderr, /delete/);
    await done();
  });
});

Deno.test("accounts with long authorities, IDs and names sharing their first 64 characters are found by name, by key", async () => {
  const dir = await Deno.makeTempDir();
  const cache = await TokenCache.open(`${dir}/cache.db`);
  try {
    const now = Date.now();
    const authority = `https://id.example.com/${"x".repeat(600)}`;
    const shared = "ü".repeat(70);
    for (const [id, name] of [["a", `${shared}-alice`], ["b", `${shared}-bob`]] as const) {
      await cache.save({
        account: {
          authority,
          clientId: "app",
          homeAccountId: id.repeat(255),
          username: name,
          provider: "oidc",
          signedInAt: now,
        },
        accessToken: {
          secret: `token-${id}`,
          tokenType: "Bearer",
          scopes: ["api"],
          requestedScopes: ["api"],
          cachedAt: now,
          expiresAt: now + 3_600_000,
        },
      });
    }
    const named = await cache.accountsNamed(authority, "app", `${shared}-BOB`);
    assert.deepEqual(named.map((a) => a.homeAccountId), ["b".repeat(255)]);
  } finally {
    cache.close();
    await Deno.remove(dir, { recursive: true });
  }
});
