/**
 * Token revocation (RFC 7009) of a refresh token.
 *
 * @module
 */

import { DeviceFlowError } from "../errors.ts";
import { type HttpContext, postForm } from "../http.ts";
import type { ClientCredentials } from "./exchange.ts";

/** How a revocation went. */
export type Revocation =
  | { revoked: true; revocation: "revoked" }
  | { revoked: false; revocation: "refused"; status: number }
  | { revoked: false; revocation: "failed" };

/**
 * Revokes a refresh token. A failure is an outcome, not an error: the
 * token is gone from the cache either way.
 *
 * @param http HTTP settings.
 * @param client The client.
 * @param endpoint The revocation endpoint.
 * @param refreshToken The token.
 * @param signal Cancels it (a cancellation is thrown).
 * @returns Revoked, refused (with the status), or failed.
 */
export async function revokeRefreshToken(
  http: HttpContext,
  client: ClientCredentials,
  endpoint: string,
  refreshToken: string,
  signal?: AbortSignal,
): Promise<Revocation> {
  const form: Record<string, string> = {
    token: refreshToken,
    token_type_hint: "refresh_token",
    client_id: client.clientId,
  };
  if (client.clientSecret) form.client_secret = client.clientSecret;
  try {
    const result = await postForm(http, endpoint, form, signal);
    // RFC 7009 section 2.2: 200 whether or not the token was valid.
    return result.status === 200
      ? { revoked: true, revocation: "revoked" }
      : { revoked: false, revocation: "refused", status: result.status };
  } catch (error) {
    if (error instanceof DeviceFlowError && error.code === "cancelled") throw error;
    return { revoked: false, revocation: "failed" };
  }
}
