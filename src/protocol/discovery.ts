/**
 * Where to send requests: provider presets, Entra authorities, OIDC and
 * RFC 8414 discovery, and the rule that every endpoint is HTTPS unless it is
 * on a loopback address.
 *
 * @module
 */

import { DeviceFlowError, InvalidResponseError, ServerError } from "../errors.ts";
import { getJson, type HttpContext, type HttpResult, unavailable } from "../http.ts";
import { parseErrorBody } from "./responses.ts";
import type { Endpoints, Provider } from "../types.ts";
import { clip, secureUrl } from "../url_policy.ts";

/**
 * Where the metadata of an authority is published, in the order to try.
 *
 * @param provider The provider.
 * @param authority The authority URL.
 * @returns The discovery URLs.
 */
export function discoveryUrls(provider: Provider, authority: URL): string[] {
  const base = authority.href.replace(/\/+$/, "");
  if (provider === "entra") {
    // Entra's v2.0 metadata sits under the tenant, whatever form the
    // authority was given in (with or without /v2.0).
    return [`${base.replace(/\/v2\.0$/, "")}/v2.0/.well-known/openid-configuration`];
  }
  const path = authority.pathname.replace(/\/+$/, "");
  return [
    `${base}/.well-known/openid-configuration`,
    `${authority.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

/**
 * Fetches and validates an authority's metadata (OpenID Connect Discovery,
 * then RFC 8414).
 *
 * @param ctx HTTP settings.
 * @param provider The provider.
 * @param authority The authority URL.
 * @param signal Cancels the requests.
 * @returns The endpoints from the metadata.
 */
export async function discoverEndpoints(
  ctx: HttpContext,
  provider: Provider,
  authority: URL,
  signal?: AbortSignal,
): Promise<Endpoints> {
  const urls = discoveryUrls(provider, authority);
  let last: HttpResult | undefined;
  for (const url of urls) {
    // A GET changes nothing at the server: it gets one retry after a failure.
    const result = await getJson(ctx, url, signal, {}, "idempotent");
    if (result.status === 200) return endpointsFromMetadata(provider, authority, result);
    // An unavailable server is not a server without metadata.
    if (result.status >= 500 || result.status === 429) {
      const error = parseErrorBody(result);
      throw error ? new ServerError(error) : unavailable(result);
    }
    // Entra answers an unknown tenant with an error body (AADSTS90002). A 404
    // means "not here", whatever its body says (Spring Boot's has an "error"):
    // the next URL may have the metadata.
    const error = parseErrorBody(result);
    if (error && result.status >= 400 && result.status !== 404) throw new ServerError(error);
    last = result;
  }
  throw new DeviceFlowError(
    "no_device_endpoint",
    `${authority.host} publishes no OpenID or OAuth metadata at ${
      urls.join(" or ")
    } (HTTP ${last?.status}); check the authority, or give the endpoints explicitly`,
  );
}

function endpointsFromMetadata(
  provider: Provider,
  authority: URL,
  result: HttpResult,
): Endpoints {
  const host = authority.host;
  const body = result.body;
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new InvalidResponseError(
      `Invalid metadata from ${host}: expected a JSON object, got: ${result.snippet}`,
    );
  }
  const metadata = body as Record<string, unknown>;
  const issuer = metadata.issuer;
  if (typeof issuer !== "string" || !issuer) {
    throw new InvalidResponseError(`Invalid metadata from ${host}: "issuer" must be a string`);
  }
  // Entra's multi-tenant metadata names a templated issuer ({tenantid}).
  if (provider !== "entra" && trimSlash(issuer) !== trimSlash(authority.href)) {
    throw new InvalidResponseError(
      `Invalid metadata from ${host}: "issuer" is ${
        clip(issuer)
      }, but the authority is ${authority.href}`,
    );
  }
  const endpoint = (name: string): string | undefined => {
    const value = metadata[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") {
      throw new InvalidResponseError(`Invalid metadata from ${host}: "${name}" must be a string`);
    }
    try {
      return secureUrl(value, `the metadata's ${name}`).href;
    } catch (error) {
      throw new InvalidResponseError(`Invalid metadata from ${host}: ${(error as Error).message}`);
    }
  };
  const token = endpoint("token_endpoint");
  if (!token) {
    throw new InvalidResponseError(`Invalid metadata from ${host}: "token_endpoint" is missing`);
  }
  let deviceAuthorization = endpoint("device_authorization_endpoint");
  if (!deviceAuthorization && provider === "entra") {
    deviceAuthorization = token.replace(/\/token$/, "/devicecode");
  }
  if (!deviceAuthorization) {
    throw new DeviceFlowError(
      "no_device_endpoint",
      `${host} offers no device authorization endpoint (its metadata has no device_authorization_endpoint): the server may not support the device code flow; if it does, give the endpoint explicitly`,
    );
  }
  const endpoints: { -readonly [K in keyof Endpoints]: Endpoints[K] } = {
    deviceAuthorization,
    token,
    issuer,
  };
  const revocation = endpoint("revocation_endpoint");
  if (revocation) endpoints.revocation = revocation;
  const userinfo = endpoint("userinfo_endpoint");
  if (userinfo) endpoints.userinfo = userinfo;
  // Language tags only (RFC 5646's letters, digits and hyphens), at most 200 of them.
  const locales = metadata.ui_locales_supported;
  if (Array.isArray(locales)) {
    const tags = locales.filter((t): t is string =>
      typeof t === "string" && /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(t)
    ).slice(0, 200);
    if (tags.length) endpoints.uiLocalesSupported = tags;
  }
  return endpoints;
}

function trimSlash(value: string): string {
  return value.replace(/\/+$/, "");
}
