/**
 * The polling loop of RFC 8628 section 3.5, with the rules real servers need
 * (PROTOCOL.md): `slow_down` accumulates, declined and expired stop, network
 * failures back off exponentially, `Retry-After` is honoured, one poll at a
 * time and never sooner than the current interval.
 *
 * @module
 */

import {
  AuthorizationDeclinedError,
  CancelledError,
  DeviceFlowError,
  ExpiredTokenError,
  NetworkError,
  ServerError,
  TimeoutError,
} from "../errors.ts";
import { type HttpResult, retryAfter, unavailable } from "../http.ts";
import { intervalInErrorBody, parseErrorBody } from "./responses.ts";
import type { Clock, DeviceCode, PollEvent } from "../types.ts";

/** How many failed polls in a row (network or 5xx) end the wait. */
export const MAX_CONSECUTIVE_FAILURES = 6;
/** The longest back-off between two polls after failures, in milliseconds. */
export const MAX_BACKOFF_MS = 60_000;
/** RFC 8628 section 3.5: what `slow_down` adds to the interval, in seconds. */
export const SLOW_DOWN_SECONDS = 5;
// Clocks disagree; an invalid_grant this close to the expiry means expired.
const EXPIRY_TOLERANCE_MS = 5_000;

/** What the loop needs from its caller. */
export interface PollContext {
  readonly clock: Clock;
  /** Sends one token request for the device code; resolves with the raw result. */
  readonly poll: (signal?: AbortSignal) => Promise<HttpResult>;
  readonly signal?: AbortSignal | undefined;
  /** The caller's own limit in seconds, on top of the code's lifetime. */
  readonly timeout?: number | undefined;
  /**
   * Poll at once instead of after the first interval: for a code whose
   * interval has long passed (one started by another process).
   */
  readonly pollNow?: boolean | undefined;
  readonly onPending?: ((event: PollEvent) => void) | undefined;
}

/** Errors the loop recovers from by waiting longer. */
function isTransient(error: unknown): boolean {
  return error instanceof NetworkError;
}

/**
 * Polls until the server issues tokens, or a stop condition.
 *
 * @param code The device code from the device authorization response.
 * @param ctx The clock, the request function, and the caller's limits.
 * @returns The successful token response.
 */
export async function pollForToken(code: DeviceCode, ctx: PollContext): Promise<HttpResult> {
  const { clock, signal } = ctx;
  const expiresAt = code.expiresAt.getTime();
  const timeoutAt = ctx.timeout === undefined ? Infinity : clock.now() + ctx.timeout * 1000;
  let interval = code.interval;
  let delay = ctx.pollNow ? 0 : interval * 1000;
  let failures = 0;
  let lastFailure: unknown;
  // The time limit ends at its deadline, not at the last poll before it: the
  // last poll is made at the deadline, so that an approval in the last
  // second is not lost (the one poll that may come sooner than the interval).
  let final = false;
  const timedOut = () => {
    // The server failing all along is the news, not the time limit.
    if (lastFailure) return lastFailure;
    return new TimeoutError(`The sign-in did not complete within the ${ctx.timeout} s time limit`);
  };

  for (;;) {
    const now = clock.now();
    if (now + delay >= expiresAt) {
      if (lastFailure) throw lastFailure;
      throw new ExpiredTokenError();
    }
    if (now + delay > timeoutAt) {
      if (final || now >= timeoutAt) throw timedOut();
      delay = timeoutAt - now;
      final = true;
    }
    await sleep(clock, delay, signal);

    let result: HttpResult;
    try {
      result = await ctx.poll(signal);
    } catch (error) {
      if (!isTransient(error)) throw error;
      failures++;
      if (failures >= MAX_CONSECUTIVE_FAILURES) throw error;
      lastFailure = error;
      delay = backoff(interval, failures);
      report(ctx, {
        type: "retry",
        reason: (error as Error).message,
        delay: delay / 1000,
        expiresAt: code.expiresAt,
      });
      continue;
    }

    const error = parseErrorBody(result);
    if (!error && result.status === 200) return result;

    const waitHint = retryAfter(result.headers, clock.now());
    if (!error || error.error === "temporarily_unavailable" || error.error === "server_error") {
      if (result.status === 429) {
        interval += waitHint === undefined ? SLOW_DOWN_SECONDS : 0;
        delay = Math.max(interval * 1000, waitHint ?? 0);
        failures = 0;
        // Not a failure that counts towards giving up, but the news if time runs out.
        lastFailure = error ? new ServerError(error) : unavailable(result);
        report(ctx, {
          type: "retry",
          reason: "HTTP 429 Too Many Requests",
          delay: delay / 1000,
          expiresAt: code.expiresAt,
        });
        continue;
      }
      if (result.status >= 500 || error) {
        failures++;
        const failure = error ? new ServerError(error) : unavailable(result);
        if (failures >= MAX_CONSECUTIVE_FAILURES) throw failure;
        lastFailure = failure;
        delay = waitHint === undefined
          ? backoff(interval, failures)
          : Math.max(interval * 1000, waitHint);
        report(ctx, {
          type: "retry",
          reason: `HTTP ${result.status}${error ? ` ${error.error}` : ""}`,
          delay: delay / 1000,
          expiresAt: code.expiresAt,
        });
        continue;
      }
      // A 2xx or 4xx without an OAuth error is not a token response.
      return result;
    }

    failures = 0;
    lastFailure = undefined;
    switch (error.error) {
      case "authorization_pending":
        delay = interval * 1000;
        report(ctx, { type: "pending", interval, expiresAt: code.expiresAt });
        continue;
      case "slow_down": {
        // Accumulate, and take GitHub's new interval when it is larger.
        interval = Math.max(interval + SLOW_DOWN_SECONDS, intervalInErrorBody(result) ?? 0);
        delay = Math.max(interval * 1000, waitHint ?? 0);
        report(ctx, { type: "slow_down", interval, expiresAt: code.expiresAt });
        continue;
      }
      case "access_denied":
      case "authorization_declined":
        throw new AuthorizationDeclinedError();
      case "expired_token":
        throw new ExpiredTokenError();
      case "invalid_grant":
        if (clock.now() >= expiresAt - EXPIRY_TOLERANCE_MS) throw new ExpiredTokenError();
        throw new ServerError(error);
      default:
        throw new ServerError(error);
    }
  }
}

function backoff(interval: number, failures: number): number {
  return Math.min(interval * 1000 * 2 ** failures, MAX_BACKOFF_MS);
}

function report(ctx: PollContext, event: PollEvent): void {
  ctx.onPending?.(event);
}

async function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new CancelledError(undefined, { cause: signal.reason });
  try {
    await clock.sleep(ms, signal);
  } catch (error) {
    if (signal?.aborted) throw new CancelledError(undefined, { cause: signal.reason });
    throw error instanceof DeviceFlowError
      ? error
      : new CancelledError(undefined, { cause: error });
  }
}
