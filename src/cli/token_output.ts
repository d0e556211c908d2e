/**
 * What `token` prints, in each output format, and the options of every
 * command that gets a token the way `token` does.
 *
 * @module
 */

import type { TokenResult } from "../types.ts";
import { accountJson } from "./format.ts";
import { jsonLine } from "./format.ts";

export { FORMATS } from "./settings.ts";
import type { FORMATS } from "./settings.ts";

export type Format = typeof FORMATS[number];

/** Quotes a value for POSIX shells. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Formats a token for stdout.
 *
 * @param result The token.
 * @param format The output format.
 * @param env The environment (kubectl passes KUBERNETES_EXEC_INFO).
 * @returns The text, ending with a newline.
 */
export function formatToken(
  result: TokenResult,
  format: Format,
  env: (name: string) => string | undefined,
): string {
  const expiresAt = result.expiresAt?.toISOString();
  switch (format) {
    case "raw":
      return result.accessToken + "\n";
    case "json":
      return jsonLine({
        accessToken: result.accessToken,
        tokenType: result.tokenType,
        expiresAt: expiresAt ?? null,
        scopes: result.scopes,
        account: accountJson(result.account),
      });
    case "env":
      return `export ACCESS_TOKEN=${shellQuote(result.accessToken)}\n` +
        `export ACCESS_TOKEN_EXPIRES_AT=${shellQuote(expiresAt ?? "")}\n`;
    case "header":
      // GitHub says "bearer"; the scheme is case-insensitive, and "Bearer" is what APIs document.
      return `Authorization: ${
        /^bearer$/i.test(result.tokenType) ? "Bearer" : result.tokenType
      } ${result.accessToken}\n`;
    case "exec-credential":
      return jsonLine({
        apiVersion: execCredentialVersion(env),
        kind: "ExecCredential",
        status: {
          token: result.accessToken,
          ...(expiresAt ? { expirationTimestamp: expiresAt.replace(/\.\d{3}Z$/, "Z") } : {}),
        },
      });
  }
}

/** kubectl names the version it wants in KUBERNETES_EXEC_INFO; v1 otherwise. */
function execCredentialVersion(env: (name: string) => string | undefined): string {
  const version = execInfo(env)?.apiVersion;
  return typeof version === "string" &&
      /^client\.authentication\.k8s\.io\/v[0-9a-z]+$/.test(version)
    ? version
    : "client.authentication.k8s.io/v1";
}

/** What kubectl says in KUBERNETES_EXEC_INFO, read whole; `undefined` when absent or not JSON. */
export function execInfo(
  env: (name: string) => string | undefined,
): { apiVersion?: unknown; spec?: { interactive?: unknown } } | undefined {
  const text = env("KUBERNETES_EXEC_INFO");
  if (!text) return undefined;
  try {
    const info = JSON.parse(text);
    return info !== null && typeof info === "object" ? info : undefined;
  } catch {
    return undefined;
  }
}
