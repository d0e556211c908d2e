/**
 * A real OAuth 2.0 / OpenID Connect authorization server on loopback, built on
 * node-oidc-provider, for tests, the demo and `deno task dev-server`.
 *
 * It speaks the device authorization grant (RFC 8628) with real HTML pages for
 * entering the user code, confirming the device, logging in and consenting, and
 * it can misbehave on purpose (slow_down, Entra-style endpoint aliases) so
 * clients can be tested against the awkward parts of the protocol.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";

/** Options for {@linkcode startDevServer}. All durations are in seconds. */
export interface DevServerOptions {
  /** Port to listen on; 0 or absent picks a free port. Only 127.0.0.1 is bound. */
  port?: number;
  /** ID of the one public client; defaults to `"deviceflow-dev"`. */
  clientId?: string;
  /** Lifetime of device codes; defaults to 600. */
  deviceCodeTtl?: number;
  /** Lifetime of access tokens (and ID tokens); defaults to 3600. */
  accessTokenTtl?: number;
  /** Lifetime of refresh tokens; defaults to 14 days. */
  refreshTokenTtl?: number;
  /**
   * Polling interval to put in device authorization responses. oidc-provider
   * sends none by itself, so clients fall back to the RFC 8628 default of 5.
   */
  interval?: number;
  /**
   * When to answer a device code poll with `slow_down`:
   * - `"never"` (default): never.
   * - `"enforce"`: when the poll arrives sooner than the code's current interval
   *   after the previous poll for that code; each `slow_down` adds 5 s to that
   *   code's interval (RFC 8628 section 3.5, as Keycloak does).
   * - a number N: the first N polls of every device code, whatever their timing.
   */
  slowDown?: "never" | "enforce" | number;
  /** Answer every device code poll with `access_denied`: the person declined. */
  deny?: boolean;
  /**
   * Also accept the Microsoft Entra spellings MSAL uses: `POST {issuer}/devicecode`
   * for the device authorization endpoint and `grant_type=device_code`.
   */
  msalCompat?: boolean;
  /** PEM certificate and key; when given the server speaks HTTPS. */
  tls?: { cert: string; key: string };
  /**
   * Holds every refresh_token grant this many milliseconds before handling it,
   * so that a test can kill a client in the middle of a refresh. The refresh
   * is handled even when the client has gone by then, as a server that
   * received it would.
   */
  refreshDelayMs?: number;
  /**
   * Whether a refresh issues a new refresh token and retires the old one
   * (default true). oidc-provider then treats a retired token used again as
   * stolen and revokes its grant.
   */
  rotateRefreshTokens?: boolean;
  /**
   * The issuer to announce instead of the server's own address: the address
   * of a proxy in front of it, which clients then use for every request.
   */
  issuer?: string;
  /**
   * Known accounts by login name. When absent, any login name is accepted with
   * any password. When present, only these logins work, and a `password`, when
   * set, must match.
   */
  accounts?: Record<string, DevAccount>;
}

/** An account of the dev server; missing claims are derived from the login name. */
export interface DevAccount {
  /** Password the login page requires; any password is accepted when absent. */
  password?: string;
  /** `email` claim; defaults to `{login}@example.com`. */
  email?: string;
  /** `name` claim; defaults to the login name with a capital first letter. */
  name?: string;
}

/** One HTTP request the dev server received. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** Path as the client sent it, before any alias was rewritten, without the query. */
  path: string;
  /** `grant_type` form parameter as the client sent it, when there was one. */
  grantType?: string;
  /** Arrival time from `performance.now()`, in milliseconds. */
  time: number;
  /** HTTP status of the response (0 while the request is still being handled). */
  status: number;
  /** `device_code` form parameter; recorded for device code polls only. */
  deviceCode?: string;
}

/** A running dev server; see {@linkcode startDevServer}. */
export interface DevServer {
  /** Issuer identifier, e.g. `http://127.0.0.1:PORT` (no trailing slash). */
  issuer: string;
  /** Where the server listens, e.g. `http://127.0.0.1:PORT`; the issuer unless one was given. */
  url: string;
  /** ID of the registered public client. */
  clientId: string;
  /** Every request, in arrival order. */
  requests: RecordedRequest[];
  /**
   * Token requests with the device code grant (either spelling), optionally
   * only those for one device code.
   */
  polls(deviceCode?: string): RecordedRequest[];
  /** Number of recorded requests matching every given field exactly. */
  count(filter: { path?: string; grantType?: string }): number;
  /** Destroys every grant, access token and refresh token, so refreshing gets `invalid_grant`. */
  revokeAllGrants(): Promise<void>;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** RFC 8628 grant type, and the spelling Entra and MSAL use. */
const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const MSAL_DEVICE_CODE_GRANT = "device_code";

/** oidc-provider's default routes, which this server keeps. */
const ROUTES = {
  deviceAuthorization: "/device/auth",
  token: "/token",
  interaction: "/interaction/",
} as const;
const MSAL_DEVICE_AUTHORIZATION_PATH = "/devicecode";

/** RFC 8628 section 3.5: a client without an interval polls every 5 s, and slow_down adds 5 s. */
const DEFAULT_INTERVAL = 5;
const SLOW_DOWN_STEP = 5;

/** Same limit oidc-provider applies to the bodies it parses. */
const BODY_LIMIT = 56 * 1024;

/**
 * How long expired artifacts stay in the store. oidc-provider looks expired
 * device codes up to answer `expired_token`; a store that dropped them on time
 * would turn that into `invalid_grant`.
 */
const EXPIRED_GRACE_MS = 10 * 60 * 1000;

// The slices of oidc-provider and Koa this module uses. The package ships no
// type declarations, so these keep the rest of the file type-checked.

type Next = () => Promise<void>;

interface KoaContext {
  method: string;
  path: string;
  status: number;
  body: unknown;
  type: string;
  req: IncomingMessage;
  res: ServerResponse;
  get(field: string): string;
  set(field: string, value: string): void;
  redirect(url: string): void;
  is(...types: string[]): string | false | null;
}

interface InteractionDetails {
  uid: string;
  prompt: {
    name: string;
    details: {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
  };
  params: Record<string, unknown>;
  session?: { accountId?: string };
  grantId?: string;
}

interface OidcGrant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(indicator: string, scope: string): void;
  save(): Promise<string>;
}

interface OidcProvider {
  use(middleware: (ctx: KoaContext, next: Next) => Promise<void>): unknown;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionResult(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options: { mergeWithLastSubmission: boolean },
  ): Promise<string>;
  Grant: {
    new (init: { accountId: string; clientId: string }): OidcGrant;
    find(id: string): Promise<OidcGrant | undefined>;
  };
  Client: { find(id: string): Promise<{ clientId: string; clientName?: string } | undefined> };
}

type ProviderConstructor = new (issuer: string, configuration: object) => OidcProvider;

/** The parts of oidc-provider's objects that its configuration callbacks read. */
interface OidcContext {
  oidc: { client?: { clientId: string; clientName?: string } };
  body: unknown;
  type: string;
}

let providerModule: Promise<ProviderConstructor> | undefined;

/**
 * Imports oidc-provider once. Its entry module warns "Unsupported runtime" on
 * stderr whenever `Deno` exists, with no way to opt out, and the warning would
 * end up in every test run and in the dev server's output, so it is dropped.
 */
function importProvider(): Promise<ProviderConstructor> {
  providerModule ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === "string" && args[0].includes("Unsupported runtime")) return;
      warn(...args);
    };
    try {
      // A dev-only dependency: kept out of deno.json so the library itself has none.
      // deno-lint-ignore no-import-prefix
      const module = await import("npm:oidc-provider@9.13.3");
      return module.default as ProviderConstructor;
    } finally {
      console.warn = warn;
    }
  })();
  return providerModule;
}

let signingKeys: Promise<{ keys: JsonWebKey[] }> | undefined;

/**
 * One RS256 key per process, because generating RSA keys is slow and tests start
 * many servers. Configuring it also silences oidc-provider's warning about its
 * built-in development keys.
 */
function getSigningKeys(): Promise<{ keys: JsonWebKey[] }> {
  signingKeys ??= (async () => {
    const pair = await crypto.subtle.generateKey(
      {
        name: "RSASSA-PKCS1-v1_5",
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      },
      true,
      ["sign", "verify"],
    );
    const { kty, n, e, d, p, q, dp, dq, qi } = await crypto.subtle.exportKey(
      "jwk",
      pair.privateKey,
    );
    const kid = `dev-${crypto.randomUUID().slice(0, 8)}`;
    return {
      keys: [{ kty, n, e, d, p, q, dp, dq, qi, kid, use: "sig", alg: "RS256" } as JsonWebKey],
    };
  })();
  return signingKeys;
}

interface StoredArtifact {
  model: string;
  id: string;
  payload: Record<string, unknown>;
  /** Epoch milliseconds; `Infinity` when oidc-provider gave no lifetime. */
  expiresAt: number;
}

/**
 * An in-memory adapter (oidc-provider's storage interface) whose contents the
 * server can inspect and clear. oidc-provider's own memory adapter keeps its
 * store private and warns on every start. Payloads are cloned in and out so the
 * provider sees the same isolation a database would give it.
 */
class ArtifactStore {
  readonly #entries = new Map<string, StoredArtifact>();

  /** The factory oidc-provider's `adapter` option takes. */
  adapterFor = (model: string) => {
    const key = (id: string) => `${model}:${id}`;
    return {
      upsert: (id: string, payload: Record<string, unknown>, expiresIn?: number) => {
        this.#sweep();
        const expiresAt = typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : Infinity;
        this.#entries.set(key(id), { model, id, payload: structuredClone(payload), expiresAt });
        return Promise.resolve();
      },
      find: (id: string) => Promise.resolve(this.#copy(this.#get(key(id)))),
      findByUserCode: (userCode: string) =>
        Promise.resolve(
          this.#copy(this.#findWhere((e) => e.model === model && e.payload.userCode === userCode)),
        ),
      findByUid: (uid: string) =>
        Promise.resolve(
          this.#copy(this.#findWhere((e) => e.model === model && e.payload.uid === uid)),
        ),
      consume: (id: string) => {
        const entry = this.#get(key(id));
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
        return Promise.resolve();
      },
      destroy: (id: string) => {
        this.#entries.delete(key(id));
        return Promise.resolve();
      },
      revokeByGrantId: (grantId: string) => {
        for (const [k, entry] of this.#entries) {
          if (entry.payload.grantId === grantId) this.#entries.delete(k);
        }
        return Promise.resolve();
      },
    };
  };

  /** Deletes every artifact of the given models. */
  deleteModels(models: ReadonlySet<string>): void {
    for (const [k, entry] of this.#entries) {
      if (models.has(entry.model)) this.#entries.delete(k);
    }
  }

  #get(k: string): StoredArtifact | undefined {
    const entry = this.#entries.get(k);
    if (entry && entry.expiresAt + EXPIRED_GRACE_MS <= Date.now()) {
      this.#entries.delete(k);
      return undefined;
    }
    return entry;
  }

  #findWhere(match: (entry: StoredArtifact) => boolean): StoredArtifact | undefined {
    for (const [k, entry] of this.#entries) {
      if (match(entry)) return this.#get(k);
    }
    return undefined;
  }

  #copy(entry: StoredArtifact | undefined): Record<string, unknown> | undefined {
    return entry && structuredClone(entry.payload);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [k, entry] of this.#entries) {
      if (entry.expiresAt + EXPIRED_GRACE_MS <= now) this.#entries.delete(k);
    }
  }
}

/** Per device code polling state for the slow_down simulation. */
interface PollState {
  interval: number;
  lastPoll?: number;
  slowDowns: number;
}

/**
 * Starts an authorization server on 127.0.0.1 with one public client that may
 * use the device code and refresh token grants.
 *
 * Endpoints are oidc-provider's defaults: discovery at
 * `{issuer}/.well-known/openid-configuration`, device authorization at
 * `/device/auth`, verification page at `/device`, token at `/token`, userinfo at
 * `/me`, revocation at `/token/revocation`, introspection at
 * `/token/introspection`. Scopes: `openid profile email offline_access`; a
 * refresh token is issued when `offline_access` is granted and rotated on use.
 *
 * @param options Lifetimes, the polling behaviour to simulate, TLS and accounts.
 * @returns The running server; call {@linkcode DevServer.close} when done.
 * @see https://www.rfc-editor.org/rfc/rfc8628
 *
 * @example Start a server and read its discovery document
 * ```ts ignore
 * const server = await startDevServer({ interval: 1 });
 * try {
 *   const res = await fetch(`${server.issuer}/.well-known/openid-configuration`);
 *   console.log((await res.json()).device_authorization_endpoint);
 * } finally {
 *   await server.close();
 * }
 * ```
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const clientId = options.clientId ?? "deviceflow-dev";
  const deviceCodeTtl = options.deviceCodeTtl ?? 600;
  const accessTokenTtl = options.accessTokenTtl ?? 3600;
  const refreshTokenTtl = options.refreshTokenTtl ?? 14 * 24 * 60 * 60;
  const slowDown = options.slowDown ?? "never";
  const { accounts, interval, msalCompat = false, tls } = options;
  for (
    const [name, value] of Object.entries({ deviceCodeTtl, accessTokenTtl, refreshTokenTtl })
  ) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new RangeError(`Cannot start dev server: ${name} must be a positive integer`);
    }
  }
  if (interval !== undefined && (!Number.isInteger(interval) || interval < 0)) {
    throw new RangeError("Cannot start dev server: interval must be a non-negative integer");
  }

  const [Provider, jwks] = await Promise.all([importProvider(), getSigningKeys()]);
  const store = new ArtifactStore();
  const requests: RecordedRequest[] = [];
  const pollStates = new Map<string, PollState>();

  // The issuer contains the port, and the provider needs the issuer, so listen
  // first and attach the provider as the request listener once it exists.
  const server: Server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key })
    : createHttpServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  const issuer = options.issuer?.replace(/\/+$/, "") ?? url;

  const findAccount = (_ctx: unknown, sub: string) => {
    const account = lookupAccount(accounts, sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      claims: () => ({
        sub,
        preferred_username: sub,
        email: account.email ?? `${sub}@example.com`,
        name: account.name ?? sub.charAt(0).toUpperCase() + sub.slice(1),
      }),
    };
  };

  const provider = new Provider(issuer, {
    adapter: store.adapterFor,
    jwks,
    clients: [{
      client_id: clientId,
      client_name: "deviceflow dev client",
      application_type: "native",
      token_endpoint_auth_method: "none",
      grant_types: [DEVICE_CODE_GRANT, "refresh_token"],
      response_types: [],
      redirect_uris: [],
    }],
    scopes: ["openid", "profile", "email", "offline_access"],
    claims: {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ["sub"],
      profile: ["name", "preferred_username"],
      email: ["email", "email_verified"],
    },
    // By default ID tokens only carry scope claims when no access token is
    // issued; clients here want the user's name from the ID token itself.
    conformIdTokenClaims: false,
    cookies: { keys: [crypto.randomUUID()] },
    findAccount,
    issueRefreshToken: (
      _ctx: unknown,
      client: { grantTypeAllowed(type: string): boolean },
      source: {
        scopes: Set<string>;
      },
    ) => client.grantTypeAllowed("refresh_token") && source.scopes.has("offline_access"),
    rotateRefreshToken: () => options.rotateRefreshTokens ?? true,
    ttl: {
      AccessToken: accessTokenTtl,
      IdToken: accessTokenTtl,
      DeviceCode: deviceCodeTtl,
      RefreshToken: refreshTokenTtl,
      Grant: refreshTokenTtl,
      Interaction: 60 * 60,
      Session: 14 * 24 * 60 * 60,
    },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) =>
        `${ROUTES.interaction}${interaction.uid}`,
    },
    // Dev server: any origin may call it from a browser.
    clientBasedCORS: () => true,
    renderError: (ctx: OidcContext, out: Record<string, string>) => {
      ctx.type = "html";
      ctx.body = page(
        "Error",
        `<h1>Something went wrong</h1><p class="error">${escapeHtml(out.error ?? "error")}: ${
          escapeHtml(out.error_description ?? "")
        }</p>`,
      );
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: userCodeInputPage,
        userCodeConfirmSource: userCodeConfirmPage,
        successSource: successPage,
      },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: { clientId: string }) =>
          token.clientId === client.clientId,
      },
      introspection: {
        enabled: true,
        allowedPolicy: (
          ctx: OidcContext,
          client: { clientAuthMethod: string },
          token: { clientId: string },
        ) => client.clientAuthMethod !== "none" || token.clientId === ctx.oidc.client?.clientId,
      },
      userinfo: { enabled: true },
    },
  });

  const interactions = interactionPages(provider, accounts);

  provider.use(async (ctx, next) => {
    const record: RecordedRequest = {
      method: ctx.method,
      path: ctx.path,
      time: performance.now(),
      status: 0,
    };
    requests.push(record);
    try {
      let form: URLSearchParams | undefined;
      if (ctx.method === "POST" && ctx.is("application/x-www-form-urlencoded")) {
        form = await readForm(ctx);
      }
      const grantType = form?.get("grant_type") ?? undefined;
      if (grantType !== undefined) record.grantType = grantType;

      if (msalCompat && ctx.method === "POST" && ctx.path === MSAL_DEVICE_AUTHORIZATION_PATH) {
        ctx.path = ROUTES.deviceAuthorization;
      }
      if (msalCompat && form && grantType === MSAL_DEVICE_CODE_GRANT) {
        form.set("grant_type", DEVICE_CODE_GRANT);
      }
      if (form) replayBody(ctx.req, form);

      if (ctx.path.startsWith(ROUTES.interaction)) {
        await interactions(ctx, form);
        return;
      }

      const isPoll = ctx.path === ROUTES.token && form?.get("grant_type") === DEVICE_CODE_GRANT;
      const deviceCode = isPoll ? form?.get("device_code") ?? undefined : undefined;
      if (deviceCode !== undefined) {
        record.deviceCode = deviceCode;
        const refusal = options.deny
          ? ["access_denied", "the person declined the sign-in"]
          : shouldSlowDown(pollStates.get(deviceCode), slowDown, record.time)
          ? ["slow_down", "you are polling too quickly and should back off"]
          : undefined;
        if (refusal) {
          ctx.status = 400;
          ctx.set("Cache-Control", "no-store");
          ctx.body = { error: refusal[0], error_description: refusal[1] };
          return;
        }
      }

      if (options.refreshDelayMs && ctx.path === ROUTES.token && grantType === "refresh_token") {
        await new Promise((resolve) => setTimeout(resolve, options.refreshDelayMs));
      }

      await next();

      if (ctx.path === ROUTES.deviceAuthorization && ctx.status === 200 && isRecord(ctx.body)) {
        decorateDeviceAuthorization(ctx.body, interval, msalCompat);
        if (typeof ctx.body.device_code === "string") {
          pollStates.set(ctx.body.device_code, {
            interval: interval ?? DEFAULT_INTERVAL,
            slowDowns: 0,
          });
        }
      }
    } catch (error) {
      // Koa answers errors that escape the middleware only after this has run.
      const status = (error as { status?: unknown }).status;
      record.status = typeof status === "number" ? status : 500;
      throw error;
    } finally {
      record.status ||= ctx.status;
    }
  });

  server.on("request", provider.callback());

  let closing: Promise<void> | undefined;
  return {
    issuer,
    url,
    clientId,
    requests,
    polls: (deviceCode) =>
      requests.filter((r) =>
        (r.grantType === DEVICE_CODE_GRANT || r.grantType === MSAL_DEVICE_CODE_GRANT) &&
        r.deviceCode !== undefined &&
        (deviceCode === undefined || r.deviceCode === deviceCode)
      ),
    count: (filter) =>
      requests.filter((r) =>
        (filter.path === undefined || r.path === filter.path) &&
        (filter.grantType === undefined || r.grantType === filter.grantType)
      ).length,
    revokeAllGrants: () => {
      store.deleteModels(new Set(["Grant", "RefreshToken", "AccessToken"]));
      return Promise.resolve();
    },
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Clients keep connections alive; without this close() would wait for them.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * Decides whether a device code poll gets `slow_down`, and updates the code's
 * state. Polls for device codes this server did not issue are left to the
 * provider, which answers `invalid_grant`.
 */
function shouldSlowDown(
  state: PollState | undefined,
  mode: "never" | "enforce" | number,
  now: number,
): boolean {
  if (!state || mode === "never") return false;
  const previous = state.lastPoll;
  state.lastPoll = now;
  const tooSoon = mode === "enforce"
    ? previous !== undefined && now - previous < state.interval * 1000
    : state.slowDowns < mode;
  if (tooSoon) {
    state.slowDowns += 1;
    state.interval += SLOW_DOWN_STEP;
  }
  return tooSoon;
}

/** Adds what oidc-provider leaves out of the device authorization response. */
function decorateDeviceAuthorization(
  body: Record<string, unknown>,
  interval: number | undefined,
  msalCompat: boolean,
): void {
  if (interval !== undefined) body.interval = interval;
  // Entra sends a ready-made instruction, and MSAL passes it to the app's callback.
  if (msalCompat && typeof body.verification_uri === "string") {
    body.message = `To sign in, use a web browser to open the page ${body.verification_uri}` +
      ` and enter the code ${String(body.user_code)} to authenticate.`;
  }
}

/** Reads a form body that oidc-provider will read again; see {@linkcode replayBody}. */
async function readForm(ctx: KoaContext): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req.iterator({ destroyOnReturn: false })) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += bytes.length;
    if (size > BODY_LIMIT) {
      throw Object.assign(new Error("Request body too large"), { status: 413, expose: true });
    }
    chunks.push(bytes);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/**
 * Makes a consumed request body readable once more. oidc-provider reads the raw
 * stream itself (`req.readable`, `req.iterator()`) and complains about bodies
 * parsed upstream, but the middleware here must see `grant_type` and
 * `device_code` before the provider does (to answer slow_down without consuming
 * an approved code) and may rewrite `grant_type`.
 */
function replayBody(req: IncomingMessage, form: URLSearchParams): void {
  const body = Buffer.from(form.toString(), "utf8");
  req.headers["content-length"] = String(body.length);
  delete req.headers["transfer-encoding"];
  Object.defineProperty(req, "readable", { value: true, configurable: true });
  Object.defineProperty(req, "iterator", {
    configurable: true,
    value: async function* () {
      yield body;
    },
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Login and consent pages, served by the server's own middleware rather than
 * oidc-provider's devInteractions, which ignore passwords and warn on start.
 *
 * - `GET /interaction/{uid}` shows the login or the consent page.
 * - `POST /interaction/{uid}/login` checks the login and password.
 * - `POST /interaction/{uid}/consent` grants what was asked for.
 * - `POST /interaction/{uid}/abort` ends the interaction with `access_denied`.
 */
function interactionPages(
  provider: OidcProvider,
  accounts: Record<string, DevAccount> | undefined,
): (ctx: KoaContext, form: URLSearchParams | undefined) => Promise<void> {
  const finish = async (ctx: KoaContext, result: Record<string, unknown>, merge: boolean) => {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: merge,
    });
    ctx.redirect(returnTo);
    ctx.status = 303;
  };

  return async (ctx, form) => {
    ctx.set("Cache-Control", "no-store");
    try {
      const [uid = "", action = ""] = ctx.path.slice(ROUTES.interaction.length).split("/");
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== uid) {
        throw Object.assign(new Error("interaction cookie does not match this page"), {
          status: 400,
        });
      }
      const base = `${ROUTES.interaction}${encodeURIComponent(uid)}`;
      const clientId = String(details.params.client_id ?? "");
      const clientName = (await provider.Client.find(clientId))?.clientName ?? clientId;

      if (ctx.method === "GET" && action === "") {
        ctx.type = "html";
        ctx.body = details.prompt.name === "login"
          ? loginPage(base, clientName, stringParam(details.params.login_hint))
          : consentPage(base, clientName, details);
        return;
      }
      if (ctx.method !== "POST") {
        throw Object.assign(new Error("method not allowed"), { status: 405 });
      }
      switch (action) {
        case "login": {
          const login = form?.get("login")?.trim() ?? "";
          const password = form?.get("password") ?? "";
          const account = lookupAccount(accounts, login);
          if (
            details.prompt.name !== "login" || login === "" || !account ||
            (account.password !== undefined && account.password !== password)
          ) {
            ctx.status = 401;
            ctx.type = "html";
            ctx.body = loginPage(base, clientName, login, "Invalid login or password.");
            return;
          }
          await finish(ctx, { login: { accountId: login } }, false);
          return;
        }
        case "consent": {
          const { prompt, grantId, session } = details;
          const grant = grantId ? await provider.Grant.find(grantId) : new provider.Grant({
            accountId: session?.accountId ?? "",
            clientId,
          });
          if (!grant) throw Object.assign(new Error("grant not found"), { status: 400 });
          if (prompt.details.missingOIDCScope) {
            grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
          }
          if (prompt.details.missingOIDCClaims) {
            grant.addOIDCClaims(prompt.details.missingOIDCClaims);
          }
          for (
            const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})
          ) {
            grant.addResourceScope(indicator, scopes.join(" "));
          }
          await finish(ctx, { consent: { grantId: await grant.save() } }, true);
          return;
        }
        case "abort":
          await finish(ctx, {
            error: "access_denied",
            error_description: "End-User aborted interaction",
          }, false);
          return;
        default:
          throw Object.assign(new Error("not found"), { status: 404 });
      }
    } catch (error) {
      // oidc-provider's errors (e.g. SessionNotFound) carry a status and a description.
      const { status, error_description: description } = error as {
        status?: unknown;
        error_description?: unknown;
      };
      ctx.status = typeof status === "number" ? status : 400;
      ctx.type = "html";
      const message = typeof description === "string" ? description : String(error);
      ctx.body = page(
        "Error",
        `<h1>Something went wrong</h1><p class="error">${escapeHtml(message)}</p>`,
      );
    }
  };
}

/** The account for a login name; without an account list every name has an empty one. */
function lookupAccount(
  accounts: Record<string, DevAccount> | undefined,
  login: string,
): DevAccount | undefined {
  if (!accounts) return {};
  // Own properties only, so "constructor" and friends are not accounts.
  return Object.hasOwn(accounts, login) ? accounts[login] : undefined;
}

function stringParam(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function loginPage(base: string, clientName: string, login: string, error?: string): string {
  const client = escapeHtml(clientName);
  const value = escapeHtml(login);
  const message = error ? `<p class="error">${escapeHtml(error)}</p>` : "";
  return page(
    "Sign in",
    `<h1>Sign in</h1>
<p>to continue to <strong>${client}</strong></p>
${message}
<form method="post" action="${base}/login" autocomplete="off">
  <input type="text" name="login" placeholder="Login" value="${value}" required autofocus>
  <input type="password" name="password" placeholder="Password">
  <button type="submit">Sign in</button>
</form>
<form method="post" action="${base}/abort">
  <button type="submit" class="link">Cancel</button>
</form>`,
  );
}

function consentPage(base: string, clientName: string, details: InteractionDetails): string {
  const scopes = details.prompt.details.missingOIDCScope ?? [];
  const items = scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join("");
  return page(
    "Authorize",
    `<h1>Authorize ${escapeHtml(clientName)}</h1>
<p>${escapeHtml(clientName)} asks for:</p>
<ul>${items || "<li>the access you granted before</li>"}</ul>
<form method="post" action="${base}/consent">
  <button type="submit">Allow</button>
</form>
<form method="post" action="${base}/abort">
  <button type="submit" class="link">Deny</button>
</form>`,
  );
}

function userCodeInputPage(
  ctx: OidcContext,
  form: string,
  _out?: unknown,
  error?: { name?: string; userCode?: string },
): void {
  let message = "<p>Enter the code displayed on your device.</p>";
  if (error?.name === "AbortedError") {
    message = '<p class="error">The sign-in request was interrupted.</p>';
  } else if (error?.userCode !== undefined || error?.name === "NoCodeError") {
    message = '<p class="error">The code you entered is incorrect. Try again.</p>';
  } else if (error) {
    message = '<p class="error">There was an error processing your request.</p>';
  }
  ctx.type = "html";
  ctx.body = page(
    "Enter code",
    `<h1>Connect a device</h1>
${message}
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

function userCodeConfirmPage(
  ctx: OidcContext,
  form: string,
  client: { clientId: string; clientName?: string },
  _deviceInfo: unknown,
  userCode: string,
): void {
  const name = escapeHtml(client.clientName ?? client.clientId);
  ctx.type = "html";
  ctx.body = page(
    "Confirm device",
    `<h1>Confirm device</h1>
<p><strong>${name}</strong> wants to sign in. Check that your device shows this code:</p>
<p><code>${escapeHtml(userCode)}</code></p>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="link">Abort</button>`,
  );
}

function successPage(ctx: OidcContext): void {
  const name = ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? "the device";
  ctx.type = "html";
  ctx.body = page(
    "Sign-in success",
    `<h1>Sign-in success</h1>
<p>Your sign-in to ${escapeHtml(name)} was successful. You can now close this page.</p>`,
  );
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} - deviceflow dev server</title>
<style>
body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}
input,button{display:block;width:100%;box-sizing:border-box;margin:.5rem 0;padding:.5rem;font-size:1rem}
.error{color:#b00020}.link{background:none;border:none;color:#555}code{font-size:2rem}
</style>
</head>
<body>
${body}
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Where the running dev server says its address, for `deno task approve`. */
export const DEV_SERVER_STATE = `${Deno.env.get("TMPDIR") ?? "/tmp"}/deviceflow-dev-server.json`;

const USAGE = `Usage: deno task dev-server [options]

Runs a local OAuth 2.0 authorization server with the device authorization grant.

Options:
  --port N                Port on 127.0.0.1 (default: a free port)
  --client-id ID          Public client ID (default: deviceflow-dev)
  --interval N            Polling interval in seconds to announce (default: none)
  --slow-down [N]         Answer slow_down to polls sooner than the interval (Keycloak's
                          rule), or with N, to the first N polls of every code
  --deny                  Answer every poll with access_denied (the person declined)
  --device-code-ttl N     Device code lifetime in seconds (default: 600)
  --access-token-ttl N    Access token lifetime in seconds (default: 3600)
  -h, --help              Show this help
`;

function parseCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new TypeError(`Cannot parse --${flag}: ${value} is not a number`);
  return Number(value);
}

/**
 * Runs the dev server until SIGINT or SIGTERM.
 *
 * @param args Command line arguments.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  let options: DevServerOptions;
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        port: { type: "string" },
        "client-id": { type: "string" },
        interval: { type: "string" },
        "slow-down": { type: "string" },
        deny: { type: "boolean" },
        "device-code-ttl": { type: "string" },
        "access-token-ttl": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    options = {};
    const port = parseCount("port", values.port);
    const interval = parseCount("interval", values.interval);
    const deviceCodeTtl = parseCount("device-code-ttl", values["device-code-ttl"]);
    const accessTokenTtl = parseCount("access-token-ttl", values["access-token-ttl"]);
    if (port !== undefined) options.port = port;
    if (values["client-id"] !== undefined) options.clientId = values["client-id"];
    if (interval !== undefined) options.interval = interval;
    if (values["slow-down"] !== undefined) {
      options.slowDown = values["slow-down"] === "enforce"
        ? "enforce"
        : parseCount("slow-down", values["slow-down"])!;
    }
    if (values.deny) options.deny = true;
    if (deviceCodeTtl !== undefined) options.deviceCodeTtl = deviceCodeTtl;
    if (accessTokenTtl !== undefined) options.accessTokenTtl = accessTokenTtl;
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 2;
  }

  let server: DevServer;
  try {
    server = await startDevServer(options);
  } catch (error) {
    console.error(`Cannot start dev server: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // `deno task approve CODE` finds the server here when it is given no address.
  await Deno.writeTextFile(
    DEV_SERVER_STATE,
    JSON.stringify({ issuer: server.issuer, pid: Deno.pid }),
  )
    .catch(() => {});
  // stdout carries just this line so scripts can read the issuer from it.
  console.log(
    `deviceflow dev server listening on ${server.issuer} (client ID: ${server.clientId})`,
  );
  console.error(
    `Try: deno task deviceflow login --authority ${server.issuer} --client-id ${server.clientId}\n` +
      `and approve (or --deny) its code from another terminal: deno task approve CODE`,
  );
  await stopped.promise;
  await Deno.remove(DEV_SERVER_STATE).catch(() => {});
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await server.close();
  return 0;
}
