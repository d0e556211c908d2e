/**
 * deviceflow: sign in with the OAuth 2.0 device authorization grant
 * (RFC 8628) from a machine without a browser, keep the tokens fresh in a
 * Deno KV cache, and call APIs with them. Works with Microsoft Entra ID,
 * GitHub, Google and any standards-compliant OpenID Connect or OAuth server.
 *
 * @example Sign in once, then get tokens silently from the cache
 * ```ts ignore
 * import { DeviceFlowClient, TokenCache } from "@deviceflow/deviceflow";
 *
 * const client = new DeviceFlowClient({
 *   authority: "https://login.microsoftonline.com/contoso.onmicrosoft.com",
 *   clientId: "00000000-0000-0000-0000-000000000000",
 *   cache: await TokenCache.open(),
 * });
 * const { accessToken } = await client.acquireToken({
 *   scopes: ["User.Read"],
 *   onDeviceCode: (code) => console.error(code.message),
 * });
 * ```
 *
 * @module
 */

export {
  type AcquireOptions,
  DeviceFlowClient,
  type DeviceFlowClientOptions,
  type InitiateOptions,
  type PollOptions,
  type SilentOptions,
} from "./src/client/client.ts";
export {
  type ApiFetchInit,
  type AuthChallenge,
  decodeClaimsChallenge,
  parseWwwAuthenticate,
} from "./src/client/api_fetch.ts";
export {
  AuthorizationDeclinedError,
  CacheError,
  CancelledError,
  DeviceFlowError,
  type DeviceFlowErrorCode,
  ExpiredTokenError,
  InteractionRequiredError,
  InvalidResponseError,
  NetworkError,
  ServerError,
  type ServerErrorDetails,
  TimeoutError,
} from "./src/errors.ts";
export type {
  Account,
  Clock,
  DeviceCode,
  Endpoints,
  PollEvent,
  Provider,
  TokenResult,
} from "./src/types.ts";
export { CacheKeyError, TokenCache } from "./cache.ts";
export { type DecodedJwt, decodeJwt } from "./src/jwt.ts";
export { VERSION } from "./src/version.ts";
