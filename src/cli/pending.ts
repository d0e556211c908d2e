/**
 * Finishing a sign-in started with `login --no-wait`: by `login --resume`
 * (waiting, with one line naming the pending sign-in), or by the next
 * `token` (one poll, no prompt). One process polls a pending code; others
 * that resume it wait for its result.
 *
 * @module
 */

import { chooseLocale, say } from "../i18n/locale.ts";
import type { PendingDeviceCode, TokenCache } from "../../cache.ts";
import type { DeviceFlowClient } from "../client/client.ts";
import { DeviceFlowError, InteractionRequiredError, TimeoutError } from "../errors.ts";
import type { DeviceCode, TokenResult } from "../types.ts";
import type { Values } from "./args.ts";
import { makeView } from "./session.ts";
import { notice } from "./context.ts";
import type { GuardedIo } from "./format.ts";

/** A pending sign-in and where it was started. */
export interface FoundPending {
  readonly authority: string;
  readonly clientId: string;
  readonly pending: PendingDeviceCode;
}

/** How {@linkcode finishPending} waits. */
export interface FinishOptions {
  /** The overall limit in seconds. */
  readonly timeout?: number | undefined;
  /**
   * Poll once and say nothing: a sign-in not yet approved resolves to
   * `undefined` and stays pending.
   */
  readonly onePoll?: boolean;
}

/**
 * The newest pending sign-in of a client that has not expired.
 *
 * @param cache The cache.
 * @param client The client.
 * @returns It, or `undefined`.
 */
export async function pendingOf(
  cache: TokenCache,
  client: DeviceFlowClient,
): Promise<FoundPending | undefined> {
  const pending = (await cache.getPending(client.authority, client.clientId))
    .find((p) => p.expiresAt > Date.now());
  return pending && { authority: client.authority, clientId: client.clientId, pending };
}

/** A pending sign-in as the device code the client polls with. */
function deviceCodeOf(pending: PendingDeviceCode): DeviceCode {
  return {
    deviceCode: pending.deviceCode,
    userCode: pending.userCode,
    verificationUri: pending.verificationUri,
    ...(pending.verificationUriComplete
      ? { verificationUriComplete: pending.verificationUriComplete }
      : {}),
    expiresAt: new Date(pending.expiresAt),
    interval: pending.interval,
    message: pending.message,
    scopes: pending.scopes,
  };
}

/**
 * Polls a pending sign-in until it ends. Its interval has passed long ago,
 * so the first poll is made at once.
 *
 * @param client The client of the server it was started at.
 * @param cache The cache.
 * @param found The pending sign-in.
 * @param io Where to write.
 * @param values The command's options.
 * @param options The limit, and whether to poll only once.
 * @returns The tokens, or `undefined` when `onePoll` found it not yet approved.
 */
export async function finishPending(
  client: DeviceFlowClient,
  cache: TokenCache,
  found: FoundPending,
  io: GuardedIo,
  values: Values,
  options: FinishOptions = {},
): Promise<TokenResult | undefined> {
  const { pending } = found;
  const code = deviceCodeOf(pending);
  const lease = `pending ${pending.id}`;
  const holder = crypto.randomUUID();
  const ttl = Math.max(1000, pending.expiresAt - Date.now() + 5000);
  if (!(await cache.acquireLease(lease, holder, ttl, Date.now()))) {
    if (options.onePoll) return undefined;
    return await waitForOther(client, cache, found, io, values);
  }
  const view = options.onePoll ? undefined : await makeView(io, values);
  view?.resuming(code);
  try {
    const result = await client.acquireTokenByDeviceFlow(code, {
      ...(io.signal ? { signal: io.signal } : {}),
      // One poll: a limit that ends before a second one.
      ...(options.onePoll
        ? { timeout: 0.001 }
        : options.timeout !== undefined
        ? { timeout: options.timeout }
        : {}),
      pollNow: true,
      ...(view ? { onPending: (event) => view.event(event) } : {}),
    });
    view?.success(result.account);
    await cache.removePending(found.authority, found.clientId, pending.id);
    return result;
  } catch (error) {
    view?.stop();
    if (options.onePoll && error instanceof TimeoutError) return undefined;
    // A cancelled resume leaves the sign-in pending for the next one.
    if (!(error instanceof DeviceFlowError && error.code === "cancelled")) {
      await cache.removePending(found.authority, found.clientId, pending.id);
    }
    throw error;
  } finally {
    await cache.releaseLease(lease, holder).catch(() => {});
  }
}

async function waitForOther(
  client: DeviceFlowClient,
  cache: TokenCache,
  found: FoundPending,
  io: GuardedIo,
  values: Values,
): Promise<TokenResult> {
  const waiting = say(chooseLocale(values.lang as string | undefined, io.env), "otherProcess");
  notice(io, values, "waiting", waiting, waiting);
  const { pending } = found;
  while (Date.now() < pending.expiresAt + 5000) {
    const still = (await cache.getPending(found.authority, found.clientId))
      .some((p) => p.id === pending.id);
    if (!still) {
      // Refreshes keep an account's sign-in time, so the newest is the one just signed in.
      const account = (await client.getAccounts())[0];
      if (account) return await client.acquireTokenSilent({ account, minTtl: 0 });
      break;
    }
    if (io.signal?.aborted) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new InteractionRequiredError("The other process did not finish the sign-in");
}
