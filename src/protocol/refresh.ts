/**
 * The refresh token grant (RFC 6749 section 6), and which refusals mean the
 * person must sign in again.
 *
 * @module
 */

import type { ServerError } from "../errors.ts";
import { type HttpContext, type HttpResult, postForm } from "../http.ts";
import { type ClientCredentials, throwIfError, tokenExtras } from "./exchange.ts";

/**
 * Sends a refresh. Not sent again after a lost answer: the server may have
 * rotated the refresh token.
 *
 * @param http HTTP settings.
 * @param client The client.
 * @param tokenEndpoint The token endpoint.
 * @param request The refresh token, the scopes and claims to ask for.
 * @returns The answer, checked.
 */
export async function refreshGrant(
  http: HttpContext,
  client: ClientCredentials,
  tokenEndpoint: string,
  request: {
    readonly refreshToken: string;
    readonly scopes: readonly string[];
    readonly claims?: string | undefined;
    readonly signal?: AbortSignal | undefined;
  },
): Promise<HttpResult> {
  const form: Record<string, string> = {
    grant_type: "refresh_token",
    refresh_token: request.refreshToken,
    client_id: client.clientId,
    ...tokenExtras(client),
  };
  if (request.scopes.length) form.scope = request.scopes.join(" ");
  if (request.claims) form.claims = request.claims;
  const result = await postForm(http, tokenEndpoint, form, request.signal, "unprocessed");
  throwIfError(result);
  return result;
}

/**
 * Whether the server refused the refresh token itself: the person must sign
 * in again, whatever the provider calls it (RFC 6749's `invalid_grant`,
 * GitHub's `bad_refresh_token`, OpenID Connect's and Entra's interaction
 * signals). The refused token is never sent again.
 *
 * @param error The server's error.
 * @returns `true` when a sign-in is needed.
 */
export function needsInteraction(error: ServerError): boolean {
  return [
    "invalid_grant",
    "bad_refresh_token",
    "interaction_required",
    "consent_required",
    "login_required",
  ].includes(error.error) ||
    (error.suberror !== undefined &&
      [
        "basic_action",
        "additional_action",
        "message_only",
        "consent_required",
        "user_password_expired",
        "bad_token",
      ]
        .includes(error.suberror));
}
