/**
 * Typed errors. Every error the library throws on purpose is a
 * {@linkcode DeviceFlowError} with a stable {@linkcode DeviceFlowError.code};
 * bad arguments throw `TypeError` instead, as the platform does.
 *
 * This module is longer than 400 lines because every error class a caller can
 * catch is here with its documented example; the examples are the reference,
 * and one file keeps the hierarchy in one place.
 *
 * @module
 */

import { adviceFor } from "./aadsts.ts";
import { redact } from "./redact.ts";

/**
 * The stable codes of {@linkcode DeviceFlowError}, one per condition a caller may handle.
 *
 * @example Map the codes to exit codes
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DeviceFlowErrorCode, ExpiredTokenError } from "@deviceflow/deviceflow";
 *
 * function exitCode(code: DeviceFlowErrorCode): number {
 *   switch (code) {
 *     case "interaction_required":
 *       return 3;
 *     case "authorization_declined":
 *     case "expired_token":
 *       return 4;
 *     case "network":
 *       return 5;
 *     default:
 *       return 1;
 *   }
 * }
 * assert.equal(exitCode(new ExpiredTokenError().code), 4);
 * ```
 */
export type DeviceFlowErrorCode =
  | "server_error"
  | "authorization_declined"
  | "expired_token"
  | "timeout"
  | "cancelled"
  | "network"
  | "invalid_response"
  | "interaction_required"
  | "no_device_endpoint"
  | "ambiguous_account"
  | "cache";

/**
 * The base class of every error the library throws on purpose.
 *
 * @example Branch on the code, not on the message
 * ```ts
 * import { DeviceFlowError } from "@deviceflow/deviceflow";
 * const err: unknown = new DeviceFlowError("cancelled", "Sign-in was cancelled");
 * if (err instanceof DeviceFlowError && err.code === "cancelled") {
 *   // the person pressed Ctrl-C
 * }
 * ```
 */
export class DeviceFlowError extends Error {
  /** A stable identifier of the condition; messages may change, codes do not. */
  readonly code: DeviceFlowErrorCode;

  /**
   * Creates the error.
   *
   * @param code The stable code of the condition.
   * @param message A one-line, human-readable description.
   * @param options The underlying cause, if any.
   */
  constructor(code: DeviceFlowErrorCode, message: string, options?: ErrorOptions) {
    super(redact(message), options);
    this.name = "DeviceFlowError";
    this.code = code;
  }
}

/**
 * The fields an OAuth server (or Entra ID) may put in an error body.
 *
 * @example Advice for an Entra error
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerError, type ServerErrorDetails } from "@deviceflow/deviceflow";
 *
 * const details: ServerErrorDetails = {
 *   error: "invalid_client",
 *   errorDescription: "AADSTS7000218: The request body must contain client_assertion or client_secret",
 *   errorCodes: [7000218],
 *   status: 401,
 * };
 * const error = new ServerError(details);
 * assert.equal(error.errorCodes[0], 7000218);
 * assert.match(error.message, /^The server returned invalid_client \(HTTP 401\)/);
 * assert.ok(error.advice);
 * ```
 */
export interface ServerErrorDetails {
  /** The OAuth `error` value, such as `invalid_client`. */
  error: string;
  /** The server's `error_description`. */
  errorDescription?: string;
  /** The server's `error_uri`. */
  errorUri?: string;
  /** The HTTP status of the response. */
  status: number;
  /** Entra ID's `error_codes` (the AADSTS numbers). */
  errorCodes?: number[];
  /** Entra ID's `suberror`. */
  suberror?: string;
  /** Entra ID's `correlation_id`. */
  correlationId?: string;
  /** Entra ID's `trace_id`. */
  traceId?: string;
  /** Entra ID's `claims` challenge, when sent with the error. */
  claims?: string;
}

/**
 * The authorization server answered with an OAuth error that ends the
 * operation (RFC 6749 section 5.2, RFC 8628 section 3.5).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerError } from "@deviceflow/deviceflow";
 * const err = new ServerError({ error: "invalid_client", status: 401 });
 * assert.ok(err.code === "server_error" && err.error === "invalid_client");
 * ```
 */
export class ServerError extends DeviceFlowError {
  /** The OAuth `error` value. */
  readonly error: string;
  /** The server's `error_description`, if any. */
  readonly errorDescription: string | undefined;
  /** The server's `error_uri`, if any. */
  readonly errorUri: string | undefined;
  /** The HTTP status. */
  readonly status: number;
  /** Entra ID's AADSTS numbers, if any. */
  readonly errorCodes: readonly number[];
  /** Entra ID's `suberror`, if any. */
  readonly suberror: string | undefined;
  /** Entra ID's `correlation_id`, if any. */
  readonly correlationId: string | undefined;
  /** Entra ID's `trace_id`, if any. */
  readonly traceId: string | undefined;
  /** What the person can do about it, when known (from the AADSTS table and the OAuth error). */
  readonly advice: string | undefined;

  /**
   * Creates the error from a server's error body.
   *
   * @param details The parsed error body and HTTP status.
   * @param code The code to carry; `server_error` unless a subclass says otherwise.
   */
  constructor(details: ServerErrorDetails, code: DeviceFlowErrorCode = "server_error") {
    const advice = adviceFor(details.error, details.errorCodes ?? []);
    super(code, describe(details, advice));
    this.name = "ServerError";
    this.error = details.error;
    // Inspecting an error prints its properties too, not only the message.
    this.errorDescription = details.errorDescription === undefined
      ? undefined
      : redact(details.errorDescription);
    this.errorUri = details.errorUri;
    this.status = details.status;
    this.errorCodes = details.errorCodes ?? [];
    this.suberror = details.suberror;
    this.correlationId = details.correlationId;
    this.traceId = details.traceId;
    this.advice = advice;
  }
}

function describe(details: ServerErrorDetails, advice: string | undefined): string {
  // Entra descriptions span several lines (trace and correlation IDs); the
  // first line is the one a person needs.
  const description = details.errorDescription?.split(/\r?\n/)[0]?.trim();
  let message = `The server returned ${details.error} (HTTP ${details.status})`;
  if (description) message += `: ${description}`;
  // The description may end a sentence of its own: one full stop, never two.
  if (advice) message = `${message.replace(/[.!?。]+$/, "")}. ${advice}`;
  return message;
}

/**
 * The person declined the sign-in (`access_denied`, Entra's `authorization_declined`).
 *
 * @example Tell a refusal from a failure
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthorizationDeclinedError, DeviceFlowClient } from "@deviceflow/deviceflow";
 *
 * // A stand-in server: the person declines at the first poll.
 * const server: typeof fetch = (input) =>
 *   Promise.resolve(
 *     String(input).endsWith("/device")
 *       ? Response.json({ device_code: "d", user_code: "U", verification_uri: "https://id.example.com/d", expires_in: 600 })
 *       : Response.json({ error: "access_denied" }, { status: 400 }),
 *   );
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: { deviceAuthorization: "https://id.example.com/device", token: "https://id.example.com/token" },
 *   fetch: server,
 *   clock: { now: () => Date.now(), sleep: () => Promise.resolve() },
 * });
 * const code = await client.initiateDeviceFlow({ scopes: ["api"] });
 * await assert.rejects(client.acquireTokenByDeviceFlow(code), AuthorizationDeclinedError);
 * ```
 */
export class AuthorizationDeclinedError extends DeviceFlowError {
  /**
   * Creates the error.
   * @param message What happened.
   */
  constructor(message = "The sign-in was declined") {
    super("authorization_declined", message);
    this.name = "AuthorizationDeclinedError";
  }
}

/**
 * The device code expired before the person finished signing in.
 *
 * @example Start again with a new code when one expires
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, ExpiredTokenError } from "@deviceflow/deviceflow";
 *
 * // A stand-in server whose codes live one second, less than the 5 s between polls.
 * const server: typeof fetch = () =>
 *   Promise.resolve(
 *     Response.json({ device_code: "d", user_code: "U", verification_uri: "https://id.example.com/d", expires_in: 1 }),
 *   );
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: { deviceAuthorization: "https://id.example.com/device", token: "https://id.example.com/token" },
 *   fetch: server,
 * });
 * const code = await client.initiateDeviceFlow({ scopes: ["api"] });
 * const error = await client.acquireTokenByDeviceFlow(code).catch((e) => e);
 * assert.ok(error instanceof ExpiredTokenError);
 * assert.equal(error.code, "expired_token");
 * ```
 */
export class ExpiredTokenError extends DeviceFlowError {
  /**
   * Creates the error.
   * @param message What happened.
   */
  constructor(message = "The device code expired before the sign-in was completed; start again") {
    super("expired_token", message);
    this.name = "ExpiredTokenError";
  }
}

/**
 * The caller's own time limit ran out before the sign-in completed.
 *
 * @example Give the person at most a few minutes
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, TimeoutError } from "@deviceflow/deviceflow";
 *
 * // A stand-in server whose codes would live ten minutes, and which nobody approves.
 * const server: typeof fetch = (input) =>
 *   Promise.resolve(
 *     String(input).endsWith("/device")
 *       ? Response.json({ device_code: "d", user_code: "U", verification_uri: "https://id.example.com/d", expires_in: 600 })
 *       : Response.json({ error: "authorization_pending" }, { status: 400 }),
 *   );
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: { deviceAuthorization: "https://id.example.com/device", token: "https://id.example.com/token" },
 *   fetch: server,
 * });
 * const code = await client.initiateDeviceFlow({ scopes: ["api"] });
 * // A limit shorter than the interval: one last poll at the limit, still pending.
 * await assert.rejects(client.acquireTokenByDeviceFlow(code, { timeout: 1 }), TimeoutError);
 * ```
 */
export class TimeoutError extends DeviceFlowError {
  /**
   * Creates the error.
   * @param message What happened.
   */
  constructor(message: string) {
    super("timeout", message);
    this.name = "TimeoutError";
  }
}

/**
 * The operation was cancelled through its `AbortSignal`.
 *
 * @example Stop polling on Ctrl-C
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelledError, DeviceFlowClient } from "@deviceflow/deviceflow";
 *
 * // A stand-in server: the person never finishes signing in.
 * const server: typeof fetch = (input) =>
 *   Promise.resolve(
 *     String(input).endsWith("/device")
 *       ? Response.json({
 *         device_code: "d",
 *         user_code: "U",
 *         verification_uri: "https://id.example.com/d",
 *         expires_in: 600,
 *       })
 *       : Response.json({ error: "authorization_pending" }, { status: 400 }),
 *   );
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: {
 *     deviceAuthorization: "https://id.example.com/device",
 *     token: "https://id.example.com/token",
 *   },
 *   fetch: server,
 * });
 * const controller = new AbortController();
 * const code = await client.initiateDeviceFlow({ scopes: ["api"] });
 * const polling = client.acquireTokenByDeviceFlow(code, { signal: controller.signal });
 * // As Deno.addSignalListener("SIGINT", () => controller.abort()) would on Ctrl-C:
 * controller.abort();
 * await assert.rejects(polling, CancelledError);
 * ```
 */
export class CancelledError extends DeviceFlowError {
  /**
   * Creates the error.
   * @param message What happened.
   * @param options The abort reason, as cause.
   */
  constructor(message = "The operation was cancelled", options?: ErrorOptions) {
    super("cancelled", message, options);
    this.name = "CancelledError";
  }
}

/**
 * The server could not be reached, or stopped answering, after the retries the policy allows.
 *
 * @example A server that cannot be reached
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, NetworkError } from "@deviceflow/deviceflow";
 *
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: { deviceAuthorization: "https://id.example.com/device", token: "https://id.example.com/token" },
 *   // A stand-in for a network that refuses every connection.
 *   fetch: () => Promise.reject(new TypeError("error sending request: connection refused")),
 * });
 * const error = await client.initiateDeviceFlow({ scopes: ["api"] }).catch((e) => e);
 * assert.ok(error instanceof NetworkError);
 * assert.match(error.message, /^Cannot reach id\.example\.com/);
 * ```
 */
export class NetworkError extends DeviceFlowError {
  /**
   * Creates the error.
   * @param message What failed, naming the host.
   * @param options The underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("network", message, options);
    this.name = "NetworkError";
  }
}

/**
 * The server answered with something that is not a valid response; the message names the field.
 *
 * @example A response that breaks the protocol names the field
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, InvalidResponseError } from "@deviceflow/deviceflow";
 *
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: { deviceAuthorization: "https://id.example.com/device", token: "https://id.example.com/token" },
 *   // A stand-in server that forgets the user code.
 *   fetch: () =>
 *     Promise.resolve(Response.json({ device_code: "d", verification_uri: "https://id.example.com/d", expires_in: 600 })),
 * });
 * const error = await client.initiateDeviceFlow({ scopes: ["api"] }).catch((e) => e);
 * assert.ok(error instanceof InvalidResponseError);
 * assert.match(error.message, /user_code/);
 * ```
 */
export class InvalidResponseError extends DeviceFlowError {
  /**
   * Creates the error.
   * @param message What is wrong, naming the field.
   * @param options The body, as cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("invalid_response", message, options);
    this.name = "InvalidResponseError";
  }
}

/**
 * A token cannot be had silently: the person must sign in again (no cached
 * account, a refresh token the server refused, or an interaction-required
 * signal from the server).
 *
 * @example Fall back to a sign-in when no token can be had silently
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceFlowClient, InteractionRequiredError } from "@deviceflow/deviceflow";
 *
 * const client = new DeviceFlowClient({
 *   clientId: "my-app",
 *   endpoints: { deviceAuthorization: "https://id.example.com/device", token: "https://id.example.com/token" },
 * });
 * // Nobody has signed in yet: the cache has no account.
 * const error = await client.acquireTokenSilent({ scopes: ["api"] }).catch((e) => e);
 * assert.ok(error instanceof InteractionRequiredError);
 * // Here a program would call client.acquireToken({ scopes, onDeviceCode }) instead.
 * ```
 */
export class InteractionRequiredError extends DeviceFlowError {
  /** The server's error, when a server said so. */
  readonly serverError: ServerError | undefined;
  /**
   * Creates the error.
   * @param message Why.
   * @param serverError The server's answer, if one caused it.
   */
  constructor(message: string, serverError?: ServerError) {
    super("interaction_required", message, serverError ? { cause: serverError } : undefined);
    this.name = "InteractionRequiredError";
    this.serverError = serverError;
  }
}

/**
 * The token cache cannot be opened, read or written.
 *
 * @example A cache that cannot be opened
 * ```ts
 * import assert from "node:assert/strict";
 * import { CacheError, TokenCache } from "@deviceflow/deviceflow";
 *
 * // A directory is no cache file.
 * const dir = await Deno.makeTempDir();
 * const error = await TokenCache.open(dir).catch((e) => e);
 * assert.ok(error instanceof CacheError);
 * assert.equal(error.code, "cache");
 * await Deno.remove(dir);
 * ```
 */
export class CacheError extends DeviceFlowError {
  /**
   * Creates the error.
   * @param message What failed and how to fix it.
   * @param options The underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("cache", message, options);
    this.name = "CacheError";
  }
}
