/**
 * Command-line parsing: the options of each command, their checks, and the
 * settings they resolve to (flags, then environment).
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Provider } from "../types.ts";

/** A mistake on the command line: exit code 2. */
export class UsageError extends Error {
  /** @param message One line naming the option. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Option definitions, in node:util parseArgs form. */
export type Options = NonNullable<ParseArgsConfig["options"]>;

/** The options that name the server and the client. */
export const SERVER: Options = {
  authority: { type: "string" },
  "client-id": { type: "string" },
  provider: { type: "string" },
  tenant: { type: "string" },
  "device-endpoint": { type: "string" },
  "token-endpoint": { type: "string" },
  "revocation-endpoint": { type: "string" },
  scope: { type: "string", multiple: true },
  "no-default-scopes": { type: "boolean" },
};
/** The options every command has. */
export const COMMON: Options = {
  cache: { type: "string" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
};
/** The options of commands that may sign in. */
export const SIGN_IN: Options = {
  timeout: { type: "string" },
};

/** Parsed values: strings, booleans and repeated strings, by option name. */
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * Parses a command's arguments.
 *
 * @param command The command name, for messages.
 * @param options The options it accepts.
 * @param args The arguments after the command.
 * @returns The option values.
 * @throws {UsageError} For unknown options, missing values and positionals.
 */
export function parseCommand(command: string, options: Options, args: string[]): Values {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(describeParseError(error, command));
  }
  if (parsed.positionals.length) {
    throw new UsageError(`${command}: unexpected argument "${parsed.positionals[0]}"`);
  }
  return parsed.values as Values;
}

function describeParseError(error: unknown, command: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const option = message.match(/'(-[^']*)'/)?.[1] ?? message.match(/option "?(-[\w-]+)/)?.[1];
  const code = (error as { code?: string }).code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `${command}: unknown option ${option}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return /argument missing/.test(message)
      ? `${command}: option ${option?.split(",").pop()?.trim() ?? ""} needs a value`
      : `${command}: option ${option} takes no value`;
  }
  return `${command}: ${message.split("\n")[0]}`;
}

/** How to read the environment. */
export type Env = (name: string) => string | undefined;

/** What the server-facing options resolve to. */
export interface ServerSettings {
  authority?: string;
  clientId?: string;
  clientSecret?: string;
  provider?: Provider;
  deviceEndpoint?: string;
  tokenEndpoint?: string;
  revocationEndpoint?: string;
  scopes: string[];
  defaultScopes: boolean;
}

const PROVIDERS: readonly Provider[] = ["entra", "github", "google", "oidc"];
const ENTRA_DEFAULT_HOST = "https://login.microsoftonline.com";

/**
 * Resolves the server settings: flags win over the environment.
 *
 * @param values Parsed flags.
 * @param env The environment.
 * @returns The settings.
 * @throws {UsageError} When a value is malformed.
 */
export function serverSettings(values: Values, env: Env): ServerSettings {
  const str = (name: string) => values[name] as string | undefined;
  const provider = str("provider") ?? env("DEVICEFLOW_PROVIDER");
  if (provider !== undefined && !PROVIDERS.includes(provider as Provider)) {
    throw new UsageError(`--provider must be one of ${PROVIDERS.join(", ")}, not "${provider}"`);
  }
  let authority = str("authority") ?? env("DEVICEFLOW_AUTHORITY");
  const tenant = str("tenant") ?? env("DEVICEFLOW_TENANT");
  if (tenant !== undefined) {
    if (!/^[A-Za-z0-9.-]+$/.test(tenant)) {
      throw new UsageError(
        `--tenant must be a tenant ID, domain, organizations, common or consumers`,
      );
    }
    if (provider !== undefined && provider !== "entra") {
      throw new UsageError(`--tenant applies only to --provider entra`);
    }
    // --tenant picks the tenant on the given Entra host (a sovereign cloud), or the public one.
    const origin = authority ? safeOrigin(authority, "--authority") : ENTRA_DEFAULT_HOST;
    authority = `${origin}/${tenant}`;
  }
  const settings: ServerSettings = {
    scopes: ((values.scope as string[] | undefined) ?? [env("DEVICEFLOW_SCOPE") ?? ""])
      .flatMap((s) => s.split(/\s+/)).filter(Boolean),
    defaultScopes: values["no-default-scopes"] !== true,
  };
  if (authority) settings.authority = checkUrl(authority, "--authority");
  const clientId = str("client-id") ?? env("DEVICEFLOW_CLIENT_ID");
  if (clientId !== undefined) {
    if (!clientId.trim()) throw new UsageError("--client-id must not be empty");
    settings.clientId = clientId;
  }
  const secret = env("DEVICEFLOW_CLIENT_SECRET");
  if (secret) settings.clientSecret = secret;
  if (provider || tenant) settings.provider = (provider ?? "entra") as Provider;
  const device = str("device-endpoint");
  const token = str("token-endpoint");
  if ((device === undefined) !== (token === undefined)) {
    throw new UsageError("--device-endpoint and --token-endpoint go together");
  }
  if (device) settings.deviceEndpoint = checkUrl(device, "--device-endpoint");
  if (token) settings.tokenEndpoint = checkUrl(token, "--token-endpoint");
  const revocation = str("revocation-endpoint");
  if (revocation) settings.revocationEndpoint = checkUrl(revocation, "--revocation-endpoint");
  return settings;
}

function safeOrigin(value: string, name: string): string {
  return new URL(checkUrl(value, name)).origin;
}

function checkUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${name} must be an absolute URL, not "${value}"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`${name} must be an https URL, not "${value}"`);
  }
  return value;
}

/**
 * Reads a number of seconds.
 *
 * @param value The option's value.
 * @param name The option, for the message.
 * @param allowZero Whether 0 is allowed.
 * @returns The number, or `undefined` when absent.
 * @throws {UsageError} When it is not a number in range.
 */
export function seconds(value: unknown, name: string, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const number = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(number) || number > 1e7 || (!allowZero && number === 0)) {
    throw new UsageError(
      `${name} must be a ${
        allowZero ? "non-negative" : "positive"
      } number of seconds, not "${text}"`,
    );
  }
  return number;
}
