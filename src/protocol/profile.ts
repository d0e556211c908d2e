/**
 * Who signed in, when the token response has no ID token: GitHub's user
 * API; else userinfo, and where that refuses (a token without `openid`),
 * the authority's GitLab user API (`/api/v4/user`), so that such accounts
 * are named and kept apart rather than all "unknown".
 *
 * @module
 */

import { DeviceFlowError } from "../errors.ts";
import { getJson, type HttpContext } from "../http.ts";
import type { Endpoints, Provider } from "../types.ts";
import type { ProfileHint } from "./token_result.ts";

/**
 * The account's subject and name from the provider's user API.
 *
 * @param http HTTP settings.
 * @param provider The provider.
 * @param accessToken The new access token.
 * @param endpoints The server's endpoints.
 * @param signal Cancels it.
 * @returns The hint, or `undefined` when no API says.
 */
export async function fetchProfile(
  http: HttpContext,
  provider: Provider,
  accessToken: string,
  endpoints: Endpoints,
  signal?: AbortSignal,
): Promise<ProfileHint | undefined> {
  const origin = new URL(endpoints.token).origin;
  // GitLab's user API only behind a userinfo endpoint (GitLab's discovery
  // has one) that refused: no other server is sent the token there.
  const urls = provider === "github"
    ? [origin === "https://github.com" ? "https://api.github.com/user" : `${origin}/api/v3/user`]
    : endpoints.userinfo
    ? [endpoints.userinfo, `${origin}/api/v4/user`]
    : [];
  for (const url of urls) {
    const profile = await profileAt(http, url, accessToken, signal);
    if (profile) return profile;
  }
  return undefined;
}

async function profileAt(
  http: HttpContext,
  url: string,
  accessToken: string,
  signal?: AbortSignal,
): Promise<ProfileHint | undefined> {
  try {
    const result = await getJson(http, url, signal, { authorization: `Bearer ${accessToken}` });
    const body = result.body as Record<string, unknown> | undefined;
    if (result.status !== 200 || !body || typeof body !== "object") return undefined;
    const subject = body.sub ?? body.id;
    // OIDC's preferred_username, GitHub's login, GitLab's username.
    const username = body.preferred_username ?? body.login ?? body.username ?? body.email ??
      body.name ?? subject;
    if ((typeof subject !== "string" && typeof subject !== "number") || !username) {
      return undefined;
    }
    return { subject: String(subject), username: String(username) };
  } catch (error) {
    if (error instanceof DeviceFlowError && error.code === "cancelled") throw error;
    // The sign-in worked; not knowing the name is no reason to fail it.
    return undefined;
  }
}
