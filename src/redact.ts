/**
 * Keeps secrets out of messages. Every token, device code and client secret
 * the library handles is registered here, and every error message passes
 * through {@linkcode redact}, so a server that echoes a token back in an
 * error description cannot make us print it.
 *
 * @module
 */

const known = new Set<string>();
// Secrets by their first MIN_SECRET_LENGTH characters, longest first: a text
// is scanned once, however many secrets a long-running process has seen.
const secrets = new Map<string, string[]>();
// A JWT (three base64url parts, the first an encoded JSON object) is always a
// credential in this domain, registered or not. It must start where a run of
// base64url characters starts: tried from every "eyJ" inside a long run, the
// search took quadratic time (90 KB of "eyJeyJ..." from a server: 8 s).
const JWT = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
// The value of a credential field, in JSON (`"access_token": "..."`) or a
// form or query (`refresh_token=...`), whether the value was ever registered
// or not: a server's answer that is not what it should be (a JSON array, an
// HTML page) still shows in messages, and may carry tokens never parsed.
const CREDENTIAL_NAMES =
  "access_token|refresh_token|id_token|device_code|client_secret|accessToken|refreshToken|idToken|deviceCode|clientSecret|token";
// The value runs to its closing quote, or to the end of a snippet cut short.
const CREDENTIAL_IN_JSON = new RegExp(`(["'])(${CREDENTIAL_NAMES})\\1(\\s*:\\s*)(["'])[^"']*`, "g");
const CREDENTIAL_IN_FORM = new RegExp(`\\b(${CREDENTIAL_NAMES})=[^&\\s"'<>;,]+`, "g");
// Shorter strings are too likely to be ordinary words to be replaced blindly.
const MIN_SECRET_LENGTH = 8;

/**
 * Remembers a secret so that {@linkcode redact} removes it from text.
 *
 * @param value A token, device code or client secret; short or empty values are ignored.
 */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH || known.has(value)) return;
  known.add(value);
  const prefix = value.slice(0, MIN_SECRET_LENGTH);
  const same = secrets.get(prefix) ?? [];
  const at = same.findIndex((other) => other.length < value.length);
  same.splice(at < 0 ? same.length : at, 0, value);
  secrets.set(prefix, same);
}

/**
 * Replaces every registered secret, every JWT, and the value of every
 * credential field (`access_token=`, `"refresh_token": "..."`) in a text with
 * `[redacted]`.
 *
 * @param text Any text that may reach a person or a log.
 * @returns The text without secrets.
 */
export function redact(text: string): string {
  const out = text
    .replace(JWT, "[redacted]")
    .replace(CREDENTIAL_IN_JSON, "$1$2$1$3$4[redacted]")
    .replace(CREDENTIAL_IN_FORM, "$1=[redacted]");
  if (secrets.size === 0) return out;
  let result = "";
  let from = 0;
  for (let i = 0; i + MIN_SECRET_LENGTH <= out.length; i++) {
    const secret = secrets.get(out.slice(i, i + MIN_SECRET_LENGTH))
      ?.find((candidate) => out.startsWith(candidate, i));
    if (secret === undefined) continue;
    result += `${out.slice(from, i)}[redacted]`;
    from = i + secret.length;
    i = from - 1;
  }
  return result + out.slice(from);
}
