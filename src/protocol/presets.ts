/**
 * Provider presets: the public GitHub and Google authorities, the provider
 * an authority's host means, and the endpoints of providers that need no
 * discovery. No HTTP: the cached `token` path uses it.
 *
 * @module
 */

import type { Endpoints, Provider } from "../types.ts";

const ENTRA_HOSTS = new Set([
  "login.microsoftonline.com",
  "login.microsoftonline.us",
  "login.chinacloudapi.cn",
  "login-us.microsoftonline.com",
  "login.microsoft.com",
  "login.windows.net",
  "login.partner.microsoftonline.cn",
]);

const ENTRA_SUFFIXES = [".b2clogin.com", ".ciamlogin.com"];

/** The public GitHub and Google authorities, used when none is given. */
export const PRESET_AUTHORITIES: Readonly<Partial<Record<Provider, string>>> = {
  github: "https://github.com",
  google: "https://accounts.google.com",
};

/**
 * Guesses the provider from an authority's host.
 *
 * @param authority The authority URL.
 * @returns The provider whose quirks apply.
 */
export function guessProvider(authority: URL): Provider {
  const host = authority.hostname.toLowerCase();
  if (ENTRA_HOSTS.has(host) || ENTRA_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
    return "entra";
  }
  if (host === "github.com") return "github";
  if (host === "accounts.google.com" || host === "oauth2.googleapis.com") return "google";
  return "oidc";
}

/** The endpoints of a provider that needs no discovery, or `undefined` when discovery is needed. */
export function presetEndpoints(provider: Provider, authority: URL): Endpoints | undefined {
  if (provider === "github") {
    // GitHub Enterprise Server uses the same paths on its own host.
    return {
      deviceAuthorization: new URL("/login/device/code", authority.origin).href,
      token: new URL("/login/oauth/access_token", authority.origin).href,
    };
  }
  if (provider === "google") {
    return {
      deviceAuthorization: "https://oauth2.googleapis.com/device/code",
      token: "https://oauth2.googleapis.com/token",
      revocation: "https://oauth2.googleapis.com/revoke",
      userinfo: "https://openidconnect.googleapis.com/v1/userinfo",
      issuer: "https://accounts.google.com",
    };
  }
  return undefined;
}
