/**
 * What every token-endpoint exchange shares: the client's credentials and
 * extras, and the check that turns an error answer into a typed error.
 *
 * @module
 */

import { InvalidResponseError, ServerError } from "../errors.ts";
import { type HttpResult, unavailable } from "../http.ts";
import { parseErrorBody } from "./responses.ts";
import type { Provider } from "../types.ts";

/** Who is asking: the client, and what its requests carry. */
export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret?: string | undefined;
  readonly provider: Provider;
}

/**
 * The fields every token request carries besides its grant: the secret of
 * a confidential client, and Entra's `client_info=1` (the home account's
 * uid and utid come back only when asked).
 *
 * @param client The client.
 * @returns The fields.
 */
export function tokenExtras(client: ClientCredentials): Record<string, string> {
  const extras: Record<string, string> = {};
  if (client.clientSecret) extras.client_secret = client.clientSecret;
  if (client.provider === "entra") extras.client_info = "1";
  return extras;
}

/**
 * Throws the typed error an answer stands for: the server's OAuth error, an
 * unavailable server (5xx, 429), or an answer that is not one.
 *
 * @param result The answer.
 * @throws {ServerError} For an OAuth error body.
 * @throws {InvalidResponseError} For another status.
 */
export function throwIfError(result: HttpResult): void {
  const error = parseErrorBody(result);
  if (error) throw new ServerError(error);
  if (result.status !== 200) {
    if (result.status >= 500 || result.status === 429) throw unavailable(result);
    throw new InvalidResponseError(
      `Invalid response from ${new URL(result.url).host}: HTTP ${result.status}: ${result.snippet}`,
    );
  }
}
