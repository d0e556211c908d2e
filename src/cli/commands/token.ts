/**
 * `deviceflow token`.
 *
 * @module
 */

import type { DeviceFlowClient } from "../../client/client.ts";
import { InteractionRequiredError } from "../../errors.ts";
import { finishPending, pendingOf } from "../pending.ts";
import type { TokenResult } from "../../types.ts";
import {
  COMMON,
  type Options,
  seconds,
  SERVER,
  serverSettings,
  SIGN_IN,
  UsageError,
  type Values,
} from "../args.ts";
import { accountJson, clientFromCache, type Command, signIn, withCache } from "../common.ts";
import { commandHelp } from "../help.ts";
import { EXIT } from "../io.ts";
import { type GuardedIo, jsonLine } from "../format.ts";

/** The output formats of `token`. */
export const FORMATS = ["raw", "json", "env", "header", "exec-credential"] as const;
type Format = typeof FORMATS[number];

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
  const timeout = seconds(values.timeout, "--timeout");
  const minTtl = seconds(values["min-ttl"], "--min-ttl", true);
  return await withCache(values, io, async (cache) => {
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
          throw new InteractionRequiredError(
            `The sign-in started with 'deviceflow login --no-wait' is not approved yet: open ${found.pending.verificationUri} and enter the code ${found.pending.userCode}, then run this again`,
          );
        }
        if (!canSignIn) throw signInNeeded(error, client, values, io, who);
        if (!values["json-events"]) io.stderr(`${error.message}\n`);
        return await signIn(client, settings.scopes, io, values, timeout, request.claims);
      }
    }, client);
  }, { net: true });
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

/** What kubectl says in KUBERNETES_EXEC_INFO, read whole; `undefined` when absent or not JSON. */
function execInfo(
  env: (name: string) => string | undefined,
): { apiVersion?: unknown; spec?: { interactive?: unknown } } | undefined {
  const text = env("KUBERNETES_EXEC_INFO");
  if (!text) return undefined;
  try {
    const info = JSON.parse(text);
    return info !== null && typeof info === "object" ? info : undefined;
  } catch {
    return undefined;
  }
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

async function token(values: Values, io: GuardedIo): Promise<number> {
  // --json, as status and accounts have it, is -o json.
  if (values.json && values.output !== undefined && values.output !== "json") {
    throw new UsageError(`--json and --output ${values.output} exclude each other`);
  }
  const output = (values.output as string | undefined) ?? (values.json ? "json" : "raw");
  if (!FORMATS.includes(output as Format)) {
    throw new UsageError(`--output must be one of ${FORMATS.join(", ")}, not "${output}"`);
  }
  return await withToken(values, io, async (result) => {
    await io.stdout(formatToken(result, output as Format, io.env));
    return EXIT.ok;
  });
}

/** Quotes a value for POSIX shells. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Formats a token for stdout.
 *
 * @param result The token.
 * @param format The output format.
 * @param env The environment (kubectl passes KUBERNETES_EXEC_INFO).
 * @returns The text, ending with a newline.
 */
export function formatToken(
  result: TokenResult,
  format: Format,
  env: (name: string) => string | undefined,
): string {
  const expiresAt = result.expiresAt?.toISOString();
  switch (format) {
    case "raw":
      return result.accessToken + "\n";
    case "json":
      return jsonLine({
        accessToken: result.accessToken,
        tokenType: result.tokenType,
        expiresAt: expiresAt ?? null,
        scopes: result.scopes,
        account: accountJson(result.account),
      });
    case "env":
      return `export ACCESS_TOKEN=${shellQuote(result.accessToken)}\n` +
        `export ACCESS_TOKEN_EXPIRES_AT=${shellQuote(expiresAt ?? "")}\n`;
    case "header":
      // GitHub says "bearer"; the scheme is case-insensitive, and "Bearer" is what APIs document.
      return `Authorization: ${
        /^bearer$/i.test(result.tokenType) ? "Bearer" : result.tokenType
      } ${result.accessToken}\n`;
    case "exec-credential":
      return jsonLine({
        apiVersion: execCredentialVersion(env),
        kind: "ExecCredential",
        status: {
          token: result.accessToken,
          ...(expiresAt ? { expirationTimestamp: expiresAt.replace(/\.\d{3}Z$/, "Z") } : {}),
        },
      });
  }
}

/** kubectl names the version it wants in KUBERNETES_EXEC_INFO; v1 otherwise. */
function execCredentialVersion(env: (name: string) => string | undefined): string {
  const version = execInfo(env)?.apiVersion;
  return typeof version === "string" &&
      /^client\.authentication\.k8s\.io\/v[0-9a-z]+$/.test(version)
    ? version
    : "client.authentication.k8s.io/v1";
}

/** The options of every command that gets a token the way `token` does. */
export const TOKEN_OPTIONS: Options = {
  ...COMMON,
  ...SERVER,
  ...SIGN_IN,
  account: { type: "string" },
  "min-ttl": { type: "string" },
  "force-refresh": { type: "boolean" },
  "no-interactive": { type: "boolean" },
  interactive: { type: "boolean" },
};

const OPTIONS = {
  ...TOKEN_OPTIONS,
  output: { type: "string", short: "o" },
  json: { type: "boolean" },
} as const;

const HELP = commandHelp({
  usage: "deviceflow token [options]",
  about: `Prints a valid access token on stdout: from the cache, by a silent refresh, or, when
nothing else works, by a device code sign-in. A sign-in starts only where a person can see
the code (a terminal, --json-events, --interactive, or kubectl's interactive mode); elsewhere
it exits 3 with the login command to run. A sign-in started with 'login --no-wait' and
approved since is finished with one poll.`,
  options: OPTIONS,
  examples: [
    "deviceflow token",
    'curl -H "Authorization: Bearer $(deviceflow token)" https://graph.microsoft.com/v1.0/me',
    "deviceflow token --account bob@contoso.com -o header",
    "deviceflow token --profile k8s -o exec-credential   # in a kubeconfig exec plugin",
  ],
});

/** `deviceflow token`. */
export const command: Command = {
  summary: "Print an access token: from the cache, by a silent refresh, or by signing in",
  options: OPTIONS,
  help: HELP,
  run: token,
};
