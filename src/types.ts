/**
 * The public data types: what a sign-in produces and what the client is
 * configured with.
 *
 * @module
 */

/** The providers whose quirks the client knows. `oidc` is any standards-compliant server. */
export type Provider = "entra" | "github" | "google" | "oidc";

/** The endpoints of an authorization server that the client calls. */
export interface Endpoints {
  /** The device authorization endpoint (RFC 8628 section 3.1). */
  readonly deviceAuthorization: string;
  /** The token endpoint (RFC 6749 section 3.2). */
  readonly token: string;
  /** The revocation endpoint (RFC 7009), when the server has one. */
  readonly revocation?: string;
  /** The OpenID Connect userinfo endpoint, when the server has one. */
  readonly userinfo?: string;
  /** The issuer the metadata named, when discovery was used; ID tokens must carry it. */
  readonly issuer?: string;
}

/**
 * What the device authorization endpoint answered: the code the person
 * enters, where to enter it, and the secret device code the client polls
 * with. Plain data, so it can be stored and resumed by another process.
 */
export interface DeviceCode {
  /** The secret code the client polls with. Never show it. */
  readonly deviceCode: string;
  /** The short code the person types at {@linkcode DeviceCode.verificationUri}. */
  readonly userCode: string;
  /** Where the person enters the code. */
  readonly verificationUri: string;
  /** The address with the code already in it, when the server sends one (Entra and GitHub do not). */
  readonly verificationUriComplete?: string;
  /** When the device code stops working. */
  readonly expiresAt: Date;
  /** The minimum number of seconds between polls, as the server asked (5 when it did not say). */
  readonly interval: number;
  /** A sentence to show the person: the server's own, or one composed from the address and the code. */
  readonly message: string;
  /** The scopes that were requested. */
  readonly scopes: readonly string[];
}

/** A signed-in identity, as the cache knows it. */
export interface Account {
  /** What the person signs in as: `preferred_username`, email or login. */
  readonly username: string;
  /** A stable identifier of the person across sign-ins (Entra: `uid.utid`; OIDC: `sub`). */
  readonly homeAccountId: string;
  /** The directory (tenant) the person signed in to, when the server says. */
  readonly tenantId?: string;
  /** The authority (issuer or base URL) the account signed in at. */
  readonly authority: string;
  /** The client ID that signed in. */
  readonly clientId: string;
}

/** The tokens a sign-in or a refresh produced. */
export interface TokenResult {
  /** The access token. Secret. */
  readonly accessToken: string;
  /** The token type, normally `Bearer`. */
  readonly tokenType: string;
  /** When the access token expires; absent when the server gave no lifetime (GitHub OAuth app tokens). */
  readonly expiresAt?: Date;
  /** When to refresh early, from Entra's `refresh_in`. */
  readonly refreshAt?: Date;
  /** The granted scopes (the requested ones when the server did not say). */
  readonly scopes: readonly string[];
  /** The refresh token, when the server issued one. Secret. */
  readonly refreshToken?: string;
  /** The raw ID token, when the server issued one. Secret. */
  readonly idToken?: string;
  /** The ID token's claims (decoded; the signature is not verified, the token came straight from the token endpoint over TLS). */
  readonly idTokenClaims?: Readonly<Record<string, unknown>>;
  /** Entra's family ID (`foci`), when the refresh token is a family refresh token. */
  readonly familyId?: string;
  /** The account the tokens belong to. */
  readonly account: Account;
}

/** Time, injectable so that tests need no real waiting. */
export interface Clock {
  /** The current time in milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** What {@linkcode DeviceFlowClient.acquireTokenByDeviceFlow} reports between polls. */
export type PollEvent =
  | { readonly type: "pending"; readonly interval: number; readonly expiresAt: Date }
  | { readonly type: "slow_down"; readonly interval: number; readonly expiresAt: Date }
  | {
    readonly type: "retry";
    readonly reason: string;
    readonly delay: number;
    readonly expiresAt: Date;
  };
