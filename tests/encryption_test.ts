/**
 * Encryption at rest: the cache's secrets sealed with AES-GCM, the key from
 * DEVICEFLOW_CACHE_KEY or a 0600 key file, and a wrong or missing key that
 * says so and loses nothing.
 */

import assert from "node:assert/strict";
import {
  type CachedAccessToken,
  type CachedAccount,
  type CachedRefreshToken,
  CacheKeyError,
  type PendingDeviceCode,
  TokenCache,
} from "../cache.ts";
import { defaultKeyFile, importCacheKey, isSealed, parseKey } from "../src/cache/sealing.ts";
import { runMain, spawnCli } from "./support/cli_harness.ts";

const POSIX = Deno.build.os !== "windows";
const AUTHORITY = "https://login.example.com/tenant";
const CLIENT = "client-1";

function fixture(home: string, familyId?: string) {
  const now = Date.now();
  const account: CachedAccount = {
    username: home,
    homeAccountId: `${home}-id`,
    authority: AUTHORITY,
    clientId: CLIENT,
    provider: "oidc",
    signedInAt: now,
  };
  const accessToken: CachedAccessToken = {
    secret: `at-${home}-0123456789`,
    tokenType: "Bearer",
    scopes: ["api"],
    requestedScopes: ["api"],
    expiresAt: now + 3_600_000,
    cachedAt: now,
  };
  const refreshToken: CachedRefreshToken = {
    secret: `rt-${home}-0123456789`,
    scopes: ["api", "offline_access"],
    cachedAt: now,
    ...(familyId ? { familyId } : {}),
  };
  return { account, accessToken, refreshToken, idTokenClaims: { sub: `${home}-id` } };
}

function pending(id: string): PendingDeviceCode {
  const now = Date.now();
  return {
    id,
    deviceCode: `dc-${id}-0123456789`,
    userCode: "ABCD-EFGH",
    verificationUri: "https://login.example.com/device",
    expiresAt: now + 600_000,
    interval: 5,
    message: "Go there",
    scopes: ["api"],
    createdAt: now,
  };
}

function randomKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "deviceflow_encryption_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every entry of the file as raw KV has it: key and value as JSON, versionstamps left out. */
async function rawEntries(path: string): Promise<Map<string, string>> {
  const kv = await Deno.openKv(path);
  try {
    const out = new Map<string, string>();
    for await (const entry of kv.list({ prefix: [] })) {
      out.set(JSON.stringify(entry.key), JSON.stringify(entry.value));
    }
    return out;
  } finally {
    kv.close();
  }
}

async function rawSet(path: string, key: Deno.KvKey, value: unknown): Promise<void> {
  const kv = await Deno.openKv(path);
  try {
    await kv.set(key, value);
  } finally {
    kv.close();
  }
}

async function rawGet<T>(path: string, key: Deno.KvKey): Promise<T> {
  const kv = await Deno.openKv(path);
  try {
    return (await kv.get<T>(key)).value!;
  } finally {
    kv.close();
  }
}

async function withOpen<T>(
  path: string,
  key: Uint8Array | CryptoKey | undefined,
  fn: (cache: TokenCache) => Promise<T>,
): Promise<T> {
  const cache = await TokenCache.open(path, key ? { encryptionKey: key } : {});
  try {
    return await fn(cache);
  } finally {
    cache.close();
  }
}

/** Stores alice (with a family refresh token), bob and a pending sign-in. */
async function populate(path: string, key: Uint8Array | undefined) {
  const alice = fixture("alice", "1");
  const bob = fixture("bob");
  const waiting = pending("p1");
  await withOpen(path, key, async (cache) => {
    await cache.save(alice);
    await cache.save(bob);
    await cache.savePending(AUTHORITY, CLIENT, waiting);
  });
  return { alice, bob, waiting };
}

const SECRETS = /(at|rt)-(alice|bob)-0123456789|dc-p1-0123456789/;

const refreshKey = (home: string) => [
  "deviceflow",
  "v1",
  "refresh_token",
  AUTHORITY,
  CLIENT,
  `${home}-id`,
];

// ---------------------------------------------------------------------------
// The library

Deno.test("an encrypted cache gives back the tokens, refresh tokens and device codes it was given", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const key = randomKey();
    const { alice, bob, waiting } = await populate(path, key);
    await withOpen(path, key, async (cache) => {
      assert.equal(cache.encrypted, true);
      assert.deepEqual(await cache.getAccessTokens(alice.account), [alice.accessToken]);
      assert.deepEqual(await cache.getRefreshToken(alice.account), alice.refreshToken);
      assert.deepEqual(await cache.getRefreshToken(bob.account), bob.refreshToken);
      // The family refresh token is sealed under its own key, and opens there.
      const other = { ...alice.account, clientId: "client-2" };
      assert.deepEqual(await cache.getRefreshToken(other, "1"), alice.refreshToken);
      assert.deepEqual(await cache.getPending(AUTHORITY, CLIENT), [waiting]);
      assert.ok(await cache.removeRefreshToken(bob.account, bob.refreshToken.secret));
      const status = await cache.status();
      assert.deepEqual(status.skipped, []);
      assert.deepEqual(status.accounts.map((a) => a.username).sort(), ["alice", "bob"]);
    });
  });
});

Deno.test("the raw KV values of an encrypted cache hold no token and no device code", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    await populate(path, randomKey());
    const raw = await rawEntries(path);
    for (const [key, value] of raw) assert.doesNotMatch(value, SECRETS, key);
    const sealed = await rawGet<{ secret: unknown }>(path, refreshKey("alice"));
    assert.ok(isSealed(sealed.secret), JSON.stringify(sealed));
    // The database file itself, WAL included, has no plaintext secret either.
    for await (const file of Deno.readDir(dir)) {
      const bytes = await Deno.readFile(`${dir}/${file.name}`);
      assert.doesNotMatch(new TextDecoder("latin1").decode(bytes), SECRETS, file.name);
    }
  });
});

Deno.test("a wrong key or no key is refused with CacheKeyError, changes nothing, and the right key still opens everything", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const key = randomKey();
    const { alice } = await populate(path, key);
    const before = await rawEntries(path);

    const wrong = await TokenCache.open(path, { encryptionKey: randomKey() }).catch((e) => e);
    assert.ok(wrong instanceof CacheKeyError);
    assert.equal(wrong.reason, "wrong");
    assert.equal(wrong.code, "cache");
    assert.match(wrong.message, /is encrypted with another key; nothing was changed/);

    const missing = await TokenCache.open(path).catch((e) => e);
    assert.ok(missing instanceof CacheKeyError);
    assert.equal(missing.reason, "missing");

    assert.deepEqual(await rawEntries(path), before);
    await withOpen(path, key, async (cache) => {
      assert.deepEqual(await cache.getRefreshToken(alice.account), alice.refreshToken);
    });
  });
});

Deno.test("an altered ciphertext is skipped and reported as corrupt, and the other entries still open", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const key = randomKey();
    const { alice, bob } = await populate(path, key);
    const entry = await rawGet<{ secret: { v: 1; iv: string; ct: string } }>(
      path,
      refreshKey("alice"),
    );
    const ct = entry.secret.ct;
    const flipped = `${ct.slice(0, 5)}${ct[5] === "A" ? "B" : "A"}${ct.slice(6)}`;
    await rawSet(path, refreshKey("alice"), { ...entry, secret: { ...entry.secret, ct: flipped } });
    await withOpen(path, key, async (cache) => {
      assert.equal(await cache.getRefreshToken(alice.account), undefined);
      assert.deepEqual(await cache.getRefreshToken(bob.account), bob.refreshToken);
      const { skipped } = await cache.status();
      assert.deepEqual(skipped.map((s) => s.key), [JSON.stringify(refreshKey("alice"))]);
      assert.match(skipped[0]!.reason, /does not decrypt: it was altered/);
    });
  });
});

Deno.test("a ciphertext moved to another entry does not open there: the entry's key is bound to it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const key = randomKey();
    const { alice, bob } = await populate(path, key);
    // Bob's refresh token entry gets alice's sealed token: a swap that would
    // let bob's name sign in as alice, if it opened.
    const alices = await rawGet<Record<string, unknown>>(path, refreshKey("alice"));
    const bobs = await rawGet<Record<string, unknown>>(path, refreshKey("bob"));
    await rawSet(path, refreshKey("bob"), { ...bobs, secret: alices.secret });
    await withOpen(path, key, async (cache) => {
      assert.equal(await cache.getRefreshToken(bob.account), undefined);
      assert.deepEqual(await cache.getRefreshToken(alice.account), alice.refreshToken);
      assert.equal((await cache.status()).skipped.length, 1);
    });
  });
});

Deno.test("a plaintext cache opened with a key is sealed at once, and needs the key from then on", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const { alice, waiting } = await populate(path, undefined);
    assert.match([...(await rawEntries(path)).values()].join("\n"), SECRETS);
    const key = randomKey();
    await withOpen(path, key, async (cache) => {
      assert.deepEqual(await cache.getRefreshToken(alice.account), alice.refreshToken);
      assert.deepEqual(await cache.getPending(AUTHORITY, CLIENT), [waiting]);
    });
    for (const [k, value] of await rawEntries(path)) assert.doesNotMatch(value, SECRETS, k);
    // Nor in the file's free pages or its write-ahead log, where SQLite left the old values.
    for await (const file of Deno.readDir(dir)) {
      const bytes = await Deno.readFile(`${dir}/${file.name}`);
      assert.doesNotMatch(new TextDecoder("latin1").decode(bytes), SECRETS, file.name);
    }
    const missing = await TokenCache.open(path).catch((e) => e);
    assert.ok(missing instanceof CacheKeyError && missing.reason === "missing");
  });
});

Deno.test("importCacheKey() takes 32 bytes or an AES-GCM CryptoKey and refuses anything else", async () => {
  const generated = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]);
  assert.equal(await importCacheKey(generated), generated);
  assert.equal((await importCacheKey(randomKey())).algorithm.name, "AES-GCM");
  await assert.rejects(() => importCacheKey(new Uint8Array(16)), TypeError);
  const hmac = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  await assert.rejects(() => importCacheKey(hmac), TypeError);
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    await assert.rejects(
      () => TokenCache.open(path, { encryptionKey: new Uint8Array(31) }),
      /must be 32 bytes/,
    );
    // A CryptoKey opens what its raw bytes sealed.
    const raw = randomKey();
    const { alice } = await populate(path, raw);
    const imported = await crypto.subtle.importKey("raw", raw.slice(), "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    await withOpen(path, imported, async (cache) => {
      assert.deepEqual(await cache.getRefreshToken(alice.account), alice.refreshToken);
    });
  });
});

Deno.test("parseKey() reads base64 (as openssl prints it), base64url and hex of 32 bytes", () => {
  const key = randomKey();
  const hex = [...key].map((b) => b.toString(16).padStart(2, "0")).join("");
  const std = base64(key);
  const url = std.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  for (const text of [std, `${std}\n`, url, hex, hex.toUpperCase()]) {
    assert.deepEqual(parseKey(text), key, text);
  }
  for (const text of ["", "x".repeat(44), base64(new Uint8Array(31)), hex.slice(2), "a+b-"]) {
    assert.equal(parseKey(text), undefined, text);
  }
});

Deno.test("defaultKeyFile() is `key` next to the cache file, and none for :memory: or a URL", () => {
  assert.equal(
    defaultKeyFile("/home/me/.cache/deviceflow/cache.db"),
    "/home/me/.cache/deviceflow/key",
  );
  assert.equal(defaultKeyFile("cache.db"), "key");
  assert.equal(defaultKeyFile("C:\\Users\\me\\cache.db"), "C:\\Users\\me\\key");
  assert.equal(defaultKeyFile(":memory:"), undefined);
  assert.equal(defaultKeyFile("https://api.deno.com/databases/x/connect"), undefined);
});

// ---------------------------------------------------------------------------
// The CLI

const token = (path: string, ...extra: string[]) => [
  "token",
  "--cache",
  path,
  "--account",
  "alice",
  "--no-interactive",
  ...extra,
];

Deno.test({
  name:
    "--encrypt makes a 0600 key file next to the cache, seals what is there, and later commands use the key without --encrypt",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/cache.db`;
      const { alice } = await populate(path, undefined);
      const first = await runMain(token(path, "--encrypt"));
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, `${alice.accessToken.secret}\n`);
      const info = await Deno.stat(`${dir}/key`);
      assert.equal(info.mode! & 0o777, 0o600);
      assert.ok(parseKey(await Deno.readTextFile(`${dir}/key`)));
      for (const [k, value] of await rawEntries(path)) assert.doesNotMatch(value, SECRETS, k);
      const again = await runMain(token(path));
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, first.stdout);
      const status = await runMain(["status", "--json", "--cache", path]);
      assert.equal(status.code, 0, status.stderr);
      assert.deepEqual(JSON.parse(status.stdout).skipped, []);
    }),
});

Deno.test({
  name: "a key file others can read is refused, and nothing is changed",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/cache.db`;
      assert.equal(
        (await runMain(["token", "--cache", path, "--encrypt", "--no-interactive"])).code,
        3,
      );
      await populate(path, parseKey(await Deno.readTextFile(`${dir}/key`)));
      const before = await rawEntries(path);
      await Deno.chmod(`${dir}/key`, 0o644);
      const result = await runMain(token(path));
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        `deviceflow: The key file ${dir}/key is readable by other users (mode 644), so it is not used; run: chmod 600 ${dir}/key\n`,
      );
      assert.deepEqual(await rawEntries(path), before);
      await Deno.chmod(`${dir}/key`, 0o600);
      assert.equal((await runMain(token(path))).code, 0);
    }),
});

Deno.test("a wrong DEVICEFLOW_CACHE_KEY says so in one line, exits 1, and the right key still works", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const key = randomKey();
    const { alice } = await populate(path, key);
    const before = await rawEntries(path);
    for (
      const command of [token(path), ["status", "--cache", path], [
        "logout",
        "--all",
        "--cache",
        path,
      ]]
    ) {
      const result = await runMain(command, { DEVICEFLOW_CACHE_KEY: base64(randomKey()) });
      assert.equal(result.code, 1, command.join(" "));
      assert.equal(
        result.stderr,
        `deviceflow: The token cache ${path} is encrypted and DEVICEFLOW_CACHE_KEY does not open it; use the key it was encrypted with (nothing in it was changed)\n`,
      );
      assert.equal(result.stdout, "");
    }
    const none = await runMain(token(path));
    assert.equal(none.code, 1);
    assert.equal(
      none.stderr,
      `deviceflow: The token cache ${path} is encrypted and no key was found; set DEVICEFLOW_CACHE_KEY or DEVICEFLOW_CACHE_KEY_FILE, or put the key back in ${dir}/key (nothing in it was changed)\n`,
    );
    assert.deepEqual(await rawEntries(path), before);
    const right = await runMain(token(path), { DEVICEFLOW_CACHE_KEY: base64(key) });
    assert.equal(right.code, 0, right.stderr);
    assert.equal(right.stdout, `${alice.accessToken.secret}\n`);
  });
});

Deno.test("--encrypt on an encrypted cache whose key is gone makes no new key and changes nothing", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    await populate(path, randomKey());
    const before = await rawEntries(path);
    const result = await runMain(token(path, "--encrypt"));
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^deviceflow: The token cache .* is encrypted and no key was found;/,
    );
    await assert.rejects(() => Deno.stat(`${dir}/key`), Deno.errors.NotFound);
    assert.deepEqual(await rawEntries(path), before);
  });
});

Deno.test("malformed keys and a missing DEVICEFLOW_CACHE_KEY_FILE are refused in one line", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const bad = await runMain(token(path), { DEVICEFLOW_CACHE_KEY: "hunter2" });
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      "deviceflow: DEVICEFLOW_CACHE_KEY is not a key: it must be 32 bytes in base64 or hex (make one with: openssl rand -base64 32)\n",
    );
    const missing = await runMain(token(path), { DEVICEFLOW_CACHE_KEY_FILE: `${dir}/nope` });
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^deviceflow: The key file .*nope named by DEVICEFLOW_CACHE_KEY_FILE does not exist/,
    );
    await Deno.writeTextFile(`${dir}/short`, "abcd\n", { mode: 0o600 });
    const short = await runMain(token(path), { DEVICEFLOW_CACHE_KEY_FILE: `${dir}/short` });
    assert.equal(short.code, 1);
    assert.match(short.stderr, /does not hold a key: it must be 32 bytes/);
  });
});

Deno.test("DEVICEFLOW_CACHE_KEY_FILE names the key, and a config profile's encrypt: true turns encryption on", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cache.db`;
    const keyFile = `${dir}/elsewhere/my.key`;
    const config = `${dir}/config.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({ profiles: { default: { cache: path, encrypt: true } } }),
    );
    await populate(path, undefined);
    const env = { DEVICEFLOW_CONFIG: config, DEVICEFLOW_CACHE_KEY_FILE: keyFile };
    const result = await runMain(["token", "--account", "alice", "--no-interactive"], env);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(parseKey(await Deno.readTextFile(keyFile)));
    await assert.rejects(() => Deno.stat(`${dir}/key`), Deno.errors.NotFound);
    for (const [k, value] of await rawEntries(path)) assert.doesNotMatch(value, SECRETS, k);
    await Deno.writeTextFile(
      config,
      JSON.stringify({ profiles: { default: { cache: path, encrypt: "yes" } } }),
    );
    const bad = await runMain(["status"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /profiles\.default\.encrypt must be true or false/);
  });
});

Deno.test({
  name: "eight processes turning on --encrypt at once agree on one key and all print the token",
  ignore: !POSIX,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/cache.db`;
      const { alice } = await populate(path, undefined);
      const outputs = await Promise.all(
        Array.from({ length: 8 }, () => spawnCli(token(path, "--encrypt")).output()),
      );
      const decoder = new TextDecoder();
      for (const output of outputs) {
        assert.equal(output.code, 0, decoder.decode(output.stderr));
        assert.equal(decoder.decode(output.stdout), `${alice.accessToken.secret}\n`);
      }
      const names = [];
      for await (const file of Deno.readDir(dir)) names.push(file.name);
      assert.deepEqual(names.filter((n) => n.includes("key")), ["key"]);
      for (const [k, value] of await rawEntries(path)) assert.doesNotMatch(value, SECRETS, k);
    }),
});
