/**
 * HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured: the CLI (a real `deno
 * run cli.ts` process, since Deno reads them at start-up) reaches the dev
 * server through a small CONNECT proxy on loopback, and past it when NO_PROXY
 * names the host.
 *
 * What Deno 2.9 does, found here: it sends requests to loopback addresses
 * through the proxy too (no implicit bypass of 127.0.0.1, localhost or [::1]);
 * NO_PROXY takes host names, IP addresses and CIDR ranges (127.0.0.0/8), and
 * a bare `*` there matches host names but not IP addresses; the lower-case
 * names work as well. All of that is the runtime's: deviceflow uses the global
 * fetch, which applies it.
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "./support/approve.ts";
import { type DevServer, type DevServerOptions, startDevServer } from "./support/dev_server.ts";
import { findPrompt } from "./support/cli_harness.ts";
import { type ConnectProxy, startConnectProxy } from "./support/connect_proxy.ts";
import { TEST_SERVER_CERT, TEST_SERVER_KEY, writeTestCa } from "./support/test_tls.ts";

// oidc-provider keeps timers and sockets of its own between tests.
const opts = { sanitizeOps: false, sanitizeResources: false };
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const PROXY_VARIABLES = [
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "ALL_PROXY",
  "NO_PROXY",
  "https_proxy",
  "http_proxy",
  "all_proxy",
  "no_proxy",
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a process with exactly these proxy variables (none inherited). */
async function runCli(
  args: string[],
  env: Record<string, string>,
  approve?: (prompt: { address: string; code: string }) => Promise<void>,
): Promise<Run> {
  const inherited = Deno.env.toObject();
  for (const name of PROXY_VARIABLES) delete inherited[name];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-kv", CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { ...inherited, NO_COLOR: "1", ...env },
  }).spawn();
  const stdout = new Response(child.stdout).text();
  let stderr = "";
  let prompted = !approve;
  for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
    stderr += text;
    const prompt = prompted ? undefined : findPrompt(stderr);
    if (prompt) {
      prompted = true;
      await approve!(prompt);
    }
  }
  return { code: (await child.status).code, stdout: await stdout, stderr };
}

async function withSetup(
  options: DevServerOptions,
  run: (server: DevServer, proxy: ConnectProxy, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "deviceflow-proxy-" });
  const server = await startDevServer(options);
  const proxy = await startConnectProxy();
  try {
    await run(server, proxy, dir);
  } finally {
    await proxy.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

let caches = 0;

/** `login --no-wait` with a new cache, so that discovery is not answered from a cache. */
function noWait(server: DevServer, dir: string): string[] {
  const cache = `${dir}/cache-${++caches}.db`;
  return [
    "login",
    "--no-wait",
    "--authority",
    server.issuer,
    "--client-id",
    server.clientId,
    "--cache",
    cache,
  ];
}

Deno.test({
  name: "HTTP_PROXY carries every request to a plain-http server, loopback included",
  ...opts,
  fn: () =>
    withSetup({ interval: 1 }, async (server, proxy, dir) => {
      const run = await runCli(noWait(server, dir), { HTTP_PROXY: proxy.url });
      assert.equal(run.code, 0, run.stderr);
      const origin = server.issuer;
      assert.deepEqual(
        proxy.requests.map((r) => `${r.kind} ${r.method} ${r.target}`),
        [
          `http GET ${origin}/.well-known/openid-configuration`,
          `http POST ${origin}/device/auth`,
        ],
      );
      assert.ok(proxy.requests.every((r) => r.forwarded));
      assert.equal(server.requests.length, 2);
    }),
});

Deno.test({
  name: "NO_PROXY naming the host, its address range or a list takes the requests off the proxy",
  ...opts,
  fn: () =>
    withSetup({ interval: 1 }, async (server, proxy, dir) => {
      for (const noProxy of ["127.0.0.1", "127.0.0.0/8", "localhost,127.0.0.1"]) {
        const run = await runCli(noWait(server, dir), {
          HTTP_PROXY: proxy.url,
          NO_PROXY: noProxy,
        });
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(proxy.requests, [], `NO_PROXY=${noProxy}`);
      }
      // The lower-case spellings too.
      const lower = await runCli(noWait(server, dir), {
        http_proxy: proxy.url,
        no_proxy: "127.0.0.1",
      });
      assert.equal(lower.code, 0, lower.stderr);
      assert.deepEqual(proxy.requests, []);
      const viaLower = await runCli(noWait(server, dir), { http_proxy: proxy.url });
      assert.equal(viaLower.code, 0, viaLower.stderr);
      assert.equal(proxy.requests.length, 2);
    }),
});

Deno.test({
  name: "HTTPS_PROXY tunnels TLS with CONNECT, and NO_PROXY bypasses it",
  ...opts,
  fn: () =>
    withSetup(
      { interval: 1, tls: { cert: TEST_SERVER_CERT, key: TEST_SERVER_KEY } },
      async (server, proxy, dir) => {
        const ca = await writeTestCa(dir);
        assert.match(server.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
        const via = await runCli(noWait(server, dir), {
          DENO_CERT: ca,
          HTTPS_PROXY: proxy.url,
        });
        assert.equal(via.code, 0, via.stderr);
        const host = new URL(server.issuer).host;
        assert.ok(proxy.requests.length >= 1);
        assert.ok(
          proxy.requests.every((r) => r.kind === "connect" && r.target === host && r.forwarded),
          JSON.stringify(proxy.requests),
        );
        // Both requests went through the tunnel(s): the server saw them, the proxy passed bytes.
        assert.equal(server.requests.length, 2);
        assert.ok(proxy.bytesFromTargets() > 0);
        // HTTP_PROXY is not used for https.
        const before = proxy.requests.length;
        const plainOnly = await runCli(noWait(server, dir), {
          DENO_CERT: ca,
          HTTP_PROXY: proxy.url,
        });
        assert.equal(plainOnly.code, 0, plainOnly.stderr);
        assert.equal(proxy.requests.length, before);
        const bypass = await runCli(noWait(server, dir), {
          DENO_CERT: ca,
          HTTPS_PROXY: proxy.url,
          NO_PROXY: "127.0.0.1",
        });
        assert.equal(bypass.code, 0, bypass.stderr);
        assert.equal(proxy.requests.length, before);
        assert.equal(server.requests.length, 6);
      },
    ),
});

Deno.test({
  name: "a whole sign-in, a refresh and an API call go through HTTP_PROXY",
  ...opts,
  fn: () =>
    withSetup({ interval: 1 }, async (server, proxy, dir) => {
      const cache = `${dir}/cache.db`;
      const env = { HTTP_PROXY: proxy.url };
      const login = await runCli(
        ["login", "--authority", server.issuer, "--client-id", server.clientId, "--cache", cache],
        env,
        ({ address, code }) => approveDeviceCode(address, code, { login: "alice" }),
      );
      assert.equal(login.code, 0, login.stderr);
      const refresh = await runCli(["token", "--force-refresh", "--cache", cache], env);
      assert.equal(refresh.code, 0, refresh.stderr);
      const api = await runCli(["fetch", `${server.issuer}/me`, "--cache", cache], env);
      assert.equal(api.code, 0, api.stderr);
      assert.equal(JSON.parse(api.stdout).sub, "alice");
      const paths = proxy.requests.map((r) => new URL(r.target).pathname);
      const polls = paths.filter((p) => p === "/token").length;
      assert.ok(polls >= 2, `${polls} token requests went through the proxy`);
      assert.ok(paths.includes("/device/auth"));
      assert.ok(paths.includes("/me"));
      // Everything the server received came through the proxy (the approval pages were
      // fetched by this test, which has no proxy).
      const fromCli = server.requests.filter((r) =>
        ["/token", "/device/auth", "/me", "/.well-known/openid-configuration"].includes(r.path)
      );
      assert.equal(fromCli.length, proxy.requests.length);
    }),
});

Deno.test({
  name: "an unreachable proxy is a network failure (exit 5), not a quiet direct connection",
  ...opts,
  fn: () =>
    withSetup({ interval: 1 }, async (server, _proxy, dir) => {
      // A port nothing listens on: take one, then let it go.
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      listener.close();
      const run = await runCli(noWait(server, dir), {
        HTTP_PROXY: `http://127.0.0.1:${port}`,
      });
      assert.equal(run.code, 5, run.stderr);
      assert.match(run.stderr, /^deviceflow: Cannot reach 127\.0\.0\.1:\d+/m);
      assert.equal(server.requests.length, 0);
    }),
});
