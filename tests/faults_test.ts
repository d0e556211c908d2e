/**
 * Faults: every request the CLI makes (discovery, device authorization, each
 * poll, refresh, revocation, `fetch`), against node-oidc-provider behind a
 * fault-injecting proxy, for each fault: connection refused, closed before an
 * answer, cut mid-answer, no answer (the connect timeout), a body too slow
 * (the request timeout), 500/502/503/504 with and without `Retry-After`, 429,
 * a redirect loop; and a TLS certificate the system does not trust.
 *
 * Each case asserts the exit code, the one error line, the retries as the
 * proxy saw them, and the cache: unchanged (every KV entry, versionstamps
 * included, and `status --json`) or correctly updated. The cases of one
 * request run concurrently, each against its own server and proxy; the
 * README's table of faults is this file's cases.
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "./support/approve.ts";
import { startDevServer } from "./support/dev_server.ts";
import {
  type Fault,
  type FaultMatch,
  type FaultyDevServer,
  startFaultyDevServer,
} from "./support/fault_proxy.ts";
import { type CliRun, runMain, startMain, tempCache } from "./support/cli_harness.ts";

// oidc-provider keeps timers and sockets of its own between tests.
const opts = { sanitizeOps: false, sanitizeResources: false };

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/** Short limits keep the file fast: 1 s to the headers, 2 s for a whole request. */
const TIMEOUTS = ["--connect-timeout", "1", "--request-timeout", "2"];
const HOST = String.raw`127\.0\.0\.1:\d+`;
// A port that went down refuses new connections; one the client still had open is reset.
const REFUSED = new RegExp(
  `^deviceflow: Cannot reach ${HOST}: (connection refused|the connection was reset)$`,
);
/** Timers fire no sooner than asked, but the proxy timestamps a request only once it has all of it. */
const SLACK_MS = 150;

interface Fixture extends FaultyDevServer {
  readonly cache: string;
  /** The CLI's server, client, cache and timeout options. */
  readonly args: string[];
  /** Ends the fixture. */
  cleanup(): Promise<void>;
}

async function fixture(accessTokenTtl = 3600): Promise<Fixture> {
  const faulty = await startFaultyDevServer({ interval: 1, accessTokenTtl });
  const cache = await tempCache();
  return {
    ...faulty,
    cache: cache.path,
    args: [
      "--authority",
      faulty.server.issuer,
      "--client-id",
      faulty.server.clientId,
      "--cache",
      cache.path,
      ...TIMEOUTS,
    ],
    cleanup: async () => {
      await faulty.close();
      await cache.cleanup();
    },
  };
}

/** Signs in through the proxy with `login`, approving as alice. */
async function signIn(f: Fixture): Promise<void> {
  const run = startMain(["login", ...f.args]);
  const { address, code } = await run.prompt;
  await approveDeviceCode(address, code, { login: "alice" });
  const result = await run.done;
  assert.equal(result.code, 0, result.stderr);
}

/** Every entry of the cache but refresh leases (taken and dropped by each refresh), versionstamps included. */
async function snapshot(path: string): Promise<Map<string, string>> {
  const kv = await Deno.openKv(path);
  try {
    const entries = new Map<string, string>();
    for await (const entry of kv.list({ prefix: [] })) {
      if (entry.key[2] === "lease") continue;
      entries.set(JSON.stringify(entry.key), JSON.stringify([entry.value, entry.versionstamp]));
    }
    return entries;
  } finally {
    kv.close();
  }
}

/** What the cache holds, as `status --json` and as raw KV entries. */
async function cacheState(f: Fixture): Promise<{ status: string; kv: Map<string, string> }> {
  const status = await runMain(["status", "--json", "--cache", f.cache]);
  return { status: status.stdout, kv: await snapshot(f.cache) };
}

function entryOf(kv: Map<string, string>, kind: string): string | undefined {
  for (const [key, value] of kv) if (JSON.parse(key)[2] === kind) return value;
  return undefined;
}

/** The run ended with exactly one error line, the last one, matching `line`, and no stack trace. */
function assertOneErrorLine(result: CliRun, line: RegExp): void {
  const errors = result.stderr.split("\n").filter((l) => l.startsWith("deviceflow:"));
  assert.equal(errors.length, 1, `expected one error line in:\n${result.stderr}`);
  assert.match(errors[0]!, line);
  assert.ok(result.stderr.trimEnd().endsWith(errors[0]!), "the error is the last line");
  assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
}

function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One fault on one request, and what must come of it. */
interface Case {
  readonly name: string;
  /** The fault, or `"refused"` for a proxy that is down. */
  readonly fault: Fault | "refused";
  /** How many matching requests get it (default 1; Infinity for all). */
  readonly times?: number;
  readonly exit: number;
  /** The one error line; absent when the command succeeds. */
  readonly line?: RegExp;
  /** How many requests of this kind the proxy must have seen. */
  readonly requests?: number;
  /** The least time between the first two requests of this kind, in ms (a retry's wait). */
  readonly gap?: number;
  /** The most the command may take, in ms (timeouts end in the documented time). */
  readonly within?: number;
  /** Extra environment for the CLI. */
  readonly env?: Record<string, string>;
}

/**
 * Runs the cases concurrently, each with a fixture of its own, and reports
 * every case that failed, by name.
 */
async function matrix(
  cases: readonly Case[],
  run: (c: Case) => Promise<void>,
): Promise<void> {
  const outcomes = await Promise.allSettled(cases.map((c) => run(c)));
  const failures = outcomes.flatMap((o, i) =>
    o.status === "rejected" ? [`${cases[i]!.name}: ${(o.reason as Error)?.stack ?? o.reason}`] : []
  );
  assert.deepEqual(failures, [], failures.join("\n\n"));
}

function apply(f: Fixture, match: FaultMatch, c: Case): void {
  if (c.fault === "refused") f.proxy.down();
  else f.proxy.inject(match, c.fault, { times: c.times ?? 1 });
}

function status(code: number, retryAfter?: string): Fault {
  return retryAfter === undefined
    ? { fault: "status", status: code }
    : { fault: "status", status: code, retryAfter };
}

const REASON: Record<number, string> = {
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Asserts the proxy's count of requests and the wait between the first two. */
function assertRequests(f: Fixture, match: FaultMatch, c: Case): void {
  const seen = f.proxy.requestsTo(match);
  if (c.requests !== undefined) {
    assert.equal(
      seen.length,
      c.requests,
      `requests: ${seen.map((r) => `${r.fault ?? "forwarded"} ${r.status}`).join(", ")}`,
    );
  }
  if (c.gap !== undefined) {
    const [gap] = gaps(seen.map((r) => r.time));
    assert.ok(gap! >= c.gap - SLACK_MS, `the retry came after ${gap} ms, not ${c.gap} ms`);
  }
}

async function timed(run: Promise<CliRun>): Promise<CliRun & { elapsed: number }> {
  const started = performance.now();
  const result = await run;
  return { ...result, elapsed: performance.now() - started };
}

function assertWithin(result: { elapsed: number }, c: Case): void {
  if (c.within !== undefined) {
    assert.ok(result.elapsed < c.within, `it took ${Math.round(result.elapsed)} ms`);
  }
}

// ------------------------------------------------------------------ discovery

const DISCOVERY: FaultMatch = { path: "/.well-known/openid-configuration" };

/**
 * Transient failures of a GET (which changes nothing at the server) are
 * retried once: 1 s later, or after `Retry-After` when it is at most 10 s.
 */
const DISCOVERY_CASES: Case[] = [
  {
    name: "connection refused",
    fault: "refused",
    exit: 5,
    line: REFUSED,
    requests: 0,
  },
  {
    name: "closed before an answer, twice",
    fault: { fault: "close" },
    times: 2,
    exit: 5,
    line: new RegExp(`Cannot reach ${HOST}: the connection was closed before an answer$`),
    requests: 2,
    gap: 1000,
  },
  {
    name: "cut mid-answer, twice",
    fault: { fault: "reset" },
    times: 2,
    exit: 5,
    line: new RegExp(
      `The answer of ${HOST} was cut short: the connection was closed in the middle of the answer$`,
    ),
    requests: 2,
    gap: 1000,
  },
  { name: "cut mid-answer once, then recovered", fault: { fault: "reset" }, exit: 0, requests: 2 },
  {
    name: "no answer (DEVICEFLOW_CONNECT_TIMEOUT=1), not retried",
    fault: { fault: "hang" },
    times: Infinity,
    exit: 5,
    line: new RegExp(`^deviceflow: ${HOST} did not answer within 1 s \\(the connect timeout\\)$`),
    requests: 1,
    within: 2500,
    env: { DEVICEFLOW_CONNECT_TIMEOUT: "1" },
  },
  {
    name: "a body slower than the request timeout, not retried",
    fault: { fault: "slow-body", chunkDelayMs: 100, chunkSize: 40 },
    times: Infinity,
    exit: 5,
    line: new RegExp(
      `^deviceflow: ${HOST} did not finish its answer within 2 s \\(the request timeout\\)$`,
    ),
    requests: 1,
    within: 3500,
  },
  {
    name: "a slow body within the request timeout",
    fault: { fault: "slow-body", chunkDelayMs: 50, chunkSize: 1000 },
    exit: 0,
    requests: 1,
  },
  ...[500, 502, 503, 504, 429].flatMap((code): Case[] => [
    {
      name: `HTTP ${code} without Retry-After, twice`,
      fault: status(code),
      times: 2,
      exit: 5,
      line: new RegExp(
        `^deviceflow: The server returned temporarily_unavailable \\(HTTP ${code}\\): ${HOST} answered HTTP ${code} ${
          REASON[code]
        }, also when asked again 1 s later$`,
      ),
      requests: 2,
      gap: 1000,
    },
    {
      name: `HTTP ${code} with Retry-After: 2, twice`,
      fault: status(code, "2"),
      times: 2,
      exit: 5,
      line: new RegExp(`answered HTTP ${code} ${REASON[code]}, also when asked again 2 s later$`),
      requests: 2,
      gap: 2000,
    },
  ]),
  { name: "HTTP 503 once, then recovered", fault: status(503), exit: 0, requests: 2, gap: 1000 },
  {
    name: "HTTP 503 with Retry-After: 120 is not waited for",
    fault: status(503, "120"),
    times: Infinity,
    exit: 5,
    line: new RegExp(`answered HTTP 503 Service Unavailable$`),
    requests: 1,
    within: 1000,
  },
  {
    name: "a redirect loop",
    fault: { fault: "redirect-loop" },
    times: Infinity,
    exit: 1,
    line: new RegExp(
      `^deviceflow: ${HOST} redirects in a loop \\(http://${HOST}/\\.well-known/openid-configuration -> http://${HOST}/\\.well-known/openid-configuration\\); check the address$`,
    ),
    requests: 1,
  },
];

Deno.test({
  name: "discovery: each fault gives its exit code and one line, with one retry where safe",
  ...opts,
  fn: () =>
    matrix(DISCOVERY_CASES, async (c) => {
      const f = await fixture();
      try {
        apply(f, DISCOVERY, c);
        const result = await timed(runMain(["login", "--no-wait", ...f.args], c.env));
        assert.equal(result.code, c.exit, result.stderr);
        if (c.line) {
          assertOneErrorLine(result, c.line);
          assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
          // Nothing was kept: no metadata, no pending sign-in.
          assert.deepEqual([...(await snapshot(f.cache)).keys()], []);
        } else {
          assert.match(result.stdout, /"pending"/);
        }
        assertRequests(f, DISCOVERY, c);
        if (c.fault === "refused") {
          assert.ok(result.elapsed >= 1000 - SLACK_MS, "a refused GET is retried 1 s later");
        }
        assertWithin(result, c);
      } finally {
        await f.cleanup();
      }
    }),
});

// ------------------------------------------------------------------ device authorization

const DEVICE: FaultMatch = { path: "/device/auth" };

/** A POST is sent again only after 503 or 429: answers that say the server did not act on it. */
const DEVICE_CASES: Case[] = [
  {
    name: "connection refused",
    fault: "refused",
    exit: 5,
    line: REFUSED,
    requests: 0,
    within: 900,
  },
  {
    name: "closed before an answer, not retried",
    fault: { fault: "close" },
    exit: 5,
    line: new RegExp(`Cannot reach ${HOST}: the connection was closed before an answer$`),
    requests: 1,
  },
  {
    name: "cut mid-answer, not retried",
    fault: { fault: "reset" },
    exit: 5,
    line: new RegExp(`The answer of ${HOST} was cut short`),
    requests: 1,
  },
  {
    name: "no answer (--connect-timeout 1)",
    fault: { fault: "hang" },
    exit: 5,
    line: new RegExp(`^deviceflow: ${HOST} did not answer within 1 s \\(the connect timeout\\)$`),
    requests: 1,
    within: 2500,
  },
  {
    name: "a body slower than the request timeout",
    fault: { fault: "slow-body", chunkDelayMs: 300, chunkSize: 20 },
    exit: 5,
    line: new RegExp(`did not finish its answer within 2 s \\(the request timeout\\)$`),
    requests: 1,
    within: 3500,
  },
  ...[500, 502, 504].flatMap((code): Case[] =>
    [undefined, "2"].map((retryAfter) => ({
      name: `HTTP ${code} ${retryAfter ? "with" : "without"} Retry-After, not retried`,
      fault: status(code, retryAfter),
      exit: 5,
      line: new RegExp(
        `^deviceflow: The server returned temporarily_unavailable \\(HTTP ${code}\\): ${HOST} answered HTTP ${code} ${
          REASON[code]
        }$`,
      ),
      requests: 1,
      within: 900,
    }))
  ),
  ...[503, 429].flatMap((code): Case[] => [
    {
      name: `HTTP ${code} without Retry-After, twice`,
      fault: status(code),
      times: 2,
      exit: 5,
      line: new RegExp(`answered HTTP ${code} ${REASON[code]}, also when asked again 1 s later$`),
      requests: 2,
      gap: 1000,
    },
    {
      name: `HTTP ${code} with Retry-After: 2, twice`,
      fault: status(code, "2"),
      times: 2,
      exit: 5,
      line: new RegExp(`answered HTTP ${code} ${REASON[code]}, also when asked again 2 s later$`),
      requests: 2,
      gap: 2000,
    },
  ]),
  { name: "HTTP 503 once, then recovered", fault: status(503), exit: 0, requests: 2, gap: 1000 },
  {
    name: "a redirect",
    fault: { fault: "redirect-loop" },
    times: Infinity,
    exit: 1,
    line: new RegExp(
      `^deviceflow: ${HOST} redirected the request to http://${HOST}/device/auth; check the endpoint address$`,
    ),
    requests: 1,
  },
];

Deno.test({
  name:
    "device authorization: each fault gives its exit code and one line; only 503 and 429 are retried",
  ...opts,
  fn: () =>
    matrix(DEVICE_CASES, async (c) => {
      const f = await fixture();
      try {
        // A first sign-in started caches the metadata, so that only this request meets the fault.
        const first = await runMain(["login", "--no-wait", ...f.args]);
        assert.equal(first.code, 0, first.stderr);
        const before = await cacheState(f);
        apply(f, DEVICE, c);
        const requestsBefore = f.proxy.requestsTo(DEVICE).length;
        const result = await timed(runMain(["login", "--no-wait", ...f.args]));
        assert.equal(result.code, c.exit, result.stderr);
        if (c.line) {
          assertOneErrorLine(result, c.line);
          assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
          assert.deepEqual(await cacheState(f), before, "the cache is unchanged");
        } else {
          // A second pending sign-in was kept.
          assert.equal((await snapshot(f.cache)).size, before.kv.size + 1);
        }
        const seen = f.proxy.requestsTo(DEVICE).slice(requestsBefore);
        if (c.requests !== undefined) assert.equal(seen.length, c.requests);
        if (c.gap !== undefined) {
          const [gap] = gaps(seen.map((r) => r.time));
          assert.ok(gap! >= c.gap - SLACK_MS, `the retry came after ${gap} ms`);
        }
        assertWithin(result, c);
      } finally {
        await f.cleanup();
      }
    }),
});

// ------------------------------------------------------------------ polls

const POLL: FaultMatch = { path: "/token", grantType: DEVICE_GRANT };

/** A poll case: the first poll meets the fault; `retry` is the progress line that follows. */
interface PollCase extends Case {
  /** The progress line after the failed poll (none: the poll loop stops). */
  readonly retry?: RegExp;
  /** Extra options for `login`. */
  readonly extra?: string[];
}

/**
 * The polling policy: a failed poll (network, timeout, 5xx) waits twice the
 * interval, then four times, ...; `Retry-After` sets the wait instead; 429
 * without it is a slow_down (interval + 5 s). The person is never asked again.
 */
const POLL_CASES: PollCase[] = [
  {
    name: "connection refused, then the server is back",
    fault: "refused",
    exit: 0,
    retry: new RegExp(`^Cannot reach ${HOST}: connection refused; retrying in 2 s$`, "m"),
  },
  {
    name: "closed before an answer",
    fault: { fault: "close" },
    exit: 0,
    retry: new RegExp(
      `^Cannot reach ${HOST}: the connection was closed before an answer; retrying in 2 s$`,
      "m",
    ),
    gap: 2000,
  },
  {
    name: "cut mid-answer",
    fault: { fault: "reset" },
    exit: 0,
    retry: new RegExp(`^The answer of ${HOST} was cut short: .*; retrying in 2 s$`, "m"),
    gap: 2000,
  },
  {
    name: "no answer",
    fault: { fault: "hang" },
    exit: 0,
    retry: new RegExp(
      `^${HOST} did not answer within 1 s \\(the connect timeout\\); retrying in 2 s$`,
      "m",
    ),
    gap: 3000,
  },
  {
    name: "a body slower than the request timeout",
    fault: { fault: "slow-body", chunkDelayMs: 400, chunkSize: 10 },
    exit: 0,
    retry: new RegExp(
      `^${HOST} did not finish its answer within 2 s \\(the request timeout\\); retrying in 2 s$`,
      "m",
    ),
    gap: 4000,
  },
  ...[500, 502, 503, 504].flatMap((code): PollCase[] => [
    {
      name: `HTTP ${code} without Retry-After`,
      fault: status(code),
      exit: 0,
      retry: new RegExp(`^HTTP ${code}; retrying in 2 s$`, "m"),
      gap: 2000,
    },
    {
      name: `HTTP ${code} with Retry-After: 3`,
      fault: status(code, "3"),
      exit: 0,
      retry: new RegExp(`^HTTP ${code}; retrying in 3 s$`, "m"),
      gap: 3000,
    },
  ]),
  {
    name: "HTTP 429 with Retry-After: 3",
    fault: status(429, "3"),
    exit: 0,
    retry: /^HTTP 429 Too Many Requests; retrying in 3 s$/m,
    gap: 3000,
  },
  {
    name: "HTTP 429 without Retry-After (a slow_down)",
    fault: status(429),
    exit: 0,
    retry: /^HTTP 429 Too Many Requests; retrying in 6 s$/m,
    gap: 6000,
  },
  {
    name: "a redirect stops polling",
    fault: { fault: "redirect-loop" },
    times: Infinity,
    exit: 1,
    line: new RegExp(
      `^deviceflow: ${HOST} redirected the request to http://${HOST}/token; check the endpoint address$`,
    ),
    requests: 1,
  },
  {
    name: "HTTP 503 on every poll until --timeout 4",
    fault: status(503),
    times: Infinity,
    exit: 5,
    extra: ["--timeout", "4"],
    retry: /^HTTP 503; retrying in 2 s$/m,
    line: new RegExp(
      `^deviceflow: The server returned temporarily_unavailable \\(HTTP 503\\): ${HOST} answered HTTP 503 Service Unavailable$`,
    ),
    // At 1 s, after a 2 s back-off at 3 s, and the last at the 4 s deadline.
    requests: 3,
    gap: 2000,
  },
];

Deno.test({
  name: "polls: each fault is retried by the polling policy, and the sign-in still completes",
  ...opts,
  fn: () =>
    matrix(POLL_CASES, async (c: PollCase) => {
      const f = await fixture();
      try {
        if (c.fault !== "refused") apply(f, POLL, c);
        const run = startMain(["login", ...f.args, ...(c.extra ?? [])]);
        const { address, code } = await run.prompt;
        if (c.fault === "refused") {
          f.proxy.down();
          await until(() => /connection refused; retrying/.test(run.stderr()), "a refused poll");
          f.proxy.up();
        } else {
          // Approve only once the fault has happened, so that it is a poll
          // for a pending sign-in that meets it.
          await until(() => f.proxy.requestsTo(POLL).length > 0, "the first poll");
        }
        if (c.exit === 0) await approveDeviceCode(address, code, { login: "alice" });
        const result = await run.done;
        assert.equal(result.code, c.exit, result.stderr);
        if (c.retry) assert.match(result.stderr, c.retry);
        if (c.line) {
          assertOneErrorLine(result, c.line);
          // Only the metadata was kept: no account, no token.
          const kinds = [...(await snapshot(f.cache)).keys()].map((k) => JSON.parse(k)[2]);
          assert.deepEqual(kinds, ["metadata"]);
        } else {
          assert.doesNotMatch(result.stderr, /^deviceflow:/m);
          assert.equal(JSON.parse(result.stdout).username, "alice");
          const kv = await snapshot(f.cache);
          assert.ok(entryOf(kv, "refresh_token") && entryOf(kv, "access_token"));
        }
        assertRequests(f, POLL, c);
      } finally {
        await f.cleanup();
      }
    }),
});

// ------------------------------------------------------------------ refresh

const REFRESH: FaultMatch = { path: "/token", grantType: "refresh_token" };

/** A refresh case; `next` is the exit code of the `token` run after it, when asserted. */
interface RefreshCase extends Case {
  /** The exit code of the next `token --no-interactive`, after the fault is gone. */
  readonly next?: number;
  /** Whether the server rotated the refresh token although the answer was lost. */
  readonly rotatedAtServer?: boolean;
}

/**
 * A refresh is sent again only after 503 or 429. After a lost answer it is
 * not: the server may have rotated the refresh token already.
 */
const REFRESH_CASES: RefreshCase[] = [
  {
    name: "connection refused",
    fault: "refused",
    exit: 5,
    line: REFUSED,
    requests: 0,
  },
  {
    name: "closed before an answer, not retried",
    fault: { fault: "close" },
    exit: 5,
    line: new RegExp(`Cannot reach ${HOST}: the connection was closed before an answer$`),
    requests: 1,
    next: 0,
  },
  {
    name: "cut mid-answer (made up by the proxy), not retried",
    fault: { fault: "reset" },
    exit: 5,
    line: new RegExp(`The answer of ${HOST} was cut short`),
    requests: 1,
    next: 0,
  },
  {
    name: "cut mid-answer after the server rotated the refresh token",
    fault: { fault: "reset", forward: true },
    exit: 5,
    line: new RegExp(`The answer of ${HOST} was cut short`),
    requests: 1,
    rotatedAtServer: true,
    next: 3,
  },
  {
    name: "no answer",
    fault: { fault: "hang" },
    exit: 5,
    line: new RegExp(`^deviceflow: ${HOST} did not answer within 1 s \\(the connect timeout\\)$`),
    requests: 1,
    within: 2500,
  },
  {
    name: "a body slower than the request timeout",
    fault: { fault: "slow-body", chunkDelayMs: 200, chunkSize: 50 },
    exit: 5,
    line: new RegExp(`did not finish its answer within 2 s \\(the request timeout\\)$`),
    requests: 1,
    within: 3500,
  },
  {
    name: "a slow body within the request timeout",
    fault: { fault: "slow-body", chunkDelayMs: 50, chunkSize: 1000 },
    exit: 0,
    requests: 1,
  },
  ...[500, 502, 504].flatMap((code): RefreshCase[] =>
    [undefined, "2"].map((retryAfter) => ({
      name: `HTTP ${code} ${retryAfter ? "with" : "without"} Retry-After, not retried`,
      fault: status(code, retryAfter),
      exit: 5,
      line: new RegExp(`${HOST} answered HTTP ${code} ${REASON[code]}$`),
      requests: 1,
      next: 0,
    }))
  ),
  ...[503, 429].flatMap((code): RefreshCase[] => [
    {
      name: `HTTP ${code} without Retry-After, twice`,
      fault: status(code),
      times: 2,
      exit: 5,
      line: new RegExp(`answered HTTP ${code} ${REASON[code]}, also when asked again 1 s later$`),
      requests: 2,
      gap: 1000,
    },
    {
      name: `HTTP ${code} with Retry-After: 2, twice`,
      fault: status(code, "2"),
      times: 2,
      exit: 5,
      line: new RegExp(`answered HTTP ${code} ${REASON[code]}, also when asked again 2 s later$`),
      requests: 2,
      gap: 2000,
    },
    {
      name: `HTTP ${code} once, then recovered`,
      fault: status(code),
      exit: 0,
      requests: 2,
      gap: 1000,
    },
  ]),
  {
    name: "a redirect",
    fault: { fault: "redirect-loop" },
    times: Infinity,
    exit: 1,
    line: new RegExp(
      `^deviceflow: ${HOST} redirected the request to http://${HOST}/token; check the endpoint address$`,
    ),
    requests: 1,
  },
];

Deno.test({
  name: "refresh: a failed refresh leaves the cache as it was; a recovered one updates it",
  ...opts,
  fn: () =>
    matrix(REFRESH_CASES, async (c: RefreshCase) => {
      // Access tokens live 1 s, so that `token` must refresh.
      const f = await fixture(1);
      try {
        await signIn(f);
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const before = await cacheState(f);
        apply(f, REFRESH, c);
        const token = ["token", "--no-interactive", ...f.args];
        const result = await timed(runMain(token));
        assert.equal(result.code, c.exit, result.stderr);
        const after = await cacheState(f);
        if (c.line) {
          assertOneErrorLine(result, c.line);
          assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
          assert.equal(result.stdout, "");
          assert.deepEqual(after, before, "the cache is unchanged");
        } else {
          assert.equal(result.stderr, "");
          assert.match(result.stdout, /^\S+\n$/);
          // The rotated refresh token and the new access token were stored.
          for (const kind of ["refresh_token", "access_token"]) {
            assert.notEqual(entryOf(after.kv, kind), entryOf(before.kv, kind), kind);
          }
        }
        assertRequests(f, REFRESH, c);
        assertWithin(result, c);
        if (c.next !== undefined) {
          const next = await runMain(token);
          assert.equal(next.code, c.next, next.stderr);
          if (c.rotatedAtServer) {
            // The cached refresh token was spent at the server: sign in again.
            assertOneErrorLine(
              next,
              /^deviceflow: The server refused the cached sign-in of alice \(invalid_grant\); sign in again with: deviceflow login --authority http:\/\/127\.0\.0\.1:\d+ --client-id deviceflow-dev$/,
            );
          }
        }
      } finally {
        await f.cleanup();
      }
    }),
});

Deno.test({
  name: "refresh: a token that is still valid is used when a forced refresh fails",
  ...opts,
  fn: async () => {
    const f = await fixture();
    try {
      await signIn(f);
      const cached = await runMain(["token", "--no-interactive", ...f.args]);
      const before = await cacheState(f);
      f.proxy.inject(REFRESH, status(503), { times: Infinity });
      const result = await runMain(["token", "--no-interactive", "--force-refresh", ...f.args]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, cached.stdout);
      assert.equal(f.proxy.requestsTo(REFRESH).length, 2, "one retry after the 503");
      assert.deepEqual(await cacheState(f), before);
    } finally {
      await f.cleanup();
    }
  },
});

// ------------------------------------------------------------------ revocation

const REVOKE: FaultMatch = { path: "/token/revocation" };

/** Revocation is best effort: never retried, and a failure does not fail the logout. */
const REVOKE_CASES: Case[] = [
  { name: "connection refused", fault: "refused", exit: 0, requests: 0 },
  { name: "closed before an answer", fault: { fault: "close" }, exit: 0, requests: 1 },
  { name: "cut mid-answer", fault: { fault: "reset" }, exit: 0, requests: 1 },
  { name: "no answer", fault: { fault: "hang" }, exit: 0, requests: 1, within: 2500 },
  ...[500, 502, 503, 504, 429].map((code): Case => ({
    name: `HTTP ${code} with Retry-After: 1`,
    fault: status(code, "1"),
    exit: 0,
    requests: 1,
  })),
  { name: "a redirect", fault: { fault: "redirect-loop" }, exit: 0, requests: 1 },
];

/** The revocation that works, for comparison. */
const NO_FAULT: Case = { name: "no fault", fault: status(200), exit: 0, requests: 1 };

Deno.test({
  name: "revocation: logout removes the account whatever the fault, and says it was not revoked",
  ...opts,
  fn: () =>
    matrix([...REVOKE_CASES, undefined].map((c) => c ?? NO_FAULT), async (c) => {
      const f = await fixture();
      try {
        await signIn(f);
        if (c !== NO_FAULT) apply(f, REVOKE, c);
        const result = await timed(runMain(["logout", ...f.args]));
        assert.equal(result.code, 0, result.stderr);
        // A revocation that did not happen is said, with what it means.
        const revoked = c === NO_FAULT
          ? /; the refresh token was revoked at the server\n$/
          : /; the (server refused to revoke the refresh token \(HTTP \d+\)|refresh token could not be revoked at the server), so it stays valid at the server until it expires\n$/;
        assert.ok(result.stderr.startsWith(`Signed out alice (${f.server.issuer}); `));
        assert.match(result.stderr, revoked);
        assert.equal(result.stderr.split("\n").length, 2, "one line");
        const kinds = [...(await snapshot(f.cache)).keys()].map((k) => JSON.parse(k)[2]);
        assert.deepEqual(kinds, ["metadata"], "the account and its tokens are gone");
        assertRequests(f, REVOKE, c);
        assertWithin(result, c);
      } finally {
        await f.cleanup();
      }
    }),
});

// ------------------------------------------------------------------ fetch (the API call)

const API: FaultMatch = { path: "/me" };

/**
 * `fetch` never sends an API request twice (it may not be idempotent): a
 * transport failure exits 5, an HTTP error status 6 with the body on stdout.
 */
const FETCH_CASES: Case[] = [
  {
    name: "connection refused",
    fault: "refused",
    exit: 5,
    line: REFUSED,
    requests: 0,
  },
  {
    name: "closed before an answer",
    fault: { fault: "close" },
    exit: 5,
    line: new RegExp(`^deviceflow: Cannot reach ${HOST}: `),
    requests: 1,
  },
  {
    name: "cut mid-answer",
    fault: { fault: "reset" },
    exit: 5,
    line: new RegExp(`^deviceflow: The answer of ${HOST} was cut short: `),
    requests: 1,
  },
  {
    name: "no answer: the connect timeout",
    fault: { fault: "hang" },
    exit: 5,
    line: new RegExp(`^deviceflow: ${HOST} did not answer within 1 s \\(the connect timeout\\)$`),
    requests: 1,
  },
  {
    name: "a slow body within the request timeout",
    fault: { fault: "slow-body", chunkDelayMs: 50, chunkSize: 20 },
    exit: 0,
    requests: 1,
  },
  ...[500, 502, 503, 504, 429].map((code): Case => ({
    name: `HTTP ${code} with Retry-After: 1, not retried`,
    fault: status(code, "1"),
    exit: 6,
    line: new RegExp(`^deviceflow: fetch: ${HOST} answered HTTP ${code} ${REASON[code]}$`),
    requests: 1,
  })),
  {
    name: "a redirect loop within the origin stops after 20 redirects",
    fault: { fault: "redirect-loop" },
    times: Infinity,
    exit: 6,
    line: new RegExp(`^deviceflow: fetch: ${HOST} answered HTTP 302 Found`),
    requests: 21,
  },
];

Deno.test({
  name:
    "fetch: a fault on the API exits 5 (network) or 6 (HTTP status) and leaves the cache as it was",
  ...opts,
  fn: () =>
    matrix(FETCH_CASES, async (c) => {
      const f = await fixture();
      try {
        await signIn(f);
        const before = await cacheState(f);
        apply(f, API, c);
        // The API is the server's userinfo endpoint, behind the same proxy.
        const result = await runMain(["fetch", `${f.server.issuer}/me`, ...f.args]);
        assert.equal(result.code, c.exit, result.stderr);
        if (c.line) assertOneErrorLine(result, c.line);
        else assert.equal(JSON.parse(result.stdout).sub, "alice");
        if (c.fault !== "refused" && c.fault.fault === "status") {
          assert.match(result.stdout, /<h1>\d{3} /, "the body is printed");
        }
        assertRequests(f, API, c);
        assert.deepEqual(await cacheState(f), before, "the cache is unchanged");
      } finally {
        await f.cleanup();
      }
    }),
});

// ------------------------------------------------------------------ TLS

/** A private CA and a certificate for 127.0.0.1 signed by it, made with openssl. */
async function privateCa(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const openssl = async (...args: string[]) => {
    const { code, stderr } = await new Deno.Command("openssl", { args, stderr: "piped" }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    ...["req", "-x509", ...ec, "-keyout", `${dir}/ca-key.pem`, "-out", `${dir}/ca.pem`],
    ...["-days", "2", "-subj", "/CN=deviceflow fault test CA"],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
  );
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    ...[
      "req",
      ...ec,
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/req.csr`,
      "-subj",
      "/CN=127.0.0.1",
    ],
  );
  await openssl(
    ...["x509", "-req", "-in", `${dir}/req.csr`, "-CA", `${dir}/ca.pem`, "-CAkey"],
    ...[`${dir}/ca-key.pem`, "-CAcreateserial", "-days", "2", "-out", `${dir}/cert.pem`],
    ...["-extfile", `${dir}/ext.cnf`],
  );
  return {
    ca: `${dir}/ca.pem`,
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
  };
}

/** `deno run cli.ts` with the environment of this process, minus DENO_CERT, plus `env`. */
async function runCliProcess(args: string[], env: Record<string, string>): Promise<CliRun> {
  const inherited = Deno.env.toObject();
  delete inherited.DENO_CERT;
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-kv", cli, ...args],
    clearEnv: true,
    env: { ...inherited, NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test({
  name:
    "TLS: an untrusted certificate exits 5 with one line naming the host and DENO_CERT, which fixes it",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "deviceflow-tls-" });
    const { ca, cert, key } = await privateCa(dir);
    const server = await startDevServer({ interval: 1, tls: { cert, key } });
    try {
      const login = (cache: string) => [
        "login",
        "--no-wait",
        ...["--authority", server.issuer, "--client-id", server.clientId],
        ...["--cache", `${dir}/${cache}`],
      ];
      const [untrusted, trusted] = await Promise.all([
        runCliProcess(login("untrusted.db"), {}),
        runCliProcess(login("trusted.db"), { DENO_CERT: ca }),
      ]);
      assert.equal(untrusted.code, 5, untrusted.stderr);
      assert.equal(
        untrusted.stderr,
        `deviceflow: Cannot reach ${
          new URL(server.issuer).host
        }: its TLS certificate is not trusted (UnknownIssuer); to trust a private CA, set DENO_CERT=/path/to/ca.pem\n`,
      );
      // Only the trusted run's discovery reached the server: the other failed
      // at the handshake, and was not retried.
      assert.equal(server.requests.filter((r) => r.path.includes("well-known")).length, 1);
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.match(JSON.parse(trusted.stdout).verificationUri, /^https:\/\/127\.0\.0\.1:/);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ------------------------------------------------------------------ timeout options

Deno.test({
  name:
    "--connect-timeout, --request-timeout and their variables must be positive seconds (exit 2, naming them)",
  ...opts,
  fn: async () => {
    const f = await fixture();
    try {
      const login = ["login", "--no-wait", ...f.args.filter((a) => !TIMEOUTS.includes(a))];
      const cases: [string[], Record<string, string>, string][] = [
        [
          ["--connect-timeout", "0"],
          {},
          `--connect-timeout must be a positive number of seconds, not "0"`,
        ],
        [
          ["--request-timeout", "soon"],
          {},
          `--request-timeout must be a positive number of seconds, not "soon"`,
        ],
        [
          [],
          { DEVICEFLOW_REQUEST_TIMEOUT: "-1" },
          `DEVICEFLOW_REQUEST_TIMEOUT must be a positive number of seconds, not "-1"`,
        ],
        [
          [],
          { DEVICEFLOW_CONNECT_TIMEOUT: "1e3" },
          `DEVICEFLOW_CONNECT_TIMEOUT must be a positive number of seconds, not "1e3"`,
        ],
      ];
      for (const [flags, env, message] of cases) {
        const result = await runMain([...login, ...flags], env);
        assert.equal(result.code, 2, result.stderr);
        assert.equal(
          result.stderr,
          `deviceflow: ${message}\nRun 'deviceflow login --help' for usage.\n`,
        );
      }
      assert.equal(f.proxy.requests.length, 0, "no request was sent");
      // The flag wins over the variable.
      const result = await runMain([...login, "--connect-timeout", "2.5"], {
        DEVICEFLOW_CONNECT_TIMEOUT: "soon",
      });
      assert.equal(result.code, 0, result.stderr);
    } finally {
      await f.cleanup();
    }
  },
});
