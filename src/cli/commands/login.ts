/**
 * `deviceflow login`: a sign-in in one step, or in two (`--no-wait`, then
 * `--resume` from any process on the same cache).
 *
 * @module
 */

import { chooseLocale, say } from "../../i18n/locale.ts";
import { optionsFor } from "../settings.ts";
import type { PendingDeviceCode, TokenCache } from "../../../cache.ts";
import type { DeviceFlowClient } from "../../client/client.ts";
import { ExpiredTokenError, InteractionRequiredError } from "../../errors.ts";
import { seconds, type ServerSettings, serverSettings, UsageError, type Values } from "../args.ts";
import { accountClient, makeClient, makeView, signIn, summary } from "../session.ts";
import { type Command, withCache } from "../context.ts";
import { commandHelp } from "../help.ts";
import { EXIT } from "../io.ts";
import { type GuardedIo, jsonLine } from "../format.ts";
import { finishPending } from "../pending.ts";

async function login(values: Values, io: GuardedIo): Promise<number> {
  const settings = serverSettings(values, io.env);
  const timeout = seconds(values.timeout, "--timeout");
  if (values["no-wait"] && values.resume) {
    throw new UsageError("--no-wait and --resume exclude each other");
  }
  return await withCache(values, io, async (cache) => {
    if (values.resume) return await resume(settings, cache, io, values, timeout);
    const client = makeClient(settings, cache, io, values);
    if (values["no-wait"]) return await start(client, settings, cache, io, values);
    const result = await signIn(client, settings.scopes, io, values, timeout);
    await io.stdout(jsonLine(summary(result)));
    return EXIT.ok;
  }, { net: true });
}

/** `--no-wait`: starts the flow, keeps it in the cache, and returns at once. */
async function start(
  client: DeviceFlowClient,
  settings: ServerSettings,
  cache: TokenCache,
  io: GuardedIo,
  values: Values,
): Promise<number> {
  if (cache.location === ":memory:") {
    throw new UsageError("--no-wait needs a cache that outlives this process (not :memory:)");
  }
  const code = await client.initiateDeviceFlow({
    scopes: settings.scopes,
    ...(io.signal ? { signal: io.signal } : {}),
  });
  const pending: PendingDeviceCode = {
    id: crypto.randomUUID(),
    deviceCode: code.deviceCode,
    userCode: code.userCode,
    verificationUri: code.verificationUri,
    ...(code.verificationUriComplete
      ? { verificationUriComplete: code.verificationUriComplete }
      : {}),
    expiresAt: code.expiresAt.getTime(),
    interval: code.interval,
    message: code.message,
    scopes: [...code.scopes],
    createdAt: Date.now(),
  };
  await cache.savePending(client.authority, client.clientId, pending);
  (await makeView(io, values)).deviceCode(code, false);
  if (!values["json-events"]) {
    const locale = chooseLocale(values.lang as string | undefined, io.env);
    io.stderr(`${say(locale, "finishLater", { command: "deviceflow login --resume" })}\n`);
  }
  await io.stdout(
    jsonLine({
      pending: pending.id,
      userCode: code.userCode,
      verificationUri: code.verificationUri,
      verificationUriComplete: code.verificationUriComplete ?? null,
      expiresAt: code.expiresAt.toISOString(),
    }),
  );
  return EXIT.ok;
}

/** `--resume`: finishes the newest pending flow of this client (or of the cache's only client). */
async function resume(
  settings: ServerSettings,
  cache: TokenCache,
  io: GuardedIo,
  values: Values,
  timeout: number | undefined,
): Promise<number> {
  const all = await cache.listPending();
  const named = settings.clientId && (settings.authority || settings.tokenEndpoint);
  let candidates = all;
  let client: DeviceFlowClient | undefined;
  if (named) {
    client = makeClient(settings, cache, io, values);
    candidates = all.filter((p) =>
      p.authority === client!.authority && p.clientId === client!.clientId
    );
  } else if (new Set(all.map((p) => `${p.authority} ${p.clientId}`)).size > 1) {
    throw new UsageError(
      "Sign-ins of several servers or clients are pending; pass --authority and --client-id",
    );
  }
  const found = candidates[0];
  if (!found) {
    throw new InteractionRequiredError(
      "No sign-in is waiting to be resumed; start one with: deviceflow login --no-wait",
    );
  }
  const { pending } = found;
  if (!client) {
    const metadata = await cache.getMetadata(found.authority);
    client = accountClient({ ...found, provider: metadata?.provider }, settings, cache, io, values);
  }
  if (pending.expiresAt <= Date.now()) {
    await cache.removePending(found.authority, found.clientId, pending.id);
    throw new ExpiredTokenError(
      "The device code of the pending sign-in expired; start again with: deviceflow login",
    );
  }
  const result = (await finishPending(client, cache, found, io, values, { timeout }))!;
  await io.stdout(jsonLine(summary(result)));
  return EXIT.ok;
}

const OPTIONS = optionsFor("login");

// Built when asked for: a cached `token` never shows help.
const help = () =>
  commandHelp({
    usage: "deviceflow login [options]",
    about: `Signs in with a device code: shows an address and a code on stderr, waits while you sign
in on another device, caches the tokens, makes the account the active one, and prints a JSON
summary of the account (no token) on stdout. --json-events makes stderr one JSON object per
line: device_code, pending, slow_down, retry, renewing, resuming, success, waiting, warning,
error.`,
    options: OPTIONS,
    examples: [
      "deviceflow login --tenant contoso.onmicrosoft.com --client-id 00000000-0000-0000-0000-000000000000",
      "deviceflow login --provider github --client-id Iv1.0123456789abcdef",
      "deviceflow login --profile work --no-wait    # then: deviceflow login --resume",
    ],
  });

/** `deviceflow login`. */
export const command: Command = {
  summary: "Sign in with a device code and cache the tokens",
  options: OPTIONS,
  get help() {
    return help();
  },
  run: login,
};
