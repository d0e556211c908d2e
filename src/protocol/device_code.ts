/**
 * The device authorization request (RFC 8628 section 3.1) and its answer,
 * with the language asked for: Entra's `mkt`, OpenID Connect's `ui_locales`
 * where the server lists the language.
 *
 * @module
 */

import { type HttpContext, postForm } from "../http.ts";
import { type Locale, marketFor, say, uiLocaleFor } from "../i18n/locale.ts";
import type { DeviceCode, Endpoints } from "../types.ts";
import { type ClientCredentials, throwIfError } from "./exchange.ts";
import { parseDeviceAuthorization } from "./responses.ts";

/** What a device authorization request needs. */
export interface DeviceCodeRequest {
  readonly scopes: readonly string[];
  readonly claims?: string | undefined;
  /** The language of the sign-in, when one was chosen. */
  readonly locale?: Locale | undefined;
  readonly now: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Asks for a device code.
 *
 * @param http HTTP settings.
 * @param client The client.
 * @param endpoints The server's endpoints.
 * @param request The scopes, claims, language and time.
 * @returns The code to show, with the message in the chosen language when the server sent none.
 */
export async function requestDeviceCode(
  http: HttpContext,
  client: ClientCredentials,
  endpoints: Endpoints,
  request: DeviceCodeRequest,
): Promise<DeviceCode> {
  const form: Record<string, string> = { client_id: client.clientId };
  if (request.scopes.length) form.scope = request.scopes.join(" ");
  if (request.claims) form.claims = request.claims;
  if (request.locale) {
    // The server's own text in the same language: Entra's message, other servers' pages.
    if (client.provider === "entra") form.mkt = marketFor(request.locale);
    else {
      const tag = uiLocaleFor(request.locale, endpoints.uiLocalesSupported);
      if (tag) form.ui_locales = tag;
    }
  }
  if (client.clientSecret) form.client_secret = client.clientSecret;
  // Sent again once after 503 or 429: the server did not act on it.
  const result = await postForm(
    http,
    endpoints.deviceAuthorization,
    form,
    request.signal,
    "unprocessed",
  );
  throwIfError(result);
  const parsed = parseDeviceAuthorization(result);
  const code: { -readonly [K in keyof DeviceCode]: DeviceCode[K] } = {
    deviceCode: parsed.deviceCode,
    userCode: parsed.userCode,
    verificationUri: parsed.verificationUri,
    expiresAt: new Date(request.now + parsed.expiresIn * 1000),
    interval: parsed.interval,
    message: parsed.message ??
      say(request.locale ?? "en", "message", {
        address: parsed.verificationUri,
        code: parsed.userCode,
      }),
    scopes: [...request.scopes],
  };
  if (parsed.verificationUriComplete) {
    code.verificationUriComplete = parsed.verificationUriComplete;
  }
  return code;
}
