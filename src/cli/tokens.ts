/**
 * Getting a token the way `token` does, for the commands that use one
 * (`token` on a cache miss, `fetch`, `run`, `git-credential`): silently,
 * else by finishing a pending sign-in, else by signing in where a person can
 * see the code. This is the slow path: it loads the client, HTTP and the
 * protocol.
 *
 * @module
 */

import { chooseLocale, say } from "../i18n/locale.ts";
import type { Localized } from "./exit.ts";
import type { DeviceFlowClient } from "../client/client.ts";
import { InteractionRequiredError } from "../errors.ts";
import { finishPending, pendingOf } from "./pending.ts";
import type { TokenResult } from "../types.ts";
import { seconds, type ServerSettings, serverSettings, type Values } from "./args.ts";
import type { TokenCache } from "../cache/token_cache.ts";
import { clientFromCache, signIn } from "./session.ts";
import { withCache } from "./context.ts";
import type { GuardedIo } from "./format.ts";
import { execInfo, shellQuote } from "./token_output.ts";

/** What a caller of {@linkcode withTokens} may ask beyond the options. */
export interface TokenRequest {
  /** Refresh even when the cached token is good. */
  readonly forceRefresh?: boolean;
  /** Claims to request (a claims challenge), as JSON. */
  readonly claims?: string;
}

/** Gets a token the way `token` does, with the given extras. */
export type GetToken = (request?: TokenRequest) => Promise<TokenResult>;

/**
 * Opens the cache and the client the options name, and hands `run` a
 * function that gets a token the way `token` does: silently, else by signing
 * in unless `--no-interactive`.
 *
 * @param values The command's options.
 * @param io Where to write.
 * @param run What to do with tokens while the cache is open; it also gets the client.
 * @returns The exit code.
 */
export async function withTokens(
  values: Values,
  io: GuardedIo,
  run: (getToken: GetToken, client: DeviceFlowClient) => Promise<number>,
): Promise<number> {
  const settings = serverSettings(values, io.env);
  seconds(values.timeout, "--timeout");
  seconds(values["min-ttl"], "--min-ttl", true);
  return await withCache(
    values,
    io,
    (cache) => tokensFromCache(values, io, cache, settings, run),
    { net: true },
  );
}

/**
 * {@linkcode withTokens} on a cache already open: what `token` goes on with
 * when its cached lookup missed.
 *
 * @param values The command's options.
 * @param io Where to write.
 * @param cache The open cache.
 * @param settings The server settings the options name.
 * @param run What to do with tokens; it also gets the client.
 * @returns The exit code.
 */
export async function tokensFromCache(
  values: Values,
  io: GuardedIo,
  cache: TokenCache,
  settings: ServerSettings,
  run: (getToken: GetToken, client: DeviceFlowClient) => Promise<number>,
): Promise<number> {
  io.listenForInterrupts?.();
  const timeout = seconds(values.timeout, "--timeout");
  const minTtl = seconds(values["min-ttl"], "--min-ttl", true);
  const client = await clientFromCache(settings, cache, io, values);
  return await run(async (request = {}) => {
    try {
      return await client.acquireTokenSilent({
        scopes: settings.scopes,
        ...(values.account ? { account: values.account as string } : {}),
        ...(minTtl !== undefined ? { minTtl } : {}),
        forceRefresh: request.forceRefresh ?? values["force-refresh"] === true,
        ...(request.claims ? { claims: request.claims } : {}),
        ...(io.signal ? { signal: io.signal } : {}),
      });
    } catch (error) {
      if (!(error instanceof InteractionRequiredError)) throw error;
      // A sign-in started with login --no-wait and approved since: one poll, no prompt.
      const found = await pendingOf(cache, client);
      const who = whoCanSignIn(values, io);
      const canSignIn = who === "person";
      if (found) {
        const done = await finishPending(client, cache, found, io, values, {
          onePoll: !canSignIn,
          timeout,
        });
        if (done) return done;
        const words = { address: found.pending.verificationUri, code: found.pending.userCode };
        // The CLI says it again in the person's language (src/cli/exit.ts).
        throw Object.assign(
          new InteractionRequiredError(say("en", "notApproved", words)),
          { localized: { key: "notApproved", values: words } satisfies Localized },
        );
      }
      if (!canSignIn) throw signInNeeded(error, client, values, io, who);
      if (!values["json-events"]) {
        const locale = chooseLocale(values.lang as string | undefined, io.env);
        // Why a sign-in starts: the library's reason in English, a sentence of our own otherwise.
        io.stderr(`${locale === "en" ? error.message : say(locale, "startingSignIn")}\n`);
      }
      return await signIn(client, settings.scopes, io, values, timeout, request.claims);
    }
  }, client);
}

/**
 * Whether a device code sign-in may start: only where a person can see the
 * code. That is a terminal on stderr, `--json-events` (a program relays the
 * code), `--interactive`, or kubectl saying the user is there
 * (`spec.interactive` in KUBERNETES_EXEC_INFO). `--no-interactive`, or kubectl
 * saying `interactive: false`, never signs in.
 *
 * @param values The command's options.
 * @param io Where to write, and the environment.
 * @returns `person` when a sign-in may start, else why not.
 */
export function whoCanSignIn(
  values: Values,
  io: GuardedIo,
): "person" | "refused" | "nobody" | "kubectl" {
  if (values["no-interactive"]) return "refused";
  const kubectl = execInfo(io.env)?.spec?.interactive;
  if (kubectl === false) return "kubectl";
  if (values.interactive || values["json-events"] || kubectl === true) return "person";
  return io.stderrIsTerminal ? "person" : "nobody";
}

/**
 * The sign-in a command cannot do itself, as one line that names the login
 * command to run, as `gh auth token` does.
 */
function signInNeeded(
  error: InteractionRequiredError,
  client: DeviceFlowClient,
  values: Values,
  io: GuardedIo,
  who: ReturnType<typeof whoCanSignIn>,
): InteractionRequiredError {
  const why = error.message.replace(/;? ?sign in (again|first)$/, "");
  const profile = (values.profile as string | undefined) ?? io.env("DEVICEFLOW_PROFILE");
  const server = profile
    ? `--profile ${shellWord(profile)}`
    : `--authority ${shellWord(client.authority)} --client-id ${shellWord(client.clientId)}`;
  const scopes = (values.scope as string[] | undefined)?.join(" ");
  const command = `deviceflow login ${server}${scopes ? ` --scope ${shellWord(scopes)}` : ""}`;
  const how = who === "kubectl"
    ? `kubectl runs this non-interactively, so sign in with: ${command}`
    : who === "refused"
    ? `sign in again with: ${command}`
    : `there is no terminal to show a code on, so sign in with: ${command} (or pass --interactive)`;
  return new InteractionRequiredError(`${why}; ${how}`, error.serverError);
}

/** A word for a POSIX shell: quoted only where it must be. */
function shellWord(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : shellQuote(value);
}

/**
 * Gets one token the way `token` does and hands it to `run`.
 *
 * @param values The command's options.
 * @param io Where to write.
 * @param run What to do with the token while the cache is open.
 * @returns The exit code.
 */
export function withToken(
  values: Values,
  io: GuardedIo,
  run: (result: TokenResult) => Promise<number>,
): Promise<number> {
  return withTokens(values, io, async (getToken) => await run(await getToken()));
}
