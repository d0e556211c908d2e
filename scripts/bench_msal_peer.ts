/**
 * The MSAL Node peer of `scripts/bench.ts`: the same jobs as `deviceflow login`
 * and `deviceflow token`, done the way an MSAL Node program does them, with
 * MSAL's own token cache persisted to a JSON file through a cache plugin (the
 * standard pattern of MSAL Node's samples, with no file lock).
 *
 * - `login`: a device code sign-in; the verification address and user code are
 *   printed on stderr as one JSON line, `{"verificationUri":…,"userCode":…}`,
 *   for the benchmark to approve.
 * - `silent [--force-refresh]`: the first cached account, then
 *   `acquireTokenSilent`; prints the access token on stdout.
 *
 * MSAL is configured for a non-Microsoft server; it fails without the first two:
 * - the issuer's host in `knownAuthorities`: otherwise MSAL asks
 *   login.microsoftonline.com for instance discovery (endpoints_resolution_error);
 * - `protocolMode: "OIDC"`: otherwise it fetches `{issuer}/v2.0/.well-known/openid-configuration`;
 * - with `--metadata FILE`, the discovery document as `authorityMetadata`, so
 *   that a silent call from the cache makes no request at all.
 *
 * The server must still accept Entra's spellings: MSAL posts to the token
 * endpoint with `/token` replaced by `/devicecode`, and polls with
 * `grant_type=device_code`. Under Deno, the `node:https` inside MSAL trusts
 * `NODE_EXTRA_CA_CERTS`, not `DENO_CERT`.
 *
 * @module
 */

import { parseArgs } from "node:util";
// A benchmark-only dependency: kept out of deno.json so the library itself has none.
// deno-lint-ignore no-import-prefix
import * as msal from "npm:@azure/msal-node@7.2.1";

/** MSAL always adds these; naming them keeps the request explicit. */
const SCOPES = ["openid", "profile", "offline_access"];

const USAGE = `Usage: deno run -A scripts/bench_msal_peer.ts <login|silent> [options]

  --authority URL      Issuer URL (required)
  --client-id ID       Client ID (required)
  --cache FILE         MSAL's JSON token cache (required)
  --metadata FILE      The server's discovery document, given to MSAL as authorityMetadata
  --force-refresh      silent: refresh even when the cached token is good
`;

/** MSAL's cache plugin for a JSON file: read it before every access, write it after a change. */
function fileCachePlugin(path: string): msal.ICachePlugin {
  return {
    async beforeCacheAccess(context) {
      try {
        context.tokenCache.deserialize(await Deno.readTextFile(path));
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    },
    async afterCacheAccess(context) {
      if (context.cacheHasChanged) {
        await Deno.writeTextFile(path, context.tokenCache.serialize(), { mode: 0o600 });
      }
    },
  };
}

async function makeApp(
  authority: string,
  clientId: string,
  cache: string,
  metadata: string | undefined,
): Promise<msal.PublicClientApplication> {
  const host = new URL(authority).host;
  const auth: msal.Configuration["auth"] = {
    clientId,
    authority,
    knownAuthorities: [host],
  };
  if (metadata !== undefined) auth.authorityMetadata = await Deno.readTextFile(metadata);
  return new msal.PublicClientApplication({
    auth,
    cache: { cachePlugin: fileCachePlugin(cache) },
    system: { protocolMode: msal.ProtocolMode.OIDC },
  });
}

/**
 * Runs the peer.
 *
 * @param args The command line.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      authority: { type: "string" },
      "client-id": { type: "string" },
      cache: { type: "string" },
      metadata: { type: "string" },
      "force-refresh": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const command = positionals[0];
  const { authority, "client-id": clientId, cache } = values;
  if (
    (command !== "login" && command !== "silent") || !authority || !clientId || !cache
  ) {
    console.error(USAGE);
    return 2;
  }
  const app = await makeApp(authority, clientId, cache, values.metadata);
  if (command === "login") {
    const result = await app.acquireTokenByDeviceCode({
      scopes: SCOPES,
      deviceCodeCallback: (response) => {
        console.error(
          JSON.stringify({
            verificationUri: response.verificationUri,
            userCode: response.userCode,
          }),
        );
      },
    });
    if (!result) throw new Error("MSAL returned no result for the device code sign-in");
    console.log(JSON.stringify({ username: result.account?.username ?? null }));
    return 0;
  }
  const account = (await app.getAllAccounts())[0];
  if (!account) {
    console.error("No account is cached; run login first");
    return 3;
  }
  const result = await app.acquireTokenSilent({
    account,
    scopes: SCOPES,
    forceRefresh: values["force-refresh"] === true,
  });
  console.log(result.accessToken);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    // One line, so the benchmark can show why a process failed; MSAL's errors carry a code.
    const { errorCode = "error", message = String(error) } = error as {
      errorCode?: string;
      message?: string;
    };
    const line = message.split("\n")[0]!;
    console.error(
      `bench_msal_peer: ${line.startsWith(`${errorCode}:`) ? line : `${errorCode}: ${line}`}`,
    );
    Deno.exit(1);
  }
}
