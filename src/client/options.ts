/**
 * Who a client is in the cache: its authority, normalised, and its
 * provider, from the options a client is made with. The client's
 * constructor and the CLI's cached `token` both use {@linkcode clientIdentity},
 * so that both look under the same key.
 *
 * @module
 */

import { guessProvider, PRESET_AUTHORITIES } from "../protocol/presets.ts";
import { type Provider, PROVIDERS } from "../types.ts";
import { secureUrl } from "../url_policy.ts";

/** What {@linkcode clientIdentity} reads of a client's options. */
export interface IdentityOptions {
  readonly authority?: string | undefined;
  readonly provider?: Provider | undefined;
  readonly endpoints?: {
    readonly deviceAuthorization: string;
    readonly token: string;
    readonly revocation?: string | undefined;
    readonly userinfo?: string | undefined;
  } | undefined;
}

/** A client's key in the cache. */
export interface ClientIdentity {
  /** The authority, normalised (no trailing slash). */
  readonly authority: string;
  /** The authority as a URL; `undefined` for a server known only by its endpoints. */
  readonly authorityUrl: URL | undefined;
  /** The provider whose quirks apply. */
  readonly provider: Provider;
}

/**
 * The authority and provider of a client's options: the authority given, or
 * the provider's public one, or the token endpoint's origin; the provider
 * given, or guessed from the authority's host.
 *
 * @param options The client's options.
 * @returns The identity.
 * @throws {TypeError} When an option is missing or malformed; the message names it.
 */
export function clientIdentity(options: IdentityOptions): ClientIdentity {
  if (
    options.provider !== undefined &&
    !(PROVIDERS as readonly string[]).includes(options.provider)
  ) {
    throw new TypeError(
      `Cannot create a DeviceFlowClient: provider must be entra, github, google or oidc, not "${options.provider}"`,
    );
  }
  if (options.endpoints !== undefined) {
    const e = options.endpoints;
    if (e === null || typeof e !== "object") {
      throw new TypeError("Cannot create a DeviceFlowClient: endpoints must be an object");
    }
    secureUrl(e.deviceAuthorization, "endpoints.deviceAuthorization");
    secureUrl(e.token, "endpoints.token");
    if (e.revocation !== undefined) secureUrl(e.revocation, "endpoints.revocation");
    if (e.userinfo !== undefined) secureUrl(e.userinfo, "endpoints.userinfo");
  }
  let authority = options.authority;
  if (authority === undefined && options.provider) {
    authority = PRESET_AUTHORITIES[options.provider];
  }
  if (authority === undefined && options.endpoints === undefined) {
    throw new TypeError(
      "Cannot create a DeviceFlowClient: authority is required (or endpoints, or provider github or google)",
    );
  }
  const authorityUrl = authority === undefined ? undefined : secureUrl(authority, "authority");
  return {
    authorityUrl,
    provider: options.provider ?? (authorityUrl ? guessProvider(authorityUrl) : "oidc"),
    authority: (authorityUrl?.href ?? new URL(options.endpoints!.token).origin)
      .replace(/\/+$/, ""),
  };
}
