/**
 * Validation of what servers send: device authorization responses, token
 * responses and OAuth error bodies. Every field is checked, by name, and the
 * variants real servers use (PROTOCOL.md) are normalised here and nowhere else.
 *
 * @module
 */

import { InvalidResponseError, type ServerErrorDetails } from "../errors.ts";
import type { HttpResult } from "../http.ts";
import { redact, registerSecret } from "../redact.ts";
import { isVisibleAscii, plainText } from "../untrusted.ts";
import { unsafeAddressReason } from "../url_policy.ts";

/** RFC 8628 section 3.5: the interval when the server names none. */
export const DEFAULT_INTERVAL_SECONDS = 5;
// Longest strings accepted for fields a person sees, so that a broken server
// cannot flood the terminal.
const MAX_USER_CODE = 64;
const MAX_MESSAGE = 2048;
/** Longest token accepted: Entra's largest access tokens are about 8 KB; KV stores 64 KiB a value. */
const MAX_TOKEN = 32_768;
const MAX_DEVICE_CODE = 4096;
const MAX_TOKEN_TYPE = 64;
/**
 * Lifetimes beyond a year are taken as a year: a server that says "forever"
 * (or sends a nonsense number) must not lose a sign-in the person approved.
 */
export const MAX_LIFETIME_SECONDS = 365 * 24 * 60 * 60;

type Json = Record<string, unknown>;

/** A device authorization response, validated, in wire terms turned into ours. */
export interface ParsedDeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | undefined;
  expiresIn: number;
  interval: number;
  message: string | undefined;
}

/** A successful token response, validated. */
export interface ParsedTokenResponse {
  accessToken: string;
  tokenType: string;
  expiresIn: number | undefined;
  refreshIn: number | undefined;
  scope: string[] | undefined;
  refreshToken: string | undefined;
  idToken: string | undefined;
  clientInfo: string | undefined;
  foci: string | undefined;
}

function invalid(result: HttpResult, what: string): InvalidResponseError {
  const host = new URL(result.url).host;
  return new InvalidResponseError(`Invalid response from ${host}: ${what}`, {
    // The snippet of a token response holds the tokens.
    cause: { status: result.status, snippet: redact(result.snippet) },
  });
}

function asObject(result: HttpResult, what: string): Json {
  const body = result.body;
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalid(
      result,
      `expected a JSON object for the ${what} (HTTP ${result.status}), got: ${result.snippet}`,
    );
  }
  return body as Json;
}

/** The first of several names (snake_case, then the camelCase some servers use) present. */
function field(body: Json, ...names: string[]): [string, unknown] {
  for (const name of names) {
    if (body[name] !== undefined && body[name] !== null) return [name, body[name]];
  }
  return [names[0]!, undefined];
}

function requiredString(result: HttpResult, body: Json, ...names: string[]): string {
  const [name, value] = field(body, ...names);
  if (typeof value !== "string" || value.length === 0) {
    throw invalid(result, `"${name}" must be a non-empty string`);
  }
  return value;
}

function optionalString(result: HttpResult, body: Json, ...names: string[]): string | undefined {
  const [name, value] = field(body, ...names);
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw invalid(result, `"${name}" must be a string`);
  return value;
}

/** Numbers arrive as strings from some servers: parse, then check. */
function optionalSeconds(result: HttpResult, body: Json, ...names: string[]): number | undefined {
  const [name, value] = field(body, ...names);
  if (value === undefined) return undefined;
  const number = typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value)
    ? Number(value)
    : value;
  if (typeof number !== "number" || Number.isNaN(number) || number < 0) {
    throw invalid(result, `"${name}" must be a non-negative number of seconds`);
  }
  return Math.min(number, MAX_LIFETIME_SECONDS);
}

/**
 * A token or code: VSCHARs only (RFC 6749 appendix A), so that no output
 * format (a header, a shell line, git's protocol) can be made to carry an
 * extra line or variable by a server.
 */
function wireToken(
  result: HttpResult,
  name: string,
  value: string,
  max: number,
  spaces: boolean,
): string {
  if (value.length > max || !isVisibleAscii(value, spaces)) {
    throw invalid(
      result,
      `"${name}" must be at most ${max} printable ASCII characters${
        spaces ? "" : " without spaces"
      }`,
    );
  }
  return value;
}

/** A verification address a person is sent to: see {@linkcode unsafeAddressReason}. */
function verificationAddress(result: HttpResult, name: string, value: string): string {
  const why = unsafeAddressReason(value);
  if (why) throw invalid(result, `the server gave an unsafe address in "${name}": ${why}`);
  return value;
}

/**
 * Removes terminal control sequences and disguising characters, keeping
 * line breaks: whatever a server sends must not drive the terminal.
 *
 * @param text Text from a server.
 * @returns Plain text (see {@linkcode plainText}).
 */
export function stripControl(text: string): string {
  return plainText(text, true);
}

/**
 * Validates a device authorization response (RFC 8628 section 3.2).
 *
 * @param result The HTTP result of a 200 response.
 * @returns The normalised fields.
 */
export function parseDeviceAuthorization(result: HttpResult): ParsedDeviceAuthorization {
  const body = asObject(result, "device authorization response");
  const deviceCode = requiredString(result, body, "device_code", "deviceCode");
  registerSecret(deviceCode);
  wireToken(result, "device_code", deviceCode, MAX_DEVICE_CODE, true);
  const userCode = wireToken(
    result,
    "user_code",
    requiredString(result, body, "user_code", "userCode"),
    MAX_USER_CODE,
    false,
  );
  // Google says verification_url; AWS says verificationUri.
  const [uriName] = field(body, "verification_uri", "verification_url", "verificationUri");
  const verificationUri = verificationAddress(
    result,
    uriName,
    requiredString(result, body, "verification_uri", "verification_url", "verificationUri"),
  );
  const completeRaw = optionalString(
    result,
    body,
    "verification_uri_complete",
    "verification_url_complete",
    "verificationUriComplete",
  );
  const verificationUriComplete = completeRaw === undefined || completeRaw === ""
    ? undefined
    : verificationAddress(result, "verification_uri_complete", completeRaw);
  const expiresIn = optionalSeconds(result, body, "expires_in", "expiresIn");
  if (expiresIn === undefined || expiresIn <= 0) {
    throw invalid(result, `"expires_in" must be a positive number of seconds`);
  }
  const interval = optionalSeconds(result, body, "interval") ?? DEFAULT_INTERVAL_SECONDS;
  const message = optionalString(result, body, "message");
  return {
    deviceCode,
    userCode,
    verificationUri,
    verificationUriComplete,
    expiresIn,
    // A server that says 0 would have us poll in a busy loop.
    interval: Math.max(interval, 1),
    // One paragraph: a line break of the server's could forge a line of the
    // prompt (a second "Address:" above the real one).
    message: message
      ? plainText(message).replace(/ {2,}/g, " ").slice(0, MAX_MESSAGE).trim() || undefined
      : undefined,
  };
}

/**
 * Validates a successful token response (RFC 6749 section 5.1).
 *
 * @param result The HTTP result of a 200 response without an `error`.
 * @returns The normalised fields.
 */
export function parseTokenResponse(result: HttpResult): ParsedTokenResponse {
  const body = asObject(result, "token response");
  // Registered before they are checked: the error must not quote them.
  const accessToken = requiredString(result, body, "access_token", "accessToken");
  registerSecret(accessToken);
  const refreshToken = optionalString(result, body, "refresh_token", "refreshToken") || undefined;
  registerSecret(refreshToken);
  const idToken = optionalString(result, body, "id_token", "idToken") || undefined;
  registerSecret(idToken);
  wireToken(result, "access_token", accessToken, MAX_TOKEN, true);
  if (refreshToken) wireToken(result, "refresh_token", refreshToken, MAX_TOKEN, true);
  if (idToken) wireToken(result, "id_token", idToken, MAX_TOKEN, true);
  const tokenType = optionalString(result, body, "token_type", "tokenType");
  if (tokenType) wireToken(result, "token_type", tokenType, MAX_TOKEN_TYPE, false);
  const scopeRaw = optionalString(result, body, "scope");
  return {
    accessToken,
    // RFC 6749 requires token_type, but a missing one is always Bearer in practice.
    tokenType: tokenType || "Bearer",
    expiresIn: optionalSeconds(result, body, "expires_in", "expiresIn"),
    refreshIn: optionalSeconds(result, body, "refresh_in"),
    // GitHub separates scopes with commas.
    scope: scopeRaw === undefined ? undefined : scopeRaw.split(/[\s,]+/).filter(Boolean),
    refreshToken,
    idToken,
    clientInfo: optionalString(result, body, "client_info") || undefined,
    foci: optionalString(result, body, "foci") || undefined,
  };
}

/**
 * Reads an OAuth error body (RFC 6749 section 5.2, with Entra's additions).
 * Servers disagree on the status (GitHub sends 200, Google 428 or 403), so the
 * `error` value decides, never the status alone.
 *
 * @param result Any HTTP result.
 * @returns The error details, or `undefined` when the body carries no `error` string.
 */
export function parseErrorBody(result: HttpResult): ServerErrorDetails | undefined {
  const body = result.body;
  if (body === null || typeof body !== "object" || Array.isArray(body)) return undefined;
  const json = body as Json;
  if (typeof json.error !== "string") return undefined;
  // An error code is one printable word (RFC 6749 section 5.2); one that is
  // nothing but control characters or spaces is no error code at all.
  const code = stripControl(json.error).replace(/\s+/g, " ").trim().slice(0, 200);
  if (!code) return undefined;
  const text = (value: unknown) => typeof value === "string" && value ? value : undefined;
  const details: ServerErrorDetails = { error: code, status: result.status };
  const description = text(json.error_description);
  if (description) details.errorDescription = stripControl(description).slice(0, MAX_MESSAGE);
  const uri = text(json.error_uri);
  if (uri) details.errorUri = stripControl(uri).slice(0, 500);
  if (Array.isArray(json.error_codes)) {
    const codes = json.error_codes.filter((c): c is number => Number.isInteger(c));
    if (codes.length) details.errorCodes = codes;
  }
  const suberror = text(json.suberror);
  if (suberror) details.suberror = stripControl(suberror).slice(0, 200);
  const correlationId = text(json.correlation_id);
  if (correlationId) details.correlationId = stripControl(correlationId).slice(0, 100);
  const traceId = text(json.trace_id);
  if (traceId) details.traceId = stripControl(traceId).slice(0, 100);
  const claims = text(json.claims);
  if (claims) details.claims = claims;
  return details;
}

/**
 * The `interval` a `slow_down` body carries (GitHub sends the new one).
 *
 * @param result The HTTP result.
 * @returns The interval in seconds, or `undefined`.
 */
export function intervalInErrorBody(result: HttpResult): number | undefined {
  const body = result.body as Json | undefined;
  const value = body?.interval;
  const number = typeof value === "string" ? Number(value) : value;
  return typeof number === "number" && Number.isFinite(number) && number > 0 && number < 3600
    ? number
    : undefined;
}
