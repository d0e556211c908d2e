/**
 * Help texts shared by the commands.
 *
 * @module
 */

import { defaultCachePath } from "../paths.ts";

/** The exit codes, as help and the README state them. */
export const EXIT_HELP =
  `Exit codes: 0 success, 1 other error, 2 usage error, 3 not signed in (a sign-in is needed),
4 sign-in declined or code expired (or --timeout reached), 5 network failure or server
unavailable, 6 the API answered with an HTTP error status (fetch), 130 interrupted, 141 stdout
was closed before all was written (| head), quietly; run exits with its command's code (126
cannot execute, 127 not found, 128+N killed by signal N).
`;

/** The server options, for the help of the commands that take them. */
export const SERVER_HELP = `Server options (flags win, then the environment, then the profile):
  --authority URL          Issuer URL, or an Entra authority     [DEVICEFLOW_AUTHORITY]
  --client-id ID           The application's client ID            [DEVICEFLOW_CLIENT_ID]
  --scope S                Scope to request; repeatable, or several space-separated
                                                                  [DEVICEFLOW_SCOPE]
  --provider NAME          entra, github, google or oidc (guessed from the authority)
                                                                  [DEVICEFLOW_PROVIDER]
  --tenant T               Entra tenant: sets the authority to login.microsoftonline.com/T
  --device-endpoint URL    Device authorization endpoint, for servers without discovery
  --token-endpoint URL     Token endpoint, for servers without discovery
  --revocation-endpoint URL  Revocation endpoint (RFC 7009), for servers without discovery
  --no-default-scopes      Do not add "openid profile offline_access" (OIDC and Entra)
  A client secret, where the server requires one, comes only from DEVICEFLOW_CLIENT_SECRET
  or the profile.
`;

/** The options every command has. */
export const COMMON_HELP = `Common options:
  --cache PATH             Token cache: a file, :memory:, or a KV Connect URL  [DEVICEFLOW_CACHE]
                           (default ${safeDefaultCachePath()})
  --config PATH            Config file with named profiles (see 'deviceflow config --help')
                                                                  [DEVICEFLOW_CONFIG]
  --profile NAME           The config file's profile to use (default: "default", if any)
                                                                  [DEVICEFLOW_PROFILE]
  --connect-timeout SECONDS  Give up a request when its answer has not begun within this
                           long: connecting, TLS and the server's reply (default 10)
                                                                  [DEVICEFLOW_CONNECT_TIMEOUT]
  --request-timeout SECONDS  Give up a request that has not been answered in full within
                           this long (default 30)                 [DEVICEFLOW_REQUEST_TIMEOUT]
  --encrypt                Encrypt the tokens in the cache (AES-GCM); the key comes from
                           DEVICEFLOW_CACHE_KEY, DEVICEFLOW_CACHE_KEY_FILE, or a 0600 key
                           file made next to the cache
  -v, --verbose            Show each request's method, address, status and time on stderr
  -h, --help               Show this help
`;

function safeDefaultCachePath(): string {
  try {
    return defaultCachePath();
  } catch {
    return "under the user's cache directory";
  }
}
