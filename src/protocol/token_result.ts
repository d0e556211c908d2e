/**
 * Turning a validated token response into a {@linkcode TokenResult}: the ID
 * token's claims, the account they name, and the scopes granted.
 *
 * @module
 */

import { InvalidResponseError } from "../errors.ts";
import { decodeBase64Url, decodeJwt } from "../jwt.ts";
import type { ParsedTokenResponse } from "./responses.ts";
import type { Account, Provider, TokenResult } from "../types.ts";
import { clip } from "../url_policy.ts";

/** What identifies the client and server a token came from. */
export interface TokenSource {
  readonly provider: Provider;
  readonly authority: string;
  readonly clientId: string;
  /** The issuer ID tokens must carry, when known and not templated (Entra). */
  readonly issuer: string | undefined;
}

/** Identity facts from outside the token response (userinfo, GitHub's /user). */
export interface ProfileHint {
  readonly subject: string;
  readonly username: string;
}

/**
 * Builds the result of a token response.
 *
 * @param parsed The validated token response.
 * @param source Client and server.
 * @param requestedScopes The scopes asked for, used when the server names none.
 * @param now The current time in milliseconds.
 * @param profile Identity facts when the response has no ID token.
 * @param previous The account the tokens replace (a refresh), kept when the response names none.
 * @returns The token result.
 */
export function buildTokenResult(
  parsed: ParsedTokenResponse,
  source: TokenSource,
  requestedScopes: readonly string[],
  now: number,
  profile?: ProfileHint,
  previous?: Account,
): TokenResult {
  const claims = parsed.idToken ? idTokenClaims(parsed.idToken, source, now) : undefined;
  const account = accountOf(parsed, claims, source, profile, previous);
  const result: { -readonly [K in keyof TokenResult]: TokenResult[K] } = {
    accessToken: parsed.accessToken,
    tokenType: parsed.tokenType,
    // GitHub App tokens carry `scope: ""`: their rights are the app's, not scopes.
    scopes:
      parsed.scope === undefined || (parsed.scope.length === 0 && source.provider === "github")
        ? [...requestedScopes]
        : parsed.scope,
    account,
  };
  if (parsed.expiresIn !== undefined) result.expiresAt = new Date(now + parsed.expiresIn * 1000);
  if (parsed.refreshIn !== undefined) result.refreshAt = new Date(now + parsed.refreshIn * 1000);
  if (parsed.refreshToken) result.refreshToken = parsed.refreshToken;
  if (parsed.idToken) result.idToken = parsed.idToken;
  if (claims) result.idTokenClaims = claims;
  if (parsed.foci) result.familyId = parsed.foci;
  return result;
}

/**
 * How far the client's clock may disagree with the server's when an ID token's
 * `exp` and `nbf` are checked. The token was issued a moment ago by the token
 * endpoint itself, so only a clock that is badly off can make it look expired.
 */
const CLOCK_SKEW_SECONDS = 300;
/** OpenID Connect Core section 2: `sub` must not exceed 255 ASCII characters. */
const MAX_SUBJECT = 255;
/** Longer names are not names: the next candidate (or the subject) is used. */
const MAX_USERNAME = 256;

function idTokenClaims(
  idToken: string,
  source: TokenSource,
  now: number,
): Record<string, unknown> {
  const decoded = decodeJwt(idToken);
  if (!decoded) {
    throw new InvalidResponseError(`Invalid token response: "id_token" is not a JWT`);
  }
  const { claims } = decoded;
  if (typeof claims.sub !== "string" || !claims.sub || claims.sub.length > MAX_SUBJECT) {
    throw new InvalidResponseError(
      `Invalid ID token: the "sub" claim must be a string of 1 to ${MAX_SUBJECT} characters`,
    );
  }
  const aud = claims.aud;
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.includes(source.clientId)) {
    throw new InvalidResponseError(
      `Invalid ID token: its audience ("aud") does not include the client ID ${source.clientId}`,
    );
  }
  if (source.issuer !== undefined && claims.iss !== source.issuer) {
    throw new InvalidResponseError(
      `Invalid ID token: its issuer ("iss") is ${
        clip(JSON.stringify(claims.iss) ?? "missing")
      }, expected ${source.issuer}`,
    );
  }
  // OpenID Connect Core 3.1.3.7: an expired ID token is rejected. `exp` is
  // required there, but servers that leave it out are let through: the token
  // was issued just now, over TLS.
  const seconds = now / 1000;
  for (const name of ["exp", "nbf"] as const) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) {
      throw new InvalidResponseError(
        `Invalid ID token: the "${name}" claim must be a number of seconds since 1970`,
      );
    }
  }
  if (typeof claims.exp === "number" && claims.exp < seconds - CLOCK_SKEW_SECONDS) {
    throw new InvalidResponseError(
      `Invalid ID token: it expired at ${isoDate(claims.exp)} ("exp"), before it was received at ${
        isoDate(seconds)
      }; if this computer's clock is wrong, correct it`,
    );
  }
  if (typeof claims.nbf === "number" && claims.nbf > seconds + CLOCK_SKEW_SECONDS) {
    throw new InvalidResponseError(
      `Invalid ID token: it is not valid before ${
        isoDate(claims.nbf)
      } ("nbf"), and it was received at ${
        isoDate(seconds)
      }; if this computer's clock is wrong, correct it`,
    );
  }
  return { ...claims };
}

function isoDate(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? `${seconds} s` : date.toISOString();
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value && value.length <= MAX_USERNAME ? value : undefined;
}

function accountOf(
  parsed: ParsedTokenResponse,
  claims: Record<string, unknown> | undefined,
  source: TokenSource,
  profile: ProfileHint | undefined,
  previous: Account | undefined,
): Account {
  const base = { authority: source.authority, clientId: source.clientId };
  const username = text(claims?.preferred_username) ?? text(claims?.upn) ??
    text(claims?.email) ?? text(claims?.name) ?? text(profile?.username) ?? previous?.username;
  // Entra identifies the home account by client_info {uid, utid}.
  const clientInfo = parsed.clientInfo ? parseClientInfo(parsed.clientInfo) : undefined;
  if (clientInfo) {
    return {
      ...base,
      username: username ?? clientInfo.uid,
      homeAccountId: `${clientInfo.uid}.${clientInfo.utid}`,
      tenantId: clientInfo.utid,
    };
  }
  const subject = text(claims?.sub) ?? text(profile?.subject);
  if (subject) {
    const tenantId = text(claims?.tid);
    return {
      ...base,
      username: username ?? subject,
      homeAccountId: subject,
      ...(tenantId ? { tenantId } : {}),
    };
  }
  if (previous) return previous;
  // Nothing names the person (no ID token, no profile): one anonymous
  // account per client and authority.
  return { ...base, username: "unknown", homeAccountId: "unknown" };
}

function parseClientInfo(value: string): { uid: string; utid: string } | undefined {
  const json = decodeBase64Url(value);
  if (json === undefined) return undefined;
  try {
    const info = JSON.parse(json) as Record<string, unknown>;
    const uid = text(info.uid);
    const utid = text(info.utid);
    return uid && utid ? { uid, utid } : undefined;
  } catch {
    return undefined;
  }
}
