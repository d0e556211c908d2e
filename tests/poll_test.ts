import assert from "node:assert/strict";
import { DeviceFlowClient } from "../src/client/client.ts";
import {
  AuthorizationDeclinedError,
  CancelledError,
  ExpiredTokenError,
  InvalidResponseError,
  NetworkError,
  ServerError,
  TimeoutError,
} from "../src/errors.ts";
import { MAX_CONSECUTIVE_FAILURES } from "../src/protocol/poll.ts";
import type { DeviceCode, PollEvent } from "../src/types.ts";
import { FakeClock } from "./support/fake_clock.ts";
import {
  gaps,
  json,
  networkError,
  rejection,
  ScriptedFetch,
  type Step,
  text,
} from "./support/scripted_fetch.ts";

const DEVICE = "https://id.example.com/device";
const TOKEN = "https://id.example.com/token";
const SECOND = 1000;

const pending = () => json(400, { error: "authorization_pending" });
const slowDown = () => json(400, { error: "slow_down" });
const success = (accessToken = "at-poll-success") =>
  json(200, { access_token: accessToken, token_type: "Bearer", expires_in: 3600 });

interface Setup {
  /** The client's clock (with "real clock", a stand-in that nothing moves). */
  clock: FakeClock;
  server: ScriptedFetch;
  client: DeviceFlowClient;
  code: DeviceCode;
  /** Virtual time when the device code was issued. */
  t0: number;
}

/** A client with a fake clock and fetch, and a device code (interval 5 s, 900 s life). */
async function setup(
  tokenSteps: Step[],
  device: Record<string, unknown> = {},
  clockOption: FakeClock | "real clock" = new FakeClock(),
): Promise<Setup> {
  // With the real clock, the client gets none and call times come from the wall clock.
  const real = clockOption === "real clock";
  const clock = real ? new FakeClock(Date.now()) : clockOption;
  const server = real ? new ScriptedFetch() : new ScriptedFetch(clock);
  const client = new DeviceFlowClient({
    clientId: "poll-client",
    endpoints: { deviceAuthorization: DEVICE, token: TOKEN },
    fetch: server.fetch,
    ...(real ? {} : { clock }),
  });
  server.on(
    DEVICE,
    json(200, {
      device_code: `dc-${crypto.randomUUID()}`,
      user_code: "WDJB-MJHT",
      verification_uri: "https://id.example.com/activate",
      expires_in: 900,
      interval: 5,
      ...device,
    }),
  );
  server.on(TOKEN, ...tokenSteps);
  const t0 = clock.now();
  const code = await client.initiateDeviceFlow({ scopes: ["api.read"] });
  return { clock, server, client, code, t0 };
}

function polls(s: Setup) {
  return s.server.callsTo(TOKEN, "POST");
}

function pollGaps(s: Setup): number[] {
  return gaps(polls(s), s.t0);
}

Deno.test("acquireTokenByDeviceFlow() polls through authorization_pending until tokens arrive", async () => {
  const s = await setup([pending(), pending(), success("at-pending-then-success")]);
  const result = await s.client.acquireTokenByDeviceFlow(s.code);
  assert.equal(result.accessToken, "at-pending-then-success");
  assert.equal(result.tokenType, "Bearer");
  assert.equal(result.expiresAt?.getTime(), s.t0 + 15 * SECOND + 3600 * SECOND);
  assert.equal(polls(s).length, 3);
  assert.deepEqual(pollGaps(s), [5 * SECOND, 5 * SECOND, 5 * SECOND]);
  const form = polls(s)[0]!.form!;
  assert.equal(form.grant_type, "urn:ietf:params:oauth:grant-type:device_code");
  assert.equal(form.device_code, s.code.deviceCode);
  assert.equal(form.client_id, "poll-client");
});

Deno.test("pollForToken() never polls sooner than the current interval, nor twice at once", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const answer = (response: () => Response): Step => async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 0));
    inFlight--;
    return response();
  };
  const s = await setup([
    answer(pending),
    answer(slowDown), // 5 -> 10
    answer(pending),
    answer(slowDown), // 10 -> 15
    answer(() => text(429, "Too Many Requests")), // 15 -> 20
    answer(pending),
    answer(() => success()),
  ]);
  await s.client.acquireTokenByDeviceFlow(s.code);
  // The interval in force before each poll, replayed from the script.
  const intervals = [5, 5, 10, 10, 15, 20, 20].map((i) => i * SECOND);
  const observed = pollGaps(s);
  assert.equal(observed.length, intervals.length);
  observed.forEach((gap, i) => {
    assert.ok(gap >= intervals[i]!, `poll ${i + 1} came ${gap} ms after the previous one`);
  });
  assert.deepEqual(observed, intervals);
  assert.equal(maxInFlight, 1);
});

Deno.test("pollForToken() accumulates slow_down: +5 s each time (5 -> 10 -> 15)", async () => {
  const s = await setup([slowDown(), slowDown(), success()]);
  await s.client.acquireTokenByDeviceFlow(s.code);
  assert.deepEqual(pollGaps(s), [5 * SECOND, 10 * SECOND, 15 * SECOND]);
  assert.deepEqual(s.clock.sleeps, [5 * SECOND, 10 * SECOND, 15 * SECOND]);
});

Deno.test("pollForToken() reads GitHub-style HTTP 200 error bodies and takes the larger slow_down interval", async () => {
  const s = await setup([
    json(200, { error: "authorization_pending" }),
    json(200, { error: "slow_down", interval: 20 }),
    json(200, { access_token: "gho_github_style", token_type: "bearer", scope: "repo" }),
  ]);
  const result = await s.client.acquireTokenByDeviceFlow(s.code);
  assert.equal(result.accessToken, "gho_github_style");
  // max(5 + 5, 20) = 20
  assert.deepEqual(pollGaps(s), [5 * SECOND, 5 * SECOND, 20 * SECOND]);
});

Deno.test("pollForToken() keeps its own interval + 5 s when the server's slow_down interval is smaller", async () => {
  const s = await setup([json(200, { error: "slow_down", interval: 6 }), success()]);
  await s.client.acquireTokenByDeviceFlow(s.code);
  // max(5 + 5, 6) = 10
  assert.deepEqual(pollGaps(s), [5 * SECOND, 10 * SECOND]);
});

Deno.test("pollForToken() stops with AuthorizationDeclinedError on access_denied", async () => {
  const s = await setup([pending(), json(400, { error: "access_denied" }), success()]);
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code));
  assert.ok(error instanceof AuthorizationDeclinedError);
  assert.equal(error.code, "authorization_declined");
  assert.equal(polls(s).length, 2);
});

Deno.test("pollForToken() treats Entra's authorization_declined as a declined sign-in", async () => {
  const s = await setup([
    json(400, { error: "authorization_declined", error_codes: [70000] }),
    success(),
  ]);
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code));
  assert.ok(error instanceof AuthorizationDeclinedError);
  assert.equal(polls(s).length, 1);
});

Deno.test("pollForToken() stops with ExpiredTokenError on expired_token", async () => {
  const s = await setup([pending(), json(400, { error: "expired_token" }), success()]);
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code));
  assert.ok(error instanceof ExpiredTokenError);
  assert.equal(error.code, "expired_token");
  assert.equal(polls(s).length, 2);
});

Deno.test("pollForToken() reads invalid_grant after the code's expiry as ExpiredTokenError", async () => {
  const clock = new FakeClock();
  const s = await setup(
    [
      () => {
        // The answer arrives after the code expired (a slow server, or GitLab's
        // invalid_grant after its first expired_token).
        clock.advance(900 * SECOND);
        return json(400, { error: "invalid_grant", error_description: "The code has expired" });
      },
    ],
    {},
    clock,
  );
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code));
  assert.ok(error instanceof ExpiredTokenError, String(error));
  assert.equal(polls(s).length, 1);
});

Deno.test("pollForToken() reads invalid_grant before the code's expiry as ServerError", async () => {
  const s = await setup([
    pending(),
    json(400, { error: "invalid_grant", error_description: "Bad device code" }),
  ]);
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code));
  assert.ok(error instanceof ServerError, String(error));
  assert.ok(!(error instanceof ExpiredTokenError));
  assert.equal(error.error, "invalid_grant");
  assert.equal(error.status, 400);
  assert.equal(error.errorDescription, "Bad device code");
});

Deno.test("pollForToken() stops at the code's expiry without polling past it", async () => {
  const s = await setup([pending()], { expires_in: 12 });
  const expiresAt = s.code.expiresAt.getTime();
  assert.equal(expiresAt, s.t0 + 12 * SECOND);
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code));
  assert.ok(error instanceof ExpiredTokenError, String(error));
  assert.deepEqual(polls(s).map((c) => c.time - s.t0), [5 * SECOND, 10 * SECOND]);
  for (const call of polls(s)) assert.ok(call.time < expiresAt);
  // It gave up at once instead of sleeping past the expiry.
  assert.ok(s.clock.now() <= expiresAt);
});

Deno.test("pollForToken() backs off exponentially after network failures (10 s, then 20 s)", async () => {
  const events: PollEvent[] = [];
  const s = await setup([networkError(), networkError(), success("at-after-outage")]);
  const result = await s.client.acquireTokenByDeviceFlow(s.code, {
    onPending: (e) => events.push(e),
  });
  assert.equal(result.accessToken, "at-after-outage");
  assert.deepEqual(pollGaps(s), [5 * SECOND, 10 * SECOND, 20 * SECOND]);
  assert.deepEqual(events.map((e) => e.type === "retry" ? e.delay : undefined), [10, 20]);
});

Deno.test("pollForToken() gives up with NetworkError after MAX_CONSECUTIVE_FAILURES failures", async () => {
  const s = await setup([networkError("error sending request: connection refused")]);
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code));
  assert.ok(error instanceof NetworkError, String(error));
  assert.equal(error.code, "network");
  assert.match(error.message, /id\.example\.com/);
  assert.equal(polls(s).length, MAX_CONSECUTIVE_FAILURES);
  const observed = pollGaps(s);
  for (let i = 2; i < observed.length; i++) {
    assert.ok(observed[i]! >= observed[i - 1]!, `gap ${i} shrank: ${observed}`);
  }
  assert.deepEqual(observed.slice(0, 4), [5, 10, 20, 40].map((n) => n * SECOND));
});

Deno.test("pollForToken() honours Retry-After on HTTP 429", async () => {
  const s = await setup([text(429, "slow", { "retry-after": "30" }), pending(), success()]);
  await s.client.acquireTokenByDeviceFlow(s.code);
  // The server's wait, then the unchanged interval.
  assert.deepEqual(pollGaps(s), [5 * SECOND, 30 * SECOND, 5 * SECOND]);
});

Deno.test("pollForToken() adds 5 s to the interval on HTTP 429 without Retry-After", async () => {
  const s = await setup([text(429, "slow"), pending(), success()]);
  await s.client.acquireTokenByDeviceFlow(s.code);
  assert.deepEqual(pollGaps(s), [5 * SECOND, 10 * SECOND, 10 * SECOND]);
});

Deno.test("pollForToken() honours Retry-After on HTTP 503, in seconds or as a date", async () => {
  const clock = new FakeClock();
  const s = await setup(
    [
      text(503, "maintenance", { "retry-after": "20" }),
      () =>
        text(503, "maintenance", { "retry-after": new Date(clock.now() + 40_000).toUTCString() }),
      success(),
    ],
    {},
    clock,
  );
  await s.client.acquireTokenByDeviceFlow(s.code);
  assert.deepEqual(pollGaps(s), [5 * SECOND, 20 * SECOND, 40 * SECOND]);
});

Deno.test("pollForToken() backs off on HTTP 500, 502 and 504 without Retry-After", async () => {
  const s = await setup([
    text(500, "oops"),
    text(502, "<html>Bad Gateway</html>", { "content-type": "text/html" }),
    text(504, "Gateway Timeout"),
    success("at-after-5xx"),
  ]);
  const result = await s.client.acquireTokenByDeviceFlow(s.code);
  assert.equal(result.accessToken, "at-after-5xx");
  assert.deepEqual(pollGaps(s), [5, 10, 20, 40].map((n) => n * SECOND));
});

Deno.test("pollForToken() rejects an HTML 200 body with InvalidResponseError", async () => {
  const s = await setup([
    text(200, "<html><body>Sign in</body></html>", { "content-type": "text/html" }),
  ]);
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code));
  assert.ok(error instanceof InvalidResponseError, String(error));
  assert.equal(error.code, "invalid_response");
  assert.match(error.message, /id\.example\.com/);
  assert.match(error.message, /<html>/);
  assert.equal(polls(s).length, 1);
});

Deno.test("pollForToken() stops on an unknown error with ServerError carrying the status", async () => {
  const s = await setup([
    json(401, { error: "invalid_client", error_description: "Client authentication failed" }),
  ]);
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code));
  assert.ok(error instanceof ServerError, String(error));
  assert.equal(error.error, "invalid_client");
  assert.equal(error.status, 401);
  assert.equal(error.errorDescription, "Client authentication failed");
  assert.match(error.message, /invalid_client \(HTTP 401\): Client authentication failed/);
  assert.equal(polls(s).length, 1);
});

Deno.test("pollForToken() turns an Entra error body into a ServerError with its fields and advice", async () => {
  const s = await setup([
    json(400, {
      error: "invalid_request",
      error_description:
        "AADSTS50059: No tenant-identifying information found in either the request or implied by any provided credentials.\r\nTrace ID: 0000aaaa-11bb-cc22-dd33-444444eeeeee\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd\r\nTimestamp: 2025-01-01 00:00:05Z",
      error_codes: [50059],
      timestamp: "2025-01-01 00:00:05Z",
      trace_id: "0000aaaa-11bb-cc22-dd33-444444eeeeee",
      correlation_id: "aaaa0000-bb11-2222-33cc-444444dddddd",
      error_uri: "https://login.microsoftonline.com/error?code=50059",
      suberror: "bad_token",
    }),
  ]);
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code));
  assert.ok(error instanceof ServerError, String(error));
  assert.equal(error.error, "invalid_request");
  assert.deepEqual(error.errorCodes, [50059]);
  assert.equal(error.correlationId, "aaaa0000-bb11-2222-33cc-444444dddddd");
  assert.equal(error.traceId, "0000aaaa-11bb-cc22-dd33-444444eeeeee");
  assert.equal(error.suberror, "bad_token");
  assert.equal(error.errorUri, "https://login.microsoftonline.com/error?code=50059");
  assert.match(error.advice ?? "", /tenanted authority/);
  assert.match(error.message, /AADSTS50059: No tenant-identifying information/);
  assert.match(error.message, /Use a tenanted authority/);
  // Only the first line of Entra's multi-line description reaches the message.
  assert.doesNotMatch(error.message, /Trace ID/);
});

Deno.test("acquireTokenByDeviceFlow() stops with TimeoutError at the caller's time limit", async () => {
  const s = await setup([pending()]);
  const error = await rejection(s.client.acquireTokenByDeviceFlow(s.code, { timeout: 12 }));
  assert.ok(error instanceof TimeoutError, String(error));
  assert.equal(error.code, "timeout");
  assert.match(error.message, /12 s/);
  // The last poll is made at the deadline itself, not at the last interval before it.
  assert.deepEqual(polls(s).map((c) => c.time - s.t0), [5 * SECOND, 10 * SECOND, 12 * SECOND]);
  assert.ok(s.clock.now() - s.t0 <= 12 * SECOND);
});

Deno.test("acquireTokenByDeviceFlow() rejects with CancelledError promptly when aborted mid-wait (real clock)", async () => {
  const s = await setup([pending()], {}, "real clock");
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("user pressed Ctrl-C")), 50);
  const started = performance.now();
  try {
    const error = await rejection(
      s.client.acquireTokenByDeviceFlow(s.code, { signal: controller.signal }),
    );
    const elapsed = performance.now() - started;
    assert.ok(error instanceof CancelledError, String(error));
    assert.equal(error.code, "cancelled");
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
    assert.ok(elapsed >= 40, `rejected before the abort, after ${elapsed} ms`);
    assert.equal(polls(s).length, 0);
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("acquireTokenByDeviceFlow() shares one polling loop between concurrent calls for one code", async () => {
  const s = await setup([pending(), pending(), success("at-shared")]);
  const [a, b] = await Promise.all([
    s.client.acquireTokenByDeviceFlow(s.code),
    s.client.acquireTokenByDeviceFlow(s.code),
  ]);
  assert.equal(a.accessToken, "at-shared");
  assert.equal(a, b);
  assert.equal(polls(s).length, 3);
  assert.deepEqual(pollGaps(s), [5 * SECOND, 5 * SECOND, 5 * SECOND]);
});

Deno.test("acquireTokenByDeviceFlow() reports pending, slow_down and retry events to onPending", async () => {
  const events: PollEvent[] = [];
  const s = await setup([pending(), slowDown(), networkError(), text(503, "busy"), success()]);
  await s.client.acquireTokenByDeviceFlow(s.code, { onPending: (e) => events.push(e) });
  assert.deepEqual(events.map((e) => e.type), ["pending", "slow_down", "retry", "retry"]);
  assert.deepEqual(events[0], { type: "pending", interval: 5, expiresAt: s.code.expiresAt });
  assert.deepEqual(events[1], { type: "slow_down", interval: 10, expiresAt: s.code.expiresAt });
  const retry = events[2];
  assert.ok(retry?.type === "retry");
  assert.equal(retry.delay, 20);
  assert.match(retry.reason, /id\.example\.com/);
  const retry503 = events[3];
  assert.ok(retry503?.type === "retry");
  assert.match(retry503.reason, /503/);
  assert.equal(retry503.delay, 40);
});
