/**
 * Errors to one line on stderr and a documented exit code.
 *
 * @module
 */

import { type Locale, type MessageKey, say } from "../i18n/locale.ts";
import { firstLine } from "../untrusted.ts";
import { DeviceFlowError, InteractionRequiredError, ServerError } from "../errors.ts";
import { redact } from "../redact.ts";
import { UsageError } from "./args.ts";
import { ConfigError } from "./config_file.ts";
import { EXIT } from "./io.ts";
import { type GuardedIo, jsonLine, oneLine } from "./format.ts";
import {
  explainPermission,
  missingPermission,
  MissingPermissionsError,
  unreadableVariables,
} from "./permissions.ts";

/**
 * Turns an error into one line on stderr and its exit code.
 *
 * @param error What was thrown.
 * @param io Where to write.
 * @param command The command, for usage hints.
 * @returns The exit code.
 */
export function report(
  error: unknown,
  io: GuardedIo,
  command: string,
  json = false,
  locale: Locale = "en",
): number {
  const code = exitCode(error);
  const message = oneLine(firstLine(redact(localized(error, locale) ?? describe(error))));
  if (json) {
    // --json-events: errors are events too, so that stderr stays one JSON object per line.
    const kind = missingPermission(error) || error instanceof MissingPermissionsError
      ? "permission"
      : error instanceof DeviceFlowError
      ? error.code
      : error instanceof UsageError || error instanceof ConfigError
      ? "usage"
      : "unexpected";
    io.stderr(jsonLine({ event: "error", code: kind, message, exitCode: code }));
    return code;
  }
  io.stderr(`deviceflow: ${message}\n`);
  if (error instanceof UsageError) io.stderr(`Run 'deviceflow ${command} --help' for usage.\n`);
  return code;
}

/**
 * A message an error carries to be said again in the person's language: a
 * key of the sign-in's messages and its placeholders' values.
 */
export interface Localized {
  readonly key: MessageKey;
  readonly values: Readonly<Record<string, string | number>>;
}

/**
 * The line for an outcome a person causes or meets while signing in, in
 * their language; `undefined` for English and for every other error, which
 * stay as they are.
 */
function localized(error: unknown, locale: Locale): string | undefined {
  if (locale === "en" || !(error instanceof DeviceFlowError)) return undefined;
  const own = (error as { localized?: Localized }).localized;
  if (own) return say(locale, own.key, own.values);
  switch (error.code) {
    case "authorization_declined":
      return say(locale, "declined");
    case "expired_token":
      return say(locale, "expired");
    case "timeout":
      return say(locale, "timedOut");
    case "cancelled":
      return say(locale, "cancelled");
    case "interaction_required": {
      // The command a sign-in-needed line names ("sign in with: deviceflow login ...").
      const command = error.message.match(/(?:with|run): (deviceflow login\b[^;()]*?)\s*(?:\(|$)/)
        ?.[1];
      return command ? say(locale, "signInNeeded", { command }) : say(locale, "notSignedIn");
    }
    default:
      return undefined;
  }
}

function describe(error: unknown): string {
  // A missing Deno permission is said as such, with the flag, wherever it surfaced.
  if (error instanceof MissingPermissionsError) return error.message;
  const permission = missingPermission(error);
  if (permission) return explainPermission(permission);
  const message = describeError(error);
  // A variable Deno may not read looks unset: say so where the message asks to set it.
  const unreadable = error instanceof UsageError || error instanceof ConfigError ||
      error instanceof InteractionRequiredError
    ? unreadableVariables(message)
    : [];
  return unreadable.length
    ? `${message} (deno may not read ${unreadable.join(", ")}: run it with --allow-env=${
      unreadable.join(",")
    })`
    : message;
}

function describeError(error: unknown): string {
  if (error instanceof ServerError) {
    const ids = [
      error.traceId ? `trace ID ${error.traceId}` : "",
      error.correlationId ? `correlation ID ${error.correlationId}` : "",
    ].filter(Boolean);
    return ids.length ? `${error.message} (${ids.join(", ")})` : error.message;
  }
  if (error instanceof DeviceFlowError && error.code === "ambiguous_account") {
    // The library's words, in the command line's: the option and the command that fix it.
    return `${
      error.message.replace(/; name one$/, "")
    }; choose one with --account, or make one active with: deviceflow switch`;
  }
  if (
    error instanceof DeviceFlowError || error instanceof UsageError || error instanceof ConfigError
  ) return error.message;
  return `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * The documented exit code of an error.
 *
 * @param error What was thrown.
 * @returns The exit code.
 */
export function exitCode(error: unknown): number {
  if (missingPermission(error)) return EXIT.error;
  if (error instanceof UsageError || error instanceof ConfigError) return EXIT.usage;
  if (!(error instanceof DeviceFlowError)) return EXIT.error;
  switch (error.code) {
    case "interaction_required":
      return EXIT.signInNeeded;
    case "authorization_declined":
    case "expired_token":
    case "timeout":
      return EXIT.declinedOrExpired;
    case "network":
      return EXIT.network;
    case "cancelled":
      return EXIT.interrupted;
    case "ambiguous_account":
      return EXIT.usage;
    case "server_error":
      return error instanceof ServerError && (error.status >= 500 || error.status === 429)
        ? EXIT.network
        : EXIT.error;
    default:
      return EXIT.error;
  }
}
