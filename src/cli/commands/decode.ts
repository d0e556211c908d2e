/**
 * `deviceflow decode`: a JWT's header and claims, without verifying it.
 *
 * @module
 */

import { optionsFor } from "../settings.ts";
import { decodeBase64Url, decodeJwt } from "../../jwt.ts";
import { UsageError, type Values } from "../args.ts";
import type { Command } from "../context.ts";
import { EXIT } from "../io.ts";
import { type GuardedIo, jsonLine } from "../format.ts";

const HELP = `Usage: deviceflow decode [TOKEN | -]

Prints a JWT's header and claims as JSON, with exp, nbf and iat also as dates. The
signature is NOT verified: the output says what the token claims, not that it is true.
Without TOKEN, or with -, the token is read from stdin, which keeps it off the command
line:

  deviceflow token | deviceflow decode

An opaque token (one that is not a JWT) exits 1 with a message saying so.

  -h, --help               Show this help
`;

/** Claims that hold NumericDates (seconds since the epoch), shown as dates too. */
const DATE_CLAIMS = ["exp", "nbf", "iat"] as const;
/** The characters of an OAuth token (RFC 6750 b64token), dots included. */
const TOKEN_CHARS = /^[A-Za-z0-9\-._~+/]+=*$/;

async function decode(_values: Values, io: GuardedIo, positionals: string[]): Promise<number> {
  if (positionals.length > 1) {
    throw new UsageError(`decode: unexpected argument "${positionals[1]}" (give one token)`);
  }
  const given = positionals[0];
  const text = given === undefined || given === "-" ? await (io.stdin?.() ?? "") : given;
  // Also takes what 'token --output header' prints.
  const token = text.trim().replace(/^(authorization:\s*)?bearer\s+/i, "");
  if (!token) throw new UsageError("decode: no token given: pass it as an argument or on stdin");
  const decoded = decodeJwt(token);
  if (!decoded) {
    io.stderr(`deviceflow: decode: ${whyNotJwt(token)}\n`);
    return EXIT.error;
  }
  const dates: Record<string, string> = {};
  for (const name of DATE_CLAIMS) {
    const value = decoded.claims[name];
    if (typeof value !== "number") continue;
    const date = new Date(value * 1000);
    if (!Number.isNaN(date.getTime())) dates[name] = date.toISOString();
  }
  await io.stdout(
    jsonLine(
      { header: decoded.header, claims: decoded.claims, dates, signatureVerified: false },
      2,
    ),
  );
  io.stderr("Note: the signature was not verified\n");
  return EXIT.ok;
}

function whyNotJwt(token: string): string {
  if (!TOKEN_CHARS.test(token)) {
    return "this is not a token: it has characters that neither JWTs nor OAuth tokens have";
  }
  const parts = token.split(".");
  const header = parts.length > 1 ? decodeBase64Url(parts[0]!) : undefined;
  const isJsonHeader = header !== undefined && /^\s*\{/.test(header);
  if (parts.length === 5 && isJsonHeader) {
    return "this is an encrypted JWT (JWE): its claims cannot be read without the recipient's key";
  }
  if (parts.length === 3 && isJsonHeader) {
    return "this is not a valid JWT: its header or claims are not base64url-encoded JSON objects";
  }
  return "this is an opaque token, not a JWT: only the server that issued it can read what it stands for";
}

/** `deviceflow decode`. */
export const command: Command = {
  summary: "Show a JWT's header and claims, with dates (the signature is not verified)",
  options: optionsFor("decode"),
  help: HELP,
  positionals: true,
  run: decode,
};
